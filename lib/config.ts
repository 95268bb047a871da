/**
 * `NetworkConfig`: every knob of a node in one flat, documented struct, composed of each component's group of
 * settings (lib/config/: `transport.ts`, `peers.ts`, `gossip.ts`, `trust.ts`, `topics.ts`, `dht.ts`,
 * `storage.ts`, `delivery.ts`, `nat.ts`, each field with its default and trade-off), the design's three presets
 * (`presets.ts`), and validation that names the key at fault (`rules.ts`, `validate.ts`); `components.ts` splits
 * a resolved config into what each component takes.
 *
 * The design's names map to these keys: gossip_fanout -> `gossipFanout`,
 * gossip_interval -> `gossipIntervalMs` (milliseconds, not seconds),
 * max_peers -> `maxPeers`, min_peers -> `minPeers`, message_cache_size ->
 * `messageCacheSize`, initial_trust_score -> `initialTrustScore`,
 * min_trust_threshold -> `minTrustThreshold`, trust_decay_rate ->
 * `trustDecayRate`.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";
import { DEFAULT_NETWORK_CONFIG, type NetworkConfig } from "./config/network.ts";
import { type PresetName, PRESETS } from "./config/presets.ts";
import { checkNetworkConfig } from "./config/validate.ts";

export { DEFAULT_NETWORK_CONFIG, type NetworkConfig } from "./config/network.ts";
export { type PresetName, PRESETS } from "./config/presets.ts";
export { type ComponentConfigs, componentConfigs } from "./config/components.ts";
export type { NetworkTransportConfig } from "./config/transport.ts";
export type { NetworkPeersConfig } from "./config/peers.ts";
export type { NetworkGossipConfig } from "./config/gossip.ts";
export type { NetworkTrustConfig } from "./config/trust.ts";
export type { NetworkTopicsConfig } from "./config/topics.ts";
export type { NetworkDhtConfig } from "./config/dht.ts";
export type { NetworkStorageConfig } from "./config/storage.ts";
export type { NetworkDeliveryConfig } from "./config/delivery.ts";
export type { NetworkNatConfig } from "./config/nat.ts";

/**
 * The full config: defaults, then the preset, then `overrides`.
 *
 * @example
 * ```ts
 * import { resolveNetworkConfig } from "./config.ts";
 * const config = resolveNetworkConfig({ listenPort: 0 }, "low-resource");
 * console.log(config.maxPeers, config.gossipFanout); // 20 2
 * ```
 * @throws {ConfigError} one line naming the key, the value and what is allowed
 */
export function resolveNetworkConfig(
  overrides: Partial<NetworkConfig> = {},
  preset: PresetName = "default",
): NetworkConfig {
  if (!(preset in PRESETS)) {
    throw new ConfigError(
      "preset",
      `preset must be one of ${Object.keys(PRESETS).join(", ")}, got ${JSON.stringify(preset)}`,
    );
  }
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_NETWORK_CONFIG)) throw new ConfigError(key, `unknown setting ${JSON.stringify(key)}`);
  }
  const config = { ...DEFAULT_NETWORK_CONFIG, ...PRESETS[preset], ...overrides } as NetworkConfig;
  if (overrides.outboundSlots === undefined && typeof config.maxPeers === "number") {
    // Leave room for inbound peers when max_peers is small, unless told otherwise.
    config.outboundSlots = Math.min(DEFAULT_NETWORK_CONFIG.outboundSlots, Math.floor(config.maxPeers / 2));
  }
  checkNetworkConfig(config);
  return config;
}
