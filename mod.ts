/**
 * kith: a peer-to-peer network node for Deno. Nodes have Ed25519 identities,
 * speak a signed MessagePack protocol over authenticated, encrypted TCP,
 * keep their state in SQLite, score each other with a trust and reputation
 * model, discover peers, and spread messages by epidemic gossip.
 *
 * Most applications need only {@link KithNode}: start one, broadcast,
 * subscribe; watch its events ({@link KithNode.watch}), wait for peers
 * ({@link KithNode.waitForPeers}), send one peer a direct message
 * ({@link KithNode.sendDirect}) or a request ({@link KithNode.request},
 * served by {@link KithNode.handle}). This entry point holds what they use: the node, its
 * configuration, message and statistics types, errors, and the two extension
 * interfaces ({@link Storage} for storage backends, {@link TrustModel} and
 * {@link TrustManager} for trust metrics). The layers underneath have entry
 * points of their own, for applications that extend or replace them:
 * `@kith/kith/protocol` (messages and the codec), `@kith/kith/transport`
 * (TCP and the {@link Transport} interface), `@kith/kith/peers`,
 * `@kith/kith/gossip`, `@kith/kith/storage`, `@kith/kith/trust`,
 * `@kith/kith/sim` (the simulator: in-memory network and virtual clock) and
 * `@kith/kith/api` (the local control API).
 *
 * @example Two nodes, one message
 * ```ts
 * import { KithNode } from "@kith/kith";
 *
 * const config = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 1 };
 * const alice = new KithNode({ config });
 * await alice.start();
 * const bob = new KithNode({ config: { ...config, bootstrap: [alice.address] } });
 * await bob.start();
 *
 * const chat = alice.subscribe("chat"); // joins the topic's overlay
 * await bob.waitForTopicPeers("chat", 1, { timeout: 10_000 }); // bob publishes from outside the topic
 * bob.broadcast("hello from bob", { topic: "chat" });
 * for await (const message of chat) {
 *   console.log(new TextDecoder().decode(message.data)); // "hello from bob"
 *   break;
 * }
 * await bob.stop();
 * await alice.stop();
 * ```
 *
 * @example A direct message, then a request and its response
 * ```ts
 * import { KithNode } from "@kith/kith";
 *
 * const config = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 1 };
 * const server = new KithNode({ config });
 * server.handle("upper/1", (data) => new TextDecoder().decode(data).toUpperCase());
 * const inbox = server.directMessages();
 * await server.start();
 * const client = new KithNode({ config: { ...config, bootstrap: [server.address] } });
 * await client.start();
 * await client.waitForPeers(1, { timeout: 10_000 });
 * client.sendDirect(server.nodeId, "for the server only");
 * for await (const message of inbox) {
 *   console.log(message.from === client.nodeId, new TextDecoder().decode(message.data)); // true "for the server only"
 *   break;
 * }
 * const answer = await client.request(server.nodeId, "upper/1", "hello", { timeout: 5_000 });
 * console.log(new TextDecoder().decode(answer)); // "HELLO"
 * await client.stop();
 * await server.stop();
 * ```
 *
 * @module
 */
export {
  type HistoryOptions,
  KithNode,
  LATENCY_BUCKETS_MS,
  type LatencySnapshot,
  type NodeComponents,
  type NodeOptions,
  type NodeStats,
  type ReceivedMessage,
  type SubscribeOptions,
  type Subscription,
  tcpTransport,
  type TopicInfo,
  type TopicLogStats,
  type TopicStats,
  type TransportContext,
  type TransportFactory,
} from "./lib/node.ts";
export { type TopicSettings } from "./lib/topics/mod.ts";
export {
  dhtKeyOf,
  type DhtPutResult,
  type DhtTableEntry,
  type DhtValue,
  NodeDht,
  type NodeDhtStats,
} from "./lib/node_dht.ts";
export { type ProviderRecord, RecordError, recordKey, topicKey } from "./lib/dht/mod.ts";
export { type TransientLinksStats } from "./lib/peers/transient.ts";
export {
  disconnectReasonName,
  type EventStream,
  type NodeEvent,
  NodeEvents,
  type PeerConnectedEvent,
  type PeerDisconnectedEvent,
  type TrustChangedEvent,
  type WatchOptions,
} from "./lib/events.ts";
export { AbortedError, type WaitOptions, WaitTimeoutError } from "./lib/wait.ts";
export {
  DEFAULT_DIRECT_CONFIG,
  type DirectChannelStats,
  type DirectConfig,
  DirectError,
  type DirectErrorCode,
  type DirectMessage,
  type DirectStats,
  type RequestContext,
  type RequestHandler,
  type RequestOptions,
  type RequestStats,
} from "./lib/direct/mod.ts";
export type { BoundedStream, StreamOptions } from "./lib/stream.ts";
export {
  DEFAULT_NETWORK_CONFIG,
  type NetworkConfig,
  type NetworkDeliveryConfig,
  type NetworkDhtConfig,
  type NetworkGossipConfig,
  type NetworkNatConfig,
  type NetworkPeersConfig,
  type NetworkStorageConfig,
  type NetworkTopicsConfig,
  type NetworkTransportConfig,
  type NetworkTrustConfig,
  type PresetName,
  PRESETS,
  resolveNetworkConfig,
} from "./lib/config.ts";
export {
  ConfigError,
  IdentityError,
  KithError,
  PROTOCOL_ERROR_CODES,
  ProtocolError,
  type ProtocolErrorCode,
} from "./lib/errors.ts";
export { type Message, MessageType, type PayloadByType } from "./lib/protocol/mod.ts";
export { Identity, loadIdentity, loadOrCreateIdentity, nodeIdFromPublicKey, saveIdentity } from "./lib/identity.ts";
export type { PruneResult, SeenMessage, Storage, StoredPeer, TrustEvent } from "./lib/storage/mod.ts";
export { StorageError } from "./lib/storage/mod.ts";
export {
  DEFAULT_TRUST_CONFIG,
  type PeerTrustState,
  type ReputationBreakdown,
  type TrustConfig,
  TrustManager,
  type TrustManagerOptions,
  type TrustModel,
} from "./lib/trust.ts";
export type { GossipConfig, GossipSender, GossipStats, MessageHandler, MessageTypeCounts } from "./lib/gossip/mod.ts";
export type { PeerInfo, PeerState, PeerStats } from "./lib/peers/mod.ts";
export { type LinkKind, type Transport, TransportError, type TransportStats } from "./lib/transport/mod.ts";
export {
  DEFAULT_RELAY_CONFIG,
  type PunchStats,
  type RelayClientStats,
  type RelayConfig,
  type RelayStats,
  resolveRelayConfig,
} from "./lib/relay/mod.ts";
export type { RelayNodeStats } from "./lib/node_relay.ts";
export {
  DialGuard,
  type DialPolicy,
  type DialPolicyName,
  type DialPolicyOptions,
  type DialPolicyPreset,
  type DialRefusal,
  resolveDialPolicy,
} from "./lib/dial_policy.ts";
export type { ParallelVerifierStats } from "./lib/verifier.ts";
export { type Clock, systemClock, type TimerId } from "./lib/clock.ts";
export type { RandomSource } from "./lib/random.ts";
export { createLogger, defaultLogSink, type LogFormat, type LogLevel, type LogSink } from "./lib/log.ts";
export { VERSION } from "./lib/version.ts";
