/**
 * The protocol's vocabulary: message type codes and names, DISCONNECT
 * reasons, the payload type of each message type, and the envelope that
 * carries them. Types and constants only; no encoding.
 *
 * @module
 */

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
  MessageType.OBSERVED_ADDRESS,
  MessageType.DIAL_BACK_REQUEST,
  MessageType.DIAL_BACK_RESPONSE,
]);

/** Most nodes or providers in one DHT_RESPONSE. */
export const MAX_DHT_CONTACTS = 32;

/** Longest REQUEST protocol name, in bytes. */
export const MAX_PROTOCOL_NAME_BYTES = 64;

/** A peer's address as announced in peer lists. */
export interface PeerRecord {
  /** The peer's node id (SHA-256 of its public key), 32 bytes. */
  nodeId: Uint8Array;
  /** Its listening address, `host:port`. */
  address: string;
  /** When the announcer last saw it, ms since the epoch (0 if unknown). */
  lastSeen: number;
}

/** A node and a trust score in [0, 1]. */
export interface TrustRecord {
  /** Node id, 32 bytes. */
  nodeId: Uint8Array;
  /** Trust in [0, 1]. */
  trust: number;
}

/** Payload of HANDSHAKE. */
export interface HandshakePayload {
  /** Network id: nodes of different networks refuse each other. At most 64 bytes. */
  networkId: string;
  /** Fresh random 32 bytes. */
  nonce: Uint8Array;
  /** Ephemeral X25519 public key, 32 bytes. */
  ephemeralKey: Uint8Array;
  /** Where the sender accepts connections (`host:port`), or `""`. */
  listenAddress: string;
  /** Software name and version, at most 64 bytes. */
  agent: string;
}

/** Payload of HANDSHAKE_ACK. */
export interface HandshakeAckPayload extends HandshakePayload {
  /** Id of the HANDSHAKE being answered, binding the answer to it. */
  handshakeId: Uint8Array;
  /** Initial peer list, at most {@link MAX_PEER_LIST} entries. */
  peers: PeerRecord[];
}

/** Payload of DISCONNECT. */
export interface DisconnectPayload {
  /** A {@link DisconnectReason} code (or another code up to 65535). */
  reason: number;
  /** Human-readable detail, at most 256 bytes. */
  detail: string;
}

/** Payload of TRUSTED_PEERS_REQUEST. */
export interface PeerListRequestPayload {
  /** How many entries the sender wants, 1..{@link MAX_PEER_LIST}. */
  limit: number;
}

/** Payload of PEER_DISCOVERY. */
export interface PeerDiscoveryPayload extends PeerListRequestPayload {
  /**
   * Only peers the answerer knows to be in this topic (`""`, the default: any peer). Optional on the wire:
   * absent means `""`. Decoded payloads always carry it.
   */
  topic?: string;
}

/** Payload of PEER_ANNOUNCEMENT. */
export interface PeerAnnouncementPayload {
  /** Known peers, at most {@link MAX_PEER_LIST}. */
  peers: PeerRecord[];
}

/** Payload of HEARTBEAT. */
export interface HeartbeatPayload {
  /** Sequence number chosen by the prober, echoed in the reply. */
  seq: number;
  /** Whether this is the reply to a probe. */
  reply: boolean;
}

/** Payload of GOSSIP_MESSAGE: lazy push and repair between neighbours. */
export interface GossipDigestPayload {
  /** Ids of messages the sender has and can serve (IHAVE), at most {@link MAX_DIGEST_IDS}. */
  have: Uint8Array[];
  /**
   * Ids of messages the sender asks for (IWANT), at most {@link MAX_DIGEST_IDS}. Asking also grafts:
   * the receiver pushes new messages to the sender in full again.
   */
  want: Uint8Array[];
  /**
   * PRUNE: the sender received a message twice and asks for ids only (`have`), not full messages, from
   * now on. Optional on the wire: absent means false. Decoded payloads always carry it.
   */
  prune?: boolean;
  /**
   * The topic whose overlay the ids belong to (`""`, the default: the network-wide one). Optional on the
   * wire: absent means `""`. Decoded payloads always carry it.
   */
  topic?: string;
}

/** Payload of CUSTOM_DATA, the application message. */
export interface ApplicationPayload {
  /** Topic, at most {@link MAX_TOPIC_BYTES} bytes of UTF-8; `""` for none. */
  topic: string;
  /** Opaque application bytes. */
  data: Uint8Array;
}

/** Payload of TRUST_UPDATE. */
export interface TrustUpdatePayload {
  /** The node being recommended, 32 bytes. */
  subject: Uint8Array;
  /** The origin's trust in it, in [0, 1]. */
  trust: number;
}

/** Payload of HANDSHAKE_CONFIRM. */
export interface HandshakeConfirmPayload {
  /** Id of the HANDSHAKE_ACK being confirmed, which commits to the whole transcript. */
  ackId: Uint8Array;
}

/** Payload of DIRECT_MESSAGE. */
export interface DirectMessagePayload {
  /** Opaque application bytes, at most the receiver's `maxDirectMessageBytes`. */
  data: Uint8Array;
}

/** Payload of REQUEST. */
export interface RequestPayload {
  /** Correlation id chosen by the requester, echoed in the RESPONSE; 0..2^32-1. */
  requestId: number;
  /** Protocol name: 1..{@link MAX_PROTOCOL_NAME_BYTES} bytes of `[A-Za-z0-9._/-]`. */
  protocol: string;
  /** Request bytes, at most the responder's `maxRequestBytes`. */
  data: Uint8Array;
}

/** Payload of RESPONSE. */
export interface ResponsePayload {
  /** The REQUEST's correlation id. */
  requestId: number;
  /** A {@link ResponseStatus} code; receivers read unknown codes as a refusal. */
  status: number;
  /** The handler's bytes (empty unless the status is OK). */
  data: Uint8Array;
  /** Why, for a refusal: at most 256 bytes of text. */
  detail: string;
}

/** Status codes of RESPONSE. */
export const ResponseStatus = {
  /** The handler answered; `data` is its answer. */
  OK: 0,
  /** No handler for the protocol. */
  UNKNOWN_PROTOCOL: 1,
  /** The handler threw, timed out or answered more than the responder sends. */
  HANDLER_FAILED: 2,
  /** The requester already has the most requests in flight this responder serves per peer. */
  BUSY: 3,
  /** The request is larger than the responder's `maxRequestBytes`. */
  TOO_LARGE: 4,
  /** The correlation id is already in flight from this requester. */
  DUPLICATE_ID: 5,
} as const;

/** Payload of TOPIC_SUBSCRIPTIONS. */
export interface TopicSubscriptionsPayload {
  /** This is the sender's whole set (sent first on every link): the receiver forgets what it had before. */
  full: boolean;
  /**
   * The sender relays every topic (an operator's "all topics" node): count it in every topic, whatever
   * `join` says. Repeated in every message (a change of it is a change of the set).
   */
  all: boolean;
  /** Topics joined, at most {@link MAX_TOPICS_PER_PEER}, each 1..{@link MAX_TOPIC_BYTES} bytes, no repeats. */
  join: string[];
  /** Topics left (empty when `full`), same bounds. */
  leave: string[];
}

/** A signed DHT record on the wire (lib/dht/records.ts says what is signed). */
export interface DhtRecordFields {
  /** The owner's Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** The record's name, at most 64 bytes of UTF-8. */
  name: string;
  /** The value (the DHT refuses more than 1 KiB). */
  value: Uint8Array;
  /** Sequence number. */
  seq: number;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
  /** The owner's signature, 64 bytes. */
  signature: Uint8Array;
}

/** A provider of a key on the wire: who, where, until when. */
export interface DhtProviderFields {
  /** The provider's node id, 32 bytes. */
  nodeId: Uint8Array;
  /** Its address, `host:port`. */
  address: string;
  /** When the record expires, ms since the epoch. */
  expiresAt: number;
}

/** Payload of DHT_REQUEST. */
export interface DhtRequestPayload {
  /** Correlation id chosen by the asker, echoed in the answer; 0..2^32-1. */
  requestId: number;
  /** 0 FIND_NODE, 1 GET_VALUE, 2 PUT_VALUE, 3 ADD_PROVIDER, 4 GET_PROVIDERS. */
  op: number;
  /** The target id or key, 32 bytes. */
  key: Uint8Array;
  /** For PUT_VALUE the record (one); otherwise empty. */
  records: DhtRecordFields[];
}

/** Payload of DHT_RESPONSE. */
export interface DhtResponsePayload {
  /** The request's correlation id. */
  requestId: number;
  /** 0 OK, 1 RATE_LIMITED, 2 BAD_REQUEST, 3 REFUSED; unknown codes read as a refusal. */
  status: number;
  /** The nodes the answerer knows closest to the key, at most {@link MAX_DHT_CONTACTS} (`lastSeen` 0). */
  nodes: PeerRecord[];
  /** For GET_PROVIDERS: providers of the key, at most {@link MAX_DHT_CONTACTS}. */
  providers: DhtProviderFields[];
  /** For GET_VALUE: the record kept under the key (at most one). */
  records: DhtRecordFields[];
}

/** Payload of OBSERVED_ADDRESS. */
export interface ObservedAddressPayload {
  /** The receiver's address as the sender's socket sees it, `host:port` (behind a NAT: the NAT's mapping). */
  address: string;
}

/** Payload of DIAL_BACK_REQUEST. */
export interface DialBackRequestPayload {
  /** Correlation id chosen by the asker, echoed in the answer; 0..2^32-1. */
  requestId: number;
  /** Where to dial the asker, `host:port`; its host must be the asker's own IP as the answerer sees it. */
  address: string;
}

/** Payload of DIAL_BACK_RESPONSE. */
export interface DialBackResponsePayload {
  /** The request's correlation id. */
  requestId: number;
  /** A {@link DialBackStatus} code; receivers read unknown codes as a refusal (no verdict). */
  status: number;
  /** Why, in at most 256 bytes of text. */
  detail: string;
}

/** Status codes of DIAL_BACK_RESPONSE. */
export const DialBackStatus = {
  /** The answerer dialed the address and completed kith's handshake with the asker's identity. */
  REACHED: 0,
  /** The dial failed: nothing answered, the handshake failed, or another node answered. */
  UNREACHABLE: 1,
  /** Not dialed: the address's host is not the asker's IP, or the answerer's dial policy refuses it. */
  REFUSED: 2,
  /** Not dialed: over the answerer's per-asker or total dial-back rate, or its concurrency bound. */
  RATE_LIMITED: 3,
} as const;

/** Payload of TRUSTED_PEERS_RESPONSE. */
export interface TrustedPeersResponsePayload {
  /** At most {@link MAX_PEER_LIST} nodes with the sender's trust in them. */
  peers: TrustRecord[];
}

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
