/**
 * Topics' settings: the node-wide bounds of topic membership and fanout, and the per-topic overrides of gossip
 * (fanout, TTL, message size, rate limits), with their defaults and validation.
 *
 * @module
 */
import type { TopicRetention } from "../catchup/log.ts";
import { ConfigError } from "../errors.ts";
import type { GossipConfig } from "../gossip/mod.ts";
import { MAX_TOPIC_BYTES, MAX_TOPICS_PER_PEER, MAX_WIRE_TTL } from "../protocol/mod.ts";

/** Settings of one topic's overlay, over what the node's config gives every overlay. Every field is optional. */
export interface TopicSettings {
  /** Eager links in this topic's overlay (gossip's `fanout`). Default: the node's `gossipFanout`. */
  fanout?: number;
  /** TTL of messages this node publishes to the topic (gossip's `defaultTtl`). Default: the node's `defaultTtl`. */
  ttl?: number;
  /**
   * Largest application payload of the topic, bytes: larger messages are refused (and cost their sender trust),
   * as over `maxApplicationPayloadBytes`, which bounds it. Default: `maxApplicationPayloadBytes`.
   */
  maxMessageBytes?: number;
  /** New messages accepted per origin per second in this topic (gossip's `originRateLimit`). Default: the node's. */
  originRateLimit?: number;
  /** Envelopes accepted per peer per second in this topic's overlay (gossip's `peerRateLimit`). Default: the node's. */
  peerRateLimit?: number;
  /** Most messages of this topic the log keeps (0: none). Default: the node's `topicLogMaxMessages`. */
  logMaxMessages?: number;
  /** Most bytes of this topic's envelopes the log keeps. Default: the node's `topicLogMaxBytes`. */
  logMaxBytes?: number;
  /** Oldest message of this topic the log keeps, ms. Default: the node's `topicLogMaxAgeMs`. */
  logMaxAgeMs?: number;
}

/** The keys a {@link TopicSettings} may have. */
const TOPIC_SETTING_KEYS: readonly (keyof TopicSettings)[] = [
  "fanout",
  "ttl",
  "maxMessageBytes",
  "originRateLimit",
  "peerRateLimit",
  "logMaxMessages",
  "logMaxBytes",
  "logMaxAgeMs",
];

/** The node-wide topic settings (lib/topics/). */
export interface TopicsConfig {
  /**
   * Topics this node may be in at once (subscribed, or relayed as an all-topics node). Default 64, the most a
   * peer counts of another ({@link MAX_TOPICS_PER_PEER}); each costs an overlay with its own caches and
   * rounds. An all-topics node may raise it (peers still count it in every topic by its `all` flag).
   */
  maxTopics: number;
  /**
   * Relay every topic: join the overlay of each topic a peer announces (up to `maxTopics`), and tell peers so.
   * Default false: a node carries only what it subscribes to. An operator's choice for a well-connected node
   * that should help small topics; it carries all their traffic.
   */
  relayAllTopics: boolean;
  /**
   * Peers in the topic a message published from outside it goes to in full (gossipsub's fanout, D). Default 6:
   * the set is chosen at random among the topic's peers, so with a third of them Byzantine all six are with
   * probability 1/729; fewer saves copies, more costs one copy each.
   */
  topicFanoutPeers: number;
  /** The fanout set of a topic this node publishes to from outside is forgotten this long after its last publish, ms. Default 60,000. */
  topicFanoutTtlMs: number;
  /**
   * Topic names a peer's subscription messages may add or remove, as a burst; the allowance refills at
   * `subscriptionChangesPerSecond`. A peer over it has its link closed (RATE_LIMITED) and loses trust: its
   * subscriptions could no longer be followed. Default 128: leaving and joining every one of 64 topics at once.
   */
  subscriptionChangeBurst: number;
  /** See `subscriptionChangeBurst`: the steady rate, names per second. Default 2. */
  subscriptionChangesPerSecond: number;
  /**
   * A topic this node left, or a peer left, is still taken from that peer for this long, ms: messages and
   * digests already on their way are dropped, not counted against the sender. Default 10,000.
   */
  leaveGraceMs: number;
  /** Per-topic overrides, by topic name. Default none. */
  topicSettings: Readonly<Record<string, TopicSettings>>;
  /**
   * A topic this node is in with fewer connected peers in it than this is searched for (lib/topics/finder.ts):
   * its peers are asked for the topic's peers, which are dialed into the peer manager's `topicSlots`.
   * Default 2: one peer makes the node part of the topic, a second keeps it there when one leaves; a node's
   * eager links in a well-populated topic come from its ordinary peers that are in it. 0: never search.
   */
  minTopicPeers: number;
  /**
   * A topic is searched for at most once per this interval, ms, doubling (up to 16 times) while searches
   * find no peer not already linked in it. Default 5,000, the interval at which a peer answers one topic query of this node.
   */
  topicSearchIntervalMs: number;
  /** Peers asked per search of a topic (each answers one query per `topicSearchIntervalMs`). Default 3. */
  topicSearchPeers: number;
  /**
   * Most messages of each topic this node is in that its log keeps (lib/catchup/), to replay them to its
   * application and serve them to peers that were away. Default 10,000; a topic's `logMaxMessages` overrides
   * it. More: a longer absence is caught up, at more disk; 0: no log (nothing replayed or caught up).
   */
  topicLogMaxMessages: number;
  /** Most bytes of each topic's envelopes the log keeps. Default 16 MiB (64 topics: at most 1 GiB of disk). */
  topicLogMaxBytes: number;
  /**
   * Oldest message the log keeps, ms; older ones are pruned, and refused when they arrive. Default 86,400,000
   * (24 hours): a node away longer catches up only the last day.
   */
  topicLogMaxAgeMs: number;
}

/** The default {@link TopicsConfig}. */
export const DEFAULT_TOPICS_CONFIG: Readonly<TopicsConfig> = Object.freeze({
  maxTopics: MAX_TOPICS_PER_PEER,
  relayAllTopics: false,
  topicFanoutPeers: 6,
  topicFanoutTtlMs: 60_000,
  subscriptionChangeBurst: 2 * MAX_TOPICS_PER_PEER,
  subscriptionChangesPerSecond: 2,
  leaveGraceMs: 10_000,
  topicSettings: Object.freeze({}),
  minTopicPeers: 2,
  topicSearchIntervalMs: 5_000,
  topicSearchPeers: 3,
  topicLogMaxMessages: 10_000,
  topicLogMaxBytes: 16 * 1024 * 1024,
  topicLogMaxAgeMs: 24 * 3_600_000,
});

/**
 * Whether `topic` is a topic name one may join or publish to: 1..255 bytes of UTF-8 (`""` is the network-wide
 * topic, which every node is in).
 */
export function isTopicName(topic: string): boolean {
  return typeof topic === "string" && topic.length > 0 && new TextEncoder().encode(topic).length <= MAX_TOPIC_BYTES;
}

/**
 * The full topics config from defaults and `overrides`, checked against the gossip config it overrides.
 *
 * @throws {ConfigError} naming the first invalid key
 */
export function resolveTopicsConfig(overrides: Partial<TopicsConfig>, gossip: Readonly<GossipConfig>): TopicsConfig {
  const config = { ...DEFAULT_TOPICS_CONFIG, ...overrides };
  if (typeof config.relayAllTopics !== "boolean") {
    throw new ConfigError("relayAllTopics", "relayAllTopics must be true or false");
  }
  for (
    const key of [
      "maxTopics",
      "topicFanoutPeers",
      "topicFanoutTtlMs",
      "subscriptionChangeBurst",
      "subscriptionChangesPerSecond",
      "leaveGraceMs",
      "topicSearchIntervalMs",
      "topicSearchPeers",
      "topicLogMaxBytes",
      "topicLogMaxAgeMs",
    ] as const
  ) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigError(key, `${key} must be an integer of at least 1, got ${JSON.stringify(value)}`);
    }
  }
  if (!Number.isSafeInteger(config.topicLogMaxMessages) || config.topicLogMaxMessages < 0) {
    throw new ConfigError(
      "topicLogMaxMessages",
      `topicLogMaxMessages must be an integer of at least 0, got ${JSON.stringify(config.topicLogMaxMessages)}`,
    );
  }
  if (!Number.isSafeInteger(config.minTopicPeers) || config.minTopicPeers < 0 || config.minTopicPeers > 64) {
    throw new ConfigError(
      "minTopicPeers",
      `minTopicPeers must be an integer in 0..64, got ${JSON.stringify(config.minTopicPeers)}`,
    );
  }
  if (config.maxTopics > MAX_TOPICS_PER_PEER && !config.relayAllTopics) {
    // Peers count at most this many topics of a node that names its topics (an all-topics node names none).
    throw new ConfigError(
      "maxTopics",
      `maxTopics must be at most ${MAX_TOPICS_PER_PEER} unless relayAllTopics is on`,
    );
  }
  if (config.subscriptionChangeBurst < MAX_TOPICS_PER_PEER) {
    // A peer's first full set may name this many topics: a smaller burst would cut honest peers off.
    throw new ConfigError(
      "subscriptionChangeBurst",
      `subscriptionChangeBurst must be at least ${MAX_TOPICS_PER_PEER}, the most topics one message names`,
    );
  }
  const all = config.topicSettings;
  if (typeof all !== "object" || all === null || Array.isArray(all)) {
    throw new ConfigError("topicSettings", "topicSettings must be an object of per-topic settings by topic name");
  }
  for (const [topic, settings] of Object.entries(all)) {
    const where = `topicSettings.${JSON.stringify(topic)}`;
    if (!isTopicName(topic)) throw new ConfigError(where, `${where}: a topic name is 1 to ${MAX_TOPIC_BYTES} bytes`);
    if (typeof settings !== "object" || settings === null) {
      throw new ConfigError(where, `${where} must be an object of settings`);
    }
    for (const [key, value] of Object.entries(settings)) {
      if (!TOPIC_SETTING_KEYS.includes(key as keyof TopicSettings)) {
        throw new ConfigError(
          `${where}.${key}`,
          `${where}.${key} is not a topic setting (${TOPIC_SETTING_KEYS.join(", ")})`,
        );
      }
      const least = key === "logMaxMessages" ? 0 : 1;
      if (!Number.isSafeInteger(value) || (value as number) < least) {
        throw new ConfigError(`${where}.${key}`, `${where}.${key} must be an integer of at least ${least}`);
      }
    }
    if ((settings.ttl ?? 1) > MAX_WIRE_TTL) {
      throw new ConfigError(`${where}.ttl`, `${where}.ttl must be at most ${MAX_WIRE_TTL}`);
    }
    if ((settings.maxMessageBytes ?? 0) > gossip.maxApplicationPayloadBytes) {
      throw new ConfigError(
        `${where}.maxMessageBytes`,
        `${where}.maxMessageBytes must not exceed maxApplicationPayloadBytes (${gossip.maxApplicationPayloadBytes})`,
      );
    }
  }
  return config;
}

/** How much of `topic` the log keeps: the node's log bounds, with the topic's overrides. */
export function topicRetention(config: Readonly<TopicsConfig>, topic: string): TopicRetention {
  const settings = config.topicSettings[topic];
  return {
    maxMessages: settings?.logMaxMessages ?? config.topicLogMaxMessages,
    maxBytes: settings?.logMaxBytes ?? config.topicLogMaxBytes,
    maxAgeMs: settings?.logMaxAgeMs ?? config.topicLogMaxAgeMs,
  };
}

/** The gossip config of `topic`'s overlay: the node's, with the topic's overrides. */
export function topicGossipConfig(
  base: Readonly<Partial<GossipConfig>>,
  settings: TopicSettings | undefined,
): Partial<GossipConfig> {
  if (settings === undefined) return base;
  const config: Partial<GossipConfig> = { ...base };
  if (settings.fanout !== undefined) config.fanout = settings.fanout;
  if (settings.ttl !== undefined) config.defaultTtl = settings.ttl;
  if (settings.maxMessageBytes !== undefined) config.maxApplicationPayloadBytes = settings.maxMessageBytes;
  if (settings.originRateLimit !== undefined) {
    config.originRateLimit = settings.originRateLimit;
    config.originRateBurst = 2 * settings.originRateLimit;
  }
  if (settings.peerRateLimit !== undefined) {
    config.peerRateLimit = settings.peerRateLimit;
    config.peerRateBurst = 2 * settings.peerRateLimit;
  }
  return config;
}
