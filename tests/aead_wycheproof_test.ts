/** kith's record cipher against Project Wycheproof's ChaCha20-Poly1305 vectors (tests/fixtures/wycheproof/). */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/bytes.ts";
import { checkRecordCipher, MAX_AAD_BYTES, openChaCha20Poly1305, sealChaCha20Poly1305 } from "../lib/aead.ts";
import { KithError } from "../lib/errors.ts";

interface AeadCase {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: "valid" | "invalid" | "acceptable";
}
const vectors = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/wycheproof/chacha20_poly1305_test.json", import.meta.url)),
) as { testGroups: { ivSize: number; keySize: number; tagSize: number; tests: AeadCase[] }[] };

Deno.test("Wycheproof ChaCha20-Poly1305: every valid case seals and opens to its bytes, every invalid one is refused", () => {
  let checked = 0, refusedSizes = 0;
  for (const group of vectors.testGroups) {
    for (const t of group.tests) {
      const key = fromHex(t.key)!, nonce = fromHex(t.iv)!, aad = fromHex(t.aad)!, msg = fromHex(t.msg)!;
      const sealed = fromHex(t.ct + t.tag)!;
      if (group.ivSize !== 96 || aad.length > MAX_AAD_BYTES) {
        // kith takes 12-byte nonces only (its records count them) and at most 256 bytes of additional data.
        assert.throws(() => openChaCha20Poly1305(key, nonce, sealed, aad), RangeError, `case ${t.tcId}`);
        refusedSizes++;
        continue;
      }
      const opened = openChaCha20Poly1305(key, nonce, sealed, aad);
      if (t.result === "valid") {
        assert.equal(toHex(sealChaCha20Poly1305(key, nonce, msg, 0, aad)), t.ct + t.tag, `case ${t.tcId} seal`);
        assert.equal(opened && toHex(opened), t.msg, `case ${t.tcId} open`);
      } else {
        assert.equal(opened, undefined, `case ${t.tcId} (${t.result}) must not open`);
      }
      checked++;
    }
  }
  assert.ok(checked >= 300, `${checked} cases checked`);
  assert.ok(refusedSizes > 0, "the cases kith refuses by size were seen");
});

Deno.test("the start-up known-answer check passes on this runtime and refuses a cipher that is wrong on large records", () => {
  checkRecordCipher();
  const wrongWhenLarge: typeof sealChaCha20Poly1305 = (key, nonce, plaintext, headroom, aad) => {
    const sealed = sealChaCha20Poly1305(key, nonce, plaintext, headroom, aad);
    if (plaintext.length > 1024) sealed[sealed.length - 1] ^= 1; // a wrong tag above 1 KiB
    return sealed;
  };
  assert.throws(
    () => checkRecordCipher(wrongWhenLarge),
    (e: unknown) => e instanceof KithError && e.code === "CIPHER_BROKEN" && e.message.includes("4,096 bytes, seal"),
  );
});
