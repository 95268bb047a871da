/**
 * Causal delivery's part of `NetworkConfig` (lib/catchup/causal.ts): how long and how many of a topic's
 * messages wait for the predecessors their origin named.
 *
 * @module
 */
import { DEFAULT_CAUSAL_CONFIG } from "../catchup/causal.ts";
import { int, type Rule } from "./rules.ts";

/** The causal-delivery settings of a node (part of `NetworkConfig`). Each field documents its default and trade-off. */
export interface NetworkDeliveryConfig {
  /**
   * Longest a message of a topic waits for the predecessors its origin named, ms; then it is delivered with
   * those still missing named (`ReceivedMessage.missing`). Default 10,000: longer than gossip's repair and a
   * catch-up fetch, short enough that a message whose predecessor is gone for good is seen soon. 0: never wait.
   */
  causalWaitMs: number;
  /**
   * Most messages held at once waiting for their predecessors (a quarter of it per sending peer); over it the
   * one held longest is delivered at once. Default 2,048.
   */
  causalBufferMessages: number;
  /** Most bytes of messages held at once waiting for their predecessors. Default 8,388,608 (8 MiB). */
  causalBufferBytes: number;
}

/** The defaults of {@link NetworkDeliveryConfig}, each the one its field names. */
export const DEFAULT_NETWORK_DELIVERY_CONFIG: Readonly<NetworkDeliveryConfig> = Object.freeze({
  causalWaitMs: DEFAULT_CAUSAL_CONFIG.causalWaitMs,
  causalBufferMessages: DEFAULT_CAUSAL_CONFIG.causalBufferMessages,
  causalBufferBytes: DEFAULT_CAUSAL_CONFIG.causalBufferBytes,
});

/** The rule each scalar setting of {@link NetworkDeliveryConfig} must pass. */
export const NETWORK_DELIVERY_RULES: Readonly<Record<keyof NetworkDeliveryConfig, Rule>> = {
  causalWaitMs: int(0, 3_600_000),
  causalBufferMessages: int(1, 1_000_000),
  causalBufferBytes: int(1),
};
