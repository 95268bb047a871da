/**
 * A topic log: the messages of the topics a node is in, kept for a retention window so that the node can
 * replay them to its application and serve them to peers that were away. {@link TopicLog} is the contract
 * (the SQLite backend keeps it across restarts); {@link MemoryTopicLog} keeps it in memory, for the
 * simulator and tests.
 *
 * Retention is per topic, by count, bytes and age; what falls out of it goes oldest first. An entry older
 * than its topic's age bound is refused rather than stored, so a peer cannot refill a log with old messages.
 *
 * @module
 */
import { bytesKey, idKey } from "../bytes.ts";
import { compareItems, type SyncItem } from "./reconcile.ts";

/** One message in a topic's log. */
export interface LogEntry {
  /** The message id, 32 bytes. */
  readonly id: Uint8Array;
  /** Its topic (never `""`: the network-wide topic is not logged). */
  readonly topic: string;
  /** The origin's timestamp, ms since the epoch. */
  readonly timestamp: number;
  /** The origin's node id, lowercase hex. */
  readonly origin: string;
  /** The signed message as encoded on the wire, so that a peer that fetches it can verify it. */
  readonly envelope: Uint8Array;
}

/** How much of one topic a log keeps. */
export interface TopicRetention {
  /** Most messages kept. Default 10,000. */
  maxMessages: number;
  /** Most bytes of envelopes kept. Default 16 MiB. */
  maxBytes: number;
  /** Oldest message kept, ms before now. Default 24 hours. */
  maxAgeMs: number;
}

/** The retention a topic gets unless configured otherwise. */
export const DEFAULT_TOPIC_RETENTION: Readonly<TopicRetention> = Object.freeze({
  maxMessages: 10_000,
  maxBytes: 16 * 1024 * 1024,
  maxAgeMs: 24 * 3_600_000,
});

/** What a log holds of one topic. */
export interface TopicLogSummary {
  /** The topic. */
  topic: string;
  /** Messages held. */
  count: number;
  /** Bytes of their envelopes. */
  bytes: number;
  /** Timestamp of the oldest, or 0 when empty. */
  oldest: number;
  /** Timestamp of the newest, or 0 when empty. */
  newest: number;
}

/** Options of {@link TopicLog.list}. */
export interface LogListOptions {
  /** Only messages with `timestamp >= since`. Default 0. */
  since?: number;
  /** At most this many, oldest first. Default 1,000. */
  limit?: number;
  /** With `since`: only messages after (`since`, `afterId`) in (timestamp, id) order, to page on from the last one read. */
  afterId?: Uint8Array;
}

/** The contract every topic log keeps. Writes may be buffered; reads always see them. */
export interface TopicLog {
  /**
   * Adds a message. False when it is held already, or older than its topic's age bound as of `now`
   * (refused, not stored). Retention is enforced at once: the topic's oldest messages go to make room.
   */
  append(entry: LogEntry, now: number): boolean;
  /** Whether a message with this id is held. */
  has(id: Uint8Array): boolean;
  /** The message with this id, if held. */
  get(id: Uint8Array): LogEntry | undefined;
  /** The ids a topic holds with `timestamp >= since`, in (timestamp, id) order: a reconciliation's set. */
  items(topic: string, since: number): SyncItem[];
  /** A topic's messages, oldest first. */
  list(topic: string, options?: LogListOptions): LogEntry[];
  /** A topic's newest messages, newest first, at most `limit` (a node's heads in the topic are among them). */
  latest(topic: string, limit: number): LogEntry[];
  /** What the log holds of a topic. */
  summary(topic: string): TopicLogSummary;
  /** The topics with at least one message held. */
  topics(): string[];
  /** Drops messages older than their topic's age bound as of `now`; returns how many. */
  prune(now: number): number;
  /** Writes everything buffered. */
  flush(): void;
  /** Flushes and releases the log. Idempotent. */
  close(): void;
}

/** Most entries per chunk of a topic's sorted entries: a late message's insert moves at most this many. */
const CHUNK_ENTRIES = 512;

/**
 * A topic's messages in (timestamp, id) order, in chunks of at most {@link CHUNK_ENTRIES} (the chunks in order,
 * none empty), with their count and byte total. Not one sorted array: messages of many origins come out of
 * timestamp order by their clocks' skew and their paths' delays, and one array made each late message's insert
 * move every entry after its place (hundreds per message at thousands a second, most of the log's cost); in
 * chunks it moves at most a chunk's. The oldest go from the first chunk's front, `start` counting those gone
 * (cut off once they are half of it), not by `shift()`, which for a long array V8 may do by moving every element.
 */
interface TopicEntries {
  chunks: Held[][];
  start: number;
  count: number;
  bytes: number;
}

/**
 * An entry as a topic holds it: with what its order and its drop read (its order's fields, its map key and its
 * size), so neither reaches into the entry, and a drop makes no key.
 */
interface Held {
  readonly timestamp: number;
  readonly id: Uint8Array;
  readonly key: string;
  readonly bytes: number;
  readonly entry: LogEntry;
}

/** The messages `topic` holds, oldest first (a copy). */
function live(topic: TopicEntries | undefined): LogEntry[] {
  const out: LogEntry[] = [];
  if (topic === undefined) return out;
  for (let c = 0; c < topic.chunks.length; c++) {
    const chunk = topic.chunks[c];
    for (let i = c === 0 ? topic.start : 0; i < chunk.length; i++) out.push(chunk[i].entry);
  }
  return out;
}

/** The oldest message `topic` holds (it holds one). */
function oldestOf(topic: TopicEntries): Held {
  return topic.chunks[0][topic.start];
}

/** The newest message `topic` holds (it holds one). */
function newestOf(topic: TopicEntries): Held {
  const last = topic.chunks[topic.chunks.length - 1];
  return last[last.length - 1];
}

/** Puts `entry` in its (timestamp, id) place among `topic`'s entries. */
function insert(topic: TopicEntries, entry: Held): void {
  const { chunks } = topic;
  if (chunks.length === 0) {
    chunks.push([entry]);
    topic.start = 0;
    return;
  }
  // The chunk it goes in: the last whose first entry is not after it (the first chunk when none is). Messages
  // come in about timestamp order, so it is usually the last, found by looking back before a binary search.
  let c = chunks.length - 1;
  for (let back = 0; back < 4 && c > 0 && compareItems(chunks[c][0], entry) > 0; back++) c--;
  if (c > 0 && compareItems(chunks[c][0], entry) > 0) {
    let low = 0, high = c;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (compareItems(chunks[mid][0], entry) <= 0) low = mid;
      else high = mid - 1;
    }
    c = low;
  }
  const chunk = chunks[c];
  const from = c === 0 ? topic.start : 0;
  let at = chunk.length;
  for (let back = 0; back < 8 && at > from && compareItems(chunk[at - 1], entry) > 0; back++) at--;
  if (at > from && compareItems(chunk[at - 1], entry) > 0) at = lowerBound(chunk, from, entry, at);
  if (at === chunk.length) chunk.push(entry);
  else chunk.splice(at, 0, entry);
  if (chunk.length - (c === 0 ? topic.start : 0) > CHUNK_ENTRIES) {
    // Split in two; the first chunk drops its gone slots as it splits.
    const keepFrom = c === 0 ? topic.start : 0;
    const half = keepFrom + ((chunk.length - keepFrom) >>> 1);
    chunks.splice(c, 1, chunk.slice(keepFrom, half), chunk.slice(half));
    if (c === 0) topic.start = 0;
  }
}

/** Drops `topic`'s oldest message (it holds one) and returns it. */
function removeOldest(topic: TopicEntries): Held {
  const first = topic.chunks[0];
  const oldest = first[topic.start];
  first[topic.start++] = undefined as unknown as Held;
  if (topic.start === first.length) {
    topic.chunks.shift();
    topic.start = 0;
  } else if (topic.start >= 64 && topic.start * 2 >= first.length) {
    topic.chunks[0] = first.slice(topic.start);
    topic.start = 0;
  }
  return oldest;
}

/**
 * A {@link TopicLog} in memory: lost on restart. Appends keep each topic sorted by (timestamp, id), in chunks
 * (see {@link TopicEntries}): a message older than the newest costs a search and a move within its chunk.
 *
 * @example
 * ```ts
 * import { MemoryTopicLog } from "./log.ts";
 * const log = new MemoryTopicLog();
 * const id = new Uint8Array(32).fill(1);
 * log.append({ id, topic: "chat", timestamp: 1_000, origin: "ab", envelope: new Uint8Array(10) }, 2_000);
 * console.log(log.summary("chat").count); // 1
 * ```
 */
export class MemoryTopicLog implements TopicLog {
  #byId = new Map<string, LogEntry>();
  #byTopic = new Map<string, TopicEntries>();
  #retention: (topic: string) => Readonly<TopicRetention>;

  /** Creates an empty log; `retention` gives each topic's bounds (default {@link DEFAULT_TOPIC_RETENTION}). */
  constructor(retention: (topic: string) => Readonly<TopicRetention> = () => DEFAULT_TOPIC_RETENTION) {
    this.#retention = retention;
  }

  append(entry: LogEntry, now: number): boolean {
    const key = this.#keyOf(entry.id);
    if (this.#byId.has(key)) return false;
    const retention = this.#retention(entry.topic);
    if (entry.timestamp < now - retention.maxAgeMs) return false;
    if (entry.envelope.length > retention.maxBytes || retention.maxMessages === 0) return false;
    let topic = this.#byTopic.get(entry.topic);
    if (topic === undefined) {
      topic = { chunks: [], start: 0, count: 0, bytes: 0 };
      this.#byTopic.set(entry.topic, topic);
    }
    insert(topic, { timestamp: entry.timestamp, id: entry.id, key, bytes: entry.envelope.length, entry });
    topic.count++;
    topic.bytes += entry.envelope.length;
    this.#byId.set(key, entry);
    while (topic.count > retention.maxMessages || topic.bytes > retention.maxBytes) this.#dropOldest(topic);
    return this.#byId.has(key);
  }

  has(id: Uint8Array): boolean {
    return this.#byId.has(this.#keyOf(id));
  }

  /**
   * The map key of an id: the one the delivery path made for it already when it is the id keyed last (it asks
   * `has` and then `append`s the same id; ids are never changed once made).
   */
  #keyOf(id: Uint8Array): string {
    return idKey(id);
  }

  get(id: Uint8Array): LogEntry | undefined {
    return this.#byId.get(bytesKey(id));
  }

  items(topic: string, since: number): SyncItem[] {
    const entries = live(this.#byTopic.get(topic));
    const from = lowerBound(entries, 0, { timestamp: since, id: new Uint8Array(0) });
    return entries.slice(from).map(({ timestamp, id }) => ({ timestamp, id }));
  }

  list(topic: string, options: LogListOptions = {}): LogEntry[] {
    const entries = live(this.#byTopic.get(topic));
    const since = options.since ?? 0;
    let from = lowerBound(entries, 0, { timestamp: since, id: new Uint8Array(0) });
    if (options.afterId !== undefined) {
      const after = { timestamp: since, id: options.afterId };
      while (from < entries.length && compareItems(entries[from], after) <= 0) from++;
    }
    return entries.slice(from, from + (options.limit ?? 1_000));
  }

  latest(topic: string, limit: number): LogEntry[] {
    const held = this.#byTopic.get(topic);
    const out: LogEntry[] = [];
    if (held === undefined) return out;
    for (let c = held.chunks.length - 1; c >= 0 && out.length < limit; c--) {
      const chunk = held.chunks[c];
      const from = c === 0 ? held.start : 0;
      for (let i = chunk.length - 1; i >= from && out.length < limit; i--) out.push(chunk[i].entry);
    }
    return out;
  }

  summary(topic: string): TopicLogSummary {
    const held = this.#byTopic.get(topic);
    const count = held?.count ?? 0;
    return {
      topic,
      count,
      bytes: held?.bytes ?? 0,
      oldest: count === 0 ? 0 : oldestOf(held!).timestamp,
      newest: count === 0 ? 0 : newestOf(held!).timestamp,
    };
  }

  topics(): string[] {
    return [...this.#byTopic].filter(([, held]) => held.count > 0).map(([topic]) => topic);
  }

  prune(now: number): number {
    let dropped = 0;
    for (const [name, topic] of this.#byTopic) {
      const cutoff = now - this.#retention(name).maxAgeMs;
      while (topic.count > 0 && oldestOf(topic).timestamp < cutoff) {
        this.#dropOldest(topic);
        dropped++;
      }
      if (topic.count === 0) this.#byTopic.delete(name);
    }
    return dropped;
  }

  flush(): void {}

  close(): void {}

  #dropOldest(topic: TopicEntries): void {
    if (topic.count === 0) return;
    const oldest = removeOldest(topic);
    topic.count--;
    topic.bytes -= oldest.bytes;
    this.#byId.delete(oldest.key);
  }
}

/** The index of the first entry at or after `item` in (timestamp, id) order, in `low..high` (default: to the end). */
function lowerBound(
  entries: readonly SyncItem[],
  low: number,
  item: SyncItem,
  high = entries.length,
): number {
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareItems(entries[mid]!, item) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
