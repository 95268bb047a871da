/**
 * The payloads of the services' message types, as decoded, and their bounds: the DHT, catch-up, relaying and
 * hole punching, observed addresses and dial-backs. Types and constants only; `types.ts` maps each type code to
 * its payload.
 *
 * @module
 */
import type { PeerRecord } from "./payloads.ts";

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
