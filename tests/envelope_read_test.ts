import assert from "node:assert/strict";
import { Decoder, Encoder } from "@msgpack/msgpack";
import { Identity } from "../lib/identity.ts";
import { readApplicationPayload, readEnvelopeFields } from "../lib/protocol/codec.ts";
import { createMessage, encodePayload, MessageCodec, MessageType } from "../lib/protocol/mod.ts";

const decoder = new Decoder({ maxBinLength: 0x7fffffff });

/** What msgpack itself makes of `bytes`, or "error" when it refuses them. */
function generic(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch {
    return "error";
  }
}

Deno.test("an envelope's fields read directly are what msgpack reads, and every other shape is left to msgpack", () => {
  const codec = new MessageCodec();
  const identity = Identity.generate();
  let seed = 11;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const valid: Uint8Array[] = [];
  for (const timestamp of [0, 127, 200, 70_000, 2 ** 32 - 1, 2 ** 32, 1_790_000_000_000, Number.MAX_SAFE_INTEGER]) {
    for (const [ttl, size] of [[0, 0], [16, 250], [200, 300], [255, 70_000]]) {
      const message = createMessage(identity, MessageType.CUSTOM_DATA, {
        topic: "t",
        data: new Uint8Array(size).fill(ttl),
      }, { ttl, timestamp });
      valid.push(codec.encode(message));
    }
  }
  // msgpack's own encoding of other shapes: a float timestamp, a negative TTL, a string key, 8 fields.
  const encoder = new Encoder();
  const fields: unknown[] = [2, 0, new Uint8Array(32), 1_000, 3, new Uint8Array(4), new Uint8Array(64)];
  const odd = [
    encoder.encode(fields.with(3, 1000.5)),
    encoder.encode(fields.with(4, -1)),
    encoder.encode(fields.with(2, "k".repeat(32))),
    encoder.encode([...fields, 1]),
    encoder.encode(fields.with(3, 2 ** 60)),
  ];
  let direct = 0;
  for (const bytes of valid) {
    const read = readEnvelopeFields(bytes);
    assert.ok(read !== undefined, "every envelope kith writes is read directly");
    assert.deepEqual(read, generic(bytes));
    direct++;
  }
  for (const bytes of odd) {
    const read = readEnvelopeFields(bytes);
    if (read !== undefined) assert.deepEqual(read, generic(bytes));
    assert.equal(read === undefined, true, "a shape kith does not write goes to msgpack");
  }
  // Mutated, cut and lengthened copies: read directly only when msgpack reads the very same values.
  const small = valid.filter((bytes) => bytes.length < 1_000);
  for (let n = 0; n < 10_000; n++) {
    const base = small[Math.floor(random() * small.length)];
    let bytes: Uint8Array = base.slice();
    const cut = random();
    if (cut < 0.2) bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
    else if (cut < 0.3) bytes = Uint8Array.from([...bytes, Math.floor(random() * 256)]);
    for (let flips = 1 + Math.floor(random() * 3); flips > 0 && bytes.length > 0; flips--) {
      // Mostly the head, where the headers are.
      const at = random() < 0.7
        ? Math.floor(random() * Math.min(48, bytes.length))
        : Math.floor(random() * bytes.length);
      bytes[at] = Math.floor(random() * 256);
    }
    const read = readEnvelopeFields(bytes);
    if (read === undefined) continue;
    direct++;
    assert.deepEqual(read, generic(bytes), `case ${n}`);
  }
  assert.ok(direct > valid.length + 1_000, `mutated envelopes read directly: ${direct - valid.length}`);
});

Deno.test("a CUSTOM_DATA payload's fields read directly are what msgpack reads, and other shapes are left to it", () => {
  let seed = 5;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const id = (n: number) => new Uint8Array(32).fill(n);
  const valid: Uint8Array[] = [];
  for (const topic of ["t", "ingest", "x".repeat(31), "y".repeat(32), "z".repeat(255)]) {
    for (const after of [undefined, [], [id(1)], Array.from({ length: 8 }, (_, i) => id(i))]) {
      for (const size of [0, 10, 300, 70_000]) {
        valid.push(encodePayload(MessageType.CUSTOM_DATA, { topic, data: new Uint8Array(size).fill(7), after }));
      }
    }
  }
  let direct = 0;
  for (const bytes of valid) {
    const read = readApplicationPayload(bytes);
    assert.ok(read !== undefined, "every payload kith writes is read directly");
    assert.deepEqual(read, generic(bytes));
    direct++;
  }
  const encoder = new Encoder();
  for (
    const odd of [
      ["caf\u00e9", new Uint8Array(1)], // not ASCII: msgpack's UTF-8 reading
      ["t", "data as a string"],
      ["t", new Uint8Array(1), [new Uint8Array(31)]],
      ["t", new Uint8Array(1), [], 4],
      [1, new Uint8Array(1)],
    ]
  ) assert.equal(readApplicationPayload(encoder.encode(odd)), undefined);
  const small = valid.filter((bytes) => bytes.length < 1_000);
  for (let n = 0; n < 10_000; n++) {
    let bytes: Uint8Array = small[Math.floor(random() * small.length)].slice();
    const cut = random();
    if (cut < 0.2) bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
    else if (cut < 0.3) bytes = Uint8Array.from([...bytes, Math.floor(random() * 256)]);
    for (let flips = 1 + Math.floor(random() * 3); flips > 0 && bytes.length > 0; flips--) {
      const at = random() < 0.7
        ? Math.floor(random() * Math.min(40, bytes.length))
        : Math.floor(random() * bytes.length);
      bytes[at] = Math.floor(random() * 256);
    }
    const read = readApplicationPayload(bytes);
    if (read === undefined) continue;
    direct++;
    assert.deepEqual(read, generic(bytes), `case ${n}`);
  }
  assert.ok(direct > valid.length + 1_000, `mutated payloads read directly: ${direct - valid.length}`);
});
