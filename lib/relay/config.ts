/**
 * Settings of relaying and hole punching: what a relay serves (hard limits, every one a bound on what
 * others can make it hold or carry) and what a node behind a NAT asks of relays.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/** Relay and hole-punching settings (see docs/design.md, "Relays and hole punching"). */
export interface RelayConfig {
  /** Whether this node serves circuits to others (a public node's choice; default false). */
  relayService: boolean;
  /** Reservations held at once. */
  maxReservations: number;
  /** Reservations held at once for nodes whose control link comes from one IP. */
  maxReservationsPerIp: number;
  /** How long a reservation lasts before it must be renewed, ms. */
  reservationTtlMs: number;
  /** Circuits open at once (set up or spliced). */
  maxCircuits: number;
  /** Circuits open at once to one reserved node. */
  maxCircuitsPerReservation: number;
  /** Bytes one circuit carries, both directions together; then it is closed. */
  circuitMaxBytes: number;
  /** Longest one circuit lasts, ms; then it is closed. */
  circuitMaxDurationMs: number;
  /** Longest the relay waits for both legs of a circuit to arrive, ms. */
  circuitSetupMs: number;
  /** RELAY_RESERVE and RELAY_CONNECT requests one IP may make per second, sustained... */
  requestRatePerIp: number;
  /** ... and in a burst. */
  requestBurstPerIp: number;
  /**
   * How many relays a node reserves at whatever its reachability (0: only as {@link RelayConfig.privateRelays}
   * says): an operator who knows the node is behind a NAT sets it.
   */
  reserveRelays: number;
  /** How many relays a node reserves at while its reachability verdict is `private` (0: never on the verdict). */
  privateRelays: number;
  /** Whether a node tries to hole-punch its relayed links into direct ones. */
  holePunching: boolean;
  /** Hole-punching attempts on one relayed link before it stays relayed. */
  punchAttempts: number;
  /** Longest one punching attempt waits for its socket to connect, ms. */
  punchConnectTimeoutMs: number;
}

/** Defaults: see docs/design.md for why each is what it is. */
export const DEFAULT_RELAY_CONFIG: Readonly<RelayConfig> = Object.freeze({
  relayService: false,
  maxReservations: 128,
  maxReservationsPerIp: 4,
  reservationTtlMs: 30 * 60_000,
  maxCircuits: 64,
  maxCircuitsPerReservation: 8,
  circuitMaxBytes: 16 * 1024 * 1024,
  circuitMaxDurationMs: 10 * 60_000,
  circuitSetupMs: 10_000,
  requestRatePerIp: 2,
  requestBurstPerIp: 10,
  reserveRelays: 0,
  privateRelays: 2,
  holePunching: true,
  punchAttempts: 3,
  punchConnectTimeoutMs: 3_000,
});

const POSITIVE: readonly (keyof RelayConfig)[] = [
  "maxReservations",
  "maxReservationsPerIp",
  "reservationTtlMs",
  "maxCircuits",
  "maxCircuitsPerReservation",
  "circuitMaxBytes",
  "circuitMaxDurationMs",
  "circuitSetupMs",
  "requestRatePerIp",
  "requestBurstPerIp",
  "punchAttempts",
  "punchConnectTimeoutMs",
];

/** {@link DEFAULT_RELAY_CONFIG} with `overrides`, checked. @throws {ConfigError} for a value out of range */
export function resolveRelayConfig(overrides: Partial<RelayConfig> = {}): RelayConfig {
  const config = { ...DEFAULT_RELAY_CONFIG, ...overrides };
  for (const key of POSITIVE) {
    const value = config[key];
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new ConfigError(`relay.${key}`, `relay.${key} must be a positive number, got ${value}`);
    }
  }
  for (const key of ["reserveRelays", "privateRelays"] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 0 || value > 8) {
      throw new ConfigError(`relay.${key}`, `relay.${key} must be an integer in 0..8, got ${value}`);
    }
  }
  for (const key of ["relayService", "holePunching"] as const) {
    if (typeof config[key] !== "boolean") throw new ConfigError(`relay.${key}`, `relay.${key} must be a boolean`);
  }
  return config;
}

/** A node's reachability as the relay decision reads it (the verdict of lib/nat/reachability.ts). */
export type ReservingReachability = "unknown" | "public" | "private";

/**
 * How many relays a node should hold reservations at now: `reserveRelays` always (the operator's word), and
 * `privateRelays` while the reachability check says `private`. An `unknown` verdict reserves nothing on its own:
 * the check settles within a few dial-backs, and reserving meanwhile would make every starting node a relay's load.
 */
export function reservationTarget(config: Readonly<RelayConfig>, reachability: ReservingReachability): number {
  return Math.max(config.reserveRelays, reachability === "private" ? config.privateRelays : 0);
}
