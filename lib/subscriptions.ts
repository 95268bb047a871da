/**
 * Application message subscriptions: callbacks and async iterators per topic, each iterator with a bounded
 * buffer (the oldest dropped and counted when its consumer falls behind), and the delivery counters. A
 * subscription may first replay a topic's log ({@link Replay}), then continue with live messages, with no gap
 * and no duplicate at the seam.
 *
 * @module
 */
import { fromHex, toHex } from "./bytes.ts";
import type { Clock } from "./clock.ts";
import { LatencyHistogram } from "./latency.ts";
import { errorFields, type LogSink } from "./log.ts";
import { type Message, MessageType, originHex } from "./protocol/mod.ts";
import { BoundedStreams } from "./stream.ts";

/** An application message as delivered to subscribers. */
export interface ReceivedMessage {
  /** Message id (hex). */
  id: string;
  /** Node id of the publisher (hex). */
  origin: string;
  /** Topic (`""` for none). */
  topic: string;
  /** The payload. */
  data: Uint8Array;
  /** When the publisher created it, ms since the epoch. */
  timestamp: number;
  /** Node id of the peer it arrived from (hex); `""` when it was replayed from the log. */
  from: string;
  /**
   * Ids (hex) of predecessors its origin named that were not delivered before it: they did not come within
   * `causalWaitMs` (or the causal buffer was full). Absent when every predecessor came first.
   */
  missing?: string[];
  /** True when it was replayed from the topic's log (`subscribe(topic, { since })`), not received live. */
  replayed?: boolean;
}

/**
 * A topic's log as a subscription replays it: the next page of messages after `cursor` (the last one read) in
 * log order, or from the start of the replay when `cursor` is undefined.
 */
export type Replay = (cursor: ReceivedMessage | undefined, limit: number) => ReceivedMessage[];

const REPLAY_PAGE = 256;

/** A subscription: an async iterator of messages, and a way to end it. */
export interface Subscription extends AsyncIterable<ReceivedMessage> {
  /** Messages dropped because the iterator's consumer fell behind (its buffer holds 1,024). */
  readonly dropped: number;
  /** Ends the subscription; a pending iteration finishes. */
  unsubscribe(): void;
}

const SUBSCRIPTION_BUFFER = 1_024;

/** The subscriptions of one node. */
export class Subscriptions {
  /** Messages delivered. */
  delivered = 0;
  /** Publish-to-delivery latency of the messages delivered. */
  readonly latency: LatencyHistogram = new LatencyHistogram();
  readonly #subscribers = new Set<
    { topic: string | undefined; deliver: (m: ReceivedMessage) => void; end: () => void }
  >();
  readonly #clock: Clock;
  readonly #log: LogSink;
  // Topic -> subscriptions to it (the node is in a topic while it has one).
  readonly #byTopic = new Map<string, number>();

  /** Creates the subscriptions of a node with this clock and log sink. */
  constructor(clock: Clock, log: LogSink) {
    this.#clock = clock;
    this.#log = log;
  }

  /**
   * Subscribes to application messages of `topic` (all topics when omitted).
   * With `callback`, each message is passed to it; the returned subscription
   * is also an async iterator.
   */
  subscribe(
    topic?: string,
    callback?: (message: ReceivedMessage) => void,
    onEnd?: () => void,
    replay?: Replay,
  ): Subscription {
    // Callback or not, the subscription is also an iterator with a bounded buffer of its own (BoundedStreams);
    // with a callback, messages go to the callback and the iterator only ends.
    const streams = new BoundedStreams<ReceivedMessage>();
    const stream = streams.open({ bufferSize: SUBSCRIPTION_BUFFER });
    // While an iterator replays the log, live messages wait here (they are in the log too, and skipped there).
    let replaying: { live: ReceivedMessage[]; ids: Set<string>; dropped: number } | undefined = replay && !callback
      ? { live: [], ids: new Set(), dropped: 0 }
      : undefined;
    if (replay && callback) {
      // A callback gets the whole replay now, before any live message (nothing else runs meanwhile).
      for (const message of pages(replay)) {
        try {
          callback(message);
        } catch (error) {
          this.#log("error", "subscriber callback failed", { topic: message.topic, ...errorFields(error) });
        }
      }
    }
    const entry = {
      topic,
      deliver: (message: ReceivedMessage) => {
        if (replaying) {
          replaying.live.push(message);
          replaying.ids.add(message.id);
          if (replaying.live.length > SUBSCRIPTION_BUFFER) {
            replaying.ids.delete(replaying.live.shift()!.id);
            replaying.dropped++;
          }
          return;
        }
        if (!callback) return streams.push(message);
        try {
          callback(message);
        } catch (error) {
          this.#log("error", "subscriber callback failed", { topic: message.topic, ...errorFields(error) });
        }
      },
      end: () => stream.close(),
    };
    this.#subscribers.add(entry);
    if (topic !== undefined) this.#byTopic.set(topic, (this.#byTopic.get(topic) ?? 0) + 1);
    const unsubscribe = () => {
      stream.close();
      if (!this.#subscribers.delete(entry)) return;
      if (topic !== undefined) {
        const left = this.#byTopic.get(topic)! - 1;
        if (left === 0) this.#byTopic.delete(topic);
        else this.#byTopic.set(topic, left);
      }
      onEnd?.();
    };
    let replayDropped = 0;
    return {
      get dropped() {
        return stream.dropped + replayDropped + (replaying?.dropped ?? 0);
      },
      unsubscribe,
      async *[Symbol.asyncIterator]() {
        try {
          if (replaying) {
            const waiting = replaying;
            // Pages of the log, skipping what came live meanwhile; then, at once (no await between the last
            // page and the switch), the live messages that waited, and live delivery.
            for (const message of pages(replay!)) {
              if (!waiting.ids.has(message.id)) yield message;
            }
            replaying = undefined;
            replayDropped = waiting.dropped;
            for (const message of waiting.live) streams.push(message);
          }
          yield* stream;
        } finally {
          unsubscribe();
        }
      },
    };
  }

  /**
   * Delivers a verified first-seen message (CUSTOM_DATA only) to the subscribers of its topic; `missing` names
   * predecessors not delivered before it.
   */
  deliver(message: Message, from: string, missing: readonly Uint8Array[] = []): void {
    if (message.type !== MessageType.CUSTOM_DATA) return;
    const received: ReceivedMessage = {
      id: toHex(message.id),
      origin: originHex(message.origin),
      topic: message.payload.topic,
      data: message.payload.data,
      timestamp: message.timestamp,
      from,
    };
    if (missing.length > 0) received.missing = missing.map(toHex);
    this.delivered++;
    this.latency.record(this.#clock.now() - message.timestamp);
    for (const subscriber of this.#subscribers) {
      if (subscriber.topic === undefined || subscriber.topic === received.topic) subscriber.deliver(received);
    }
  }

  /** The topics subscribed to (by at least one subscription; `""` included when subscribed to by name). */
  topics(): string[] {
    return [...this.#byTopic.keys()];
  }

  /** Subscriptions to `topic` by name. */
  count(topic: string): number {
    return this.#byTopic.get(topic) ?? 0;
  }

  /** Drops every subscriber and ends its iterator (the node stopped). */
  clear(): void {
    for (const subscriber of this.#subscribers) subscriber.end();
    this.#subscribers.clear();
    this.#byTopic.clear();
  }
}

/** Every message of a replay, page by page (each page read when the one before is used up). */
function* pages(replay: Replay): Generator<ReceivedMessage> {
  let cursor: ReceivedMessage | undefined;
  for (;;) {
    const page = replay(cursor, REPLAY_PAGE);
    yield* page;
    if (page.length < REPLAY_PAGE) return;
    cursor = page[page.length - 1];
  }
}

/** The id bytes of a received message (for paging a replay by id). */
export function receivedId(message: ReceivedMessage): Uint8Array {
  return fromHex(message.id)!;
}
