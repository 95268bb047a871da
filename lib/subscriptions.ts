/**
 * Application message subscriptions: callbacks and async iterators per topic, each iterator with a bounded
 * buffer (the oldest dropped and counted when its consumer falls behind), and the delivery counters.
 *
 * @module
 */
import { toHex } from "./bytes.ts";
import type { Clock } from "./clock.ts";
import type { GossipSender } from "./gossip/mod.ts";
import { LatencyHistogram } from "./latency.ts";
import { errorFields, type LogSink } from "./log.ts";
import { type Message, MessageType } from "./protocol/mod.ts";
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
  /** Node id of the peer it arrived from (hex). */
  from: string;
}

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
  subscribe(topic?: string, callback?: (message: ReceivedMessage) => void, onEnd?: () => void): Subscription {
    // Callback or not, the subscription is also an iterator with a bounded buffer of its own (BoundedStreams);
    // with a callback, messages go to the callback and the iterator only ends.
    const streams = new BoundedStreams<ReceivedMessage>();
    const stream = streams.open({ bufferSize: SUBSCRIPTION_BUFFER });
    const entry = {
      topic,
      deliver: (message: ReceivedMessage) => {
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
    return {
      get dropped() {
        return stream.dropped;
      },
      unsubscribe,
      async *[Symbol.asyncIterator]() {
        try {
          yield* stream;
        } finally {
          unsubscribe();
        }
      },
    };
  }

  /** Delivers a verified first-seen message (CUSTOM_DATA only) to the subscribers of its topic. */
  deliver(message: Message, from: GossipSender): void {
    if (message.type !== MessageType.CUSTOM_DATA) return;
    const received: ReceivedMessage = {
      id: toHex(message.id),
      origin: toHex(message.origin),
      topic: message.payload.topic,
      data: message.payload.data,
      timestamp: message.timestamp,
      from: from.nodeId,
    };
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
