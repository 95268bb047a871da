/**
 * Settings of the reachability check (AutoNAT): who is asked, how many answers decide, how often it runs,
 * and the bounds of the dial-backs this node does for others. Each default says its trade-off.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { DEFAULT_OBSERVED_CONFIG, type ObservedConfig } from "./observed.ts";

/** Settings of {@link Reachability} and {@link DialBackServer}. */
export interface NatConfig extends ObservedConfig {
  /**
   * Whether this node checks its own reachability (asks peers to dial it back) and lets the verdict decide
   * what it advertises. Default true. Off: it advertises as before (its `--advertise`, else a specific bound
   * address), and never asks; it still answers others' dial-backs within the bounds below.
   */
  enabled: boolean;
  /** Peers asked per check, each from its own network group. Default 3: one more than the quorum. */
  peersPerCheck: number;
  /**
   * Answers from distinct network groups that decide a verdict (public: reached this many times; private:
   * this many failures and no success). Default 2: one lying or broken peer cannot decide alone.
   */
  quorum: number;
  /** How long the answers of one check are awaited, ms. Default 15,000 (a dial-back is a whole handshake). */
  checkTimeoutMs: number;
  /** Time between checks once a verdict is reached, ms. Default 15 minutes (sooner when the address changes). */
  recheckIntervalMs: number;
  /** Time before trying again after a check that decided nothing, ms. Default 60,000. */
  retryIntervalMs: number;
  /** Dial-backs done for one asker IP: one per this many ms, with a burst of 2. Default 60,000. */
  dialBackAskerIntervalMs: number;
  /** Dial-backs done for everyone together, a second (burst: 4 times that, at least 4). Default 1. */
  dialBackRatePerSecond: number;
  /** Dial-backs in flight at once. Default 4: each holds a socket for at most a handshake timeout. */
  maxConcurrentDialBacks: number;
}

/** The defaults. */
export const DEFAULT_NAT_CONFIG: Readonly<NatConfig> = Object.freeze({
  ...DEFAULT_OBSERVED_CONFIG,
  enabled: true,
  peersPerCheck: 3,
  quorum: 2,
  checkTimeoutMs: 15_000,
  recheckIntervalMs: 15 * 60_000,
  retryIntervalMs: 60_000,
  dialBackAskerIntervalMs: 60_000,
  dialBackRatePerSecond: 1,
  maxConcurrentDialBacks: 4,
});

/** The full config: defaults, then `overrides`. @throws {ConfigError} naming the setting */
export function resolveNatConfig(overrides: Partial<NatConfig> = {}): NatConfig {
  const config = { ...DEFAULT_NAT_CONFIG, ...overrides };
  const int = (key: keyof NatConfig, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = config[key] as unknown;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(`nat.${key}`, `${key} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
    }
  };
  if (typeof config.enabled !== "boolean") throw new ConfigError("nat.enabled", "enabled must be a boolean");
  int("minGroups", 1, 64);
  int("maxReports", config.minGroups, 4096);
  int("ttlMs", 1);
  int("peersPerCheck", 1, 16);
  int("quorum", 1, config.peersPerCheck);
  int("checkTimeoutMs", 10);
  int("recheckIntervalMs", 10);
  int("retryIntervalMs", 10);
  int("dialBackAskerIntervalMs", 1);
  int("dialBackRatePerSecond", 1, 1000);
  int("maxConcurrentDialBacks", 1, 256);
  return config;
}
