/**
 * The checks of a merged `NetworkConfig` beyond the defaults: every scalar against its rule, the lists, the
 * settings that bound each other, and every component's own validation of what the config becomes, each refusal
 * naming the key the user wrote.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { ConfigError } from "../errors.ts";
import { resolveGossipConfig } from "../gossip/mod.ts";
import { resolveNatConfig } from "../nat/config.ts";
import { resolvePeersConfig } from "../peers/config.ts";
import { MessageCodec } from "../protocol/mod.ts";
import { resolveTopicsConfig } from "../topics/mod.ts";
import { resolveTransportConfig } from "../transport/config.ts";
import { resolveTrustConfig } from "../trust.ts";
import { DEFAULT_DHT_CONFIG } from "../dht/service.ts";
import { MAX_RECORD_LIFETIME_MS } from "../dht/records.ts";
import { componentConfigs, dialPolicyOf } from "./components.ts";
import { NETWORK_RULES, type NetworkConfig } from "./network.ts";
import { checkRules } from "./rules.ts";

/**
 * Checks a config merged from the defaults, a preset and overrides: each scalar setting against its rule, the
 * lists, the settings that bound each other, then every component's own validation.
 *
 * @throws {ConfigError} one line naming the key, the value and what is allowed
 */
export function checkNetworkConfig(config: NetworkConfig): void {
  checkRules(config, NETWORK_RULES);
  if (!Array.isArray(config.bootstrap) || config.bootstrap.some((a) => typeof a !== "string" || !parseHostPort(a))) {
    throw new ConfigError(
      "bootstrap",
      `bootstrap must be a list of host:port addresses, got ${JSON.stringify(config.bootstrap)}`,
    );
  }
  for (const key of ["dialAllow", "dialDeny"] as const) {
    if (!Array.isArray(config[key]) || config[key].some((range) => typeof range !== "string")) {
      throw new ConfigError(key, `${key} must be a list of CIDR ranges, got ${JSON.stringify(config[key])}`);
    }
  }
  dialPolicyOf(config); // malformed ranges and refused bootstrap entries are refused here, naming the key
  if (config.minPeers > config.maxPeers) {
    throw new ConfigError("minPeers", `minPeers (${config.minPeers}) must not exceed maxPeers (${config.maxPeers})`);
  }
  if (config.outboundSlots > config.maxPeers) {
    throw new ConfigError(
      "outboundSlots",
      `outboundSlots (${config.outboundSlots}) must not exceed maxPeers (${config.maxPeers})`,
    );
  }
  if (config.maxApplicationPayloadBytes > config.maxFrameBytes - 1024) {
    throw new ConfigError(
      "maxApplicationPayloadBytes",
      `maxApplicationPayloadBytes must be at least 1 KiB below maxFrameBytes`,
    );
  }
  if (config.maxMessageAgeMs > 600_000) {
    throw new ConfigError("maxMessageAgeMs", "maxMessageAgeMs must be at most 600000 (the dedup window must cover it)");
  }
  if (config.heartbeatIntervalMs >= config.peerTimeoutMs) {
    throw new ConfigError(
      "heartbeatIntervalMs",
      `heartbeatIntervalMs (${config.heartbeatIntervalMs}) must be below peerTimeoutMs (${config.peerTimeoutMs}), ` +
        "or idle peers time out without ever being probed",
    );
  }
  if (config.dhtLookupTimeoutMs < config.dhtQueryTimeoutMs) {
    throw new ConfigError(
      "dhtLookupTimeoutMs",
      `dhtLookupTimeoutMs (${config.dhtLookupTimeoutMs}) must be at least dhtQueryTimeoutMs (${config.dhtQueryTimeoutMs})`,
    );
  }
  if (config.dhtProviderRepublishMs >= DEFAULT_DHT_CONFIG.providerTtlMs) {
    throw new ConfigError(
      "dhtProviderRepublishMs",
      `dhtProviderRepublishMs must be below the provider lifetime (${DEFAULT_DHT_CONFIG.providerTtlMs} ms), or provider records lapse between rounds`,
    );
  }
  if (config.dhtRecordRepublishMs >= MAX_RECORD_LIFETIME_MS) {
    throw new ConfigError(
      "dhtRecordRepublishMs",
      `dhtRecordRepublishMs must be below the record lifetime (${MAX_RECORD_LIFETIME_MS} ms), or records lapse between rounds`,
    );
  }
  if (config.messageTtl > config.maxTtl) {
    throw new ConfigError("messageTtl", `messageTtl (${config.messageTtl}) must not exceed maxTtl (${config.maxTtl})`);
  }
  checkComponents(config);
}

/**
 * The components' own settings that each {@link NetworkConfig} key becomes (see {@link componentConfigs}),
 * so that a component's refusal names the key the user wrote.
 */
const SOURCE_OF: Readonly<Record<string, keyof NetworkConfig>> = {
  "transport.networkId": "networkId",
  "transport.listenHost": "listenHost",
  "transport.listenPort": "listenPort",
  "transport.advertisedAddress": "advertisedAddress",
  "transport.maxInbound": "maxInbound",
  "transport.maxOutbound": "maxOutbound",
  "transport.maxConnectionsPerIp": "maxConnectionsPerIp",
  "transport.inboundRatePerIp": "inboundRatePerIp",
  "transport.inboundBurstPerIp": "inboundBurstPerIp",
  "transport.inboundRatePerSubnet": "inboundRatePerSubnet",
  "transport.inboundBurstPerSubnet": "inboundBurstPerSubnet",
  "transport.inboundRateGlobal": "inboundRateGlobal",
  "transport.inboundBurstGlobal": "inboundBurstGlobal",
  "transport.handshakeTimeoutMs": "handshakeTimeoutMs",
  "transport.maxFrameBytes": "maxFrameBytes",
  "transport.maxHandshakeFrameBytes": "maxFrameBytes",
  "peers.minPeers": "minPeers",
  "peers.maxPeers": "maxPeers",
  "peers.outboundSlots": "outboundSlots",
  "peers.maxPeersPerIp": "maxPeersPerIp",
  "peers.maxPeersPerSubnet": "maxPeersPerSubnet",
  "peers.bootstrap": "bootstrap",
  "peers.maintenanceIntervalMs": "peerMaintenanceIntervalMs",
  "peers.heartbeatIntervalMs": "heartbeatIntervalMs",
  "peers.rttProbeIntervalMs": "rttProbeIntervalMs",
  "peers.peerTimeoutMs": "peerTimeoutMs",
  "peers.discoveryIntervalMs": "discoveryIntervalMs",
  "peers.addressIntervalMs": "addressIntervalMs",
  "peers.addressBurst": "addressBurst",
  "peers.addressCacheMs": "addressCacheMs",
  "peers.feelerIntervalMs": "feelerIntervalMs",
  "peers.anchors": "anchors",
  "peers.topicSlots": "topicSlots",
  "trust.initialTrust": "initialTrustScore",
  "trust.minTrustThreshold": "minTrustThreshold",
  "trust.decayRate": "trustDecayRate",
  "trust.decayIntervalMs": "trustDecayIntervalMs",
  "gossip.fanout": "gossipFanout",
  "gossip.originPrune": "gossipOriginPrune",
  "gossip.intervalMs": "gossipIntervalMs",
  "gossip.messageCacheSize": "messageCacheSize",
  "gossip.defaultTtl": "messageTtl",
  "gossip.maxApplicationPayloadBytes": "maxApplicationPayloadBytes",
  "gossip.peerRateLimit": "peerRateLimit",
  "gossip.peerRateBurst": "peerRateLimit",
  "gossip.originRateLimit": "originRateLimit",
  "gossip.originRateBurst": "originRateLimit",
  "gossip.dedupWindowMs": "maxMessageAgeMs",
  "gossip.repairWindowMs": "maxMessageAgeMs",
  "nat.quorum": "reachabilityQuorum",
  "nat.minGroups": "observedAddressGroups",
};

/**
 * Runs every component's own validation on what `config` becomes, so that a setting no component would
 * take is refused here (by `new KithNode`), naming the key, and never later in `start()`.
 */
function checkComponents(config: NetworkConfig): void {
  const parts = componentConfigs(config);
  try {
    resolveTransportConfig(parts.transport);
    resolvePeersConfig(parts.peers);
    resolveTrustConfig(parts.trust);
    resolveTopicsConfig(parts.topics, resolveGossipConfig(parts.gossip));
    resolveNatConfig(parts.nat);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const key = SOURCE_OF[error.key] ?? error.key;
    // Named once: some components' messages already begin with the key.
    throw new ConfigError(key, error.message.startsWith(key) ? error.message : `${key}: ${error.message}`);
  }
  try {
    new MessageCodec(parts.protocol);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new ConfigError("maxTtl", `${error.message} (from maxTtl, maxMessageAgeMs, maxClockSkewMs, maxFrameBytes)`);
  }
}
