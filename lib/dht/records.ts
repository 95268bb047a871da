/**
 * The DHT's signed records (as BitTorrent's BEP 44 mutable items and IPNS): a value of at most 1 KiB under a
 * name, owned by an Ed25519 key, with a sequence number and an expiry. Its key in the DHT is
 * SHA-256(owner's public key || name), so only the owner can make a record under it; a higher sequence number
 * replaces a lower one, and a record is refused once expired.
 *
 * What is signed: the domain tag `kith-dht-record/1`, then the MessagePack array
 * `[publicKey, name, seq, expiresAt, value]`. Checks run cheapest first: sizes and ranges, then the key
 * derivation, the expiry against the clock, and the signature last.
 *
 * @module
 */
import { Encoder } from "@msgpack/msgpack";
import { concatBytes, sha256 } from "../bytes.ts";
import { isAcceptablePointEncoding, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, verifySignature } from "../ed25519.ts";
import { KithError } from "../errors.ts";
import type { Identity } from "../identity.ts";

/** Largest record value, bytes. */
export const MAX_RECORD_VALUE_BYTES = 1024;
/** Longest record name, UTF-8 bytes. */
export const MAX_RECORD_NAME_BYTES = 64;
/** Longest a record may live, from its signing, ms: a day; owners republish to keep one longer. */
export const MAX_RECORD_LIFETIME_MS = 24 * 60 * 60_000;

const DOMAIN = new TextEncoder().encode("kith-dht-record/1");
const encoder = new Encoder();

/** A signed record. */
export interface SignedRecord {
  /** The owner's Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** Its name, 1..64 bytes of UTF-8, chosen by the owner. */
  name: string;
  /** The value, at most {@link MAX_RECORD_VALUE_BYTES} bytes. */
  value: Uint8Array;
  /** Sequence number, 0..2^53-1: a higher one replaces a lower one. */
  seq: number;
  /** When it expires, ms since the epoch. */
  expiresAt: number;
  /** The owner's signature, 64 bytes. */
  signature: Uint8Array;
}

/** A record was refused: `BAD_RECORD` (malformed), `EXPIRED`, `BAD_SIGNATURE`, `WRONG_KEY`. */
export class RecordError extends KithError {
  /** Creates the error with its code and a line saying why. */
  constructor(code: "BAD_RECORD" | "EXPIRED" | "BAD_SIGNATURE" | "WRONG_KEY", message: string) {
    super(code, message);
    this.name = "RecordError";
  }
}

/** The DHT key of `name` owned by `publicKey`: SHA-256(publicKey || UTF-8 name). */
export function recordKey(publicKey: Uint8Array, name: string): Uint8Array {
  return sha256(publicKey, new TextEncoder().encode(name));
}

/** The DHT key a topic's providers are kept under: SHA-256 of `kith-topic/1` and the topic name. */
export function topicKey(topic: string): Uint8Array {
  return sha256(new TextEncoder().encode("kith-topic/1\0"), new TextEncoder().encode(topic));
}

function signedBytes(record: Omit<SignedRecord, "signature">): Uint8Array {
  return concatBytes(
    DOMAIN,
    encoder.encode([record.publicKey, record.name, record.seq, record.expiresAt, record.value]),
  );
}

/**
 * Makes and signs a record of `identity`'s.
 *
 * @throws {RecordError} `BAD_RECORD` when the name or value is out of bounds, or the lifetime is over a day
 */
export function signRecord(
  identity: Identity,
  name: string,
  value: Uint8Array,
  seq: number,
  now: number,
  lifetimeMs: number,
): SignedRecord {
  const unsigned = { publicKey: identity.publicKey, name, value, seq, expiresAt: now + lifetimeMs };
  checkShape(unsigned);
  if (!(lifetimeMs > 0 && lifetimeMs <= MAX_RECORD_LIFETIME_MS)) {
    throw new RecordError("BAD_RECORD", `a record lives 1 ms to ${MAX_RECORD_LIFETIME_MS} ms, not ${lifetimeMs}`);
  }
  return { ...unsigned, signature: identity.sign(signedBytes(unsigned)) };
}

function checkShape(record: Omit<SignedRecord, "signature"> & { signature?: Uint8Array }): void {
  const nameBytes = typeof record.name === "string" ? new TextEncoder().encode(record.name).length : -1;
  if (nameBytes < 1 || nameBytes > MAX_RECORD_NAME_BYTES) {
    throw new RecordError("BAD_RECORD", `a record name is 1 to ${MAX_RECORD_NAME_BYTES} bytes of UTF-8`);
  }
  if (!(record.value instanceof Uint8Array) || record.value.length > MAX_RECORD_VALUE_BYTES) {
    throw new RecordError("BAD_RECORD", `a record value is at most ${MAX_RECORD_VALUE_BYTES} bytes`);
  }
  if (!(record.publicKey instanceof Uint8Array) || record.publicKey.length !== PUBLIC_KEY_LENGTH) {
    throw new RecordError("BAD_RECORD", "a record's public key is 32 bytes");
  }
  if (!Number.isSafeInteger(record.seq) || record.seq < 0) {
    throw new RecordError("BAD_RECORD", "a record's sequence number is an integer of at least 0");
  }
  if (!Number.isSafeInteger(record.expiresAt) || record.expiresAt < 0) {
    throw new RecordError("BAD_RECORD", "a record's expiry is a time in ms since the epoch");
  }
  if (record.signature !== undefined && record.signature.length !== SIGNATURE_LENGTH) {
    throw new RecordError("BAD_RECORD", "a record's signature is 64 bytes");
  }
}

/**
 * Checks a record received under `key` at `now`: shape, key derivation, expiry (not past, and not further
 * than a day plus `maxSkewMs` ahead), then the signature.
 *
 * @throws {RecordError} naming what is wrong
 */
export function verifyRecord(record: SignedRecord, key: Uint8Array, now: number, maxSkewMs = 30_000): void {
  checkShape(record);
  if (record.signature === undefined) throw new RecordError("BAD_RECORD", "a record is signed");
  const expected = recordKey(record.publicKey, record.name);
  if (expected.length !== key.length || expected.some((b, i) => b !== key[i])) {
    throw new RecordError("WRONG_KEY", "the record's owner and name do not hash to the key it was stored under");
  }
  if (record.expiresAt <= now) throw new RecordError("EXPIRED", "the record has expired");
  if (record.expiresAt > now + MAX_RECORD_LIFETIME_MS + maxSkewMs) {
    throw new RecordError("BAD_RECORD", "the record expires more than a day from now");
  }
  if (!isAcceptablePointEncoding(record.publicKey)) {
    throw new RecordError("BAD_SIGNATURE", "the owner's public key is not an acceptable Ed25519 key");
  }
  if (!verifySignature(record.signature, signedBytes(record), record.publicKey)) {
    throw new RecordError("BAD_SIGNATURE", "the record's signature does not verify");
  }
}
