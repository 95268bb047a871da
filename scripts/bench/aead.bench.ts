/**
 * The record cipher: kith's ChaCha20-Poly1305 in WebAssembly (lib/aead.ts, used up to WASM_MAX_BYTES) against
 * node:crypto's per-record cipher object, sealing and opening, at 256 B (a single envelope's record), 1 KiB (the
 * limit) and 16 KiB (a batched record). Run: deno task bench
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
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

/** Seals through the module even above WASM_MAX_BYTES, to show where node:crypto wins. */
function wasmOnlySeal(plaintext: Uint8Array): Uint8Array {
  return sealChaCha20Poly1305(key, nonce, plaintext);
}

for (const size of [256, 1024, 16384]) {
  const plaintext = new Uint8Array(size).fill(0xab);
  const sealed = nodeSeal(plaintext);
  Deno.bench(`seal ${size} B, node:crypto`, { group: `seal ${size}`, baseline: true }, () => {
    nodeSeal(plaintext);
  });
  if (size <= 1024) {
    Deno.bench(`seal ${size} B, WebAssembly (lib/aead.ts)`, { group: `seal ${size}` }, () => {
      wasmOnlySeal(plaintext);
    });
    Deno.bench(`open ${size} B, node:crypto`, { group: `open ${size}`, baseline: true }, () => {
      nodeOpen(sealed);
    });
    Deno.bench(`open ${size} B, WebAssembly (lib/aead.ts)`, { group: `open ${size}` }, () => {
      openChaCha20Poly1305(key, nonce, sealed);
    });
  } else {
    Deno.bench(`seal ${size} B, lib/aead.ts (node:crypto above the limit)`, { group: `seal ${size}` }, () => {
      sealChaCha20Poly1305(key, nonce, plaintext);
    });
  }
}
