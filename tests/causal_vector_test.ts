/**
 * Causal order on the wire (docs/protocol.md, "Causal order"): the golden vector of a CUSTOM_DATA naming two
 * predecessors, from the RFC 8032 test key, pinned here and in the document; the same message without
 * predecessors keeps the original golden vector's bytes; the strict decoding of the `after` field.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/bytes.ts";
import { ProtocolError } from "../lib/errors.ts";
import { Identity } from "../lib/identity.ts";
import { createMessage, MAX_PREDECESSORS, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { readPayload } from "../lib/protocol/schema.ts";

const me = Identity.fromSecretKey(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!);
const codec = new MessageCodec();
const NOW = 1_700_000_000_000;
const DATA = Uint8Array.from({ length: 16 }, (_, i) => i);
const ORIGINAL_ID = "ffd11f2442ee7962b42ae47afb7af47af700b960b07b609c56800f39492752f0";
const OTHER = new Uint8Array(32).fill(0xaa);

const VECTOR = {
  payload: "93a463686174c410000102030405060708090a0b0c0d0e0f92c420" + ORIGINAL_ID + "c420" + "aa".repeat(32),
  id: "7df7e6bfbb20391f3ab093a84093b81f9c34e3311fe6137468bad75ddd2c59ac",
  signature:
    "7d37f861fd94fc6a10ecbb042c1ce144d93d180c49879bf1263ec9701274cd250105cddcdb727becf41e20275dc151b9b8371211bb8bd6db227dc28878e84701",
};
const ENVELOPE = "970208c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5680008c45d" +
  VECTOR.payload + "c440" + VECTOR.signature;

Deno.test("golden vector: a CUSTOM_DATA naming two predecessors encodes to exactly these bytes, id and signature, and decodes back", () => {
  const message = createMessage(me, MessageType.CUSTOM_DATA, {
    topic: "chat",
    data: DATA,
    after: [fromHex(ORIGINAL_ID)!, OTHER],
  }, { timestamp: NOW, ttl: 8 });
  assert.equal(toHex(message.payloadBytes), VECTOR.payload);
  assert.equal(toHex(message.id), VECTOR.id);
  assert.equal(toHex(message.signature), VECTOR.signature);
  assert.equal(toHex(codec.encode(message)), ENVELOPE);
  const back = codec.decode(fromHex(ENVELOPE)!, NOW);
  assert.equal(back.type, MessageType.CUSTOM_DATA);
  if (back.type !== MessageType.CUSTOM_DATA) return;
  assert.deepEqual(back.payload.after?.map(toHex), [ORIGINAL_ID, toHex(OTHER)]);
  assert.equal(codec.peekTopic(codec.parse(fromHex(ENVELOPE)!)), "chat");
});

Deno.test("a CUSTOM_DATA without predecessors writes no after field: the original golden vector's id is unchanged", () => {
  for (const after of [undefined, []]) {
    const message = createMessage(me, MessageType.CUSTOM_DATA, { topic: "chat", data: DATA, after }, {
      timestamp: NOW,
      ttl: 8,
    });
    assert.equal(toHex(message.id), ORIGINAL_ID);
  }
  const old = readPayload(MessageType.CUSTOM_DATA, ["chat", DATA]);
  assert.deepEqual(old.after, [], "absent reads as none");
});

Deno.test("docs/protocol.md carries the causal-order vector", async () => {
  const doc = (await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url))).replace(/\s+/g, "");
  for (const hex of [VECTOR.payload, VECTOR.id, VECTOR.signature]) {
    assert.ok(doc.includes(hex), `docs/protocol.md lacks ${hex}`);
  }
});

function refused(fields: unknown[]): string {
  try {
    readPayload(MessageType.CUSTOM_DATA, fields);
  } catch (error) {
    assert.ok(error instanceof ProtocolError);
    return error.code;
  }
  return "accepted";
}

Deno.test("after decodes strictly: at most MAX_PREDECESSORS distinct ids of 32 bytes", () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => new Uint8Array(32).fill(i + 1));
  assert.equal(MAX_PREDECESSORS, 8);
  assert.equal(refused(["chat", DATA, ids(8)]), "accepted");
  assert.equal(refused(["chat", DATA, []]), "accepted");
  assert.equal(refused(["chat", DATA, ids(9)]), "BAD_FIELD", "over the bound");
  assert.equal(refused(["chat", DATA, [OTHER, OTHER]]), "BAD_FIELD", "an id twice");
  assert.equal(refused(["chat", DATA, [new Uint8Array(31)]]), "BAD_FIELD", "not 32 bytes");
  assert.equal(refused(["chat", DATA, OTHER]), "BAD_FIELD", "not a list");
  assert.equal(refused(["chat", DATA, [], 1]), "BAD_FIELD", "a field too many");
});
