import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { openChaCha20Poly1305, sealChaCha20Poly1305, TAG_BYTES, WASM_MAX_BYTES } from "../lib/aead.ts";
import { CHACHA20POLY1305_WASM_BASE64 } from "../lib/chacha20poly1305_wasm.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/[\s:]/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

/** node:crypto's ChaCha20-Poly1305, the reference the module must match byte for byte. */
function referenceSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  if (aad.length > 0) cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  return Uint8Array.from([...body, ...cipher.getAuthTag()]);
}

Deno.test("ChaCha20-Poly1305 reproduces the RFC 8439 section 2.8.2 test vector and opens it", () => {
  const plaintext = new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const key = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
  const nonce = hex("07000000 4041424344454647");
  const aad = hex("50515253c0c1c2c3c4c5c6c7");
  const expected = hex(`
    d31a8d34648e60db7b86afbc53ef7ec2 a4aded51296e08fea9e2b5a736ee62d6 3dbea45e8ca9671282fafb69da92728b
    1a71de0a9e060b2905d6a5b67ecd3b36 92ddbd7f2d778b8c9803aee328091b58 fab324e4fad675945585808b4831d7bc
    3ff4def08e4b7a9de576d26586cec64b 6116 1ae10b594f09e26a7e902ecbd0600691`);
  const sealed = sealChaCha20Poly1305(key, nonce, plaintext, 0, aad);
  assert.deepEqual(sealed, expected);
  assert.deepEqual(openChaCha20Poly1305(key, nonce, sealed, aad), plaintext);
});

Deno.test("ChaCha20-Poly1305 matches node:crypto for random keys, nonces, additional data and lengths on both sides of the WebAssembly limit", () => {
  for (let i = 0; i < 600; i++) {
    const key = randomBytes(32), nonce = randomBytes(12);
    const aad = i % 5 === 0 ? randomBytes(i % 200) : new Uint8Array(0);
    // Every length up to 130 (block and tag boundaries), then spread to twice the limit.
    const length = i <= 130 ? i : Math.floor(Math.random() * 2 * WASM_MAX_BYTES);
    const plaintext = randomBytes(length);
    const sealed = sealChaCha20Poly1305(key, nonce, plaintext, 0, aad);
    assert.deepEqual(sealed, referenceSeal(key, nonce, plaintext, aad), `length ${length}`);
    assert.deepEqual(openChaCha20Poly1305(key, nonce, sealed, aad), new Uint8Array(plaintext));
  }
});

Deno.test("ChaCha20-Poly1305 opens nothing of a record with any bit flipped, truncated, or under another key, nonce or additional data", () => {
  for (const length of [0, 1, 63, 64, 65, 300, WASM_MAX_BYTES, WASM_MAX_BYTES + 1, 3000]) {
    const key = randomBytes(32), nonce = randomBytes(12), aad = randomBytes(12);
    const sealed = sealChaCha20Poly1305(key, nonce, randomBytes(length), 0, aad);
    const bits = length <= 300 ? sealed.length * 8 : 64; // every bit of short records, a sample of long ones
    for (let b = 0; b < bits; b++) {
      const bit = length <= 300 ? b : Math.floor(Math.random() * sealed.length * 8);
      const forged = sealed.slice();
      forged[bit >> 3] ^= 1 << (bit & 7);
      assert.equal(openChaCha20Poly1305(key, nonce, forged, aad), undefined, `length ${length} bit ${bit}`);
    }
    assert.equal(openChaCha20Poly1305(key, nonce, sealed.subarray(0, sealed.length - 1), aad), undefined);
    assert.equal(openChaCha20Poly1305(key, nonce, sealed.subarray(0, TAG_BYTES - 1), aad), undefined);
    assert.equal(openChaCha20Poly1305(randomBytes(32), nonce, sealed, aad), undefined);
    assert.equal(openChaCha20Poly1305(key, randomBytes(12), sealed, aad), undefined);
    assert.equal(openChaCha20Poly1305(key, nonce, sealed), undefined);
  }
});

Deno.test("ChaCha20-Poly1305 leaves room before the record when asked, for a frame's length prefix", () => {
  const key = randomBytes(32), nonce = randomBytes(12), plaintext = randomBytes(100);
  const framed = sealChaCha20Poly1305(key, nonce, plaintext, 4);
  assert.deepEqual(framed.subarray(0, 4), new Uint8Array(4));
  assert.deepEqual(framed.subarray(4), referenceSeal(key, nonce, plaintext, new Uint8Array(0)));
});

Deno.test("ChaCha20-Poly1305 refuses keys and nonces of the wrong size instead of sealing with them", () => {
  assert.throws(() => sealChaCha20Poly1305(new Uint8Array(31), new Uint8Array(12), new Uint8Array(1)), RangeError);
  assert.throws(() => sealChaCha20Poly1305(new Uint8Array(32), new Uint8Array(8), new Uint8Array(1)), RangeError);
  assert.throws(() => openChaCha20Poly1305(new Uint8Array(32), new Uint8Array(13), new Uint8Array(20)), RangeError);
});

Deno.test("the embedded WebAssembly module is small and exports only its buffers and the two operations", () => {
  const binary = Uint8Array.from(atob(CHACHA20POLY1305_WASM_BASE64), (c) => c.charCodeAt(0));
  assert.ok(binary.length < 8192, `${binary.length} bytes`);
  const module = new WebAssembly.Module(binary);
  assert.deepEqual(WebAssembly.Module.imports(module), []);
  assert.deepEqual(
    WebAssembly.Module.exports(module).map((e) => e.name).sort(),
    ["aad", "key", "max_aad", "max_text", "memory", "nonce", "open", "seal", "tag", "text"],
  );
});
