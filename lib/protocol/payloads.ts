/**
 * The payloads of the protocol's own message types, as decoded: handshakes, DISCONNECT, peer lists, heartbeats,
 * gossip digests, application messages, trust, direct messages, requests and topic subscriptions (the services'
 * payloads are in `service_payloads.ts`). Types and constants only; `types.ts` maps each type code to its payload.
 *
 * @module
 */
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

/** Payload of TRUSTED_PEERS_RESPONSE. */
export interface TrustedPeersResponsePayload {
  /** At most {@link MAX_PEER_LIST} nodes with the sender's trust in them. */
  peers: TrustRecord[];
}
