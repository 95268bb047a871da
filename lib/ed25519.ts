/**
 * Ed25519 signing and verification with one acceptance rule and two
 * implementations of it.
 *
 * Verification is the ceiling of the whole network (every node verifies every
 * message once), so the default path is node:crypto: native, synchronous and
 * much faster than pure JavaScript (BENCHMARKS.md), with the parsed public key cached per
 * key. The fallback is @noble/ed25519's curve arithmetic, used where
 * node:crypto has no Ed25519.
 *
 * Ed25519 libraries disagree on edge cases (non-canonical encodings,
 * small-order points, cofactored or cofactorless equations), and nodes that
 * disagree would forward what others drop. kith therefore fixes the rule
 * itself and checks the cases where libraries differ before either path runs:
 *
 * 1. the public key A and the signature's R are canonical encodings (y < p,
 *    and no "negative zero" x) and are not points of small order;
 * 2. the scalar S is below the group order L;
 * 3. the cofactorless equation holds: encode([S]B - [k]A) == R, with
 *    k = SHA-512(R || A || M) mod L (RFC 8032 section 5.1.7).
 *
 * The noble path computes exactly that equation (noble's own `verify` is
 * cofactored, so it is not used); the native path is cofactorless, and the
 * tests hold both to the same answers on the RFC 8032 vectors and on crafted
 * mixed-order keys and malformed encodings.
 *
 * @module
 */
import * as ed from "@noble/ed25519";
import { createPrivateKey, createPublicKey, type KeyObject, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { bytesKey, sha512, toHex } from "./bytes.ts";
import { KeyQueue } from "./key_queue.ts";

// noble needs a synchronous SHA-512; node:crypto's is native.
ed.hashes.sha512 = (message) => sha512(message);

/** Length of an Ed25519 public key in bytes. */
export const PUBLIC_KEY_LENGTH = 32;
/** Length of an Ed25519 secret key (the seed) in bytes. */
export const SECRET_KEY_LENGTH = 32;
/** Length of an Ed25519 signature in bytes. */
export const SIGNATURE_LENGTH = 64;

/** The prime-order group's order L, little-endian, for the S < L check. */
const L_LE = Uint8Array.from([
  0xed,
  0xd3,
  0xf5,
  0x5c,
  0x1a,
  0x63,
  0x12,
  0x58,
  0xd6,
  0x9c,
  0xf7,
  0xa2,
  0xde,
  0xf9,
  0xde,
  0x14,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x10,
]);
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/**
 * Encodings of the eight points of small order, plus the two "negative zero"
 * encodings (x = 0 with the sign bit set) of the points with x = 0.
 * Non-canonical encodings (y >= p) are refused separately.
 */
const SMALL_ORDER_ENCODINGS = new Set(
  [
    "0100000000000000000000000000000000000000000000000000000000000000", // identity
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
    "0000000000000000000000000000000000000000000000000000000000000000", // order 4
    "0000000000000000000000000000000000000000000000000000000000000080", // order 4
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
    "0100000000000000000000000000000000000000000000000000000000000080", // identity, -0
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // order 2, -0
  ].map((hex) => bytesKey(Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16)))),
);

/**
 * The first bytes of the small-order encodings: a key or R that begins with none of them (most, 251 in 256) is
 * none of them, known without the string key (three per message) the set lookup needs.
 */
const SMALL_ORDER_FIRST_BYTES = new Uint8Array(256);
for (const key of SMALL_ORDER_ENCODINGS) SMALL_ORDER_FIRST_BYTES[key.charCodeAt(0)] = 1;

/** Whether the 32 bytes encode y >= p = 2^255 - 19 (ignoring the sign bit). */
function isNonCanonicalY(b: Uint8Array): boolean {
  if ((b[31] & 0x7f) !== 0x7f) return false;
  for (let i = 30; i > 0; i--) if (b[i] !== 0xff) return false;
  return b[0] >= 0xed;
}

/**
 * Whether `bytes` is acceptable as a point under kith's rule: 32 bytes, a
 * canonical encoding, and not of small order. Whether it lies on the curve at
 * all is left to the verification itself.
 */
export function isAcceptablePointEncoding(bytes: Uint8Array): boolean {
  return bytes.length === 32 && !isNonCanonicalY(bytes) &&
    (SMALL_ORDER_FIRST_BYTES[bytes[0]] === 0 || !SMALL_ORDER_ENCODINGS.has(bytesKey(bytes)));
}

/** Whether the little-endian scalar in `s` (32 bytes) is below L. */
function isScalarBelowOrder(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i] < L_LE[i]) return true;
    if (s[i] > L_LE[i]) return false;
  }
  return false; // equal to L
}

/**
 * The checks of the acceptance rule that do not depend on the message.
 * Both implementations run them first, so they cannot diverge on them.
 */
export function passesEncodingRules(signature: Uint8Array, publicKey: Uint8Array): boolean {
  return signature.length === SIGNATURE_LENGTH &&
    isAcceptablePointEncoding(publicKey) &&
    isAcceptablePointEncoding(signature.subarray(0, 32)) &&
    isScalarBelowOrder(signature.subarray(32, 64));
}

/** One implementation of Ed25519 under kith's acceptance rule. */
export interface Ed25519Backend {
  /** Short name for logs and benchmarks: `"node:crypto"` or `"noble"`. */
  readonly name: string;
  /** Signs `message` with the 32-byte secret key (seed). Deterministic. */
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** Whether `signature` is valid for `message` under `publicKey` by kith's rule. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

function bytesToNumberLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/** Pure-JavaScript backend: @noble/ed25519's point arithmetic, cofactorless equation. */
export const nobleBackend: Ed25519Backend = {
  name: "noble",
  sign(secretKey, message) {
    return ed.sign(message, secretKey);
  },
  verify(signature, message, publicKey) {
    if (!passesEncodingRules(signature, publicKey)) return false;
    let A: ed.Point;
    try {
      A = ed.Point.fromBytes(publicKey, false);
    } catch {
      return false; // not on the curve
    }
    const r = signature.subarray(0, 32);
    const s = bytesToNumberLE(signature.subarray(32, 64));
    const k = bytesToNumberLE(sha512(r, publicKey, message)) % L;
    const check = ed.Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k)).toBytes();
    for (let i = 0; i < 32; i++) if (check[i] !== r[i]) return false;
    return true;
  },
};

const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_PREFIX = Uint8Array.from([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
]);

/**
 * Parsed public keys kept by the native backend. Parsing costs about a
 * quarter of a verification, and a node sees the same origins again and
 * again. Bounded, because peers choose which keys we see.
 */
const PUBLIC_KEY_CACHE_LIMIT = 8192;
const publicKeyCache = new Map<string, KeyObject | null>();
// The cache's keys in insertion order: taking the oldest from the Map itself walks past its deleted entries.
const publicKeyOrder = new KeyQueue<string>();

function nativePublicKey(publicKey: Uint8Array): KeyObject | null {
  const key = bytesKey(publicKey);
  let parsed = publicKeyCache.get(key);
  if (parsed !== undefined) return parsed;
  try {
    const der = new Uint8Array(SPKI_PREFIX.length + 32);
    der.set(SPKI_PREFIX);
    der.set(publicKey, SPKI_PREFIX.length);
    parsed = createPublicKey({ key: der as unknown as Buffer, format: "der", type: "spki" });
  } catch {
    parsed = null; // not a point on the curve
  }
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeyCache.delete(publicKeyOrder.shift()!);
  publicKeyCache.set(key, parsed);
  publicKeyOrder.push(key);
  return parsed;
}

function nativePrivateKey(secretKey: Uint8Array): KeyObject {
  const der = new Uint8Array(PKCS8_PREFIX.length + 32);
  der.set(PKCS8_PREFIX);
  der.set(secretKey, PKCS8_PREFIX.length);
  return createPrivateKey({ key: der as unknown as Buffer, format: "der", type: "pkcs8" });
}

/** Native backend: node:crypto with a bounded cache of parsed public keys. */
export const nativeBackend: Ed25519Backend = {
  name: "node:crypto",
  sign(secretKey, message) {
    return new Uint8Array(nodeSign(null, message, nativePrivateKey(secretKey)));
  },
  verify(signature, message, publicKey) {
    if (!passesEncodingRules(signature, publicKey)) return false;
    const key = nativePublicKey(publicKey);
    if (key === null) return false;
    try {
      return nodeVerify(null, message, key, signature);
    } catch {
      return false;
    }
  },
};

/** The native public key of a secret key (the last 32 bytes of its SPKI encoding). */
function nativePublicKeyOf(secretKey: Uint8Array): Uint8Array {
  const spki = createPublicKey(nativePrivateKey(secretKey)).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_LENGTH));
}

// RFC 8032, section 7.1, test 1 (empty message). Checking the native backend against it, rather than
// against noble, keeps noble's precomputed tables (about 10 MB of RSS while built) out of every process.
const RFC8032_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC8032_SIGNATURE = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

function nativeWorks(): boolean {
  try {
    const secret = Uint8Array.from(RFC8032_SECRET.match(/../g)!, (h) => parseInt(h, 16));
    const publicKey = nativePublicKeyOf(secret);
    const signature = nativeBackend.sign(secret, new Uint8Array(0));
    return toHex(publicKey) === RFC8032_PUBLIC && toHex(signature) === RFC8032_SIGNATURE &&
      nativeBackend.verify(signature, new Uint8Array(0), publicKey) &&
      !nativeBackend.verify(signature, new Uint8Array([1]), publicKey);
  } catch {
    return false;
  }
}

/** The backend in use: node:crypto when this runtime has Ed25519 there, noble otherwise. */
export const defaultBackend: Ed25519Backend = nativeWorks() ? nativeBackend : nobleBackend;

/** A fresh random 32-byte secret key (seed). */
export function generateSecretKey(): Uint8Array {
  return ed.utils.randomSecretKey();
}

/** The public key of a 32-byte secret key (seed). */
export function publicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
  return defaultBackend === nativeBackend ? nativePublicKeyOf(secretKey) : ed.getPublicKey(secretKey);
}

/**
 * A signing function bound to one secret key. With the native backend the
 * parsed private key is kept, so each signature costs only the signing.
 */
export function createSigner(secretKey: Uint8Array): (message: Uint8Array) => Uint8Array {
  if (defaultBackend === nativeBackend) {
    const key = nativePrivateKey(secretKey);
    return (message) => new Uint8Array(nodeSign(null, message, key));
  }
  const copy = secretKey.slice();
  return (message) => nobleBackend.sign(copy, message);
}

/**
 * Verifies an Ed25519 signature by kith's acceptance rule on the fast path.
 *
 * @example
 * ```ts
 * import { createSigner, generateSecretKey, publicKeyFromSecret, verifySignature } from "./ed25519.ts";
 * const secret = generateSecretKey();
 * const signature = createSigner(secret)(new TextEncoder().encode("hi"));
 * verifySignature(signature, new TextEncoder().encode("hi"), publicKeyFromSecret(secret)); // true
 * ```
 */
export function verifySignature(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return defaultBackend.verify(signature, message, publicKey);
}
