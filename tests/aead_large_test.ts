/**
 * Records of every size through kith's one record cipher (lib/aead.ts), with @noble/ciphers (pure JavaScript, an
 * independent implementation) as the oracle, and the inputs on which Deno 2.9.6's node:crypto computes a wrong tag.
 */
import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { toHex } from "../lib/bytes.ts";
import {
  checkRecordCipher,
  CHUNK_BYTES,
  katPlaintext,
  openChaCha20Poly1305,
  RECORD_CIPHER_KATS,
  sealChaCha20Poly1305,
  TAG_BYTES,
} from "../lib/aead.ts";
import { CHACHA20POLY1305_WASM_BASE64 } from "../lib/chacha20poly1305_wasm.ts";
import { KithError } from "../lib/errors.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../lib/framing.ts";
import { RecordOpener, RecordSealer } from "../lib/transport/session.ts";

const oracleSeal = (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) =>
  chacha20poly1305(key, nonce, aad).encrypt(plaintext);

/** Deno's node:crypto ChaCha20-Poly1305, the cipher kith used for records over 1 KiB before. */
function nodeCryptoSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, headroom = 0, aad?: Uint8Array) {
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
  if (aad && aad.length > 0) cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  const out = new Uint8Array(headroom + plaintext.length + TAG_BYTES);
  out.set(body, headroom);
  out.set(cipher.getAuthTag(), headroom + plaintext.length);
  return out;
}

Deno.test("records of 64 KiB + 1 up to the largest frame round-trip and equal @noble/ciphers byte for byte", () => {
  const lengths = [
    CHUNK_BYTES + 1,
    CHUNK_BYTES + 63,
    CHUNK_BYTES + 64,
    2 * CHUNK_BYTES,
    3 * CHUNK_BYTES - 1,
    DEFAULT_MAX_FRAME_BYTES,
    DEFAULT_MAX_FRAME_BYTES + 4, // a record of one 1 MiB envelope with its length prefix
  ];
  for (const [i, length] of lengths.entries()) {
    const key = randomBytes(32), nonce = randomBytes(12), plaintext = new Uint8Array(randomBytes(length));
    const aad = i % 2 === 0 ? new Uint8Array(0) : new Uint8Array(randomBytes(i * 40));
    const sealed = sealChaCha20Poly1305(key, nonce, plaintext, 0, aad);
    assert.equal(sealed.length, length + TAG_BYTES);
    assert.ok(toHex(sealed) === toHex(oracleSeal(key, nonce, plaintext, aad)), `length ${length} differs from noble`);
    const opened = openChaCha20Poly1305(key, nonce, sealed, aad);
    assert.ok(opened !== undefined && toHex(opened) === toHex(plaintext), `length ${length} did not round-trip`);
    // The oracle opens what kith sealed and kith opens what the oracle sealed.
    assert.ok(toHex(chacha20poly1305(key, nonce, aad).decrypt(sealed)) === toHex(plaintext));
  }
});

Deno.test("random lengths to 5 KiB with random additional data equal @noble/ciphers (one and two SIMD lanes' edges)", () => {
  for (let i = 0; i < 400; i++) {
    const length = i < 200 ? i : Math.floor(Math.random() * 5000);
    const key = randomBytes(32), nonce = randomBytes(12), plaintext = new Uint8Array(randomBytes(length));
    const aad = new Uint8Array(randomBytes(i % 7 === 0 ? 0 : Math.floor(Math.random() * 257)));
    const sealed = sealChaCha20Poly1305(key, nonce, plaintext, 0, aad);
    assert.ok(toHex(sealed) === toHex(oracleSeal(key, nonce, plaintext, aad)), `length ${length}, aad ${aad.length}`);
    assert.ok(toHex(openChaCha20Poly1305(key, nonce, sealed, aad)!) === toHex(plaintext));
  }
});

Deno.test("the transport's record layer seals a 1 MiB record as @noble/ciphers does and opens the next record after it", () => {
  const key = new Uint8Array(randomBytes(32));
  const sealer = new RecordSealer(key), opener = new RecordOpener(key);
  const nonce = (counter: number) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, counter]);
  for (const [counter, length] of [1 << 20, 300, CHUNK_BYTES + 1].entries()) {
    const plaintext = new Uint8Array(randomBytes(length));
    const record = sealer.seal(plaintext);
    assert.ok(toHex(record) === toHex(oracleSeal(key, nonce(counter), plaintext)), `record ${counter}`);
    assert.ok(toHex(opener.open(record)) === toHex(plaintext));
  }
});

Deno.test("inputs on which Deno's node:crypto computes a wrong tag get OpenSSL's tag, above 1 KiB and in chunks", () => {
  for (const kat of RECORD_CIPHER_KATS.filter((k) => k.last16)) {
    const key = Uint8Array.from(kat.key.match(/../g)!.map((b) => parseInt(b, 16)));
    const nonce = Uint8Array.from(kat.nonce.match(/../g)!.map((b) => parseInt(b, 16)));
    const plaintext = katPlaintext(kat);
    const sealed = sealChaCha20Poly1305(key, nonce, plaintext);
    assert.equal(toHex(sealed.subarray(kat.length)), kat.tag, kat.name); // OpenSSL's tag
    assert.ok(toHex(sealed) === toHex(oracleSeal(key, nonce, plaintext)), `${kat.name}: noble agrees`);
    // The old path's cipher: wrong on exactly these inputs (if a Deno release fixes it, this says so).
    const nodeTag = toHex(nodeCryptoSeal(key, nonce, plaintext).subarray(kat.length));
    assert.notEqual(nodeTag, kat.tag, `${kat.name}: node:crypto is right on this runtime now`);
    // A record a correct implementation sealed opens; node:crypto's wrongly tagged one does not.
    assert.ok(openChaCha20Poly1305(key, nonce, oracleSeal(key, nonce, plaintext)) !== undefined);
    assert.equal(openChaCha20Poly1305(key, nonce, nodeCryptoSeal(key, nonce, plaintext)), undefined);
  }
});

Deno.test("the start-up check refuses Deno's node:crypto as the record cipher, and a cipher wrong only in chunks", () => {
  checkRecordCipher();
  assert.throws(
    () => checkRecordCipher(nodeCryptoSeal),
    (e: unknown) => e instanceof KithError && e.code === "CIPHER_BROKEN" && e.message.includes("node:crypto is wrong"),
  );
  const wrongInChunks: typeof sealChaCha20Poly1305 = (key, nonce, plaintext, headroom, aad) => {
    const sealed = sealChaCha20Poly1305(key, nonce, plaintext, headroom, aad);
    if (plaintext.length > CHUNK_BYTES) sealed[CHUNK_BYTES] ^= 1; // the second chunk's first byte
    return sealed;
  };
  assert.throws(
    () => checkRecordCipher(wrongInChunks),
    (e: unknown) => e instanceof KithError && e.code === "CIPHER_BROKEN" && e.message.includes("in chunks"),
  );
});

Deno.test("a tampered large record opens to nothing: a flipped bit in any chunk or the tag, truncation, reordering", () => {
  const key = randomBytes(32), nonce = randomBytes(12);
  const plaintext = new Uint8Array(randomBytes(3 * CHUNK_BYTES + 100));
  const sealed = sealChaCha20Poly1305(key, nonce, plaintext);
  const positions = [0, CHUNK_BYTES - 1, CHUNK_BYTES, 2 * CHUNK_BYTES + 5, plaintext.length - 1, plaintext.length];
  positions.push(sealed.length - 1);
  for (let i = 0; i < 24; i++) positions.push(Math.floor(Math.random() * sealed.length));
  for (const at of positions) {
    const forged = sealed.slice();
    forged[at] ^= 1 << (at % 8);
    assert.equal(openChaCha20Poly1305(key, nonce, forged), undefined, `byte ${at}`);
  }
  assert.equal(openChaCha20Poly1305(key, nonce, sealed.subarray(0, sealed.length - 1)), undefined);
  const swapped = sealed.slice();
  swapped.set(sealed.subarray(CHUNK_BYTES, 2 * CHUNK_BYTES), 0);
  swapped.set(sealed.subarray(0, CHUNK_BYTES), CHUNK_BYTES);
  assert.equal(openChaCha20Poly1305(key, nonce, swapped), undefined, "chunks swapped");
  assert.equal(openChaCha20Poly1305(randomBytes(32), nonce, sealed), undefined);
  assert.ok(openChaCha20Poly1305(key, nonce, sealed) !== undefined, "the untampered record still opens");
});

Deno.test("the module decrypts no chunk before a record's tag matched, and no chunk out of the record's order", () => {
  const binary = Uint8Array.from(atob(CHACHA20POLY1305_WASM_BASE64), (c) => c.charCodeAt(0));
  // deno-lint-ignore no-explicit-any
  const m = new WebAssembly.Instance(new WebAssembly.Module(binary), {}).exports as any;
  const memory = new Uint8Array(m.memory.buffer);
  memory.set(randomBytes(32), m.key());
  memory.set(randomBytes(12), m.nonce());
  assert.equal(m.decrypt_chunk(64), -1, "decrypt with no record");
  assert.equal(m.begin(0, 2), 0);
  assert.equal(m.decrypt_chunk(64), -1, "decrypt before verify");
  assert.equal(m.mac_chunk(100), 0);
  assert.equal(m.mac_chunk(64), -1, "a chunk after a partial block");
  memory.fill(0, m.tag(), m.tag() + 16);
  assert.equal(m.verify(), 0, "a wrong tag");
  assert.equal(m.decrypt_chunk(100), -1, "decrypt after a wrong tag");
  assert.equal(m.begin(0, 1), 0);
  assert.equal(m.mac_chunk(64), -1, "mac while sealing");
  assert.equal(m.seal_chunk(CHUNK_BYTES + 1), -1, "a chunk over the buffer");
  assert.equal(m.begin(257, 1), -1, "additional data over its buffer");
  assert.equal(m.begin(0, 3), -1, "an unknown mode");
});
