/**
 * {@link TopicDelivery}: the one path by which a verified CUSTOM_DATA message of a named topic the node is in
 * reaches the application, whether it came by gossip or was fetched from a peer by catch-up. Each id is taken
 * once, across reconnections and restarts: checked against the topic log (which survives restarts), the
 * recently delivered ids and the causal buffer. A message is delivered after the predecessors its origin
 * named (`after`) once they are delivered, or when its wait ends with those still missing named; then it is
 * appended to the log and handed to the application.
 *
 * A message enters the log when it is delivered, not when it arrives: a message held for its predecessors
 * when the node stops is in neither, and is taken again when it comes again (by catch-up), so a restart never
 * loses it. The network-wide topic `""` is not logged, ordered or deduplicated here (gossip's seen set does).
 *
 * The node's heads in each topic (the ids of its latest delivered or published messages that no later one
 * names) are what it names as `after` when it publishes ({@link TopicDelivery.heads}).
 *
 * @module
 */
import { Decoder } from "@msgpack/msgpack";
import { ByteArena, bytesKey, idKey } from "../bytes.ts";
import type { Clock, TimerId } from "../clock.ts";
import { KeyQueue } from "../key_queue.ts";
import { ProtocolError } from "../errors.ts";
import { errorFields, type LogSink } from "../log.ts";
import {
  type Envelope,
  MAX_PREDECESSORS,
  type Message,
  type MessageCodec,
  MessageType,
  originHex,
} from "../protocol/mod.ts";
import { readPayload } from "../protocol/schema.ts";
import { CausalBuffer, type CausalConfig, DEFAULT_CAUSAL_CONFIG, type Released } from "./causal.ts";
import type { LogEntry, TopicLog, TopicRetention } from "./log.ts";

/** A verified CUSTOM_DATA message with its decoded payload. */
export type ApplicationMessage = Message<typeof MessageType.CUSTOM_DATA>;

/** Counters of a {@link TopicDelivery}. */
export interface TopicDeliveryStats {
  /** Messages taken as new (by gossip or catch-up). */
  accepted: number;
  /** Messages refused as already delivered, held or logged. */
  duplicates: number;
  /** Messages refused because the node is not in their topic. */
  notMember: number;
  /** Messages delivered with every predecessor before them, at once or after waiting. */
  inOrder: number;
  /** Messages that waited in the causal buffer for a predecessor. */
  waited: number;
  /** Messages delivered when their wait ended with predecessors still missing. */
  deliveredMissing: number;
  /** Messages delivered before their wait ended because the buffer was full (count, bytes or per-peer share). */
  releasedEarly: number;
  /** Messages held in the causal buffer now. */
  pending: number;
  /** Bytes of those. */
  pendingBytes: number;
  /** Messages appended to the log (delivered and published). */
  logged: number;
  /** Delivered messages the log refused (older than the topic's age bound, or larger than its byte bound). */
  logRefused: number;
}

/** What {@link TopicDelivery} is made of. */
export interface TopicDeliveryOptions {
  /** The topic log. */
  log: TopicLog;
  /** Each topic's retention (to know when a message's predecessors are past it and not worth waiting for). */
  retention: (topic: string) => Readonly<TopicRetention>;
  /** The node's codec (encodes what this node publishes, decodes what the log holds). */
  codec: MessageCodec;
  /** Time and the causal buffer's timer. */
  clock: Clock;
  /** Whether the node is in a named topic. */
  isIn: (topic: string) => boolean;
  /** Hands a message to the application; `missing` names predecessors not delivered before it. */
  deliver: (message: ApplicationMessage, from: string, missing: readonly Uint8Array[]) => void;
  /**
   * Tells gossip's seen ids of a message {@link TopicDelivery.accept} took (catch-up's), so that everything
   * {@link TopicDelivery.acceptLive} is handed is new to gossip's persisted seen ids, which then answer for the
   * log: no log lookup per live message. Without it, live messages are checked against the log too.
   */
  markSeen?: (message: ApplicationMessage, from: string) => void;
  /**
   * With {@link markSeen}: a live message timestamped at or before this (ms since the epoch) is still checked
   * against the log. The seen ids and the log are written apart, so a crash can keep a message in the log and
   * lose its seen mark; every message logged before the node started is timestamped at most the clock-skew bound
   * after its start, so set it to the start plus that bound. Default: no bound (every live message is checked).
   */
  logCheckedThrough?: number;
  /** Bounds of the causal buffer. Default {@link DEFAULT_CAUSAL_CONFIG}. */
  config?: Partial<CausalConfig>;
  /** How often the log is pruned by age, ms. Default 60,000; 0: never. */
  pruneIntervalMs?: number;
  /** Where failures are logged. */
  logSink: LogSink;
}

/** Ids of recently delivered messages kept in memory (the log answers for older ones). */
const RECENT_IDS = 16_384;
/** Bytes per chunk of a topic's encoded messages (those over a quarter of it get a buffer of their own). */
const ARENA_CHUNK_BYTES = 16 * 1024;
/** Topics with chunks of their own at once; past it, a topic's messages get a buffer each, as before. */
const MAX_ARENAS = 256;
/** Newest log entries read to find a topic's heads after a restart. */
const HEAD_SCAN = 4 * MAX_PREDECESSORS;

interface Head {
  readonly key: string;
  readonly id: Uint8Array;
  readonly timestamp: number;
}

interface Pending {
  message: ApplicationMessage;
  encoded: Uint8Array;
}

/** No ids (shared: never changed). */
const NONE: readonly Uint8Array[] = Object.freeze([]);

const payloadDecoder = new Decoder({ maxArrayLength: MAX_PREDECESSORS + 3, maxMapLength: 0, maxExtLength: 0 });

/**
 * The payload of a CUSTOM_DATA envelope: its own when it is a decoded message, else decoded and checked
 * against the schema (the caller checked the signature).
 *
 * @throws {ProtocolError} `MALFORMED` or `BAD_FIELD` when the payload does not fit the schema
 */
export function applicationMessage(envelope: Envelope): ApplicationMessage {
  if (envelope.type !== MessageType.CUSTOM_DATA) {
    throw new ProtocolError("BAD_FIELD", `expected a CUSTOM_DATA message, got type ${envelope.type}`);
  }
  if ("payload" in envelope) return envelope as ApplicationMessage;
  let value: unknown;
  try {
    value = payloadDecoder.decode(envelope.payloadBytes);
  } catch (error) {
    throw new ProtocolError("MALFORMED", `CUSTOM_DATA payload is not valid MessagePack: ${(error as Error).message}`);
  }
  const payload = readPayload(MessageType.CUSTOM_DATA, value);
  return { ...envelope, payload } as unknown as ApplicationMessage;
}

/** The message a log entry holds (parsed and schema-checked; its signature was checked when it was taken). */
export function entryMessage(codec: MessageCodec, entry: LogEntry): ApplicationMessage {
  return applicationMessage(codec.parse(entry.envelope));
}

/**
 * Exactly-once, causally ordered delivery of the node's named topics, through the log. {@link start} runs the
 * log's pruning; {@link stop} ends it and the causal buffer's timer. Catch-up hands it what it fetched through
 * {@link TopicDelivery.accept} (the `accept(envelope, encoded, from): boolean` of a catch-up sink).
 */
export class TopicDelivery {
  /** Counters (pending and pendingBytes are read live). */
  readonly #stats: Omit<TopicDeliveryStats, "pending" | "pendingBytes"> = {
    accepted: 0,
    duplicates: 0,
    notMember: 0,
    inOrder: 0,
    waited: 0,
    deliveredMissing: 0,
    releasedEarly: 0,
    logged: 0,
    logRefused: 0,
  };
  readonly #options: TopicDeliveryOptions;
  readonly #config: Readonly<CausalConfig>;
  readonly #buffer: CausalBuffer<Pending>;
  readonly #recent = new Set<string>();
  // The recent ids in the order they came: taking the oldest from the Set itself walks past its deleted entries.
  readonly #recentOrder = new KeyQueue<string>();
  readonly #heads = new Map<string, Head[]>();
  readonly #arenas = new Map<string, ByteArena>();
  #timer: TimerId | undefined;
  #timerAt = Infinity;
  #pruneTimer: TimerId | undefined;

  /** Creates the delivery path over a log. */
  constructor(options: TopicDeliveryOptions) {
    this.#options = options;
    this.#config = Object.freeze({ ...DEFAULT_CAUSAL_CONFIG, ...options.config });
    this.#buffer = new CausalBuffer(this.#config);
  }

  /** The causal buffer's bounds in force. */
  get config(): Readonly<CausalConfig> {
    return this.#config;
  }

  /** Counters. */
  get stats(): TopicDeliveryStats {
    return { ...this.#stats, pending: this.#buffer.size, pendingBytes: this.#buffer.bytes };
  }

  /** The topic log. */
  get log(): TopicLog {
    return this.#options.log;
  }

  /** Starts pruning the log by age (the causal buffer's timer runs whenever something is held). */
  start(): void {
    const interval = this.#options.pruneIntervalMs ?? 60_000;
    if (interval === 0) return;
    const tick = () => {
      try {
        this.#options.log.prune(this.#options.clock.now());
      } catch (error) {
        this.#options.logSink("error", "topic log prune failed", errorFields(error));
      }
      this.#pruneTimer = this.#options.clock.setTimeout(tick, interval);
    };
    this.#pruneTimer = this.#options.clock.setTimeout(tick, interval);
  }

  /** Stops the timers; held messages are dropped (they are not in the log, so they are taken again when they come again). */
  stop(): void {
    const clock = this.#options.clock;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    if (this.#pruneTimer !== undefined) clock.clearTimeout(this.#pruneTimer);
    this.#timer = this.#pruneTimer = undefined;
    this.#timerAt = Infinity;
    this.#buffer.clear();
  }

  /**
   * Takes a verified CUSTOM_DATA message (its signature checked by the caller; its payload is decoded here when
   * `envelope` is not a decoded message). True when it is new: then it is delivered now, or held until its
   * predecessors are delivered or its wait ends. False when it was delivered, held or logged before, or the node
   * is not in its topic (or it is of the network-wide topic `""`, which only gossip delivers). `encoded` is what the log keeps (the envelope as encoded on the wire); `from` is the
   * peer it came from.
   *
   * @throws {ProtocolError} when the envelope is no CUSTOM_DATA or its payload does not fit the schema
   */
  accept(envelope: Envelope, encoded: Uint8Array, from: string): boolean {
    const message = applicationMessage(envelope);
    // The network-wide topic is not caught up: only gossip delivers it, and its seen set deduplicates it.
    if (message.payload.topic === "") {
      this.#stats.notMember++;
      return false;
    }
    // A view into a larger buffer (a frame) is copied, so the log does not keep the whole buffer alive.
    const own = () => encoded.byteLength === encoded.buffer.byteLength ? encoded : encoded.slice();
    const taken = this.#take(message, own, from, true);
    if (taken) this.#options.markSeen?.(message, from);
    return taken;
  }

  /**
   * {@link accept} for a message gossip delivered, encoding it only when it is logged. With
   * {@link TopicDeliveryOptions.markSeen}, the log is not asked for messages timestamped after
   * {@link TopicDeliveryOptions.logCheckedThrough}: gossip delivers only ids its seen ids lack, and every id the
   * log took since the node started (gossip's, catch-up's, published) is in those.
   */
  acceptLive(message: ApplicationMessage, from: string): boolean {
    const checkLog = this.#options.markSeen === undefined ||
      message.timestamp <= (this.#options.logCheckedThrough ?? Infinity);
    return this.#take(message, () => this.#encode(message), from, checkLog);
  }

  /**
   * The wire bytes of a message the log is to keep, in its topic's shared chunks: a buffer of their own per
   * message costs an allocation and about 300 bytes beyond the bytes. Per topic, because a log drops each
   * topic's oldest first: a quiet topic's messages then never hold chunks a busy topic filled.
   */
  #encode(message: ApplicationMessage): Uint8Array {
    const { topic } = message.payload;
    let arena = this.#arenas.get(topic);
    if (arena === undefined) {
      // Topics left stop taking chunks (those handed out live on with their entries).
      if (this.#arenas.size >= MAX_ARENAS) {
        for (const name of this.#arenas.keys()) if (!this.#options.isIn(name)) this.#arenas.delete(name);
      }
      if (this.#arenas.size >= MAX_ARENAS) return this.#options.codec.encode(message);
      this.#arenas.set(topic, arena = new ByteArena(ARENA_CHUNK_BYTES));
    }
    return this.#options.codec.encodeWith(message, (shared) => arena.copy(shared));
  }

  #take(message: ApplicationMessage, encode: () => Uint8Array, from: string, askLog: boolean): boolean {
    const { topic } = message.payload;
    if (topic === "") {
      // The network-wide topic: not logged or ordered; gossip's seen set already made it first-seen.
      this.#stats.accepted++;
      this.#handOn(message, from, []);
      return true;
    }
    if (!this.#options.isIn(topic)) {
      this.#stats.notMember++;
      return false;
    }
    const key = idKey(message.id);
    if (askLog ? this.#known(key, message.id) : this.#recent.has(key) || this.#buffer.has(key)) {
      this.#stats.duplicates++;
      return false;
    }
    this.#stats.accepted++;
    const now = this.#options.clock.now();
    const after = message.payload.after;
    const missing = after === undefined || after.length === 0
      ? NONE
      : after.filter((id) => !this.#delivered(bytesKey(id), id));
    // Predecessors are older than the message: past the topic's age bound, they are gone, not late.
    const waitable = missing.length > 0 && this.#config.causalWaitMs > 0 &&
      message.timestamp >= now - this.#options.retention(topic).maxAgeMs;
    const encoded = encode();
    if (!waitable) {
      this.#deliverNow(message, encoded, from, missing, now, key);
      return true;
    }
    this.#stats.waited++;
    // Waitable: `missing` is the filtered array, not NONE.
    const pushed = this.#buffer.hold(key, { message, encoded }, from, encoded.length, missing as Uint8Array[], now);
    this.#release(pushed, now);
    this.#arm();
    return true;
  }

  /** Whether an id was taken before: delivered (recently, or in the log) or held. */
  #known(key: string, id: Uint8Array): boolean {
    return this.#recent.has(key) || this.#buffer.has(key) || this.#options.log.has(id);
  }

  /** Whether a message was delivered (a held one is in neither the recent ids nor the log). */
  #delivered(key: string, id: Uint8Array): boolean {
    return this.#recent.has(key) || (!this.#buffer.has(key) && this.#options.log.has(id));
  }

  #deliverNow(
    message: ApplicationMessage,
    encoded: Uint8Array,
    from: string,
    missing: readonly Uint8Array[],
    now: number,
    key?: string,
  ): void {
    if (this.#buffer.size === 0) {
      // Nothing is held, so nothing waits for this one: no worklist.
      this.#record(message, encoded, now, key);
      if (missing.length === 0) this.#stats.inOrder++;
      else this.#stats.deliveredMissing++;
      this.#handOn(message, from, missing);
      return;
    }
    // A worklist, not recursion: a long chain of held messages is released in one pass.
    const work: { message: ApplicationMessage; encoded: Uint8Array; from: string; missing: readonly Uint8Array[] }[] = [
      { message, encoded, from, missing },
    ];
    for (let item = work.pop(); item !== undefined; item = work.pop()) {
      const key = this.#record(item.message, item.encoded, now);
      if (item.missing.length === 0) this.#stats.inOrder++;
      else this.#stats.deliveredMissing++;
      this.#handOn(item.message, item.from, item.missing);
      for (const ready of this.#buffer.delivered(key)) {
        work.push({ ...ready.held.value, from: ready.held.from, missing: ready.missing });
      }
    }
  }

  /**
   * Logs a message delivered or published, and makes it one of its topic's heads; returns its id key (`key`,
   * when the caller has made it already).
   */
  #record(message: ApplicationMessage, encoded: Uint8Array, now: number, key = idKey(message.id)): string {
    this.#remember(key);
    const { topic } = message.payload;
    const entry: LogEntry = {
      id: message.id,
      topic,
      timestamp: message.timestamp,
      origin: originHex(message.origin),
      envelope: encoded,
    };
    try {
      if (this.#options.log.append(entry, now)) this.#stats.logged++;
      else this.#stats.logRefused++;
    } catch (error) {
      this.#stats.logRefused++;
      this.#options.logSink("error", "topic log append failed", { topic, ...errorFields(error) });
    }
    this.#advanceHeads(topic, { key, id: message.id, timestamp: message.timestamp }, message.payload.after ?? []);
    return key;
  }

  #remember(key: string): void {
    if (this.#recent.has(key)) return;
    this.#recent.add(key);
    this.#recentOrder.push(key);
    if (this.#recent.size > RECENT_IDS) this.#recent.delete(this.#recentOrder.shift()!);
  }

  #handOn(message: ApplicationMessage, from: string, missing: readonly Uint8Array[]): void {
    try {
      this.#options.deliver(message, from, missing);
    } catch (error) {
      this.#options.logSink("error", "delivery to the application failed", errorFields(error));
    }
  }

  #release(released: Released<Pending>[], now: number): void {
    for (const { held, missing, cause } of released) {
      if (cause === "bounds") this.#stats.releasedEarly++;
      // Released together, one may be another's predecessor, delivered just before it: then it is not missing.
      const lacking = missing.filter((id) => !this.#delivered(bytesKey(id), id));
      this.#deliverNow(held.value.message, held.value.encoded, held.from, lacking, now);
    }
  }

  /** Sets the causal buffer's timer for its earliest deadline. */
  #arm(): void {
    const next = this.#buffer.nextDeadline;
    if (next === undefined || next >= this.#timerAt) return;
    const clock = this.#options.clock;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    this.#timerAt = next;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      const now = clock.now();
      this.#release(this.#buffer.expire(now), now);
      this.#arm();
    }, Math.max(0, next - clock.now()));
  }

  /**
   * Records a message this node published to a topic it is in: logged (not delivered to itself), and its only
   * head in the topic beside heads it did not name.
   */
  published(message: ApplicationMessage): void {
    if (message.payload.topic === "" || !this.#options.isIn(message.payload.topic)) return;
    this.#record(message, this.#encode(message), this.#options.clock.now());
  }

  /**
   * The ids a message this node publishes to `topic` names as its predecessors: the topic's heads, newest
   * first, at most {@link MAX_PREDECESSORS}. Empty when the node is not in the topic.
   */
  heads(topic: string): Uint8Array[] {
    if (topic === "" || !this.#options.isIn(topic)) return [];
    return this.#headsOf(topic).map((head) => head.id);
  }

  /**
   * Whether a message was taken already: delivered (recently, or in the log) or held for its predecessors. For
   * catch-up, which should not fetch a held message: the log does not hold it yet.
   */
  knows(id: Uint8Array): boolean {
    return this.#known(bytesKey(id), id);
  }

  /** Ids the held messages wait for, at most `limit` (for catch-up to fetch by id). */
  awaited(limit = 256): Uint8Array[] {
    return this.#buffer.awaited(limit);
  }

  #headsOf(topic: string): Head[] {
    let heads = this.#heads.get(topic);
    if (heads !== undefined) return heads;
    // After a restart: the newest logged messages no newer one names.
    heads = [];
    const named = new Set<string>();
    try {
      for (const entry of this.#options.log.latest(topic, HEAD_SCAN)) {
        const key = bytesKey(entry.id);
        if (!named.has(key) && heads.length < MAX_PREDECESSORS) {
          heads.push({ key, id: entry.id, timestamp: entry.timestamp });
        }
        for (const id of entryMessage(this.#options.codec, entry).payload.after ?? []) named.add(bytesKey(id));
      }
    } catch (error) {
      this.#options.logSink("error", "topic log read failed", { topic, ...errorFields(error) });
    }
    this.#heads.set(topic, heads);
    return heads;
  }

  #advanceHeads(topic: string, head: Head, after: readonly Uint8Array[]): void {
    const named = after.length === 0 ? undefined : new Set(after.map(bytesKey));
    // In place (the topic's array is this class's own; heads() hands out copies): no array per message.
    const heads = this.#headsOf(topic);
    let kept = 0;
    for (const h of heads) if (h.key !== head.key && !named?.has(h.key)) heads[kept++] = h;
    heads.length = kept;
    // Heads are kept newest first: the new one goes after those as new as it (where a stable sort puts it).
    let at = 0;
    while (at < heads.length && heads[at].timestamp >= head.timestamp) at++;
    heads.splice(at, 0, head);
    if (heads.length > MAX_PREDECESSORS) heads.length = MAX_PREDECESSORS;
  }
}
