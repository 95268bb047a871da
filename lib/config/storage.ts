/**
 * What a node keeps, in `NetworkConfig` (lib/storage/, lib/catchup/log.ts): how long writes wait before
 * reaching SQLite, and how much of each topic its log keeps.
 *
 * @module
 */
import { DEFAULT_TOPICS_CONFIG } from "../topics/mod.ts";
import { int, type Rule } from "./rules.ts";

/** The storage and topic-log settings of a node (part of `NetworkConfig`). Each field documents its default and trade-off. */
export interface NetworkStorageConfig {
  /** Longest a write waits in memory before reaching SQLite, ms. Default 100. */
  storageFlushIntervalMs: number;
  /**
   * Most messages of each topic this node is in that its log keeps (lib/catchup/), to replay them to the
   * application (`subscribe(topic, { since })`, `history`) and serve them to peers that were away. Default
   * 10,000; a topic's `logMaxMessages` overrides it. More: a longer absence is caught up, at more disk;
   * 0: no log (nothing replayed, and exactly-once delivery only within gossip's dedup window).
   */
  topicLogMaxMessages: number;
  /**
   * Most bytes of each topic's envelopes its log keeps. Default 16 MiB (at 64 topics, at most 1 GiB); a topic's
   * `logMaxBytes` overrides it.
   */
  topicLogMaxBytes: number;
  /**
   * Oldest message a topic's log keeps, ms: older ones are pruned (each minute), and refused when they come.
   * Default 86,400,000 (24 hours); a topic's `logMaxAgeMs` overrides it. A node away longer catches up only
   * what is younger.
   */
  topicLogMaxAgeMs: number;
}

/** The defaults of {@link NetworkStorageConfig}, each the one its field names. */
export const DEFAULT_NETWORK_STORAGE_CONFIG: Readonly<NetworkStorageConfig> = Object.freeze({
  storageFlushIntervalMs: 100,
  topicLogMaxMessages: DEFAULT_TOPICS_CONFIG.topicLogMaxMessages,
  topicLogMaxBytes: DEFAULT_TOPICS_CONFIG.topicLogMaxBytes,
  topicLogMaxAgeMs: DEFAULT_TOPICS_CONFIG.topicLogMaxAgeMs,
});

/** The rule each scalar setting of {@link NetworkStorageConfig} must pass. */
export const NETWORK_STORAGE_RULES: Readonly<Record<keyof NetworkStorageConfig, Rule>> = {
  storageFlushIntervalMs: int(0),
  topicLogMaxMessages: int(0),
  topicLogMaxBytes: int(1),
  topicLogMaxAgeMs: int(1_000),
};
