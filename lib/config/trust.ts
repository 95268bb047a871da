/**
 * The trust manager's part of `NetworkConfig` (lib/trust.ts, lib/trust_exchange.ts): a stranger's trust, the
 * threshold below which peers go, decay, and how often trust is exchanged.
 *
 * @module
 */
import { DEFAULT_TRUST_CONFIG } from "../trust.ts";
import { int, type Rule } from "./rules.ts";

/** The trust settings of a node (part of `NetworkConfig`). Each field documents its default and trade-off. */
export interface NetworkTrustConfig {
  /** initial_trust_score of a stranger. Default 0.5. Lower resists Sybils, slows newcomers. */
  initialTrustScore: number;
  /** min_trust_threshold: peers below are disconnected and not dialed. Default 0.3. */
  minTrustThreshold: number;
  /** trust_decay_rate: share of the distance to initial trust recovered per decay interval. Default 0.01. */
  trustDecayRate: number;
  /** Length of a trust decay interval, ms. Default 60,000. */
  trustDecayIntervalMs: number;
  /** How often a node asks a peer for its most trusted peers (transitive trust), ms. Default 300,000. */
  trustExchangeIntervalMs: number;
}

/** The defaults of {@link NetworkTrustConfig}, each the one its field names. */
export const DEFAULT_NETWORK_TRUST_CONFIG: Readonly<NetworkTrustConfig> = Object.freeze({
  initialTrustScore: DEFAULT_TRUST_CONFIG.initialTrust,
  minTrustThreshold: DEFAULT_TRUST_CONFIG.minTrustThreshold,
  trustDecayRate: DEFAULT_TRUST_CONFIG.decayRate,
  trustDecayIntervalMs: DEFAULT_TRUST_CONFIG.decayIntervalMs,
  trustExchangeIntervalMs: 300_000,
});

/** The rule each scalar setting of {@link NetworkTrustConfig} must pass. */
export const NETWORK_TRUST_RULES: Readonly<Record<keyof NetworkTrustConfig, Rule>> = {
  initialTrustScore: { kind: "unit" },
  minTrustThreshold: { kind: "unit" },
  trustDecayRate: { kind: "unit" },
  trustDecayIntervalMs: int(1),
  trustExchangeIntervalMs: int(1_000),
};
