/**
 * `NetworkConfig`, every setting of a node, composed of each component's group of settings (the files beside this
 * one, where each field documents its default and trade-off), with the defaults of all of them and the rule table
 * of all their scalar settings.
 *
 * @module
 */
import { DEFAULT_NETWORK_DELIVERY_CONFIG, NETWORK_DELIVERY_RULES, type NetworkDeliveryConfig } from "./delivery.ts";
import { DEFAULT_NETWORK_DHT_CONFIG, NETWORK_DHT_RULES, type NetworkDhtConfig } from "./dht.ts";
import { DEFAULT_NETWORK_GOSSIP_CONFIG, NETWORK_GOSSIP_RULES, type NetworkGossipConfig } from "./gossip.ts";
import { DEFAULT_NETWORK_NAT_CONFIG, NETWORK_NAT_RULES, type NetworkNatConfig } from "./nat.ts";
import { DEFAULT_NETWORK_PEERS_CONFIG, NETWORK_PEERS_RULES, type NetworkPeersConfig } from "./peers.ts";
import type { Rule } from "./rules.ts";
import { DEFAULT_NETWORK_STORAGE_CONFIG, NETWORK_STORAGE_RULES, type NetworkStorageConfig } from "./storage.ts";
import { DEFAULT_NETWORK_TOPICS_CONFIG, NETWORK_TOPICS_RULES, type NetworkTopicsConfig } from "./topics.ts";
import { DEFAULT_NETWORK_TRANSPORT_CONFIG, NETWORK_TRANSPORT_RULES, type NetworkTransportConfig } from "./transport.ts";
import { DEFAULT_NETWORK_TRUST_CONFIG, NETWORK_TRUST_RULES, type NetworkTrustConfig } from "./trust.ts";

/**
 * Every setting of a node, one flat struct of each component's group. Defaults in {@link DEFAULT_NETWORK_CONFIG};
 * each documents its trade-off.
 */
export interface NetworkConfig
  extends
    NetworkTransportConfig,
    NetworkPeersConfig,
    NetworkGossipConfig,
    NetworkTrustConfig,
    NetworkTopicsConfig,
    NetworkDhtConfig,
    NetworkStorageConfig,
    NetworkDeliveryConfig,
    NetworkNatConfig {}

/** The defaults. */
export const DEFAULT_NETWORK_CONFIG: Readonly<NetworkConfig> = Object.freeze({
  ...DEFAULT_NETWORK_TRANSPORT_CONFIG,
  ...DEFAULT_NETWORK_PEERS_CONFIG,
  ...DEFAULT_NETWORK_GOSSIP_CONFIG,
  ...DEFAULT_NETWORK_TRUST_CONFIG,
  ...DEFAULT_NETWORK_TOPICS_CONFIG,
  ...DEFAULT_NETWORK_DHT_CONFIG,
  ...DEFAULT_NETWORK_STORAGE_CONFIG,
  ...DEFAULT_NETWORK_DELIVERY_CONFIG,
  ...DEFAULT_NETWORK_NAT_CONFIG,
});

/** The settings that are lists or records, checked apart from the rule table. */
type ListSetting = "bootstrap" | "dialAllow" | "dialDeny" | "topicSettings";

/** The rule of every scalar setting, group by group. */
export const NETWORK_RULES: Readonly<Record<Exclude<keyof NetworkConfig, ListSetting>, Rule>> = {
  ...NETWORK_TRANSPORT_RULES,
  ...NETWORK_PEERS_RULES,
  ...NETWORK_GOSSIP_RULES,
  ...NETWORK_TRUST_RULES,
  ...NETWORK_TOPICS_RULES,
  ...NETWORK_DHT_RULES,
  ...NETWORK_STORAGE_RULES,
  ...NETWORK_DELIVERY_RULES,
  ...NETWORK_NAT_RULES,
};
