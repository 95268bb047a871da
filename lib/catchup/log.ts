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
import { bytesKey } from "../bytes.ts";
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

/**
 * A topic's messages in (timestamp, id) order from `entries[start]` on, and their byte total. The oldest go by
 * moving `start`, not by `shift()`: V8 shifts a long array by moving every element when it cannot move the
 * array's start (while the collector marks), which a log at its bound, one message in and one out per
 * delivery, paid for each message. The slots before `start` are cleared and cut off once they are half.
 */
interface TopicEntries {
  entries: (LogEntry | undefined)[];
  start: number;
  bytes: number;
}

/** The messages `topic` holds, oldest first (a view of its live slots: a copy only when something was dropped). */
function live(topic: TopicEntries | undefined): readonly LogEntry[] {
  if (topic === undefined) return [];
  return (topic.start === 0 ? topic.entries : topic.entries.slice(topic.start)) as LogEntry[];
}

/**
 * A {@link TopicLog} in memory: lost on restart. Appends keep each topic sorted by (timestamp, id); a
 * message older than the newest costs a binary search and a splice.
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
  #lastId: Uint8Array | undefined;
  #lastKey = "";
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
      topic = { entries: [], start: 0, bytes: 0 };
      this.#byTopic.set(entry.topic, topic);
    }
    const { entries } = topic;
    // Messages come in about timestamp order: a late one usually goes a few places from the end, found by
    // looking back before a binary search over the rest.
    let at = entries.length;
    for (let back = 0; back < 8 && at > topic.start && compareItems(entries[at - 1]!, entry) > 0; back++) at--;
    if (at > topic.start && compareItems(entries[at - 1]!, entry) > 0) at = lowerBound(entries, topic.start, entry, at);
    if (at === entries.length) entries.push(entry);
    else entries.splice(at, 0, entry);
    topic.bytes += entry.envelope.length;
    this.#byId.set(key, entry);
    while (topic.entries.length - topic.start > retention.maxMessages || topic.bytes > retention.maxBytes) {
      this.#dropOldest(topic);
    }
    return this.#byId.has(key);
  }

  has(id: Uint8Array): boolean {
    return this.#byId.has(this.#keyOf(id));
  }

  /**
   * The map key of an id; the last one is kept by identity, as the delivery path asks `has` and then
   * `append`s the same id (ids are never changed once made).
   */
  #keyOf(id: Uint8Array): string {
    if (id !== this.#lastId) {
      this.#lastId = id;
      this.#lastKey = bytesKey(id);
    }
    return this.#lastKey;
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
    if (held === undefined) return [];
    const from = Math.max(held.start, held.entries.length - limit);
    return (held.entries.slice(from) as LogEntry[]).reverse();
  }

  summary(topic: string): TopicLogSummary {
    const held = this.#byTopic.get(topic);
    const count = held === undefined ? 0 : held.entries.length - held.start;
    return {
      topic,
      count,
      bytes: held?.bytes ?? 0,
      oldest: count === 0 ? 0 : held!.entries[held!.start]!.timestamp,
      newest: count === 0 ? 0 : held!.entries[held!.entries.length - 1]!.timestamp,
    };
  }

  topics(): string[] {
    return [...this.#byTopic].filter(([, held]) => held.entries.length > held.start).map(([topic]) => topic);
  }

  prune(now: number): number {
    let dropped = 0;
    for (const [name, topic] of this.#byTopic) {
      const cutoff = now - this.#retention(name).maxAgeMs;
      while (topic.entries.length > topic.start && topic.entries[topic.start]!.timestamp < cutoff) {
        this.#dropOldest(topic);
        dropped++;
      }
      if (topic.entries.length === topic.start) this.#byTopic.delete(name);
    }
    return dropped;
  }

  flush(): void {}

  close(): void {}

  #dropOldest(topic: TopicEntries): void {
    if (topic.start >= topic.entries.length) return;
    const oldest = topic.entries[topic.start]!;
    topic.entries[topic.start++] = undefined;
    topic.bytes -= oldest.envelope.length;
    this.#byId.delete(bytesKey(oldest.id));
    // Amortised: the cut copies the live half once for as many drops.
    if (topic.start >= 1024 && topic.start * 2 >= topic.entries.length) {
      topic.entries = topic.entries.slice(topic.start);
      topic.start = 0;
    }
  }
}

/** The index of the first entry at or after `item` in (timestamp, id) order, in `low..high` (default: to the end). */
function lowerBound(
  entries: readonly (LogEntry | undefined)[],
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
