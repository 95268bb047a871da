/**
 * The topics' part of `NetworkConfig` (lib/topics/): how many topics, relaying all of them, publishing from
 * outside a topic, per-topic settings, and the search for a topic's peers and the links kept for them.
 *
 * @module
 */
import { DEFAULT_PEERS_CONFIG } from "../peers/config.ts";
import { DEFAULT_TOPICS_CONFIG, type TopicSettings } from "../topics/mod.ts";
import { int, type Rule } from "./rules.ts";

/** The topic settings of a node (part of `NetworkConfig`). Each field documents its default and trade-off. */
export interface NetworkTopicsConfig {
  /**
   * Topics this node may be in at once (lib/topics/): each is an overlay with its own caches and rounds.
   * Default 64, the most its peers count of a node that names its topics; above 64 only with
   * `relayAllTopics`.
   */
  maxTopics: number;
  /**
   * Relay every topic (an operator's "all topics" node): join the overlay of each topic a peer announces, up
   * to `maxTopics`, and tell peers to count this node in all of them. Default false: a node carries only the
   * topics its application subscribes to. A well-connected relay helps small topics, at the cost of carrying
   * all their traffic.
   */
  relayAllTopics: boolean;
  /**
   * Peers of a topic a message published from outside it is sent to in full (gossipsub's fanout). Default 6:
   * with a third of the topic's peers Byzantine, all six are with probability 1/729; each more costs one
   * copy per publish.
   */
  topicFanoutPeers: number;
  /** A fanout set is forgotten this long after the last publish through it, ms. Default 60,000. */
  topicFanoutTtlMs: number;
  /**
   * Per-topic settings by topic name: `fanout`, `ttl`, `maxMessageBytes` (at most
   * `maxApplicationPayloadBytes`), `originRateLimit`, `peerRateLimit`; each defaults to the node-wide
   * setting of the same role (`gossipFanout`, `messageTtl`, ...). Default none.
   */
  topicSettings: Record<string, TopicSettings>;
  /**
   * A topic this node is in with fewer connected peers in it than this is searched for: its peers are asked
   * for the topic's peers (PEER_DISCOVERY naming the topic, and the DHT's rendezvous), which are dialed into the
   * `topicSlots`; a topic at it is searched on, more gently, until one more (lib/topics/finder.ts). Default 2:
   * one peer makes the node part of the topic, a second keeps it there when one leaves. Higher: more searches
   * and topic links per topic; 0: never search (a node then reaches a topic only through the peers it has).
   */
  minTopicPeers: number;
  /**
   * Outbound links kept for topic peers, beyond the `outboundSlots` target, so a node whose peers are in none
   * of its topics still reaches some. Default 4. Each costs one more link (memory, heartbeats); they are dialed
   * on other peers' word, so they are never anchors and never count toward `outboundSlots`, and they follow
   * the dial policy, the per-IP and per-subnet bounds and the eviction rules of every outbound link. A link
   * whose peer is in none of this node's topics is closed after 10 s. 0: no topic links.
   */
  topicSlots: number;
}

/** The defaults of {@link NetworkTopicsConfig}, each the one its field names. */
export const DEFAULT_NETWORK_TOPICS_CONFIG: Readonly<NetworkTopicsConfig> = Object.freeze({
  maxTopics: DEFAULT_TOPICS_CONFIG.maxTopics,
  relayAllTopics: DEFAULT_TOPICS_CONFIG.relayAllTopics,
  topicFanoutPeers: DEFAULT_TOPICS_CONFIG.topicFanoutPeers,
  topicFanoutTtlMs: DEFAULT_TOPICS_CONFIG.topicFanoutTtlMs,
  topicSettings: {},
  minTopicPeers: DEFAULT_TOPICS_CONFIG.minTopicPeers,
  topicSlots: DEFAULT_PEERS_CONFIG.topicSlots,
});

/** The rule each scalar setting of {@link NetworkTopicsConfig} must pass (`topicSettings`: lists, checked in lib/config/validate.ts). */
export const NETWORK_TOPICS_RULES: Readonly<Record<Exclude<keyof NetworkTopicsConfig, "topicSettings">, Rule>> = {
  maxTopics: int(1, 4096),
  relayAllTopics: { kind: "bool" },
  topicFanoutPeers: int(1, 1000),
  topicFanoutTtlMs: int(1),
  minTopicPeers: int(0, 64),
  topicSlots: int(0, 64),
};
