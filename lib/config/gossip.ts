/**
 * Gossip's part of `NetworkConfig` (lib/gossip/, and the codec's checks of every message): fanout, trees,
 * rounds and caches, the TTL, age and size bounds of messages, signature-check threads, and the rate limits.
 *
 * @module
 */
import { DEFAULT_GOSSIP_CONFIG } from "../gossip/mod.ts";
import { DEFAULT_PROTOCOL_LIMITS } from "../protocol/mod.ts";
import { DEFAULT_PARALLEL_VERIFIER_CONFIG } from "../verifier.ts";
import { int, type Rule } from "./rules.ts";

/** Gossip's and the message checks' settings of a node (part of `NetworkConfig`). Each field documents its default and trade-off. */
export interface NetworkGossipConfig {
  /**
   * gossip_fanout: eager links per node, the peers each new message is pushed to in full (the others get
   * its id). Default 3, a mesh that reaches every node. Fewer: fewer copies, but some nodes are reached only
   * by asking after a timeout; more: about one more copy per node for each step.
   */
  gossipFanout: number;
  /**
   * Per-origin trees: a peer that pushes a copy of a message this node already had is asked to send only
   * ids of that origin's messages from then on (while the peer that brought them first keeps pushing).
   * Default true: about one copy per node instead of about 2.2, half the bytes and less CPU per delivery.
   * Off: the plain mesh, whose spare copies mask a slow or withholding parent, for lower tail latency when
   * nodes are overloaded or many peers misbehave (see BENCHMARKS.md and SECURITY.md).
   */
  gossipOriginPrune: boolean;
  /** gossip_interval, ms: repair rounds and deferred sends. Default 1,000. Shorter: faster repair, more digests. */
  gossipIntervalMs: number;
  /** message_cache_size: ids and messages kept in memory for dedup and repair. Default 10,000. */
  messageCacheSize: number;
  /** TTL (hops) of published messages, 1 up to `maxTtl`. Default 16; enough for O(log n) hops in large networks. */
  messageTtl: number;
  /** Received TTLs above this are clamped. Default 16. */
  maxTtl: number;
  /** Messages older than this are refused, ms. Default 300,000. */
  maxMessageAgeMs: number;
  /** Messages dated further ahead than this are refused, ms. Default 30,000. */
  maxClockSkewMs: number;
  /** Largest application payload, bytes. Default 65,536. */
  maxApplicationPayloadBytes: number;
  /**
   * Helper threads for signature checks, shared by the nodes of a process. Default 1. Checks go to a
   * helper only while the node's JavaScript thread is behind (its timers run more than 10 ms late) and the
   * process uses most of a core (late for lack of CPU of its own, a helper would only compete), so an idle
   * or lightly loaded node never starts one and pays nothing. Under load the largest single cost of a
   * delivery moves to a second core: a lower tail latency and more messages per second fully delivered
   * (figures in BENCHMARKS.md). A started helper costs tens of MB of RSS and stops after 30 s without
   * work. 0: every check on the node's thread.
   */
  verifyThreads: number;
  /** Envelopes accepted per peer per second. Default 1,000. */
  peerRateLimit: number;
  /** New messages accepted per origin per second. Default 200. */
  originRateLimit: number;
}

/** The defaults of {@link NetworkGossipConfig}, each the one its field names. */
export const DEFAULT_NETWORK_GOSSIP_CONFIG: Readonly<NetworkGossipConfig> = Object.freeze({
  gossipFanout: DEFAULT_GOSSIP_CONFIG.fanout,
  gossipOriginPrune: DEFAULT_GOSSIP_CONFIG.originPrune,
  gossipIntervalMs: DEFAULT_GOSSIP_CONFIG.intervalMs,
  messageCacheSize: DEFAULT_GOSSIP_CONFIG.messageCacheSize,
  messageTtl: DEFAULT_GOSSIP_CONFIG.defaultTtl,
  maxTtl: DEFAULT_PROTOCOL_LIMITS.maxTtl,
  maxMessageAgeMs: DEFAULT_PROTOCOL_LIMITS.maxMessageAgeMs,
  maxClockSkewMs: DEFAULT_PROTOCOL_LIMITS.maxClockSkewMs,
  maxApplicationPayloadBytes: DEFAULT_GOSSIP_CONFIG.maxApplicationPayloadBytes,
  verifyThreads: DEFAULT_PARALLEL_VERIFIER_CONFIG.threads,
  peerRateLimit: DEFAULT_GOSSIP_CONFIG.peerRateLimit,
  originRateLimit: DEFAULT_GOSSIP_CONFIG.originRateLimit,
});

/** The rule each scalar setting of {@link NetworkGossipConfig} must pass. */
export const NETWORK_GOSSIP_RULES: Readonly<Record<keyof NetworkGossipConfig, Rule>> = {
  gossipFanout: int(1, 1000),
  gossipOriginPrune: { kind: "bool" },
  gossipIntervalMs: int(10),
  messageCacheSize: int(16),
  messageTtl: int(1, 255),
  maxTtl: int(0, 255),
  maxMessageAgeMs: int(1_000),
  maxClockSkewMs: int(0),
  maxApplicationPayloadBytes: int(1),
  verifyThreads: int(0, 64),
  peerRateLimit: int(1),
  originRateLimit: int(1),
};
