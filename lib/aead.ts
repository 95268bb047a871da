/**
 * ChaCha20-Poly1305 (RFC 8439) for sealed records: small records in a
 * 4.7 KB WebAssembly module, large ones in node:crypto.
 *
 * Why two: in Deno, each node:crypto cipher is an object with its own Buffers,
 * whose creation costs the same whatever the record's size; the WebAssembly
 * module (lib/wasm/chacha20poly1305.c, built by scripts/build-wasm.sh) seals a
 * small record with no allocation and at a fraction of that cost, but is
 * slower per byte than native code; {@link WASM_MAX_BYTES} is where they cost
 * the same (figures: BENCHMARKS.md, "Record cipher"). Both implement RFC 8439,
 * but Deno's node:crypto computes a wrong tag for rare inputs (SECURITY.md), so
 * the choice is made by the plaintext's length, which both ends of a record
 * know: each record is sealed and opened by the same implementation.
 *
 * @example
 * ```ts
 * import { openChaCha20Poly1305, sealChaCha20Poly1305 } from "./aead.ts";
 * const key = new Uint8Array(32), nonce = new Uint8Array(12);
 * const sealed = sealChaCha20Poly1305(key, nonce, new TextEncoder().encode("hello"));
 * const opened = openChaCha20Poly1305(key, nonce, sealed);
 * if (new TextDecoder().decode(opened) !== "hello") throw new Error("round trip failed");
 * ```
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { fromHex, sha256, toHex } from "./bytes.ts";
import { KithError } from "./errors.ts";
import { CHACHA20POLY1305_WASM_BASE64 } from "./chacha20poly1305_wasm.ts";

/** Bytes of the Poly1305 tag after the ciphertext. */
export const TAG_BYTES = 16;
/**
 * Plaintexts up to this size go through the WebAssembly module, larger ones
 * through node:crypto: about where both cost the same (BENCHMARKS.md).
 */
export const WASM_MAX_BYTES = 1024;
/** Additional authenticated data accepted, in bytes (the module's buffer; kith's records use none). */
export const MAX_AAD_BYTES = 256;

interface AeadExports {
  memory: WebAssembly.Memory;
  key(): number;
  nonce(): number;
  tag(): number;
  aad(): number;
  text(): number;
  max_text(): number;
  max_aad(): number;
  seal(aadLength: number, length: number): number;
  open(aadLength: number, length: number): number;
}

interface AeadModule {
  exports: AeadExports;
  memory: Uint8Array;
  key: number;
  nonce: number;
  tag: number;
  aad: number;
  text: number;
}

let instance: AeadModule | undefined;

/** The module, instantiated on first use (once per thread; about 200 KB of memory). */
function wasm(): AeadModule {
  if (instance) return instance;
  const binary = Uint8Array.from(atob(CHACHA20POLY1305_WASM_BASE64), (c) => c.charCodeAt(0));
  const exports = new WebAssembly.Instance(new WebAssembly.Module(binary), {}).exports as unknown as AeadExports;
  // The limits here must fit the module's buffers, or a record could be written past them.
  if (WASM_MAX_BYTES > exports.max_text() || MAX_AAD_BYTES > exports.max_aad()) {
    throw new Error("lib/aead.ts: WASM_MAX_BYTES or MAX_AAD_BYTES exceeds the WebAssembly module's buffers");
  }
  instance = {
    exports,
    // The memory has a fixed size (no growth), so this view stays valid.
    memory: new Uint8Array(exports.memory.buffer),
    key: exports.key(),
    nonce: exports.nonce(),
    tag: exports.tag(),
    aad: exports.aad(),
    text: exports.text(),
  };
  return instance;
}

function checkSizes(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): void {
  if (key.length !== 32) throw new RangeError(`ChaCha20-Poly1305 key must be 32 bytes, got ${key.length}`);
  if (nonce.length !== 12) throw new RangeError(`ChaCha20-Poly1305 nonce must be 12 bytes, got ${nonce.length}`);
  if (aad.length > MAX_AAD_BYTES) throw new RangeError(`additional data over ${MAX_AAD_BYTES} bytes`);
}

const NO_AAD = new Uint8Array(0);

/**
 * Seals `plaintext` under `key`, the 12-byte `nonce` and optional additional
 * data `aad`: `ciphertext || tag`, written into a new buffer after `headroom`
 * bytes left for the caller (a frame's length prefix).
 *
 * A nonce must never be used twice with one key: the caller counts records.
 */
export function sealChaCha20Poly1305(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  headroom = 0,
  aad: Uint8Array = NO_AAD,
): Uint8Array {
  checkSizes(key, nonce, aad);
  const out = new Uint8Array(headroom + plaintext.length + TAG_BYTES);
  if (plaintext.length > WASM_MAX_BYTES) {
    const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
    if (aad.length > 0) cipher.setAAD(aad, { plaintextLength: plaintext.length });
    out.set(cipher.update(plaintext), headroom);
    cipher.final();
    out.set(cipher.getAuthTag(), headroom + plaintext.length);
    return out;
  }
  const m = wasm();
  m.memory.set(key, m.key);
  m.memory.set(nonce, m.nonce);
  m.memory.set(aad, m.aad);
  m.memory.set(plaintext, m.text);
  // Never send what the module did not seal: its buffer would still hold the plaintext.
  if (m.exports.seal(aad.length, plaintext.length) !== 0) throw new Error("ChaCha20-Poly1305 module refused a length");
  out.set(m.memory.subarray(m.text, m.text + plaintext.length), headroom);
  out.set(m.memory.subarray(m.tag, m.tag + TAG_BYTES), headroom + plaintext.length);
  return out;
}

/**
 * Opens `sealed` (`ciphertext || tag`) under `key`, `nonce` and the
 * additional data `aad` it was sealed with.
 *
 * @returns the plaintext, or `undefined` when the record does not authenticate
 * (or is shorter than a tag); nothing of a forged record is decrypted.
 */
export function openChaCha20Poly1305(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array = NO_AAD,
): Uint8Array | undefined {
  checkSizes(key, nonce, aad);
  if (sealed.length < TAG_BYTES) return undefined;
  const length = sealed.length - TAG_BYTES;
  if (length > WASM_MAX_BYTES) {
    const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(length));
    if (aad.length > 0) decipher.setAAD(aad, { plaintextLength: length });
    const opened = decipher.update(sealed.subarray(0, length));
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    // A plain Uint8Array view of the Buffer, without a copy.
    return new Uint8Array(opened.buffer, opened.byteOffset, opened.byteLength);
  }
  const m = wasm();
  m.memory.set(key, m.key);
  m.memory.set(nonce, m.nonce);
  m.memory.set(sealed.subarray(0, length), m.text);
  m.memory.set(sealed.subarray(length), m.tag);
  m.memory.set(aad, m.aad);
  const opened = m.exports.open(aad.length, length);
  if (opened === -1) throw new Error("ChaCha20-Poly1305 module refused a length");
  if (opened !== 1) return undefined;
  return m.memory.slice(m.text, m.text + length);
}

/** RFC 8439 section 2.8.2: the WebAssembly path (114 bytes) must give exactly these bytes. */
const KAT_SMALL = {
  key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
  nonce: "070000004041424344454647",
  aad: "50515253c0c1c2c3c4c5c6c7",
  sealed:
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e06" +
    "0b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586ce" +
    "c64b61161ae10b594f09e26a7e902ecbd0600691",
};
/**
 * The node:crypto path (4,096 bytes: byte i is i mod 256, key 01..20, nonce zero, no additional data): the SHA-256
 * of the ciphertext and the tag, as OpenSSL (Python `cryptography`) computes them.
 */
const KAT_LARGE = {
  ciphertextSha256: "b865156dd61468a197ab4234c3e990b68287aa3dc787f4960c3fde1f18b06972",
  tag: "77ad256553400951dc7a06d1c618356d",
};
const KAT_TEXT =
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

let selfTested = false;

/**
 * Known-answer check of both record-cipher paths, once per process: a node refuses to start on a cipher that
 * computes wrong bytes (a runtime whose node:crypto or WebAssembly misbehaves) instead of talking nonsense to peers.
 *
 * `seal` and `open` are the functions checked (the shipped ones unless a test passes others).
 *
 * @throws {KithError} with code `CIPHER_BROKEN` naming the path that failed
 */
export function checkRecordCipher(
  seal: typeof sealChaCha20Poly1305 = sealChaCha20Poly1305,
  open: typeof openChaCha20Poly1305 = openChaCha20Poly1305,
): void {
  const shipped = seal === sealChaCha20Poly1305 && open === openChaCha20Poly1305;
  if (shipped && selfTested) return;
  const hex = toHex;
  const bytes = (h: string) => fromHex(h)!;
  const fail = (what: string): never => {
    throw new KithError(
      "CIPHER_BROKEN",
      `record cipher self-test failed (${what}): this runtime's ChaCha20-Poly1305 computes wrong bytes; use Deno 2.9.6`,
    );
  };
  const key = bytes(KAT_SMALL.key), nonce = bytes(KAT_SMALL.nonce), aad = bytes(KAT_SMALL.aad);
  const text = new TextEncoder().encode(KAT_TEXT);
  if (hex(seal(key, nonce, text, 0, aad)) !== KAT_SMALL.sealed) fail("WebAssembly seal");
  const opened = open(key, nonce, bytes(KAT_SMALL.sealed), aad);
  if (!opened || hex(opened) !== hex(text)) fail("WebAssembly open");
  const largeKey = Uint8Array.from({ length: 32 }, (_, i) => i + 1), zero = new Uint8Array(12);
  const large = Uint8Array.from({ length: 4096 }, (_, i) => i & 255);
  const sealed = seal(largeKey, zero, large);
  const digest = sha256(sealed.subarray(0, large.length));
  if (hex(digest) !== KAT_LARGE.ciphertextSha256 || hex(sealed.subarray(large.length)) !== KAT_LARGE.tag) {
    fail("node:crypto seal");
  }
  const back = open(largeKey, zero, sealed);
  if (!back || hex(back) !== hex(large)) fail("node:crypto open");
  if (shipped) selfTested = true;
}
