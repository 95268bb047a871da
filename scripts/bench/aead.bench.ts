/**
 * The record cipher: kith's one ChaCha20-Poly1305 (lib/aead.ts, the WebAssembly module, for every size) against
 * node:crypto's per-record cipher object (what records over 1 KiB used before) and @noble/ciphers (pure JavaScript,
 * the tests' oracle), sealing and opening at 300 B (one envelope), 1 KiB (the old boundary), 16 KiB, 64 KiB (a full
 * batched record, the module's buffer) and 1 MiB (the largest envelope, in chunks). Run: deno task bench
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { openChaCha20Poly1305, sealChaCha20Poly1305 } from "../../lib/aead.ts";

const key = new Uint8Array(32).fill(7);
const nonce = new Uint8Array(12).fill(1);

function nodeSeal(plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  const out = new Uint8Array(plaintext.length + 16);
  out.set(cipher.update(plaintext));
  cipher.final();
  out.set(cipher.getAuthTag(), plaintext.length);
  return out;
}

function nodeOpen(sealed: Uint8Array): Uint8Array {
  const split = sealed.length - 16;
  const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  decipher.setAuthTag(sealed.subarray(split));
  const plaintext = decipher.update(sealed.subarray(0, split));
  decipher.final();
  return plaintext;
}

for (const size of [300, 1024, 16384, 65536, 1 << 20]) {
  const plaintext = new Uint8Array(size).fill(0xab);
  const sealed = sealChaCha20Poly1305(key, nonce, plaintext);
  Deno.bench(`seal ${size} B, lib/aead.ts (WebAssembly)`, { group: `seal ${size}`, baseline: true }, () => {
    sealChaCha20Poly1305(key, nonce, plaintext);
  });
  Deno.bench(`seal ${size} B, node:crypto`, { group: `seal ${size}` }, () => {
    nodeSeal(plaintext);
  });
  Deno.bench(`seal ${size} B, @noble/ciphers`, { group: `seal ${size}` }, () => {
    chacha20poly1305(key, nonce).encrypt(plaintext);
  });
  Deno.bench(`open ${size} B, lib/aead.ts (WebAssembly)`, { group: `open ${size}`, baseline: true }, () => {
    openChaCha20Poly1305(key, nonce, sealed);
  });
  Deno.bench(`open ${size} B, node:crypto`, { group: `open ${size}` }, () => {
    nodeOpen(sealed);
  });
  Deno.bench(`open ${size} B, @noble/ciphers`, { group: `open ${size}` }, () => {
    chacha20poly1305(key, nonce).decrypt(sealed);
  });
}
