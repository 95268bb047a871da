/**
 * The wire protocol: message types, their payload schemas, and the signed
 * envelope that carries them. docs/protocol.md is the specification; this
 * module is its reference implementation.
 *
 * An envelope is a MessagePack array of seven elements:
 *
 * ```
 * [version, type, publicKey, timestamp, ttl, payload, signature]
 * ```
 *
 * `payload` is the MessagePack encoding of the type's payload schema (a
 * positional array), carried as a byte string so that the signed bytes are
 * exactly the bytes on the wire. The origin (node id) is the SHA-256 of the
 * public key, and the message id the SHA-256 of everything but the TTL and
 * the signature; neither is sent, the receiver computes both. The origin
 * signs the id; each hop decrements the TTL without touching the signature.
 *
 * Decoding is strict and bounded: every refusal is a {@link ProtocolError}
 * with a code, and no length read from the wire allocates more than the
 * configured limits.
 *
 * @module
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { parseHostPort } from "./address.ts";
import { bytesEqual, bytesKey, sha256, toHex } from "./bytes.ts";
import { isAcceptablePointEncoding, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, verifySignature } from "./ed25519.ts";
import { ProtocolError } from "./errors.ts";
import type { Identity } from "./identity.ts";

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
 * already prove who sent them, so an Ed25519 signature would add about 37 µs
 * of CPU and 64 bytes to every digest and heartbeat and prove nothing more.
 * Everything that travels further than one hop (CUSTOM_DATA, TRUST_UPDATE,
 * ...) and everything in a handshake stays signed.
 */
export const LINK_AUTHENTICATED_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  MessageType.PEER_DISCOVERY,
  MessageType.PEER_ANNOUNCEMENT,
  MessageType.HEARTBEAT,
  MessageType.GOSSIP_MESSAGE,
]);

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

/** Payload of PEER_DISCOVERY and TRUSTED_PEERS_REQUEST. */
export interface PeerListRequestPayload {
  /** How many entries the sender wants, 1..{@link MAX_PEER_LIST}. */
  limit: number;
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

/** Payload of TRUSTED_PEERS_RESPONSE. */
export interface TrustedPeersResponsePayload {
  /** At most {@link MAX_PEER_LIST} nodes with the sender's trust in them. */
  peers: TrustRecord[];
}

/** The payload type of each message type. */
export interface PayloadByType {
  /** HANDSHAKE */
  1: HandshakePayload;
  /** HANDSHAKE_ACK */
  2: HandshakeAckPayload;
  /** DISCONNECT */
  3: DisconnectPayload;
  /** PEER_DISCOVERY */
  4: PeerListRequestPayload;
  /** PEER_ANNOUNCEMENT */
  5: PeerAnnouncementPayload;
  /** HEARTBEAT */
  6: HeartbeatPayload;
  /** GOSSIP_MESSAGE */
  7: GossipDigestPayload;
  /** CUSTOM_DATA */
  8: ApplicationPayload;
  /** TRUST_UPDATE */
  9: TrustUpdatePayload;
  /** TRUSTED_PEERS_REQUEST */
  10: PeerListRequestPayload;
  /** TRUSTED_PEERS_RESPONSE */
  11: TrustedPeersResponsePayload;
  /** HANDSHAKE_CONFIRM */
  12: HandshakeConfirmPayload;
}

/** Longest peer list in any message. */
export const MAX_PEER_LIST = 64;
/** Longest topic, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 255;
/** Most message ids in one list of a GOSSIP_MESSAGE digest. */
export const MAX_DIGEST_IDS = 256;

type Field =
  | { name: string; kind: "uint"; max: number }
  | { name: string; kind: "bytes"; length: number }
  | { name: string; kind: "blob" }
  | { name: string; kind: "text"; maxBytes: number }
  | { name: string; kind: "bool" }
  // A boolean that may be left off the end of a record: absent reads as false, and false is never written,
  // so a field added this way leaves older encodings valid and unchanged.
  | { name: string; kind: "flag" }
  | { name: string; kind: "fraction" }
  | { name: string; kind: "address"; optional: boolean }
  | { name: string; kind: "list"; max: number; of: readonly Field[] }
  | { name: string; kind: "ids"; max: number };

const PEER_RECORD: readonly Field[] = [
  { name: "nodeId", kind: "bytes", length: 32 },
  { name: "address", kind: "address", optional: false },
  { name: "lastSeen", kind: "uint", max: Number.MAX_SAFE_INTEGER },
];
const TRUST_RECORD: readonly Field[] = [
  { name: "nodeId", kind: "bytes", length: 32 },
  { name: "trust", kind: "fraction" },
];
const HANDSHAKE_FIELDS: readonly Field[] = [
  { name: "networkId", kind: "text", maxBytes: 64 },
  { name: "nonce", kind: "bytes", length: 32 },
  { name: "ephemeralKey", kind: "bytes", length: 32 },
  { name: "listenAddress", kind: "address", optional: true },
  { name: "agent", kind: "text", maxBytes: 64 },
];
const APPLICATION_FIELDS: readonly Field[] = [
  { name: "topic", kind: "text", maxBytes: MAX_TOPIC_BYTES },
  { name: "data", kind: "blob" },
];
const LIMIT_FIELDS: readonly Field[] = [{ name: "limit", kind: "uint", max: MAX_PEER_LIST }];

/** Payload schema of each type: the positional fields of its MessagePack array. */
const SCHEMAS: Readonly<Record<MessageType, readonly Field[]>> = {
  1: HANDSHAKE_FIELDS,
  2: [
    ...HANDSHAKE_FIELDS,
    { name: "handshakeId", kind: "bytes", length: 32 },
    { name: "peers", kind: "list", max: MAX_PEER_LIST, of: PEER_RECORD },
  ],
  3: [{ name: "reason", kind: "uint", max: 65535 }, { name: "detail", kind: "text", maxBytes: 256 }],
  4: LIMIT_FIELDS,
  5: [{ name: "peers", kind: "list", max: MAX_PEER_LIST, of: PEER_RECORD }],
  6: [{ name: "seq", kind: "uint", max: Number.MAX_SAFE_INTEGER }, { name: "reply", kind: "bool" }],
  7: [
    { name: "have", kind: "ids", max: MAX_DIGEST_IDS },
    { name: "want", kind: "ids", max: MAX_DIGEST_IDS },
    { name: "prune", kind: "flag" },
  ],
  8: APPLICATION_FIELDS,
  9: [{ name: "subject", kind: "bytes", length: 32 }, { name: "trust", kind: "fraction" }],
  10: LIMIT_FIELDS,
  11: [{ name: "peers", kind: "list", max: MAX_PEER_LIST, of: TRUST_RECORD }],
  12: [{ name: "ackId", kind: "bytes", length: 32 }],
};

function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function badField(path: string, why: string): ProtocolError {
  return new ProtocolError("BAD_FIELD", `${path}: ${why}`);
}

/** Checks one decoded value against its field spec; returns the typed value. */
function readField(field: Field, value: unknown, path: string): unknown {
  switch (field.kind) {
    case "uint":
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > field.max) {
        throw badField(path, `expected an integer in 0..${field.max}`);
      }
      return value;
    case "bytes":
      if (!(value instanceof Uint8Array) || value.length !== field.length) {
        throw badField(path, `expected ${field.length} bytes`);
      }
      return value;
    case "blob":
      if (!(value instanceof Uint8Array)) throw badField(path, "expected bytes");
      return value;
    case "text":
      if (typeof value !== "string" || utf8Length(value) > field.maxBytes) {
        throw badField(path, `expected a string of at most ${field.maxBytes} bytes`);
      }
      return value;
    case "bool":
    case "flag":
      if (typeof value !== "boolean") throw badField(path, "expected a boolean");
      return value;
    case "fraction":
      if (typeof value !== "number" || !(value >= 0 && value <= 1)) throw badField(path, "expected a number in [0, 1]");
      return value;
    case "address":
      if (typeof value !== "string") throw badField(path, "expected an address string");
      if (value === "" && field.optional) return value;
      if (parseHostPort(value) === undefined) throw badField(path, "expected host:port");
      return value;
    case "ids": {
      if (!Array.isArray(value) || value.length > field.max) {
        throw badField(path, `expected a list of at most ${field.max} ids`);
      }
      for (const id of value) {
        if (!(id instanceof Uint8Array) || id.length !== 32) throw badField(path, "expected 32-byte ids");
      }
      return value;
    }
    case "list": {
      if (!Array.isArray(value) || value.length > field.max) {
        throw badField(path, `expected a list of at most ${field.max} entries`);
      }
      return value.map((item, i) => readRecord(field.of, item, `${path}[${i}]`));
    }
  }
}

/** Fields a record must carry: all but the trailing flags. */
function requiredFields(fields: readonly Field[]): number {
  let n = fields.length;
  while (n > 0 && fields[n - 1].kind === "flag") n--;
  return n;
}

function readRecord(fields: readonly Field[], value: unknown, path: string): Record<string, unknown> {
  const required = requiredFields(fields);
  if (!Array.isArray(value) || value.length < required || value.length > fields.length) {
    throw badField(
      path,
      required === fields.length
        ? `expected an array of ${fields.length} fields`
        : `expected an array of ${required} to ${fields.length} fields`,
    );
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    out[fields[i].name] = i < value.length ? readField(fields[i], value[i], `${path}.${fields[i].name}`) : false;
  }
  return out;
}

function writeRecord(fields: readonly Field[], value: Record<string, unknown>, path: string): unknown[] {
  const out = fields.map((field) => {
    const v = value[field.name];
    if (field.kind === "flag") return v ?? false;
    if (field.kind === "list") {
      if (!Array.isArray(v)) throw badField(`${path}.${field.name}`, "expected a list");
      return v.map((item, i) => writeRecord(field.of, item as Record<string, unknown>, `${path}.${field.name}[${i}]`));
    }
    return v;
  });
  let length = out.length;
  while (length > requiredFields(fields) && out[length - 1] === false) length--;
  return out.slice(0, length);
}

/** Limits applied when decoding. Every field is a bound an attacker cannot exceed. */
export interface ProtocolLimits {
  /** Largest encoded payload accepted, in bytes. Default 256 KiB; must fit the frame size. */
  maxPayloadBytes: number;
  /** Received TTLs above this are clamped to it. Default 16. */
  maxTtl: number;
  /** Oldest acceptable timestamp, ms before now. Default 5 minutes; the dedup window must cover it. */
  maxMessageAgeMs: number;
  /** Furthest acceptable timestamp, ms after now (clock skew). Default 30 seconds. */
  maxClockSkewMs: number;
}

/** The default {@link ProtocolLimits}. */
export const DEFAULT_PROTOCOL_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxPayloadBytes: 256 * 1024,
  maxTtl: 16,
  maxMessageAgeMs: 5 * 60_000,
  maxClockSkewMs: 30_000,
});

/** Largest TTL the wire format carries. */
export const MAX_WIRE_TTL = 255;

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

const MESSAGE_DOMAIN = new TextEncoder().encode("kith-msg\0");
const HEADER_LENGTH = MESSAGE_DOMAIN.length + 2 + 32 + 32 + 8;
// The id preimage's header, reused: it is hashed at once (synchronously), and a buffer of 83 bytes per
// envelope parsed is an off-heap allocation (V8 keeps only typed arrays of up to 64 bytes on its heap).
const idHeader = new Uint8Array(HEADER_LENGTH);
idHeader.set(MESSAGE_DOMAIN);
const idHeaderView = new DataView(idHeader.buffer);

/**
 * The message id: SHA-256 of the domain tag, version, type, origin, public
 * key, big-endian 64-bit timestamp and payload bytes.
 */
export function computeMessageId(
  version: number,
  type: number,
  origin: Uint8Array,
  publicKey: Uint8Array,
  timestamp: number,
  payloadBytes: Uint8Array,
): Uint8Array {
  let o = MESSAGE_DOMAIN.length;
  idHeader[o++] = version;
  idHeader[o++] = type;
  idHeader.set(origin, o);
  o += 32;
  idHeader.set(publicKey, o);
  o += 32;
  idHeaderView.setUint32(o, Math.floor(timestamp / 2 ** 32));
  idHeaderView.setUint32(o + 4, timestamp >>> 0);
  return sha256(idHeader, payloadBytes);
}

const encoder = new Encoder();

/**
 * An envelope's fields as sent. The id and the origin are not sent: the receiver computes both (it must
 * check them anyway), which saves 68 of about 470 bytes per copy of a small message.
 */
function wireFields(envelope: Envelope): unknown[] {
  return [
    envelope.version,
    envelope.type,
    envelope.publicKey,
    envelope.timestamp,
    envelope.ttl,
    envelope.payloadBytes,
    envelope.signature,
  ];
}

/** Encodes a payload for `type` by its schema. @throws {ProtocolError} when it does not fit the schema. */
export function encodePayload<T extends MessageType>(type: T, payload: PayloadByType[T]): Uint8Array {
  const schema = SCHEMAS[type];
  if (schema === undefined) throw new ProtocolError("UNKNOWN_TYPE", `unknown message type ${type}`);
  const positional = writeRecord(schema, payload as unknown as Record<string, unknown>, MESSAGE_TYPE_NAMES[type]);
  // Validate what we send exactly as a receiver would.
  readRecord(schema, positional, MESSAGE_TYPE_NAMES[type]);
  return encoder.encode(positional);
}

/** Options of {@link createMessage}. */
export interface CreateMessageOptions {
  /** Hops the message may travel; default 8. */
  ttl?: number;
  /** Creation time in ms since the epoch; default `Date.now()`. */
  timestamp?: number;
}

/**
 * Creates and signs a message from `identity`.
 *
 * @example
 * ```ts
 * import { Identity } from "./identity.ts";
 * import { createMessage, MessageCodec, MessageType } from "./protocol.ts";
 * const me = Identity.generate();
 * const msg = createMessage(me, MessageType.CUSTOM_DATA, { topic: "chat", data: new Uint8Array([1]) });
 * const codec = new MessageCodec();
 * const back = codec.decode(codec.encode(msg), Date.now());
 * if (back.type === MessageType.CUSTOM_DATA) console.log(back.payload.topic); // "chat"
 * ```
 */
export function createMessage<T extends MessageType>(
  identity: Identity,
  type: T,
  payload: PayloadByType[T],
  options: CreateMessageOptions = {},
): Message<T> {
  const ttl = options.ttl ?? 8;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_WIRE_TTL) throw new RangeError(`ttl must be 0..${MAX_WIRE_TTL}`);
  return buildMessage(identity, type, payload, options.timestamp, ttl, (id) => identity.sign(id));
}

/** A message from `identity` with its id computed; `sign` gives its signature. */
function buildMessage<T extends MessageType>(
  identity: Identity,
  type: T,
  payload: PayloadByType[T],
  timestamp = Date.now(),
  ttl: number,
  sign: (id: Uint8Array) => Uint8Array,
): Message<T> {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError(`bad timestamp ${timestamp}`);
  const payloadBytes = encodePayload(type, payload);
  const id = computeMessageId(
    PROTOCOL_VERSION,
    type,
    identity.nodeIdBytes,
    identity.publicKey,
    timestamp,
    payloadBytes,
  );
  return {
    version: PROTOCOL_VERSION,
    type,
    id,
    origin: identity.nodeIdBytes,
    publicKey: identity.publicKey,
    timestamp,
    ttl,
    payloadBytes,
    signature: sign(id),
    payload,
  } as Envelope & { type: T; payload: PayloadByType[T] } as Message<T>;
}

const NO_SIGNATURE = new Uint8Array(0);

/**
 * Origins of recently seen public keys: every received copy needs its origin (SHA-256 of the key), and a
 * node sees the same keys again and again. Bounded, as peers choose which keys we see.
 */
const ORIGIN_CACHE_LIMIT = 8192;
const originCache = new Map<string, Uint8Array>();

/** The node id of a public key: its SHA-256. */
function originOf(publicKey: Uint8Array): Uint8Array {
  const key = bytesKey(publicKey);
  let origin = originCache.get(key);
  if (origin === undefined) {
    origin = sha256(publicKey);
    if (originCache.size >= ORIGIN_CACHE_LIMIT) originCache.delete(originCache.keys().next().value!);
    originCache.set(key, origin);
  }
  return origin;
}

/**
 * Creates an unsigned link message from `identity` (TTL 0) for one of the
 * {@link LINK_AUTHENTICATED_TYPES}. Send it only on an established session:
 * a receiver accepts it only from the session's own peer
 * ({@link VerifyOptions.linkPeer}).
 *
 * @throws {RangeError} when `type` is not link-authenticated
 */
export function createLinkMessage<T extends MessageType>(
  identity: Identity,
  type: T,
  payload: PayloadByType[T],
  options: { timestamp?: number } = {},
): Message<T> {
  if (!LINK_AUTHENTICATED_TYPES.has(type)) {
    throw new RangeError(`${MESSAGE_TYPE_NAMES[type] ?? type} cannot be sent as an unsigned link message`);
  }
  return buildMessage(identity, type, payload, options.timestamp, 0, () => NO_SIGNATURE);
}

/** Options of {@link MessageCodec.verify}. */
export interface VerifyOptions {
  /**
   * Node id (hex) of the authenticated session the envelope arrived on. Only
   * with it is an unsigned link message accepted, and only when its origin is
   * that peer, its TTL is 0 and its type is one of
   * {@link LINK_AUTHENTICATED_TYPES}; otherwise a missing signature is `UNSIGNED`.
   */
  linkPeer?: string;
}

/**
 * Encodes, parses and verifies envelopes under one set of limits.
 *
 * Decoding is split so a node can drop a duplicate before paying for its
 * signature: {@link MessageCodec.parse} checks structure and id (cheap),
 * {@link MessageCodec.verify} checks timestamp, origin, payload and
 * signature; {@link MessageCodec.decode} does both.
 */
export class MessageCodec {
  /** The limits in force. */
  readonly limits: Readonly<ProtocolLimits>;
  readonly #decoder: Decoder;

  /**
   * Creates a codec.
   *
   * @param limits overrides of {@link DEFAULT_PROTOCOL_LIMITS}
   * @throws {RangeError} when a limit is negative, fractional or out of range
   */
  constructor(limits: Partial<ProtocolLimits> = {}) {
    const merged = { ...DEFAULT_PROTOCOL_LIMITS, ...limits };
    for (const [key, value] of Object.entries(merged)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`protocol limit ${key} must be a non-negative integer`);
      }
    }
    if (merged.maxTtl > MAX_WIRE_TTL) throw new RangeError(`protocol limit maxTtl must be at most ${MAX_WIRE_TTL}`);
    this.limits = Object.freeze(merged);
    this.#decoder = new Decoder({
      maxStrLength: 1024,
      // Byte strings are views into the input, never copies, so their bound
      // is the frame itself; the payload limit is checked in parse() with
      // its own error code.
      maxBinLength: 0x7fffffff,
      maxArrayLength: Math.max(9, MAX_PEER_LIST, MAX_DIGEST_IDS),
      maxMapLength: 0,
      maxExtLength: 0,
    });
  }

  /** The wire bytes of an envelope (not framed). */
  encode(envelope: Envelope): Uint8Array {
    return encoder.encode(wireFields(envelope));
  }

  /**
   * Passes the wire bytes of an envelope to `take` as a view of the encoder's own buffer, valid only
   * during the call: `take` copies them where it wants them (a message store keeps them in shared chunks,
   * as a buffer each costs more than the bytes).
   */
  encodeWith<T>(envelope: Envelope, take: (shared: Uint8Array) => T): T {
    return take(encoder.encodeSharedRef(wireFields(envelope)));
  }

  #decodeValue(bytes: Uint8Array, what: string): unknown {
    try {
      return this.#decoder.decode(bytes);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ProtocolError("MALFORMED", `${what} is not valid MessagePack: ${reason}`);
    }
  }

  /**
   * Checks an envelope's structure, version, type, sizes and id; clamps its
   * TTL to `maxTtl`. Does not check the signature, timestamp or payload.
   *
   * @throws {ProtocolError}
   */
  parse(bytes: Uint8Array): Envelope {
    const value = this.#decodeValue(bytes, "envelope");
    if (!Array.isArray(value) || value.length === 0) {
      throw new ProtocolError("BAD_FIELD", "envelope: expected an array of 7 fields");
    }
    // The version first, so a node of another version gets UNSUPPORTED_VERSION, not a field error.
    const version = value[0];
    if (typeof version !== "number" || !Number.isInteger(version)) {
      throw badField("envelope.version", "expected an integer");
    }
    if (version !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        "UNSUPPORTED_VERSION",
        `protocol version ${version} is not supported (this node speaks ${PROTOCOL_VERSION})`,
      );
    }
    if (value.length !== 7) throw new ProtocolError("BAD_FIELD", "envelope: expected an array of 7 fields");
    const [, type, publicKey, timestamp, ttl, payloadBytes, signature] = value;
    if (typeof type !== "number" || !Number.isInteger(type)) throw badField("envelope.type", "expected an integer");
    if (SCHEMAS[type as MessageType] === undefined) {
      throw new ProtocolError("UNKNOWN_TYPE", `unknown message type ${type}`);
    }
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) {
      throw badField("envelope.publicKey", "expected 32 bytes");
    }
    if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw badField("envelope.timestamp", "expected a non-negative integer");
    }
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_WIRE_TTL) {
      throw badField("envelope.ttl", `expected an integer in 0..${MAX_WIRE_TTL}`);
    }
    if (!(payloadBytes instanceof Uint8Array)) throw badField("envelope.payload", "expected bytes");
    if (payloadBytes.length > this.limits.maxPayloadBytes) {
      throw new ProtocolError(
        "PAYLOAD_TOO_LARGE",
        `payload of ${payloadBytes.length} bytes exceeds ${this.limits.maxPayloadBytes}`,
      );
    }
    if (!(signature instanceof Uint8Array) || (signature.length !== SIGNATURE_LENGTH && signature.length !== 0)) {
      throw badField("envelope.signature", "expected 64 bytes (or none, for a link message)");
    }
    const origin = originOf(publicKey);
    const id = computeMessageId(version, type, origin, publicKey, timestamp, payloadBytes);
    return {
      version,
      type: type as MessageType,
      id,
      origin,
      publicKey,
      timestamp,
      ttl: Math.min(ttl, this.limits.maxTtl),
      payloadBytes,
      signature,
    };
  }

  /**
   * Checks a parsed envelope's timestamp against `now`, its origin against
   * its public key, its payload against the type's schema, and its
   * signature; returns it with the decoded payload.
   *
   * @param now the receiver's clock, ms since the epoch
   * @param options where the envelope came from (to accept unsigned link messages)
   * @throws {ProtocolError}
   */
  verify(envelope: Envelope, now: number, options: VerifyOptions = {}): Message {
    const message = this.verifyAllButSignature(envelope, now, options);
    if (envelope.signature.length !== 0 && !verifySignature(envelope.signature, envelope.id, envelope.publicKey)) {
      throw new ProtocolError("BAD_SIGNATURE", "signature does not verify");
    }
    return message;
  }

  /**
   * Everything {@link MessageCodec.verify} checks except the signature itself, for a caller that checks
   * signatures elsewhere (on a helper thread). An unsigned envelope is accepted here only as
   * `verify` accepts it (a link message from the session's own peer); a signed one must then have its
   * signature over `envelope.id` checked before it is used.
   *
   * @throws {ProtocolError}
   */
  verifyAllButSignature(envelope: Envelope, now: number, options: VerifyOptions = {}): Message {
    if (envelope.timestamp < now - this.limits.maxMessageAgeMs) {
      throw new ProtocolError("STALE_TIMESTAMP", `message is ${now - envelope.timestamp} ms old`);
    }
    if (envelope.timestamp > now + this.limits.maxClockSkewMs) {
      throw new ProtocolError("FUTURE_TIMESTAMP", `message is ${envelope.timestamp - now} ms in the future`);
    }
    if (!bytesEqual(envelope.origin, originOf(envelope.publicKey))) {
      throw new ProtocolError("ORIGIN_MISMATCH", "origin is not the SHA-256 of the public key");
    }
    const name = MESSAGE_TYPE_NAMES[envelope.type];
    const payload = readRecord(
      SCHEMAS[envelope.type],
      this.#decodeValue(envelope.payloadBytes, `${name} payload`),
      name,
    );
    if (!isAcceptablePointEncoding(envelope.publicKey)) {
      throw new ProtocolError("BAD_PUBLIC_KEY", "origin public key is not an acceptable Ed25519 key");
    }
    if (envelope.signature.length === 0) {
      if (
        options.linkPeer === undefined || envelope.ttl !== 0 || !LINK_AUTHENTICATED_TYPES.has(envelope.type) ||
        toHex(envelope.origin) !== options.linkPeer
      ) {
        throw new ProtocolError(
          "UNSIGNED",
          `unsigned ${name} accepted only as a TTL 0 link message from the session's own peer`,
        );
      }
    }
    return { ...envelope, payload } as unknown as Message;
  }

  /**
   * {@link MessageCodec.parse} then {@link MessageCodec.verify}.
   *
   * @param bytes one frame body
   * @param now the receiver's clock, ms since the epoch
   * @param options as for {@link MessageCodec.verify}
   * @throws {ProtocolError}
   */
  decode(bytes: Uint8Array, now: number, options: VerifyOptions = {}): Message {
    return this.verify(this.parse(bytes), now, options);
  }
}
