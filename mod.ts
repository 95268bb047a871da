/**
 * kith: a peer-to-peer network node for Deno. Nodes have Ed25519 identities
 * and speak a signed MessagePack protocol.
 *
 * This release provides identities with persistent key files, the signed
 * wire protocol with strict decoding and framing, SQLite (or in-memory)
 * storage, the trust and reputation model, and the TCP transport with its
 * authenticated, encrypted handshake. Peers and gossip build on them.
 *
 * @example Create an identity, sign a broadcast, decode it as a receiver would
 * ```ts
 * import { createMessage, Identity, MessageCodec, MessageType } from "@kith/kith";
 *
 * const me = Identity.generate();
 * const message = createMessage(me, MessageType.CUSTOM_DATA, {
 *   topic: "chat",
 *   data: new TextEncoder().encode("hello"),
 * });
 * const codec = new MessageCodec();
 * const wire = codec.encode(message);
 * const received = codec.decode(wire, Date.now()); // throws ProtocolError if anything is wrong
 * if (received.type === MessageType.CUSTOM_DATA) {
 *   console.log(received.payload.topic); // "chat"
 * }
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
  type ApplicationPayload,
  computeMessageId,
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
} from "./lib/network.ts";
export {
  deriveSessionKeys,
  type EphemeralKeyPair,
  generateEphemeralKeyPair,
  RecordOpener,
  RecordSealer,
  type SessionKeys,
} from "./lib/session.ts";
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
} from "./lib/peers.ts";
export { isLoopback, type NetworkGroup, networkGroup } from "./lib/netgroup.ts";
export { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from "./lib/framing.ts";
export { formatHostPort, type HostPort, parseHostPort } from "./lib/address.ts";
export { VERSION } from "./lib/version.ts";
