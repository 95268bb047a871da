/**
 * The application's side of a node's topics (`KithNode.broadcast` and `KithNode.subscribe`, after the node's own
 * checks): publishing through a topic's overlay or its fanout set, and subscriptions that join a topic's overlay on
 * the first and leave it after the last, with a replay of the topic's log first when asked.
 *
 * @module
 */
import { toHex } from "./bytes.ts";
import type { TopicLog } from "./catchup/mod.ts";
import { KithError } from "./errors.ts";
import { sinceReplay, type SubscribeOptions } from "./node_catchup.ts";
import type { NodeLayers } from "./node_options.ts";
import type { ReceivedMessage, Subscription, Subscriptions } from "./subscriptions.ts";
import { isTopicName, type TopicOverlays } from "./topics/mod.ts";

/** What a node's topic subscriptions work on. */
export interface TopicSubscribing {
  /** The node's layers as start makes them. */
  layers: NodeLayers;
  /** The application's subscriptions. */
  subscriptions: Subscriptions;
  /** The most topics the node may be in. */
  maxTopics: number;
  /** Whether the topic overlays take joins and leaves (once start has joined the topics subscribed before it). */
  live: () => boolean;
  /** The topic log, for a replay; throws when the node has none (not running). */
  log: () => TopicLog;
}

/** A `BAD_TOPIC` error for a topic name that is empty or over 255 bytes. */
export function badTopic(topic: string): KithError {
  return new KithError("BAD_TOPIC", `topic ${JSON.stringify(topic.slice(0, 40))} is over 255 bytes of UTF-8`);
}

/**
 * Publishes `data` to `options.topic` (default `""`) through `topics`, logged and with the topic's heads as its
 * predecessors; when no peer in the topic is known, searches for some, so that a later publish finds them.
 *
 * @throws {KithError} `BAD_TTL` over `maxTtl`, `BAD_TOPIC`, `NO_TOPIC_PEERS` (see `KithNode.broadcast`)
 */
export function publishTo(
  layers: NodeLayers,
  topics: TopicOverlays,
  maxTtl: number,
  data: Uint8Array,
  options: { topic?: string; ttl?: number },
): string {
  if (options.ttl !== undefined && options.ttl > maxTtl) {
    // Relays would cut it to their maximum anyway; refusing says so instead of sending something else.
    throw new KithError(
      "BAD_TTL",
      `ttl ${options.ttl} is above this node's maximum of ${maxTtl} (maxTtl)`,
    );
  }
  const topic = options.topic ?? "";
  if (topic !== "" && !isTopicName(topic)) throw badTopic(topic);
  try {
    const delivery = layers.delivery!;
    const message = topics.publish(topic, data, options.ttl, delivery.heads(topic));
    delivery.published(message);
    return toHex(message.id);
  } catch (error) {
    // No peer in the topic: search for some, so that a later publish finds them.
    if (error instanceof KithError && error.code === "NO_TOPIC_PEERS") layers.finder?.want(topic, true);
    throw error;
  }
}

/**
 * A subscription to `topic` (see `KithNode.subscribe`): the first to a named topic joins its overlay (or, before
 * start, counts against `maxTopics`), and the end of the last leaves it.
 *
 * @throws {KithError} `BAD_TOPIC`, `TOO_MANY_TOPICS`, `NOT_STARTED` for `since` before start
 * @throws {RangeError} for a `since` that is no timestamp, or given without a named topic
 */
export function subscribeTo(
  w: TopicSubscribing,
  topic: string | undefined,
  optionsOrCallback: SubscribeOptions | ((message: ReceivedMessage) => void) | undefined,
  callback: ((message: ReceivedMessage) => void) | undefined,
): Subscription {
  const { layers, subscriptions } = w;
  const options = typeof optionsOrCallback === "function" ? {} : optionsOrCallback ?? {};
  if (typeof optionsOrCallback === "function") callback = optionsOrCallback;
  const named = topic !== undefined && topic !== "";
  if (named && !isTopicName(topic)) throw badTopic(topic);
  const replay = options.since === undefined ? undefined : sinceReplay(
    w.log,
    layers.codec!,
    named ? topic : undefined,
    options.since,
  );
  const first = named && subscriptions.count(topic) === 0;
  if (first && layers.topics && w.live()) {
    layers.topics.join(topic);
    layers.finder?.want(topic);
    layers.dht?.provideTopic(topic);
    layers.catchup?.joined(topic);
  } else if (first && subscriptions.topics().filter((t) => t !== "").length >= w.maxTopics) {
    throw new KithError(
      "TOO_MANY_TOPICS",
      `already subscribed to maxTopics (${w.maxTopics}) topics`,
    );
  }
  const onEnd = named
    ? () => {
      if (subscriptions.count(topic) === 0 && w.live()) {
        layers.topics?.leave(topic);
        layers.dht?.leaveTopic(topic);
      }
    }
    : undefined;
  return subscriptions.subscribe(topic, callback, onEnd, replay);
}
