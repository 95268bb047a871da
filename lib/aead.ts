/**
 * ChaCha20-Poly1305 (RFC 8439) for sealed records: one implementation for every size, a 10 KB WebAssembly module
 * (lib/wasm/chacha20poly1305.c, built by scripts/build-wasm.sh).
 *
 * Why one, and why this one: kith used to send records over 1 KiB through node:crypto, whose Deno 2.9.6 build
 * computes a wrong tag on rare inputs (SECURITY.md); two implementations also meant two things to trust and to test.
 * The module seals a small record with no allocation at a fraction of the cost of a node:crypto cipher object (whose
 * creation costs the same whatever the record's size), and with ChaCha20 four blocks at a time in SIMD lanes it is
 * within about 1.5 times of native code per byte; @noble/ciphers (pure JavaScript) was slower at every size and is
 * used only as the tests' oracle (figures: BENCHMARKS.md, "Record cipher"). A record that fits the module's 64 KiB
 * text buffer ({@link CHUNK_BYTES}) is sealed or opened by one call; a larger one passes through the buffer chunk by
 * chunk, and is opened in two passes, so nothing of a forged record is decrypted.
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
import { fromHex, sha256, toHex } from "./bytes.ts";
import { KithError } from "./errors.ts";
import { CHACHA20POLY1305_WASM_BASE64 } from "./chacha20poly1305_wasm.ts";

/** Bytes of the Poly1305 tag after the ciphertext. */
export const TAG_BYTES = 16;
/**
 * Plaintexts up to this size are sealed or opened by one call into the module (its text buffer); larger ones pass
 * through that buffer in chunks of this size (a multiple of ChaCha20's 64-byte block, as the module requires).
 */
export const CHUNK_BYTES = 65536;
/** Additional authenticated data accepted, in bytes (the module's buffer; kith's records use none). */
export const MAX_AAD_BYTES = 256;
/**
 * Largest plaintext accepted: the module counts a record's length in 32 bits (far above the 64 MiB frame limit of
 * lib/framing.ts).
 */
export const MAX_PLAINTEXT_BYTES = 2 ** 32 - 1;

/** The module's modes of `begin`. */
const SEALING = 1, MACING = 2;

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
  begin(aadLength: number, mode: number): number;
  seal_chunk(length: number): number;
  seal_end(): number;
  mac_chunk(length: number): number;
  verify(): number;
  decrypt_chunk(length: number): number;
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
  if (CHUNK_BYTES > exports.max_text() || CHUNK_BYTES % 64 !== 0 || MAX_AAD_BYTES > exports.max_aad()) {
    throw new Error("lib/aead.ts: CHUNK_BYTES or MAX_AAD_BYTES does not fit the WebAssembly module's buffers");
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

function checkSizes(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, length: number): void {
  if (key.length !== 32) throw new RangeError(`ChaCha20-Poly1305 key must be 32 bytes, got ${key.length}`);
  if (nonce.length !== 12) throw new RangeError(`ChaCha20-Poly1305 nonce must be 12 bytes, got ${nonce.length}`);
  if (aad.length > MAX_AAD_BYTES) throw new RangeError(`additional data over ${MAX_AAD_BYTES} bytes`);
  if (length > MAX_PLAINTEXT_BYTES) throw new RangeError(`plaintext over ${MAX_PLAINTEXT_BYTES} bytes`);
}

const NO_AAD = new Uint8Array(0);
/** A refusal by the module is a bug here (a length the checks above let through), never a peer's doing. */
const refused = (): never => {
  throw new Error("ChaCha20-Poly1305 module refused a length or a step");
};

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
  checkSizes(key, nonce, aad, plaintext.length);
  const out = new Uint8Array(headroom + plaintext.length + TAG_BYTES);
  const m = wasm();
  m.memory.set(key, m.key);
  m.memory.set(nonce, m.nonce);
  m.memory.set(aad, m.aad);
  // Never send what the module did not seal: its buffer would still hold the plaintext.
  if (plaintext.length <= CHUNK_BYTES) {
    m.memory.set(plaintext, m.text);
    if (m.exports.seal(aad.length, plaintext.length) !== 0) refused();
    out.set(m.memory.subarray(m.text, m.text + plaintext.length), headroom);
  } else {
    if (m.exports.begin(aad.length, SEALING) !== 0) refused();
    for (let offset = 0; offset < plaintext.length; offset += CHUNK_BYTES) {
      const chunk = plaintext.subarray(offset, offset + CHUNK_BYTES);
      m.memory.set(chunk, m.text);
      if (m.exports.seal_chunk(chunk.length) !== 0) refused();
      out.set(m.memory.subarray(m.text, m.text + chunk.length), headroom + offset);
    }
    if (m.exports.seal_end() !== 0) refused();
  }
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
  checkSizes(key, nonce, aad, Math.max(0, sealed.length - TAG_BYTES));
  if (sealed.length < TAG_BYTES) return undefined;
  const length = sealed.length - TAG_BYTES;
  const m = wasm();
  m.memory.set(key, m.key);
  m.memory.set(nonce, m.nonce);
  m.memory.set(sealed.subarray(length), m.tag);
  m.memory.set(aad, m.aad);
  if (length <= CHUNK_BYTES) {
    m.memory.set(sealed.subarray(0, length), m.text);
    const opened = m.exports.open(aad.length, length);
    if (opened === -1) refused();
    if (opened !== 1) return undefined;
    return m.memory.slice(m.text, m.text + length);
  }
  // Two passes: the tag over every chunk first, then (only if it matched) the decryption of every chunk.
  if (m.exports.begin(aad.length, MACING) !== 0) refused();
  for (let offset = 0; offset < length; offset += CHUNK_BYTES) {
    const chunk = sealed.subarray(offset, Math.min(length, offset + CHUNK_BYTES));
    m.memory.set(chunk, m.text);
    if (m.exports.mac_chunk(chunk.length) !== 0) refused();
  }
  const matched = m.exports.verify();
  if (matched === -1) refused();
  if (matched !== 1) return undefined;
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += CHUNK_BYTES) {
    const chunk = sealed.subarray(offset, Math.min(length, offset + CHUNK_BYTES));
    m.memory.set(chunk, m.text);
    if (m.exports.decrypt_chunk(chunk.length) !== 0) refused();
    out.set(m.memory.subarray(m.text, m.text + chunk.length), offset);
  }
  return out;
}

/** RFC 8439 section 2.8.2 (114 bytes, with additional data): a record sealed and opened by one call. */
const KAT_SMALL = {
  key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
  nonce: "070000004041424344454647",
  aad: "50515253c0c1c2c3c4c5c6c7",
  sealed:
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e06" +
    "0b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586ce" +
    "c64b61161ae10b594f09e26a7e902ecbd0600691",
};
const KAT_TEXT =
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

/**
 * Records without additional data, each as OpenSSL (Python `cryptography` 48) computes it: the SHA-256 of the
 * ciphertext and the tag. Byte i of the plaintext is i mod 256, except the last 16 bytes when `last16` is given.
 * The 1,040- and 70,000-byte ones were crafted so that Poly1305's accumulator ends at exactly 2^128 before the key's
 * second half is added: Deno 2.9.6's node:crypto gets their tags wrong (in byte 6), so a runtime whose cipher has
 * that bug is refused. 70,000 bytes pass through the module's buffer in two chunks; 4,096 bytes in one call. Their
 * nonce is zero, a session's first record's, so they also serve as records (scripts/chaos/cipher.ts).
 */
export const RECORD_CIPHER_KATS: readonly {
  name: string;
  key: string;
  nonce: string;
  length: number;
  last16?: string;
  ciphertextSha256: string;
  tag: string;
}[] = [
  {
    name: "4,096 bytes",
    key: "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
    nonce: "000000000000000000000000",
    length: 4096,
    ciphertextSha256: "b865156dd61468a197ab4234c3e990b68287aa3dc787f4960c3fde1f18b06972",
    tag: "77ad256553400951dc7a06d1c618356d",
  },
  {
    name: "1,040 bytes where node:crypto is wrong",
    key: "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da",
    nonce: "000000000000000000000000",
    length: 1040,
    last16: "07410d0df435685e73dd389320c290fb",
    ciphertextSha256: "65f2de90a2ec1b05bb5cb53b9fcf772281ce86eb435083058fd1da7e9b0a5128",
    tag: "862bebe12f542ecb24eb1b01ccea7eb1",
  },
  {
    name: "70,000 bytes in chunks, where node:crypto is wrong",
    key: "0e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7",
    nonce: "000000000000000000000000",
    length: 70000,
    last16: "58f4b9478618954a7fb08a430a9b4285",
    ciphertextSha256: "277b9bb71cad00907c184aed2693edb4c8a29ac2e36b30248daf59e5726f47ee",
    tag: "f71997265fb30862121cae165c55e3f5",
  },
];

/** The plaintext of a {@link RECORD_CIPHER_KATS} entry. */
export function katPlaintext(kat: (typeof RECORD_CIPHER_KATS)[number]): Uint8Array<ArrayBuffer> {
  const plaintext = Uint8Array.from({ length: kat.length }, (_, i) => i & 255);
  if (kat.last16) plaintext.set(fromHex(kat.last16)!, kat.length - 16);
  return plaintext;
}

let selfTested = false;

/**
 * Known-answer check of the record cipher, once per process: a node refuses to start on a cipher that computes
 * wrong bytes (a runtime whose WebAssembly misbehaves, or a build that went back to Deno's node:crypto) instead of
 * talking nonsense to peers. It covers both ways through the module (one call; chunks) and two inputs on which
 * Deno 2.9.6's node:crypto computes a wrong tag. It costs well under a millisecond.
 *
 * `seal` and `open` are the functions checked (the shipped ones unless a test passes others).
 *
 * @throws {KithError} with code `CIPHER_BROKEN` naming the case that failed
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
  if (hex(seal(key, nonce, text, 0, aad)) !== KAT_SMALL.sealed) fail("RFC 8439 seal");
  const opened = open(key, nonce, bytes(KAT_SMALL.sealed), aad);
  if (!opened || hex(opened) !== hex(text)) fail("RFC 8439 open");
  for (const kat of RECORD_CIPHER_KATS) {
    const plaintext = katPlaintext(kat), katKey = bytes(kat.key), katNonce = bytes(kat.nonce);
    const sealed = seal(katKey, katNonce, plaintext);
    const digest = sha256(sealed.subarray(0, kat.length));
    if (hex(digest) !== kat.ciphertextSha256 || hex(sealed.subarray(kat.length)) !== kat.tag) fail(`${kat.name}, seal`);
    const back = open(katKey, katNonce, sealed);
    if (!back || hex(sha256(back)) !== hex(sha256(plaintext))) fail(`${kat.name}, open`);
  }
  if (shipped) selfTested = true;
}
