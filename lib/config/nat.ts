/**
 * The NAT service's part of `NetworkConfig` (lib/nat/): the reachability check, when an observed address is
 * trusted, and the bounds on dial-backs done for others.
 *
 * @module
 */
import { DEFAULT_NAT_CONFIG } from "../nat/config.ts";
import { int, type Rule } from "./rules.ts";

/** The reachability settings of a node (part of `NetworkConfig`). Each field documents its default and trade-off. */
export interface NetworkNatConfig {
  /**
   * Reachability check (AutoNAT): this node asks peers to dial its observed address back and advertises a
   * direct address only once they reached it (public), none once they could not (private). Default true.
   * Off: it advertises as it binds (its `advertisedAddress`, else a specific listen address) and never asks.
   */
  reachabilityCheck: boolean;
  /**
   * Network groups (subnets) that must report the same IP for this node before that observed address is
   * trusted and checked. Default 3: a thousand identities in one subnet are one voice. Fewer: a small or
   * single-subnet network confirms sooner, and fewer colluding subnets can plant an address (the check still
   * runs before it is advertised).
   */
  observedAddressGroups: number;
  /** Peers asked per reachability check, one per network group. Default 3. More: more dial-backs per check. */
  reachabilityPeers: number;
  /**
   * Answers from distinct network groups that decide a verdict. Default 2: one lying or broken peer cannot.
   * At most `reachabilityPeers`; 1 believes a single peer (a lab, a two-host network).
   */
  reachabilityQuorum: number;
  /** How long a check waits for its answers, ms. Default 15,000. Shorter: slow dial-backs count as no answer. */
  reachabilityTimeoutMs: number;
  /** Time between checks once one decided, ms. Default 900,000 (15 min); sooner when the observed IP changes. */
  reachabilityRecheckMs: number;
  /** Time before checking again after a check that decided nothing, ms. Default 60,000. */
  reachabilityRetryMs: number;
  /** Dial-backs done for one asker IP: one per this many ms, with a burst of 2. Default 60,000. */
  dialBackAskerIntervalMs: number;
  /** Dial-backs done for all askers together, per second (burst 4 times that, at least 4). Default 1. */
  dialBackRatePerSecond: number;
  /** Dial-backs in flight at once, one per asker. Default 4: each holds a socket at most a handshake timeout. */
  maxConcurrentDialBacks: number;
}

/** The defaults of {@link NetworkNatConfig}, each the one its field names. */
export const DEFAULT_NETWORK_NAT_CONFIG: Readonly<NetworkNatConfig> = Object.freeze({
  reachabilityCheck: DEFAULT_NAT_CONFIG.enabled,
  observedAddressGroups: DEFAULT_NAT_CONFIG.minGroups,
  reachabilityPeers: DEFAULT_NAT_CONFIG.peersPerCheck,
  reachabilityQuorum: DEFAULT_NAT_CONFIG.quorum,
  reachabilityTimeoutMs: DEFAULT_NAT_CONFIG.checkTimeoutMs,
  reachabilityRecheckMs: DEFAULT_NAT_CONFIG.recheckIntervalMs,
  reachabilityRetryMs: DEFAULT_NAT_CONFIG.retryIntervalMs,
  dialBackAskerIntervalMs: DEFAULT_NAT_CONFIG.dialBackAskerIntervalMs,
  dialBackRatePerSecond: DEFAULT_NAT_CONFIG.dialBackRatePerSecond,
  maxConcurrentDialBacks: DEFAULT_NAT_CONFIG.maxConcurrentDialBacks,
});

/** The rule each scalar setting of {@link NetworkNatConfig} must pass. */
export const NETWORK_NAT_RULES: Readonly<Record<keyof NetworkNatConfig, Rule>> = {
  reachabilityCheck: { kind: "bool" },
  observedAddressGroups: int(1, 64),
  reachabilityPeers: int(1, 16),
  reachabilityQuorum: int(1, 16),
  reachabilityTimeoutMs: int(10),
  reachabilityRecheckMs: int(10),
  reachabilityRetryMs: int(10),
  dialBackAskerIntervalMs: int(1),
  dialBackRatePerSecond: int(1, 1000),
  maxConcurrentDialBacks: int(1, 256),
};
