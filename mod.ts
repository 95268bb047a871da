/**
 * kith: a peer-to-peer network node for Deno. Nodes have Ed25519 identities,
 * speak a signed MessagePack protocol over authenticated, encrypted TCP,
 * keep their state in SQLite, score each other with a trust and reputation
 * model, discover peers, and spread messages by epidemic gossip.
 *
 * Most applications need only {@link KithNode}: start one, broadcast,
 * subscribe. The layers underneath (identity, protocol, storage, trust,
 * transport, peers, gossip) are exported for applications that extend them.
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
 * const chat = alice.subscribe("chat");
 * while (alice.peers().length === 0) await new Promise((r) => setTimeout(r, 10));
 * bob.broadcast("hello from bob", { topic: "chat" });
 * for await (const message of chat) {
 *   console.log(new TextDecoder().decode(message.data)); // "hello from bob"
 *   break;
 * }
 * await bob.stop();
 * await alice.stop();
 * ```
 *
 * @module
 */
export {
  ConfigError,
  IdentityError,
  KithError,
  PROTOCOL_ERROR_CODES,
  ProtocolError,
  type ProtocolErrorCode,
} from "./lib/errors.ts";
export { type Clock, ManualClock, systemClock, type TimerId } from "./lib/clock.ts";
export { type RandomSource, seededRandom } from "./lib/random.ts";
export {
  MemoryStorage,
  type PruneResult,
  SCHEMA_VERSION,
  type SeenMessage,
  SqliteStorage,
  type SqliteStorageOptions,
  type Storage,
  StorageError,
  type StorageOptions,
  type StoredPeer,
  type TrustEvent,
} from "./lib/storage.ts";
export {
  DEFAULT_PENALTIES,
  DEFAULT_TRUST_CONFIG,
  type PeerTrustState,
  type ReputationBreakdown,
  resolveTrustConfig,
  type TrustConfig,
  TrustManager,
  type TrustManagerOptions,
  type TrustModel,
} from "./lib/trust.ts";
export {
  Identity,
  KEY_FILE_NAME,
  loadIdentity,
  loadOrCreateIdentity,
  nodeIdFromPublicKey,
  saveIdentity,
} from "./lib/identity.ts";
export {
  defaultBackend,
  type Ed25519Backend,
  isAcceptablePointEncoding,
  nativeBackend,
  nobleBackend,
  verifySignature,
} from "./lib/ed25519.ts";
export {
  DEFAULT_PARALLEL_VERIFIER_CONFIG,
  inlineVerifier,
  ParallelVerifier,
  type ParallelVerifierConfig,
  type ParallelVerifierStats,
  type SignatureVerifier,
} from "./lib/verifier.ts";
export {
  type ApplicationPayload,
  computeMessageId,
  createLinkMessage,
  createMessage,
  type CreateMessageOptions,
  DEFAULT_PROTOCOL_LIMITS,
  type DisconnectPayload,
  DisconnectReason,
  encodePayload,
  type Envelope,
  type GossipDigestPayload,
  type HandshakeAckPayload,
  type HandshakeConfirmPayload,
  type HandshakePayload,
  type HeartbeatPayload,
  LINK_AUTHENTICATED_TYPES,
  MAX_DIGEST_IDS,
  MAX_PEER_LIST,
  MAX_TOPIC_BYTES,
  MAX_WIRE_TTL,
  type Message,
  MESSAGE_TYPE_NAMES,
  MessageCodec,
  MessageType,
  type PayloadByType,
  type PeerAnnouncementPayload,
  type PeerListRequestPayload,
  type PeerRecord,
  PROTOCOL_VERSION,
  type ProtocolLimits,
  type TrustedPeersResponsePayload,
  type TrustRecord,
  type TrustUpdatePayload,
  type VerifyOptions,
} from "./lib/protocol.ts";
export {
  type CloseInfo,
  type Connection,
  CONNECTION_LOST,
  type ConnectionStats,
  DEFAULT_TRANSPORT_CONFIG,
  type DialOptions,
  resolveTransportConfig,
  TcpTransport,
  type TcpTransportOptions,
  type Transport,
  type TransportConfig,
  TransportError,
  type TransportStats,
} from "./lib/transport/mod.ts";
export {
  deriveSessionKeys,
  type EphemeralKeyPair,
  generateEphemeralKeyPair,
  RecordOpener,
  RecordSealer,
  type SessionKeys,
} from "./lib/transport/session.ts";
export {
  type ActivePeer,
  DEFAULT_PEERS_CONFIG,
  type PeerInfo,
  PeerManager,
  type PeerManagerOptions,
  type PeersConfig,
  type PeerState,
  type PeerStats,
  resolvePeersConfig,
} from "./lib/peers/mod.ts";
export { isLoopback, type NetworkGroup, networkGroup } from "./lib/netgroup.ts";
export { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from "./lib/framing.ts";
export { formatHostPort, type HostPort, parseHostPort } from "./lib/address.ts";
export { VERSION } from "./lib/version.ts";
export {
  KithNode,
  LATENCY_BUCKETS_MS,
  type LatencySnapshot,
  type NodeComponents,
  type NodeOptions,
  type NodeStats,
  type ReceivedMessage,
  type Subscription,
  tcpTransport,
  type TransportContext,
  type TransportFactory,
} from "./lib/node.ts";
export { createLogger, isLogLevel, type LogFormat, type LogLevel, type LogSink } from "./lib/log.ts";
export {
  API_TOKEN_FILE,
  ControlApi,
  type ControlApiOptions,
  loadOrCreateApiToken,
  MAX_API_BODY_BYTES,
  readApiToken,
} from "./lib/api.ts";
export {
  type ComponentConfigs,
  componentConfigs,
  DEFAULT_NETWORK_CONFIG,
  type NetworkConfig,
  type PresetName,
  PRESETS,
  resolveNetworkConfig,
} from "./lib/config.ts";
export {
  DEFAULT_GOSSIP_CONFIG,
  type GossipConfig,
  type GossipOptions,
  type GossipPeers,
  type GossipPeerStats,
  GossipProtocol,
  type GossipSender,
  type GossipStats,
  type MessageHandler,
  type MessageTypeCounts,
  resolveGossipConfig,
} from "./lib/gossip/mod.ts";
export { BoundedMap, TokenBucket } from "./lib/ratelimit.ts";
