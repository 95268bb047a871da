/**
 * The link's cryptography: ephemeral X25519 keys, the key schedule, and
 * sealed records.
 *
 * Both ends of a handshake send an ephemeral X25519 public key. The shared
 * secret goes through HKDF-SHA256 with the transcript hash (the id of the
 * HANDSHAKE_ACK, which commits to both nonces, both ephemeral keys, both
 * identities, the network id and the protocol version) as salt, giving one
 * ChaCha20-Poly1305 key per direction. Each record is sealed with a 96-bit
 * nonce of four zero bytes and a 64-bit big-endian counter that starts at 0
 * and counts records in that direction, so a tampered, dropped, reordered or
 * replayed record fails to open. Ephemeral private keys are dropped after the
 * handshake: a later leak of identity keys does not reveal past traffic.
 *
 * node:crypto does the key exchange and key schedule; records of every size
 * are sealed and opened by lib/aead.ts's one ChaCha20-Poly1305 (a WebAssembly
 * module), never by node:crypto, whose Deno build computes a wrong tag on rare
 * inputs (SECURITY.md; figures in BENCHMARKS.md).
 *
 * @module
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from "node:crypto";
import { fromHex } from "../bytes.ts";
import { openChaCha20Poly1305, sealChaCha20Poly1305, TAG_BYTES } from "../aead.ts";
import { ProtocolError } from "../errors.ts";
import { FRAME_HEADER_BYTES } from "../framing.ts";

/** Bytes of the Poly1305 tag at the end of each sealed record. */
export const RECORD_TAG_BYTES = TAG_BYTES;
/**
 * Most plaintext bytes of envelopes coalesced into one record (a single
 * larger envelope travels alone). Fixed by the protocol, so peers agree.
 */
export const MAX_RECORD_PLAINTEXT = 64 * 1024;
/** Records per direction after which a connection must be re-established (far below 2^64). */
export const MAX_RECORDS_PER_DIRECTION = 2 ** 48;
/** Bytes of an X25519 key, public or secret (RFC 7748). */
export const X25519_KEY_BYTES = 32;
/** Bytes of the HKDF output: one ChaCha20-Poly1305 key per direction. */
const SESSION_KEY_BYTES = 32;
const KEY_SCHEDULE_INFO = new TextEncoder().encode("kith/1 session keys");
const X25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);
/** DER PKCS#8 header of a raw X25519 secret key (RFC 8410). */
const X25519_PKCS8_PREFIX = fromHex("302e020100300506032b656e04220420")!;
/** Bytes of the record nonce: four zero bytes, then the 64-bit counter. */
const NONCE_BYTES = 12;

/** An ephemeral X25519 key pair, used for one handshake. */
export interface EphemeralKeyPair {
  /** The 32-byte public key, sent in HANDSHAKE / HANDSHAKE_ACK. */
  publicKey: Uint8Array;
  /** The private key; forgotten once the session keys are derived. */
  privateKey: KeyObject;
}

/** A fresh ephemeral X25519 key pair. */
export function generateEphemeralKeyPair(): EphemeralKeyPair {
  const pair = generateKeyPairSync("x25519");
  return { publicKey: rawPublicKey(pair.publicKey), privateKey: pair.privateKey };
}

/**
 * The X25519 key pair of a given 32-byte secret key. Only for test vectors and interoperability tests: a
 * real handshake's key must be fresh ({@link generateEphemeralKeyPair}).
 *
 * @throws {RangeError} when `secretKey` is not 32 bytes
 */
export function ephemeralKeyPairFromSecret(secretKey: Uint8Array): EphemeralKeyPair {
  if (secretKey.length !== X25519_KEY_BYTES) throw new RangeError(`an X25519 secret key is ${X25519_KEY_BYTES} bytes`);
  const der = new Uint8Array(X25519_PKCS8_PREFIX.length + X25519_KEY_BYTES);
  der.set(X25519_PKCS8_PREFIX);
  der.set(secretKey, X25519_PKCS8_PREFIX.length);
  const privateKey = createPrivateKey({ key: der as unknown as Buffer, format: "der", type: "pkcs8" });
  return { publicKey: rawPublicKey(createPublicKey(privateKey)), privateKey };
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const spki = new Uint8Array(key.export({ format: "der", type: "spki" }));
  return spki.slice(spki.length - X25519_KEY_BYTES);
}

/** The two directions' keys of one session. */
export interface SessionKeys {
  /** Key for records this end sends. */
  sendKey: Uint8Array;
  /** Key for records this end receives. */
  receiveKey: Uint8Array;
}

/**
 * Derives the session keys: `okm = HKDF-SHA256(ikm = X25519(own, peer),
 * salt = transcriptHash, info = "kith/1 session keys", 64)`; the first 32
 * bytes key the initiator-to-responder direction, the last 32 the other.
 *
 * @returns `undefined` when the peer's key is invalid or of small order
 * (the shared secret would be all zeros)
 */
export function deriveSessionKeys(
  own: EphemeralKeyPair,
  peerPublicKey: Uint8Array,
  transcriptHash: Uint8Array,
  isInitiator: boolean,
): SessionKeys | undefined {
  if (peerPublicKey.length !== X25519_KEY_BYTES) return undefined;
  let shared: Uint8Array;
  try {
    const der = new Uint8Array(X25519_SPKI_PREFIX.length + X25519_KEY_BYTES);
    der.set(X25519_SPKI_PREFIX);
    der.set(peerPublicKey, X25519_SPKI_PREFIX.length);
    const peer = createPublicKey({ key: der as unknown as Buffer, format: "der", type: "spki" });
    shared = new Uint8Array(diffieHellman({ privateKey: own.privateKey, publicKey: peer }));
  } catch {
    return undefined; // OpenSSL refuses an all-zero result (small-order peer key)
  }
  if (shared.every((b) => b === 0)) return undefined;
  const okm = new Uint8Array(hkdfSync("sha256", shared, transcriptHash, KEY_SCHEDULE_INFO, 2 * SESSION_KEY_BYTES));
  shared.fill(0);
  const initiatorToResponder = okm.slice(0, SESSION_KEY_BYTES), responderToInitiator = okm.slice(SESSION_KEY_BYTES);
  return isInitiator
    ? { sendKey: initiatorToResponder, receiveKey: responderToInitiator }
    : { sendKey: responderToInitiator, receiveKey: initiatorToResponder };
}

/** Writes the 96-bit big-endian nonce of record `counter` into `nonce` (reused: the cipher copies it). */
function setNonce(nonce: Uint8Array, counter: number): Uint8Array {
  const high = Math.floor(counter / 2 ** 32), low = counter >>> 0;
  nonce[4] = high >>> 24;
  nonce[5] = high >>> 16;
  nonce[6] = high >>> 8;
  nonce[7] = high;
  nonce[8] = low >>> 24;
  nonce[9] = low >>> 16;
  nonce[10] = low >>> 8;
  nonce[11] = low;
  return nonce;
}

/** Seals the records of one direction, counting them. */
export class RecordSealer {
  readonly #key: Uint8Array;
  readonly #nonce = new Uint8Array(NONCE_BYTES);
  #counter = 0;

  /** Creates a sealer for one direction's key; its counter starts at 0. */
  constructor(key: Uint8Array) {
    this.#key = key;
  }

  /** Records sealed so far (the next record's counter). */
  get counter(): number {
    return this.#counter;
  }

  /**
   * Returns `ciphertext || tag` for `plaintext`.
   * @throws {RangeError} past {@link MAX_RECORDS_PER_DIRECTION} records
   */
  seal(plaintext: Uint8Array): Uint8Array {
    return this.#seal(plaintext, 0);
  }

  /**
   * Returns the sealed record as a frame, `length || ciphertext || tag`, in one buffer: what the
   * transport writes, without a second copy to prepend the length.
   * @throws {RangeError} past {@link MAX_RECORDS_PER_DIRECTION} records
   */
  sealFrame(plaintext: Uint8Array): Uint8Array {
    const out = this.#seal(plaintext, FRAME_HEADER_BYTES);
    new DataView(out.buffer).setUint32(0, out.length - FRAME_HEADER_BYTES);
    return out;
  }

  #seal(plaintext: Uint8Array, headroom: number): Uint8Array {
    if (this.#counter >= MAX_RECORDS_PER_DIRECTION) throw new RangeError("record counter exhausted; reconnect");
    return sealChaCha20Poly1305(this.#key, setNonce(this.#nonce, this.#counter++), plaintext, headroom);
  }
}

/** Opens the records of one direction, in order. */
export class RecordOpener {
  readonly #key: Uint8Array;
  readonly #nonce = new Uint8Array(NONCE_BYTES);
  #counter = 0;

  /** Creates an opener for one direction's key; it expects counter 0 first. */
  constructor(key: Uint8Array) {
    this.#key = key;
  }

  /**
   * The plaintext of the next record.
   * @throws {ProtocolError} `DECRYPT_FAILED` when the record does not authenticate
   */
  open(record: Uint8Array): Uint8Array {
    if (record.length < RECORD_TAG_BYTES || this.#counter >= MAX_RECORDS_PER_DIRECTION) {
      throw new ProtocolError("DECRYPT_FAILED", "sealed record too short or counter exhausted");
    }
    const plaintext = openChaCha20Poly1305(this.#key, setNonce(this.#nonce, this.#counter), record);
    if (plaintext === undefined) {
      throw new ProtocolError("DECRYPT_FAILED", `record ${this.#counter} failed authentication`);
    }
    this.#counter++;
    return plaintext;
  }
}
