import assert from "node:assert/strict";
import { ProtocolError } from "../lib/errors.ts";
import { encodeFrame, FrameDecoder } from "../lib/framing.ts";
import { RecordOpener, RecordSealer } from "../lib/transport/session.ts";

const key = Uint8Array.from({ length: 32 }, (_, i) => i);
const text = (s: string) => new TextEncoder().encode(s);

Deno.test("records open in order with the same key; a tampered or reordered record fails with DECRYPT_FAILED", () => {
  const sealer = new RecordSealer(key);
  const first = sealer.seal(text("one")), second = sealer.seal(text("two"));
  assert.deepEqual(new RecordOpener(key).open(first), text("one"));
  const opener = new RecordOpener(key);
  assert.throws(() => opener.open(second), (e) => e instanceof ProtocolError && e.code === "DECRYPT_FAILED");
  const tampered = first.slice();
  tampered[0] ^= 1;
  assert.throws(() => new RecordOpener(key).open(tampered), (e) => e instanceof ProtocolError);
});

Deno.test("sealFrame is the sealed record with its length prefix, and counts as one record", () => {
  const a = new RecordSealer(key), b = new RecordSealer(key);
  const framed = a.sealFrame(text("hello"));
  assert.deepEqual(framed, encodeFrame(b.seal(text("hello"))));
  assert.equal(a.counter, 1);
  const opener = new RecordOpener(key);
  const records = new FrameDecoder().push(new Uint8Array([...framed, ...a.sealFrame(text("again"))]));
  assert.deepEqual(records.map((record) => new TextDecoder().decode(opener.open(record))), ["hello", "again"]);
});
