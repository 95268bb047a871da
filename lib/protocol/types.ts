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

/** Most nodes or providers in one DHT_RESPONSE. */
export const MAX_DHT_CONTACTS = 32;

/** Most ranges in one CATCHUP_RECONCILE. */
export const MAX_CATCHUP_RANGES = 512;
/** Most ids in one range of a CATCHUP_RECONCILE. */
export const MAX_CATCHUP_RANGE_IDS = 64;
/** Most ids in one CATCHUP_RECONCILE, over its ranges (and, apart, in its `have` list). */
export const MAX_CATCHUP_MESSAGE_IDS = 4_096;
/** Most ids in one CATCHUP_FETCH (and in a CATCHUP_BODIES's `missing` list). */
export const MAX_CATCHUP_FETCH_IDS = 256;
/** Most envelopes in one CATCHUP_BODIES. */
export const MAX_CATCHUP_BODIES = 256;
/** Most bytes of envelopes in one CATCHUP_BODIES: room for the rest of it under the default 256 KiB payload. */
export const MAX_CATCHUP_BODY_BYTES = 224 * 1024;

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
  /**
   * Ids of the origin's latest messages in the topic when it published (its causal predecessors), at most
   * {@link MAX_PREDECESSORS}, distinct. Optional on the wire: absent means none, and none is not written, so a
   * message without predecessors encodes as before. Decoded payloads always carry it.
   */
  after?: Uint8Array[];
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

/** One range of a CATCHUP_RECONCILE message, as decoded (lib/catchup/wire.ts maps it to a `SyncRange`). */
export interface CatchupRangeFields {
  /**
   * The range's upper bound's timestamp as sent: 0 for the end of the order, else 1 + its distance from the
   * previous range's upper bound (the first range's from 0), so bounds only grow.
   */
  timestamp: number;
  /** The upper bound's id, or its shortest distinguishing prefix: at most 32 bytes (empty: any id at that timestamp). */
  id: Uint8Array;
  /** 0 the range is settled (skip), 1 a fingerprint, 2 the sender's ids in it. */
  mode: number;
  /** For mode 1 the 16-byte fingerprint, for mode 2 the ids (at most {@link MAX_CATCHUP_RANGE_IDS}), else empty. */
  value: Uint8Array | Uint8Array[];
}

/** Payload of CATCHUP_RECONCILE. */
export interface CatchupReconcilePayload {
  /** The topic reconciled: 1..255 bytes (the network-wide topic is not logged). */
  topic: string;
  /** The session's id, chosen by its initiator; 0..2^32-1. */
  session: number;
  /** False from the initiator, true from the responder: both sides may start sessions with the same id. */
  reply: boolean;
  /** The window's start, ms since the epoch: the initiator's oldest retained timestamp. */
  since: number;
  /**
   * The ranges still in question, at most {@link MAX_CATCHUP_RANGES}, their ids at most
   * {@link MAX_CATCHUP_MESSAGE_IDS} in all. Empty: the sender has settled everything and ends the session.
   */
  ranges: CatchupRangeFields[];
  /** Ids the sender holds that it learned the receiver lacks, at most {@link MAX_CATCHUP_MESSAGE_IDS}. */
  have: Uint8Array[];
}

/** Payload of CATCHUP_FETCH. */
export interface CatchupFetchPayload {
  /** The topic the ids are of. */
  topic: string;
  /** Correlation id chosen by the asker, echoed in the answer; 0..2^32-1. */
  requestId: number;
  /** The ids wanted, 1..{@link MAX_CATCHUP_FETCH_IDS}, no repeats. */
  ids: Uint8Array[];
}

/** Payload of CATCHUP_BODIES. */
export interface CatchupBodiesPayload {
  /** The topic of the fetch answered. */
  topic: string;
  /** The fetch's correlation id. */
  requestId: number;
  /**
   * Encoded envelopes of signed messages asked for, at most {@link MAX_CATCHUP_BODIES}, at most
   * {@link MAX_CATCHUP_BODY_BYTES} bytes in all.
   */
  bodies: Uint8Array[];
  /** Ids asked for that the sender no longer holds (retention dropped them), at most {@link MAX_CATCHUP_FETCH_IDS}. */
  missing: Uint8Array[];
}

/** Status codes of RELAY_RESERVATION and RELAY_CIRCUIT. */
export const RelayStatus = {
  /** Granted. */
  OK: 0,
  /** This node does not relay. */
  NOT_RELAYING: 1,
  /** A limit of the relay is reached (reservations, circuits). */
  RESOURCE_LIMIT: 2,
  /** The asker, or its IP, asks too often. */
  RATE_LIMITED: 3,
  /** The target holds no reservation here. */
  NO_RESERVATION: 4,
  /**
   * RELAY_CIRCUIT only, not a circuit: `observedAddress` is the address the relay sees `peer` at, sent to each
   * end (requestId 0, empty token) just before the circuit's own RELAY_CIRCUIT, so hole punching dials only
   * that host. An older kith reads it as a refusal of nothing it asked for, and ignores it.
   */
  PEER_ADDRESS: 5,
} as const;

/** Most addresses in one HOLE_PUNCH. */
export const MAX_PUNCH_ADDRESSES = 4;
/** Bytes of a relay circuit token. */
export const RELAY_TOKEN_BYTES = 16;

/** Payload of RELAY_RESERVE. */
export interface RelayReservePayload {
  /** Correlation id chosen by the asker, echoed in RELAY_RESERVATION; 0..2^32-1. */
  requestId: number;
}

/** Payload of RELAY_RESERVATION. */
export interface RelayReservationPayload {
  /** The RELAY_RESERVE's correlation id. */
  requestId: number;
  /** A {@link RelayStatus} code; unknown codes read as a refusal. */
  status: number;
  /** When the reservation ends, ms since the epoch (0 when refused). */
  expiresAt: number;
  /** The asker's address as the relay's socket sees it (`host:port`), or `""`. */
  observedAddress: string;
}

/** Payload of RELAY_CONNECT. */
export interface RelayConnectPayload {
  /** Correlation id chosen by the asker, echoed in its RELAY_CIRCUIT; 0..2^32-1. */
  requestId: number;
  /** The node to reach, 32 bytes: it must hold a reservation at this relay. */
  target: Uint8Array;
}

/** Payload of RELAY_CIRCUIT. */
export interface RelayCircuitPayload {
  /** The RELAY_CONNECT's correlation id (for the asker); 0 for the node reached. */
  requestId: number;
  /** A {@link RelayStatus} code; unknown codes read as a refusal. */
  status: number;
  /** 0: the receiver asked and opens its leg as the handshake's initiator; 1: it is reached, as responder. */
  role: number;
  /** The node at the circuit's other end, 32 bytes. */
  peer: Uint8Array;
  /** What the receiver's leg sends after the preamble magic: {@link RELAY_TOKEN_BYTES} bytes, empty when refused. */
  token: Uint8Array;
  /** The receiver's own address as the relay sees it (`host:port`), or `""`: what it offers to hole punching. */
  observedAddress: string;
  /** Most bytes the relay carries on the circuit, both directions together. */
  maxBytes: number;
  /** Longest the relay keeps the circuit, ms. */
  maxDurationMs: number;
}

/** Payload of HOLE_PUNCH. */
export interface HolePunchPayload {
  /** 0 CONNECT (the addresses; the answer echoes the kind), 1 SYNC (dial now), 2 CONNECT's answer. */
  kind: number;
  /** The attempt this belongs to (the answer and SYNC echo it); 0..2^32-1. */
  attempt: number;
  /** Where the sender will be reachable, `host:port`, at most {@link MAX_PUNCH_ADDRESSES}. */
  addresses: string[];
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
