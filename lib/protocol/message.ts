/**
 * Building messages: the message id (what the origin signs), signed
 * messages from an identity, unsigned link messages for an established
 * session, and the origin (node id) of a public key.
 *
 * @module
 */
import { bytesEqual, bytesKey, sha256, toHex } from "../bytes.ts";
import type { Identity } from "../identity.ts";
import { KeyQueue } from "../key_queue.ts";
import { MAX_WIRE_TTL } from "./limits.ts";
import { encodePayload } from "./schema.ts";
import {
  type Envelope,
  LINK_AUTHENTICATED_TYPES,
  type Message,
  MESSAGE_TYPE_NAMES,
  type MessageType,
  type PayloadByType,
  PROTOCOL_VERSION,
} from "./types.ts";

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
 * import { Identity } from "../identity.ts";
 * import { createMessage, MessageCodec, MessageType } from "./mod.ts";
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
// The cache's keys in insertion order: taking the oldest from the Map itself walks past its deleted entries.
const originOrder = new KeyQueue<string>();

// The last key asked for and its origin: an envelope's origin is asked for when it is parsed and again when it
// is checked, in one turn, and comparing 32 bytes costs less than the cache's string key and lookup.
const lastPublicKey = new Uint8Array(32);
let lastOrigin: Uint8Array | undefined;

/** The node id of a public key: its SHA-256. */
export function originOf(publicKey: Uint8Array): Uint8Array {
  const last = publicKey.length === 32 && lastOrigin !== undefined && bytesEqual(publicKey, lastPublicKey)
    ? lastOrigin
    : undefined;
  if (last !== undefined) return last;
  const origin = cachedOriginOf(publicKey);
  if (publicKey.length === 32) {
    lastPublicKey.set(publicKey);
    lastOrigin = origin;
  }
  return origin;
}

function cachedOriginOf(publicKey: Uint8Array): Uint8Array {
  const key = bytesKey(publicKey);
  let origin = originCache.get(key);
  if (origin === undefined) {
    origin = sha256(publicKey);
    if (originCache.size >= ORIGIN_CACHE_LIMIT) originCache.delete(originOrder.shift()!);
    originCache.set(key, origin);
    originOrder.push(key);
  }
  return origin;
}

// Origin arrays -> their hex. The codec hands out one origin array per public key (the cache above), so every
// message of an origin shares one string instead of making its own at each step of the message path.
const originHexes = new WeakMap<Uint8Array, string>();

/**
 * The lowercase hex of an origin (a node id), shared by every caller that passes the same array: one string
 * per origin, not one per message. The array must not change afterwards (origins never do).
 */
export function originHex(origin: Uint8Array): string {
  let hex = originHexes.get(origin);
  if (hex === undefined) {
    hex = toHex(origin);
    originHexes.set(origin, hex);
  }
  return hex;
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
