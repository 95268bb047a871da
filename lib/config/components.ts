/**
 * A resolved `NetworkConfig` split into the settings each component takes (its own names, some derived from
 * several keys), and the dial policy it stands for.
 *
 * @module
 */
import type { CausalConfig } from "../catchup/causal.ts";
import { type DialPolicy, resolveDialPolicy } from "../dial_policy.ts";
import type { GossipConfig } from "../gossip/mod.ts";
import type { NatConfig } from "../nat/config.ts";
import type { PeersConfig } from "../peers/config.ts";
import { DEFAULT_PROTOCOL_LIMITS, type ProtocolLimits } from "../protocol/mod.ts";
import type { TopicsConfig } from "../topics/mod.ts";
import { DEFAULT_TRANSPORT_CONFIG, type TransportConfig } from "../transport/config.ts";
import type { TrustConfig } from "../trust.ts";
import type { NetworkConfig } from "./network.ts";

/** The parts of a node's configuration, as its components take them. */
export interface ComponentConfigs {
  /** For the transport. */
  transport: Partial<TransportConfig>;
  /** For the peer manager. */
  peers: Partial<PeersConfig>;
  /** For the trust manager. */
  trust: Partial<TrustConfig>;
  /** For gossip. */
  gossip: Partial<GossipConfig>;
  /** For the codec. */
  protocol: Partial<ProtocolLimits>;
  /** For the topic overlays and the topic log's retention. */
  topics: Partial<TopicsConfig>;
  /** For the causal buffer of topic delivery. */
  causal: CausalConfig;
  /** For observed addresses and the reachability check. */
  nat: Partial<NatConfig>;
}

/** The dial policy `config` stands for. @throws {ConfigError} naming `dialAllow`, `dialDeny` or `bootstrap` */
export function dialPolicyOf(config: NetworkConfig): DialPolicy {
  return resolveDialPolicy({
    preset: config.dialPolicy,
    listenHost: config.listenHost,
    allow: config.dialAllow,
    deny: config.dialDeny,
    bootstrap: config.bootstrap,
  });
}

/** Splits a resolved config into the components' own settings. */
export function componentConfigs(config: NetworkConfig): ComponentConfigs {
  return {
    transport: {
      networkId: config.networkId,
      listenHost: config.listenHost,
      listenPort: config.listenPort,
      advertisedAddress: config.advertisedAddress,
      maxInbound: config.maxInbound,
      maxOutbound: config.maxOutbound,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      inboundRatePerIp: config.inboundRatePerIp,
      inboundBurstPerIp: config.inboundBurstPerIp,
      inboundRatePerSubnet: config.inboundRatePerSubnet,
      inboundBurstPerSubnet: config.inboundBurstPerSubnet,
      inboundRateGlobal: config.inboundRateGlobal,
      inboundBurstGlobal: config.inboundBurstGlobal,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      maxFrameBytes: config.maxFrameBytes,
      maxHandshakeFrameBytes: Math.min(64 * 1024, config.maxFrameBytes),
      // Room for two of the largest frames (headers aside): below one, a message near maxFrameBytes could never be queued and
      // every link it is sent on would drop as a stalled reader.
      maxSendQueueBytes: Math.max(DEFAULT_TRANSPORT_CONFIG.maxSendQueueBytes, 2 * config.maxFrameBytes),
      dialPolicy: dialPolicyOf(config),
    },
    peers: {
      minPeers: config.minPeers,
      maxPeers: config.maxPeers,
      outboundSlots: config.outboundSlots,
      maxPeersPerIp: config.maxPeersPerIp,
      maxPeersPerSubnet: config.maxPeersPerSubnet,
      bootstrap: config.bootstrap,
      maintenanceIntervalMs: config.peerMaintenanceIntervalMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      rttProbeIntervalMs: config.rttProbeIntervalMs,
      peerTimeoutMs: config.peerTimeoutMs,
      discoveryIntervalMs: config.discoveryIntervalMs,
      addressIntervalMs: config.addressIntervalMs,
      addressBurst: config.addressBurst,
      addressCacheMs: config.addressCacheMs,
      feelerIntervalMs: config.feelerIntervalMs,
      anchors: config.anchors,
      topicSlots: config.topicSlots,
    },
    trust: {
      initialTrust: config.initialTrustScore,
      minTrustThreshold: config.minTrustThreshold,
      decayRate: config.trustDecayRate,
      decayIntervalMs: config.trustDecayIntervalMs,
    },
    gossip: {
      fanout: config.gossipFanout,
      originPrune: config.gossipOriginPrune,
      intervalMs: config.gossipIntervalMs,
      messageCacheSize: config.messageCacheSize,
      defaultTtl: config.messageTtl,
      maxApplicationPayloadBytes: config.maxApplicationPayloadBytes,
      peerRateLimit: config.peerRateLimit,
      peerRateBurst: config.peerRateLimit * 2,
      originRateLimit: config.originRateLimit,
      originRateBurst: config.originRateLimit * 2,
      dedupWindowMs: Math.max(600_000, config.maxMessageAgeMs + config.maxClockSkewMs),
      repairWindowMs: Math.max(1_000, config.maxMessageAgeMs - 60_000),
    },
    topics: {
      maxTopics: config.maxTopics,
      relayAllTopics: config.relayAllTopics,
      topicFanoutPeers: config.topicFanoutPeers,
      topicFanoutTtlMs: config.topicFanoutTtlMs,
      topicSettings: config.topicSettings,
      minTopicPeers: config.minTopicPeers,
      topicLogMaxMessages: config.topicLogMaxMessages,
      topicLogMaxBytes: config.topicLogMaxBytes,
      topicLogMaxAgeMs: config.topicLogMaxAgeMs,
    },
    causal: {
      causalWaitMs: config.causalWaitMs,
      causalBufferMessages: config.causalBufferMessages,
      causalBufferBytes: config.causalBufferBytes,
      causalBufferPerPeer: Math.max(1, Math.floor(config.causalBufferMessages / 4)),
    },
    nat: {
      enabled: config.reachabilityCheck,
      minGroups: config.observedAddressGroups,
      peersPerCheck: config.reachabilityPeers,
      quorum: config.reachabilityQuorum,
      checkTimeoutMs: config.reachabilityTimeoutMs,
      recheckIntervalMs: config.reachabilityRecheckMs,
      retryIntervalMs: config.reachabilityRetryMs,
      dialBackAskerIntervalMs: config.dialBackAskerIntervalMs,
      dialBackRatePerSecond: config.dialBackRatePerSecond,
      maxConcurrentDialBacks: config.maxConcurrentDialBacks,
    },
    protocol: {
      maxTtl: config.maxTtl,
      maxMessageAgeMs: config.maxMessageAgeMs,
      maxClockSkewMs: config.maxClockSkewMs,
      // At least the largest application payload with its CUSTOM_DATA fields (a topic of at most 255 bytes and
      // the keys), or a message the node lets its application publish would be refused by every receiver.
      maxPayloadBytes: Math.min(
        config.maxFrameBytes - 512,
        Math.max(DEFAULT_PROTOCOL_LIMITS.maxPayloadBytes * 4, config.maxApplicationPayloadBytes + 512),
      ),
    },
  };
}
