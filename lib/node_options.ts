/**
 * The shapes {@link KithNode} takes and gives beside its methods: its options, its components (for the
 * simulator and tests), and its counters; and the settings it derives from its options and the record of the layers
 * it has made.
 *
 * @module
 */
import {
  type CatchupConfig,
  type CatchupStats,
  type CatchupSync,
  resolveCatchupConfig,
  type TopicDelivery,
  type TopicDeliveryStats,
  type TopicLog,
  type TopicLogSummary,
} from "./catchup/mod.ts";
import type { NatService, NatStatus } from "./nat/mod.ts";
import type { Clock } from "./clock.ts";
import { componentConfigs, type NetworkConfig, type PresetName, resolveNetworkConfig } from "./config.ts";
import type { DataDirLock } from "./data_dir_lock.ts";
import { type DirectChannel, type DirectChannelStats, type DirectConfig, resolveDirectConfig } from "./direct/mod.ts";
import {
  type GossipConfig,
  type GossipProtocol,
  type GossipStats,
  type MessageTypeCounts,
  resolveGossipConfig,
} from "./gossip/mod.ts";
import type { Identity } from "./identity.ts";
import type { LatencySnapshot } from "./latency.ts";
import type { LogSink } from "./log.ts";
import type { NodeDht, NodeDhtStats } from "./node_dht.ts";
import type { PeerManager, PeerStats } from "./peers/mod.ts";
import { DEFAULT_PROTOCOL_LIMITS, type MessageCodec } from "./protocol/mod.ts";
import type { RandomSource } from "./random.ts";
import type { RelayNodeStats, RelayParts } from "./node_relay.ts";
import { type RelayConfig, resolveRelayConfig } from "./relay/config.ts";
import type { Storage } from "./storage/mod.ts";
import {
  resolveTopicsConfig,
  type TopicFinder,
  type TopicFinderStats,
  type TopicOverlays,
  type TopicsConfig,
  type TopicStats,
} from "./topics/mod.ts";
import type { Transport, TransportStats } from "./transport/mod.ts";
import type { TransportFactory } from "./transport_factory.ts";
import type { TrustManager } from "./trust.ts";
import type { TrustExchange } from "./trust_exchange.ts";
import type { ParallelVerifier, ParallelVerifierStats } from "./verifier.ts";

/** Options of {@link KithNode}. */
export interface NodeOptions {
  /** Settings over the preset's. */
  config?: Partial<NetworkConfig>;
  /** The design's preset to start from. Default `"default"`. */
  preset?: PresetName;
  /**
   * Data directory for the key file and the database. Without it (and without `identity` and `storage`)
   * the node keeps nothing: a fresh identity and in-memory storage. While the node runs it holds the
   * directory's lock (`node.lock`, see lib/data_dir_lock.ts): a second node on it fails to start.
   */
  dataDir?: string;
  /** Use this identity instead of the data directory's. */
  identity?: Identity;
  /** Use this storage instead of the data directory's database. */
  storage?: Storage;
  /**
   * Use this topic log instead of the one beside the storage (SQLite beside SQLite storage, else memory): for
   * the simulator and tests, which keep one across a node's restarts. The node flushes it on stop, never closes it.
   */
  topicLog?: TopicLog;
  /** Time and timers. Default: the system clock. */
  clock?: Clock;
  /** Randomness for peer selection. Default: `Math.random`. */
  random?: RandomSource;
  /**
   * Receives lifecycle and peer events and every layer's failures (the CLI logs them). Default
   * {@link defaultLogSink}: warnings and errors on stderr.
   */
  log?: LogSink;
  /** Builds the transport. Default {@link tcpTransport}. */
  transport?: TransportFactory;
  /**
   * Gossip settings that {@link NetworkConfig} does not carry (experiments, the simulator's `--gossip`),
   * applied over what the configuration derives. Checked by the constructor. Default none.
   */
  gossip?: Partial<GossipConfig>;
  /** Limits of direct messages and requests over {@link DEFAULT_DIRECT_CONFIG}. Checked by the constructor. */
  direct?: Partial<DirectConfig>;
  /** Catch-up settings over {@link DEFAULT_CATCHUP_CONFIG}. Checked by the constructor. */
  catchup?: Partial<CatchupConfig>;
  /**
   * The check an inline signature verification runs. Default `verifySignature` (lib/ed25519.ts). The simulator
   * passes one memo shared by its nodes (lib/sim/signature_memo.ts): a check is a pure function of its inputs.
   */
  checkSignature?: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
  /**
   * Relaying and hole punching over `DEFAULT_RELAY_CONFIG` (lib/relay/config.ts): `relayService` to serve circuits (a public
   * node), `reserveRelays` to reserve at relays and announce a relayed address (a node behind a NAT). Checked
   * by the constructor.
   */
  relay?: Partial<RelayConfig>;
}

/**
 * A started node's components. For the simulator and tests that need to reach below the application API;
 * applications use {@link KithNode}'s methods.
 */
export interface NodeComponents {
  /** The node's identity. */
  identity: Identity;
  /** Its storage. */
  storage: Storage;
  /** Its trust manager. */
  trust: TrustManager;
  /** Its transport. */
  transport: Transport;
  /** Its peer manager. */
  peers: PeerManager;
  /** Its network-wide gossip overlay (topic `""`: untopiced messages, TRUST_UPDATE, registered types). */
  gossip: GossipProtocol;
  /** Its topic overlays and the routing between them. */
  topics: TopicOverlays;
  /** Its search for topics' peers. */
  finder: TopicFinder;
  /** Its DHT, when `dhtEnabled`. */
  dht: NodeDht | undefined;
  /** The log of the topics it is in (lib/catchup/log.ts). */
  topicLog: TopicLog;
  /**
   * The one path topic messages reach the application by (exactly once, logged, in causal order): gossip hands
   * it each first-seen message, catch-up each message fetched from a peer (`accept`).
   */
  topicDelivery: TopicDelivery;
  /** Its catch-up with peers. */
  catchup: CatchupSync;
  /** Its observed addresses, reachability check and dial-backs. */
  nat: NatService;
}

/** What a node's topic log holds. */
export interface TopicLogStats {
  /** Messages held, over all topics. */
  messages: number;
  /** Bytes of their envelopes. */
  bytes: number;
  /** Each topic's count, bytes, oldest and newest timestamp. */
  topics: TopicLogSummary[];
}

/** A node's counters, for status displays and monitoring. */
export interface NodeStats {
  /** Gossip counters, summed over the network-wide overlay and every topic overlay. */
  gossip: GossipStats;
  /** Topic routing counters. */
  topics: TopicStats;
  /** Counters of the search for topics' peers (lib/topics/finder.ts). */
  topicFinder: TopicFinderStats;
  /** Peer management counters. */
  peers: PeerStats;
  /** Transport counters. */
  transport: TransportStats;
  /** Messages delivered to subscribers. */
  deliveredToApplication: number;
  /** Received, delivered, forwarded, duplicate and invalid envelopes, by message type name. */
  byType: Record<string, MessageTypeCounts>;
  /** Invalid envelopes received, by error code. */
  invalidByCode: Record<string, number>;
  /** Publish-to-delivery latency of application messages, as a cumulative histogram. */
  deliveryLatency: LatencySnapshot;
  /** Direct messages and requests, both ways. */
  direct: DirectChannelStats;
  /** Signature checks done on the node's thread (`inline`) and by helper threads (`offloaded`, in `batches`). */
  signatureChecks: ParallelVerifierStats;
  /** DHT counters, when `dhtEnabled`. */
  dht?: NodeDhtStats;
  /** What the topic log holds. */
  topicLog: TopicLogStats;
  /** Topic delivery: taken, duplicates, in order, waited, delivered with predecessors missing, the causal buffer. */
  topicDelivery: TopicDeliveryStats;
  /** Catch-up: sessions, rounds, bytes of reconciliation and of bodies, fetched, refused (lib/catchup/stats.ts). */
  catchup: CatchupStats;
  /** Relaying (as a relay and as a user of relays) and hole punching. */
  relay: RelayNodeStats;
  /** Reachability, observed address, and the counters of the checks and dial-backs. */
  nat: NatStatus;
}

/** The settings a node runs with, resolved from its options by {@link resolveNodeSettings}. */
export interface NodeSettings {
  /** The configuration in force. */
  config: Readonly<NetworkConfig>;
  /** Relaying and hole punching. */
  relay: Readonly<RelayConfig>;
  /** Gossip, as the configuration derives it with `options.gossip` over it. */
  gossip: Partial<GossipConfig>;
  /** Topics. */
  topics: Readonly<TopicsConfig>;
  /** Direct messages and requests. */
  direct: Readonly<DirectConfig>;
  /** Catch-up. */
  catchup: Readonly<CatchupConfig>;
}

/**
 * Resolves and checks every setting of a node from its options.
 *
 * @throws {ConfigError} one line naming the invalid setting
 */
export function resolveNodeSettings(options: NodeOptions): NodeSettings {
  const config = Object.freeze(resolveNetworkConfig(options.config, options.preset));
  const relay = Object.freeze(resolveRelayConfig(options.relay));
  const gossip = { ...componentConfigs(config).gossip, ...options.gossip };
  const topics = resolveTopicsConfig(componentConfigs(config).topics, resolveGossipConfig(gossip));
  const direct = resolveDirectConfig(
    options.direct ?? {},
    componentConfigs(config).protocol.maxPayloadBytes ?? DEFAULT_PROTOCOL_LIMITS.maxPayloadBytes,
  );
  const catchup = resolveCatchupConfig(options.catchup);
  return { config, relay, gossip, topics, direct, catchup };
}

/**
 * The layers a node has made so far, in the order it makes them (every one once it is running; on a failed start,
 * those made before the failure, which its stop closes).
 */
export interface NodeLayers {
  /** Its identity. */
  identity?: Identity;
  /** The data directory's lock, when it has one. */
  lock?: DataDirLock;
  /** Its storage. */
  storage?: Storage;
  /** Its trust manager. */
  trust?: TrustManager;
  /** Its codec. */
  codec?: MessageCodec;
  /** Its topic log. */
  topicLog?: TopicLog;
  /** Its transport. */
  transport?: Transport;
  /** Its peer manager. */
  peers?: PeerManager;
  /** Its DHT, when on. */
  dht?: NodeDht;
  /** Its signature checker. */
  verifier?: ParallelVerifier;
  /** Its network-wide overlay. */
  gossip?: GossipProtocol;
  /** Its topic overlays. */
  topics?: TopicOverlays;
  /** Its search for topics' peers. */
  finder?: TopicFinder;
  /** Its delivery path of topic messages. */
  delivery?: TopicDelivery;
  /** Its catch-up with peers. */
  catchup?: CatchupSync;
  /** Its exchange of trust with peers. */
  trustExchange?: TrustExchange;
  /** Its direct messages and requests. */
  direct?: DirectChannel;
  /** Its relaying and hole punching. */
  relay?: RelayParts;
  /** Its observed addresses and reachability. */
  nat?: NatService;
}

/** A started node's components from its layers; `need` gives a layer that must have been made (it throws if not). */
export function nodeComponents(layers: NodeLayers, need: <T>(layer: T | undefined) => T): NodeComponents {
  return {
    identity: need(layers.identity),
    storage: need(layers.storage),
    trust: need(layers.trust),
    transport: need(layers.transport),
    peers: need(layers.peers),
    gossip: need(layers.gossip),
    topics: need(layers.topics),
    finder: need(layers.finder),
    dht: layers.dht,
    topicLog: need(layers.topicLog),
    topicDelivery: need(layers.delivery),
    catchup: need(layers.catchup),
    nat: need(layers.nat),
  };
}
