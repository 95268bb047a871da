/**
 * The protocol's vocabulary: message type codes and names, DISCONNECT
 * reasons, the payload type of each message type, and the envelope that
 * carries them. Types and constants only; no encoding.
 *
 * @module
 */
import type {
  ApplicationPayload,
  DirectMessagePayload,
  DisconnectPayload,
  GossipDigestPayload,
  HandshakeAckPayload,
  HandshakeConfirmPayload,
  HandshakePayload,
  HeartbeatPayload,
  PeerAnnouncementPayload,
  PeerDiscoveryPayload,
  PeerListRequestPayload,
  RequestPayload,
  ResponsePayload,
  TopicSubscriptionsPayload,
  TrustedPeersResponsePayload,
  TrustUpdatePayload,
} from "./payloads.ts";
import type {
  CatchupBodiesPayload,
  CatchupFetchPayload,
  CatchupReconcilePayload,
  DhtRequestPayload,
  DhtResponsePayload,
  DialBackRequestPayload,
  DialBackResponsePayload,
  HolePunchPayload,
  ObservedAddressPayload,
  RelayCircuitPayload,
  RelayConnectPayload,
  RelayReservationPayload,
  RelayReservePayload,
} from "./service_payloads.ts";

// The payloads, importable from here as before the split.
export {
  type ApplicationPayload,
  type DirectMessagePayload,
  type DisconnectPayload,
  type GossipDigestPayload,
  type HandshakeAckPayload,
  type HandshakeConfirmPayload,
  type HandshakePayload,
  type HeartbeatPayload,
  MAX_PROTOCOL_NAME_BYTES,
  type PeerAnnouncementPayload,
  type PeerDiscoveryPayload,
  type PeerListRequestPayload,
  type PeerRecord,
  type RequestPayload,
  type ResponsePayload,
  ResponseStatus,
  type TopicSubscriptionsPayload,
  type TrustedPeersResponsePayload,
  type TrustRecord,
  type TrustUpdatePayload,
} from "./payloads.ts";
export {
  type CatchupBodiesPayload,
  type CatchupFetchPayload,
  type CatchupRangeFields,
  type CatchupReconcilePayload,
  type DhtProviderFields,
  type DhtRecordFields,
  type DhtRequestPayload,
  type DhtResponsePayload,
  type DialBackRequestPayload,
  type DialBackResponsePayload,
  DialBackStatus,
  type HolePunchPayload,
  MAX_CATCHUP_BODIES,
  MAX_CATCHUP_BODY_BYTES,
  MAX_CATCHUP_FETCH_IDS,
  MAX_CATCHUP_MESSAGE_IDS,
  MAX_CATCHUP_RANGE_IDS,
  MAX_CATCHUP_RANGES,
  MAX_DHT_CONTACTS,
  MAX_PUNCH_ADDRESSES,
  type ObservedAddressPayload,
  RELAY_TOKEN_BYTES,
  type RelayCircuitPayload,
  type RelayConnectPayload,
  type RelayReservationPayload,
  type RelayReservePayload,
  RelayStatus,
} from "./service_payloads.ts";

/** The protocol version this implementation speaks. */
export const PROTOCOL_VERSION = 2;

/** Numeric codes of the message types on the wire. */
export const MessageType = {
  /** Opens a connection: network id, nonce, ephemeral key. */
  HANDSHAKE: 1,
  /** Answers a HANDSHAKE, with the initial peer list. */
  HANDSHAKE_ACK: 2,
  /** Closes a connection, with a reason code. */
  DISCONNECT: 3,
  /** Asks a peer for addresses of other peers. */
  PEER_DISCOVERY: 4,
  /** A list of known peers and their addresses. */
  PEER_ANNOUNCEMENT: 5,
  /** Liveness probe and its reply. */
  HEARTBEAT: 6,
  /** Gossip repair: ids this node has (IHAVE) and ids it wants (IWANT), between neighbours. */
  GOSSIP_MESSAGE: 7,
  /** Application data with a topic: spread by gossip while its TTL lasts (TTL 0: for the neighbour only). */
  CUSTOM_DATA: 8,
  /** A recommendation: how much the origin trusts one node. */
  TRUST_UPDATE: 9,
  /** Asks a peer for the nodes it trusts most. */
  TRUSTED_PEERS_REQUEST: 10,
  /** The nodes a peer trusts most, with their trust. */
  TRUSTED_PEERS_RESPONSE: 11,
  /** Ends a handshake: the initiator's signature over the transcript, sent sealed (not in the original design). */
  HANDSHAKE_CONFIRM: 12,
  /** Application bytes for one peer only: signed, TTL 0, never gossiped or forwarded (not in the original design). */
  DIRECT_MESSAGE: 13,
  /** Asks one peer to run a named protocol's handler on some bytes (not in the original design). */
  REQUEST: 14,
  /** Answers a REQUEST: its correlation id, a status and the handler's bytes (not in the original design). */
  RESPONSE: 15,
  /** The topics the sender is in: the whole set on a new link, then what it joins and leaves (not in the original design). */
  TOPIC_SUBSCRIPTIONS: 16,
  /** A DHT query: find nodes, get or put a record, add or get providers (not in the original design). */
  DHT_REQUEST: 17,
  /** Answers a DHT_REQUEST: status, the closest nodes known, providers, a record (not in the original design). */
  DHT_RESPONSE: 18,
  /** Catch-up: one step of range-based set reconciliation of a topic's ids (not in the original design). */
  CATCHUP_RECONCILE: 19,
  /** Catch-up: asks a peer for the bodies of some ids of a topic it said it holds (not in the original design). */
  CATCHUP_FETCH: 20,
  /** Catch-up: answers a CATCHUP_FETCH with the signed messages' encoded envelopes (not in the original design). */
  CATCHUP_BODIES: 21,
  /** Asks a relay for a reservation: relay circuits to the sender until it expires (not in the original design). */
  RELAY_RESERVE: 25,
  /** A relay's answer to RELAY_RESERVE: status, expiry, the sender's address as the relay sees it (not in the original design). */
  RELAY_RESERVATION: 26,
  /** Asks a relay for a circuit to a node that holds a reservation there (not in the original design). */
  RELAY_CONNECT: 27,
  /** A circuit's token and limits, to the node that asked (RELAY_CONNECT) and to the one it reaches (not in the original design). */
  RELAY_CIRCUIT: 28,
  /** Hole punching over a relayed link: the addresses to punch, then the moment to dial (not in the original design). */
  HOLE_PUNCH: 29,
  /** The address the sender sees this link's other end at, sent once after the handshake (not in the original design). */
  OBSERVED_ADDRESS: 22,
  /** Asks the receiver to dial the sender back at an address of the sender's own IP (not in the original design). */
  DIAL_BACK_REQUEST: 23,
  /** Answers a DIAL_BACK_REQUEST: whether the dial-back's handshake reached the asker (not in the original design). */
  DIAL_BACK_RESPONSE: 24,
} as const;

/** One of the numeric codes in {@link MessageType}. */
export type MessageType = typeof MessageType[keyof typeof MessageType];

/** Name of each message type, by code (for logs and errors). */
export const MESSAGE_TYPE_NAMES: Readonly<Record<MessageType, keyof typeof MessageType>> = Object.freeze(
  Object.fromEntries(Object.entries(MessageType).map(([name, code]) => [code, name])) as Record<
    MessageType,
    keyof typeof MessageType
  >,
);

/** Reason codes carried by DISCONNECT. Unknown codes are accepted and shown as numbers. */
export const DisconnectReason = {
  /** The node is shutting down. */
  SHUTDOWN: 1,
  /** The peer sent bytes that broke the protocol. */
  PROTOCOL_ERROR: 2,
  /** The peer belongs to another network id. */
  WRONG_NETWORK: 3,
  /** The peer speaks an unsupported protocol version. */
  UNSUPPORTED_VERSION: 4,
  /** The peer is this node itself. */
  SELF_CONNECTION: 5,
  /** Another connection to the same node is kept instead. */
  DUPLICATE_CONNECTION: 6,
  /** The handshake did not finish in time. */
  HANDSHAKE_TIMEOUT: 7,
  /** No connection slot is free. */
  TOO_MANY_CONNECTIONS: 8,
  /** The peer's trust fell below the threshold. */
  LOW_TRUST: 9,
  /** The peer exceeded its rate limit. */
  RATE_LIMITED: 10,
  /** The peer stopped answering heartbeats. */
  TIMEOUT: 11,
  /** The slot was given to a better peer. */
  EVICTED: 12,
  /** The peer read too slowly: its send queue or a write stayed full past the limit. */
  SLOW_READER: 13,
  /**
   * The peer sent a message larger than this node takes (an application payload over its
   * `maxApplicationPayloadBytes`, or an envelope payload over its codec's limit); the detail names the limit.
   */
  MESSAGE_TOO_LARGE: 14,
} as const;

/**
 * Types a node may send unsigned, as link messages, on an established
 * session: always TTL 0 and from the session's own peer. The session's
 * ChaCha20-Poly1305 records, keyed by a handshake both identities signed,
 * already prove who sent them, so an Ed25519 signature would add a signing
 * and a verification and 64 bytes to every digest and heartbeat and prove
 * nothing more.
 * Everything that travels further than one hop (CUSTOM_DATA, TRUST_UPDATE,
 * ...) and everything in a handshake stays signed.
 */
export const LINK_AUTHENTICATED_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  MessageType.PEER_DISCOVERY,
  MessageType.PEER_ANNOUNCEMENT,
  MessageType.HEARTBEAT,
  MessageType.GOSSIP_MESSAGE,
  MessageType.TOPIC_SUBSCRIPTIONS,
  MessageType.DHT_REQUEST,
  MessageType.DHT_RESPONSE,
  MessageType.CATCHUP_RECONCILE,
  MessageType.CATCHUP_FETCH,
  MessageType.CATCHUP_BODIES,
  MessageType.RELAY_RESERVE,
  MessageType.RELAY_RESERVATION,
  MessageType.RELAY_CONNECT,
  MessageType.RELAY_CIRCUIT,
  MessageType.HOLE_PUNCH,
  MessageType.OBSERVED_ADDRESS,
  MessageType.DIAL_BACK_REQUEST,
  MessageType.DIAL_BACK_RESPONSE,
]);

/** The payload type of each message type. */
export interface PayloadByType {
  /** HANDSHAKE */
  [MessageType.HANDSHAKE]: HandshakePayload;
  /** HANDSHAKE_ACK */
  [MessageType.HANDSHAKE_ACK]: HandshakeAckPayload;
  /** DISCONNECT */
  [MessageType.DISCONNECT]: DisconnectPayload;
  /** PEER_DISCOVERY */
  [MessageType.PEER_DISCOVERY]: PeerDiscoveryPayload;
  /** PEER_ANNOUNCEMENT */
  [MessageType.PEER_ANNOUNCEMENT]: PeerAnnouncementPayload;
  /** HEARTBEAT */
  [MessageType.HEARTBEAT]: HeartbeatPayload;
  /** GOSSIP_MESSAGE */
  [MessageType.GOSSIP_MESSAGE]: GossipDigestPayload;
  /** CUSTOM_DATA */
  [MessageType.CUSTOM_DATA]: ApplicationPayload;
  /** TRUST_UPDATE */
  [MessageType.TRUST_UPDATE]: TrustUpdatePayload;
  /** TRUSTED_PEERS_REQUEST */
  [MessageType.TRUSTED_PEERS_REQUEST]: PeerListRequestPayload;
  /** TRUSTED_PEERS_RESPONSE */
  [MessageType.TRUSTED_PEERS_RESPONSE]: TrustedPeersResponsePayload;
  /** HANDSHAKE_CONFIRM */
  [MessageType.HANDSHAKE_CONFIRM]: HandshakeConfirmPayload;
  /** DIRECT_MESSAGE */
  [MessageType.DIRECT_MESSAGE]: DirectMessagePayload;
  /** REQUEST */
  [MessageType.REQUEST]: RequestPayload;
  /** RESPONSE */
  [MessageType.RESPONSE]: ResponsePayload;
  /** TOPIC_SUBSCRIPTIONS */
  [MessageType.TOPIC_SUBSCRIPTIONS]: TopicSubscriptionsPayload;
  /** DHT_REQUEST */
  [MessageType.DHT_REQUEST]: DhtRequestPayload;
  /** DHT_RESPONSE */
  [MessageType.DHT_RESPONSE]: DhtResponsePayload;
  /** CATCHUP_RECONCILE */
  [MessageType.CATCHUP_RECONCILE]: CatchupReconcilePayload;
  /** CATCHUP_FETCH */
  [MessageType.CATCHUP_FETCH]: CatchupFetchPayload;
  /** CATCHUP_BODIES */
  [MessageType.CATCHUP_BODIES]: CatchupBodiesPayload;
  /** RELAY_RESERVE */
  [MessageType.RELAY_RESERVE]: RelayReservePayload;
  /** RELAY_RESERVATION */
  [MessageType.RELAY_RESERVATION]: RelayReservationPayload;
  /** RELAY_CONNECT */
  [MessageType.RELAY_CONNECT]: RelayConnectPayload;
  /** RELAY_CIRCUIT */
  [MessageType.RELAY_CIRCUIT]: RelayCircuitPayload;
  /** HOLE_PUNCH */
  [MessageType.HOLE_PUNCH]: HolePunchPayload;
  /** OBSERVED_ADDRESS */
  [MessageType.OBSERVED_ADDRESS]: ObservedAddressPayload;
  /** DIAL_BACK_REQUEST */
  [MessageType.DIAL_BACK_REQUEST]: DialBackRequestPayload;
  /** DIAL_BACK_RESPONSE */
  [MessageType.DIAL_BACK_RESPONSE]: DialBackResponsePayload;
}

/**
 * An envelope parsed from the wire whose id has been checked against its
 * content, but whose signature, timestamp and payload have not been checked
 * yet (see {@link MessageCodec.parse}).
 */
export interface Envelope {
  /** Protocol version. */
  version: number;
  /** Message type code. */
  type: MessageType;
  /** SHA-256 of the signed content, 32 bytes (computed by the receiver, not sent). */
  id: Uint8Array;
  /** Origin node id (SHA-256 of `publicKey`), 32 bytes (computed by the receiver, not sent). */
  origin: Uint8Array;
  /** Origin's Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** When the origin created it, ms since the epoch. */
  timestamp: number;
  /** Hops left; not signed, decremented by each hop. */
  ttl: number;
  /** The encoded payload, exactly as signed. */
  payloadBytes: Uint8Array;
  /** Ed25519 signature of `id` by the origin, 64 bytes; empty for a link message ({@link createLinkMessage}). */
  signature: Uint8Array;
}

/**
 * A verified envelope with its decoded payload. Without a type argument it is
 * the union of all message types, discriminated by `type`, so checking
 * `message.type` narrows `message.payload`.
 */
export type Message<T extends MessageType = MessageType> = T extends MessageType
  ? Envelope & { type: T; payload: PayloadByType[T] }
  : never;
