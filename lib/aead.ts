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
