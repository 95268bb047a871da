import assert from "node:assert/strict";
import { Identity } from "../lib/identity.ts";
import { signatureMemo } from "../lib/sim/signature_memo.ts";

Deno.test("the signature memo answers a repeated valid check from memory and never keeps a forgery", () => {
  const me = Identity.generate();
  const message = new TextEncoder().encode("hello");
  const signature = me.sign(message);
  const memo = signatureMemo(2);
  assert.equal(memo.check(signature, message, me.publicKey), true);
  assert.equal(memo.check(signature, message, me.publicKey), true);
  assert.deepEqual(memo.stats, { hits: 1, checked: 1 });
  const forged = signature.slice();
  forged[0] ^= 1;
  assert.equal(memo.check(forged, message, me.publicKey), false);
  assert.equal(memo.check(forged, message, me.publicKey), false);
  assert.deepEqual(memo.stats, { hits: 1, checked: 3 }, "a forgery is checked every time");
  // The same signature over other bytes, or by another key, is its own check.
  assert.equal(memo.check(signature, new TextEncoder().encode("hellp"), me.publicKey), false);
  assert.equal(memo.check(signature, message, Identity.generate().publicKey), false);
});

Deno.test("the signature memo keeps at most its bound of answers, dropping the oldest", () => {
  const me = Identity.generate();
  const messages = ["a", "b", "c"].map((text) => new TextEncoder().encode(text));
  const signatures = messages.map((message) => me.sign(message));
  const memo = signatureMemo(2);
  messages.forEach((message, i) => memo.check(signatures[i], message, me.publicKey));
  assert.equal(memo.check(signatures[2], messages[2], me.publicKey), true);
  assert.equal(memo.check(signatures[0], messages[0], me.publicKey), true);
  assert.deepEqual(memo.stats, { hits: 1, checked: 4 }, "the oldest answer was dropped and checked again");
  assert.throws(() => signatureMemo(0), RangeError);
});
