/**
 * Relays and hole punching (docs/design.md, "Relays and hole punching"; docs/protocol.md, types 25-29): the
 * settings and counters a node's API exposes. The parts are wired into a node by `lib/node_relay.ts`.
 *
 * @module
 */
export { DEFAULT_RELAY_CONFIG, type RelayConfig, resolveRelayConfig } from "./config.ts";
export type { RelayStats } from "./book.ts";
export type { RelayClientStats } from "./client.ts";
export type { PunchStats } from "./punch.ts";
