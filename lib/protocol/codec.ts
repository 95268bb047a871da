/**
 * The envelope codec: encodes envelopes to their wire bytes and decodes
 * them strictly and within bounds, in two steps so a duplicate can be
 * dropped before its signature is checked. Every refusal is a
 * {@link ProtocolError} with a code.
 *
 * @module
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { bytesEqual, toHex } from "../bytes.ts";
import { isAcceptablePointEncoding, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, verifySignature } from "../ed25519.ts";
import { ProtocolError } from "../errors.ts";
import { DEFAULT_PROTOCOL_LIMITS, MAX_DIGEST_IDS, MAX_PEER_LIST, MAX_WIRE_TTL, type ProtocolLimits } from "./limits.ts";
import { computeMessageId, originOf } from "./message.ts";
import { badField, isMessageType, readPayload } from "./schema.ts";
import {
  type Envelope,
  LINK_AUTHENTICATED_TYPES,
  MAX_CATCHUP_MESSAGE_IDS,
  type Message,
  MESSAGE_TYPE_NAMES,
  MessageType,
  PROTOCOL_VERSION,
} from "./types.ts";

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

/** Bytes msgpack takes for a safe integer `n >= 0`: the shortest of fixint, uint 8, 16, 32 and 64. */
function uintBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

/** Bytes msgpack takes for a byte string of `n` bytes: bin 8, 16 or 32 header, then the bytes. */
function binBytes(n: number): number {
  return (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
}

function isFixint(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0 && n < 0x80;
}

/** Writes the low 32 bits of `n` big-endian at `o`. */
function writeU32(out: Uint8Array, o: number, n: number): void {
  out[o] = n >>> 24;
  out[o + 1] = n >>> 16;
  out[o + 2] = n >>> 8;
  out[o + 3] = n;
}

/** Writes `n` (a safe integer >= 0) at `o` as msgpack does; returns the offset after it. */
function writeUint(out: Uint8Array, o: number, n: number): number {
  if (n < 0x80) out[o++] = n;
  else if (n < 0x100) {
    out[o++] = 0xcc;
    out[o++] = n;
  } else if (n < 0x10000) {
    out[o++] = 0xcd;
    out[o++] = n >>> 8;
    out[o++] = n;
  } else if (n < 0x100000000) {
    out[o++] = 0xce;
    writeU32(out, o, n);
    o += 4;
  } else {
    out[o++] = 0xcf;
    writeU32(out, o, Math.floor(n / 0x100000000));
    writeU32(out, o + 4, n >>> 0);
    o += 8;
  }
  return o;
}

/** Writes `bytes` at `o` as a msgpack byte string; returns the offset after it. */
function writeBin(out: Uint8Array, o: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n < 0x100) {
    out[o++] = 0xc4;
    out[o++] = n;
  } else if (n < 0x10000) {
    out[o++] = 0xc5;
    out[o++] = n >>> 8;
    out[o++] = n;
  } else {
    out[o++] = 0xc6;
    writeU32(out, o, n);
    o += 4;
  }
  out.set(bytes, o);
  return o + n;
}

let wireScratch = new Uint8Array(4096);

/**
 * An envelope's wire bytes written directly, byte for byte what msgpack's encoder makes of
 * {@link wireFields} (a fixarray of 7), without its generic per-value dispatch: into a new array, or with
 * `shared` into a scratch buffer reused by the next call. `undefined` for fields outside the shape every
 * envelope kith makes has (version, type and TTL 0..127, a timestamp that is a safe integer >= 0, byte
 * strings): those go through msgpack itself.
 */
function writeEnvelope(envelope: Envelope, ttl: number, shared: boolean): Uint8Array | undefined {
  const { version, type, publicKey, timestamp, payloadBytes, signature } = envelope;
  if (
    !isFixint(version) || !isFixint(type) || !isFixint(ttl) || typeof timestamp !== "number" ||
    !Number.isSafeInteger(timestamp) || timestamp < 0 || !(publicKey instanceof Uint8Array) ||
    !(payloadBytes instanceof Uint8Array) || !(signature instanceof Uint8Array) || payloadBytes.length >= 0x100000000
  ) return undefined;
  const size = 4 + binBytes(publicKey.length) + uintBytes(timestamp) + binBytes(payloadBytes.length) +
    binBytes(signature.length);
  if (shared && wireScratch.length < size) wireScratch = new Uint8Array(Math.max(size, 2 * wireScratch.length));
  const out = shared ? wireScratch : new Uint8Array(size);
  out[0] = 0x97;
  out[1] = version;
  out[2] = type;
  let o = writeBin(out, 3, publicKey);
  o = writeUint(out, o, timestamp);
  out[o++] = ttl;
  o = writeBin(out, o, payloadBytes);
  o = writeBin(out, o, signature);
  return shared ? out.subarray(0, o) : out;
}

/**
 * Reads a msgpack unsigned integer at `o` in the forms msgpack writes a safe integer >= 0 (positive fixint, uint
 * 8, 16, 32, 64 up to 2^53 - 1): its value and the offset after it, in `readAt`; false for any other form, or
 * past the end.
 */
function readUint(bytes: Uint8Array, o: number, readAt: { value: number; next: number }): boolean {
  const b = bytes[o];
  if (b < 0x80) {
    readAt.value = b;
    readAt.next = o + 1;
    return true;
  }
  const size = b === 0xcc ? 1 : b === 0xcd ? 2 : b === 0xce ? 4 : b === 0xcf ? 8 : 0;
  if (size === 0 || o + 1 + size > bytes.length) return false;
  let value = 0;
  if (size === 8) {
    const high = ((bytes[o + 1] << 24) | (bytes[o + 2] << 16) | (bytes[o + 3] << 8) | bytes[o + 4]) >>> 0;
    if (high >= 0x200000) return false; // 2^53 or more: msgpack's own reading says what it is
    const low = ((bytes[o + 5] << 24) | (bytes[o + 6] << 16) | (bytes[o + 7] << 8) | bytes[o + 8]) >>> 0;
    value = high * 0x100000000 + low;
  } else for (let i = 1; i <= size; i++) value = value * 256 + bytes[o + i];
  readAt.value = value;
  readAt.next = o + 1 + size;
  return true;
}

/** Reads a msgpack byte string (bin 8, 16, 32) at `o` into `readAt` (its length; `next` after it), or false. */
function readBinHeader(bytes: Uint8Array, o: number, readAt: { value: number; next: number }): boolean {
  const b = bytes[o];
  const size = b === 0xc4 ? 1 : b === 0xc5 ? 2 : b === 0xc6 ? 4 : 0;
  if (size === 0 || o + 1 + size > bytes.length) return false;
  let length = 0;
  for (let i = 1; i <= size; i++) length = length * 256 + bytes[o + i];
  if (o + 1 + size + length > bytes.length) return false;
  readAt.value = length;
  readAt.next = o + 1 + size;
  return true;
}

const readAt = { value: 0, next: 0 };

/**
 * The seven fields of an envelope's wire bytes read directly when they have the shape kith writes (a fixarray
 * of 7: positive fixints for version and type, byte strings, unsigned integers for the timestamp and TTL, and
 * nothing after), as msgpack's decoder would read them (byte strings as views of `bytes`), without its generic
 * per-value dispatch; `undefined` for any other bytes, which then go through msgpack itself (and its errors).
 * The checks of the fields are the caller's, the same whichever way they were read.
 */
export function readEnvelopeFields(bytes: Uint8Array): unknown[] | undefined {
  if (bytes.length < 8 || bytes[0] !== 0x97 || bytes[1] >= 0x80 || bytes[2] >= 0x80) return undefined;
  if (!readBinHeader(bytes, 3, readAt)) return undefined;
  const publicKey = bytes.subarray(readAt.next, readAt.next + readAt.value);
  if (!readUint(bytes, readAt.next + readAt.value, readAt)) return undefined;
  const timestamp = readAt.value;
  if (!readUint(bytes, readAt.next, readAt)) return undefined;
  const ttl = readAt.value;
  if (!readBinHeader(bytes, readAt.next, readAt)) return undefined;
  const payloadBytes = bytes.subarray(readAt.next, readAt.next + readAt.value);
  if (!readBinHeader(bytes, readAt.next + readAt.value, readAt)) return undefined;
  const end = readAt.next + readAt.value;
  if (end !== bytes.length) return undefined;
  return [bytes[1], bytes[2], publicKey, timestamp, ttl, payloadBytes, bytes.subarray(readAt.next, end)];
}

// The topic name read last, and its bytes: a node's messages come in a few topics, so most payloads name the
// topic the one before named, and share its string (one string per topic, not one per message, hashed once
// for every map it is looked up in).
const lastTopicBytes = new Uint8Array(255);
let lastTopicLength = -1;
let lastTopic = "";

/** The ASCII string of `bytes[from, to)`, the last one's string when the bytes are the same; `undefined` if not ASCII. */
function asciiTopic(bytes: Uint8Array, from: number, to: number): string | undefined {
  const length = to - from;
  let same = length === lastTopicLength;
  for (let i = 0; i < length; i++) {
    const b = bytes[from + i];
    if (b >= 0x80) return undefined;
    if (same && lastTopicBytes[i] !== b) same = false;
  }
  if (same) return lastTopic;
  if (length > lastTopicBytes.length) {
    return String.fromCharCode.apply(null, bytes.subarray(from, to) as unknown as number[]);
  }
  lastTopicBytes.set(bytes.subarray(from, to));
  lastTopicLength = length;
  return lastTopic = String.fromCharCode.apply(null, bytes.subarray(from, to) as unknown as number[]);
}

/**
 * A CUSTOM_DATA payload's fields read directly when they have the shape kith writes (a fixarray of 2 or 3: an
 * ASCII topic as a fixstr or str 8, a byte string, and a fixarray of 32-byte byte strings), as msgpack's
 * decoder would read them (byte strings as views of `bytes`); `undefined` for any other bytes, which then go
 * through msgpack itself. The schema's checks of the fields are the caller's, the same either way.
 */
export function readApplicationPayload(bytes: Uint8Array): unknown[] | undefined {
  const fields = bytes[0] - 0x90;
  if (bytes.length < 3 || (fields !== 2 && fields !== 3)) return undefined;
  let o = 1;
  let length: number;
  const b = bytes[o];
  if (b >= 0xa0 && b <= 0xbf) {
    length = b - 0xa0;
    o += 1;
  } else if (b === 0xd9) {
    length = bytes[o + 1];
    o += 2;
  } else return undefined;
  if (o + length > bytes.length) return undefined;
  const topic = asciiTopic(bytes, o, o + length);
  if (topic === undefined) return undefined;
  if (!readBinHeader(bytes, o + length, readAt)) return undefined;
  const data = bytes.subarray(readAt.next, readAt.next + readAt.value);
  o = readAt.next + readAt.value;
  if (fields === 2) return o === bytes.length ? [topic, data] : undefined;
  const count = bytes[o] - 0x90;
  if (!(count >= 0 && count <= 15) || o + 1 + count * 34 !== bytes.length) return undefined;
  o++;
  const after: Uint8Array[] = [];
  for (let i = 0; i < count; i++, o += 34) {
    if (bytes[o] !== 0xc4 || bytes[o + 1] !== 32) return undefined;
    after.push(bytes.subarray(o + 2, o + 34));
  }
  return [topic, data, after];
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

/** Options of {@link MessageCodec.verifyFromLog}. */
export interface LogVerifyOptions {
  /** The oldest timestamp taken, ms since the epoch: the start of the retention window the message is fetched for. */
  notBefore: number;
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
  // The payload peekTopic decoded last, and what it decoded to: the full check of the same envelope, which
  // follows in the same turn, takes the value (once) instead of decoding the same bytes again.
  #peekedBytes: Uint8Array | undefined;
  #peekedValue: unknown;

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
      // The longest list any schema takes (a CATCHUP_RECONCILE's ids); each schema bounds its own lists after.
      maxArrayLength: Math.max(9, MAX_PEER_LIST, MAX_DIGEST_IDS, MAX_CATCHUP_MESSAGE_IDS),
      maxMapLength: 0,
      maxExtLength: 0,
    });
  }

  /** The wire bytes of an envelope (not framed). */
  encode(envelope: Envelope): Uint8Array {
    return writeEnvelope(envelope, envelope.ttl, false) ?? encoder.encode(wireFields(envelope));
  }

  /**
   * Passes the wire bytes of an envelope to `take` as a view of a buffer the next encoding reuses, valid
   * only during the call: `take` copies them where it wants them (a message store keeps them in shared
   * chunks, as a buffer each costs more than the bytes). With `ttl`, they carry that TTL instead of the
   * envelope's (a forwarded copy's), without a copy of the envelope to say so.
   */
  encodeWith<T>(envelope: Envelope, take: (shared: Uint8Array) => T, ttl: number = envelope.ttl): T {
    const written = writeEnvelope(envelope, ttl, true);
    if (written !== undefined) return take(written);
    return take(encoder.encodeSharedRef(wireFields(ttl === envelope.ttl ? envelope : { ...envelope, ttl })));
  }

  /** A payload's value: the one peekTopic decoded from these very bytes if it was the last, else decoded now. */
  #decodePayload(bytes: Uint8Array, type: number, name: string): unknown {
    if (bytes === this.#peekedBytes) {
      const value = this.#peekedValue;
      this.#peekedBytes = this.#peekedValue = undefined;
      return value;
    }
    return (type === MessageType.CUSTOM_DATA ? readApplicationPayload(bytes) : undefined) ??
      this.#decodeValue(bytes, `${name} payload`);
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
   * The topic a CUSTOM_DATA or GOSSIP_MESSAGE envelope names (`""` for none), read from its payload before
   * anything else is checked, so a node can hand it to its topic's overlay, or refuse it, before paying for
   * its signature. `undefined` when the payload does not decode or that field is not a string: the full
   * check then refuses it. The same decoder as the full check, so both read the same name.
   */
  peekTopic(envelope: Envelope): string | undefined {
    let value: unknown;
    this.#peekedBytes = this.#peekedValue = undefined;
    try {
      value = (envelope.type === MessageType.CUSTOM_DATA ? readApplicationPayload(envelope.payloadBytes) : undefined) ??
        this.#decoder.decode(envelope.payloadBytes);
    } catch {
      return undefined;
    }
    this.#peekedBytes = envelope.payloadBytes;
    this.#peekedValue = value;
    if (!Array.isArray(value)) return undefined;
    const topic = envelope.type === MessageType.CUSTOM_DATA
      ? value[0]
      : envelope.type === MessageType.GOSSIP_MESSAGE
      ? (value.length > 3 ? value[3] : "")
      : "";
    return typeof topic === "string" ? topic : undefined;
  }

  /**
   * Checks an envelope's structure, version, type, sizes and id; clamps its
   * TTL to `maxTtl`. Does not check the signature, timestamp or payload.
   *
   * @throws {ProtocolError}
   */
  parse(bytes: Uint8Array): Envelope {
    const value = readEnvelopeFields(bytes) ?? this.#decodeValue(bytes, "envelope");
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
    if (!isMessageType(type)) {
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
   * Checks a signed message fetched from a peer's topic log (catch-up), which may be older than live gossip's
   * `maxMessageAgeMs`: its timestamp must be at or after `options.notBefore` (the retention window it was
   * fetched for) and not beyond the clock skew; then everything {@link MessageCodec.verify} checks, with a
   * signature required (a log holds no link messages). Live gossip never comes this way: its freshness rule
   * stays as it is.
   *
   * @throws {ProtocolError} `STALE_TIMESTAMP` before the window, `UNSIGNED` without a signature, or as `verify`
   */
  verifyFromLog(envelope: Envelope, now: number, options: LogVerifyOptions): Message {
    if (envelope.signature.length === 0) {
      throw new ProtocolError("UNSIGNED", "a message from a topic log must be signed");
    }
    if (envelope.timestamp < options.notBefore) {
      throw new ProtocolError(
        "STALE_TIMESTAMP",
        `message is ${options.notBefore - envelope.timestamp} ms before the window`,
      );
    }
    // Only the window differs from verify(): the future bound and every other check are the same.
    const message = this.#checkAllButSignature(envelope, now, {}, options.notBefore);
    if (!verifySignature(envelope.signature, envelope.id, envelope.publicKey)) {
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
    return this.#checkAllButSignature(envelope, now, options, now - this.limits.maxMessageAgeMs);
  }

  /** The checks of {@link MessageCodec.verifyAllButSignature}, with the oldest timestamp taken as `notBefore`. */
  #checkAllButSignature(envelope: Envelope, now: number, options: VerifyOptions, notBefore: number): Message {
    if (envelope.timestamp < notBefore) {
      throw new ProtocolError("STALE_TIMESTAMP", `message is ${now - envelope.timestamp} ms old`);
    }
    if (envelope.timestamp > now + this.limits.maxClockSkewMs) {
      throw new ProtocolError("FUTURE_TIMESTAMP", `message is ${envelope.timestamp - now} ms in the future`);
    }
    if (!bytesEqual(envelope.origin, originOf(envelope.publicKey))) {
      throw new ProtocolError("ORIGIN_MISMATCH", "origin is not the SHA-256 of the public key");
    }
    const name = MESSAGE_TYPE_NAMES[envelope.type];
    const payload = readPayload(envelope.type, this.#decodePayload(envelope.payloadBytes, envelope.type, name));
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
