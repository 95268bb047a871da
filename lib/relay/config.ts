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
  /** How many relays a node reserves at (0: none; a node behind a NAT sets 2 or more). */
  reserveRelays: number;
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
  if (!Number.isInteger(config.reserveRelays) || config.reserveRelays < 0 || config.reserveRelays > 8) {
    throw new ConfigError(
      "relay.reserveRelays",
      `relay.reserveRelays must be an integer in 0..8, got ${config.reserveRelays}`,
    );
  }
  for (const key of ["relayService", "holePunching"] as const) {
    if (typeof config[key] !== "boolean") throw new ConfigError(`relay.${key}`, `relay.${key} must be a boolean`);
  }
  return config;
}
