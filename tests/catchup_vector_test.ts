/**
 * Catch-up on the wire (docs/protocol.md, "Catch-up"): golden vectors of CATCHUP_RECONCILE, CATCHUP_FETCH and
 * CATCHUP_BODIES from the RFC 8032 test key, the ranges' wire form, and the strict decoding of every field. The
 * vectors are link messages: unsigned, TTL 0.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/bytes.ts";
import { decodeRanges, encodeRanges, END, type SyncRange } from "../lib/catchup/mod.ts";
import { Identity } from "../lib/identity.ts";
import {
  createLinkMessage,
  createMessage,
  MAX_CATCHUP_BODY_BYTES,
  MessageCodec,
  MessageType,
  type PayloadByType,
} from "../lib/protocol/mod.ts";
import { refused } from "./_payload_refusal.ts";

const me = Identity.fromSecretKey(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!);
const codec = new MessageCodec();
const NOW = 1_700_000_000_000;
const A = new Uint8Array(32).fill(0xaa);
const B = new Uint8Array(32).fill(0xbb);
const EMPTY = new Uint8Array(0);
const BODY = codec.encode(
  createMessage(me, MessageType.CUSTOM_DATA, { topic: "chat", data: new TextEncoder().encode("hi") }, {
    timestamp: NOW - 1_000,
    ttl: 0,
  }),
);
const BODY_HEX =
  "970208c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5641800c40a92a463686174c4026869c440e99f50969b210123444c0f36dceac9604604fc403b2a65b984b33802a5b4fc57d5f0bfa24f312c7bc80fb5628f9f2ae957b5e66e7ac272cacb29c112ab4c5701";

type CatchupType =
  | typeof MessageType.CATCHUP_RECONCILE
  | typeof MessageType.CATCHUP_FETCH
  | typeof MessageType.CATCHUP_BODIES;
interface Vector {
  name: string;
  type: CatchupType;
  payload: PayloadByType[CatchupType];
  payloadHex: string;
  id: string;
  envelope: string;
}

const VECTORS: Vector[] = [
  {
    name: "CATCHUP_RECONCILE, a session's first message: the whole order as one fingerprint",
    type: MessageType.CATCHUP_RECONCILE,
    payload: {
      topic: "chat",
      session: 7,
      reply: false,
      since: NOW - 86_400_000,
      ranges: [{ timestamp: 0, id: EMPTY, mode: 1, value: new Uint8Array(16).fill(0x11) }],
      have: [],
    },
    payloadHex: "96a46368617407c2cf0000018bcabf0c00919300c400c4101111111111111111111111111111111190",
    id: "18059963bb3ceded7c9810db11c2ee072e2f17795aecfe32ca6790867d854635",
    envelope:
      "970213c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5680000c42996a46368617407c2cf0000018bcabf0c00919300c400c4101111111111111111111111111111111190c400",
  },
  {
    name: "CATCHUP_RECONCILE, an answer: a settled range, a range's ids, and an id the other side lacks",
    type: MessageType.CATCHUP_RECONCILE,
    payload: {
      topic: "chat",
      session: 7,
      reply: true,
      since: NOW - 86_400_000,
      ranges: [
        { timestamp: NOW - 1_000 + 1, id: A, mode: 0, value: EMPTY },
        { timestamp: 0, id: EMPTY, mode: 2, value: [B] },
      ],
      have: [A],
    },
    payloadHex:
      "96a46368617407c3cf0000018bcabf0c009292cf0000018bcfe56419c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9300c40091c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb91c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    id: "09e812ec12acb1589c3d037c0766fc219df9e2b46cc180c9cee34733576ab895",
    envelope:
      "970213c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5680000c48896a46368617407c3cf0000018bcabf0c009292cf0000018bcfe56419c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9300c40091c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb91c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac400",
  },
  {
    name: "CATCHUP_FETCH of two ids",
    type: MessageType.CATCHUP_FETCH,
    payload: { topic: "chat", requestId: 1, ids: [A, B] },
    payloadHex:
      "93a4636861740192c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    id: "0e7ea62ebee5401319b921089a29da7db3f8eeb97ec40022a22589158b889d94",
    envelope:
      "970214c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5680000c44c93a4636861740192c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbc400",
  },
  {
    name: "CATCHUP_BODIES: one signed message, and an id no longer held",
    type: MessageType.CATCHUP_BODIES,
    payload: { topic: "chat", requestId: 1, bodies: [BODY], missing: [B] },
    payloadHex: `94a4636861740191c47d${BODY_HEX}91c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb`,
    id: "beb21a09c5ccf08b7b3a0c3931a965230ef2e07db0b38221c889c477ea1121f6",
    envelope:
      `970215c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5680000c4aa94a4636861740191c47d${BODY_HEX}91c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbc400`,
  },
];

Deno.test("golden vectors: catch-up messages from a fixed key encode to exactly these bytes and decode back", () => {
  assert.equal(toHex(BODY), BODY_HEX);
  for (const vector of VECTORS) {
    const message = createLinkMessage(me, vector.type, vector.payload as never, { timestamp: NOW });
    assert.equal(toHex(message.payloadBytes), vector.payloadHex, vector.name);
    assert.equal(toHex(message.id), vector.id, vector.name);
    assert.equal(toHex(codec.encode(message)), vector.envelope, vector.name);
    const back = codec.decode(fromHex(vector.envelope)!, NOW, { linkPeer: me.nodeId });
    assert.equal(back.type, vector.type);
    assert.deepEqual(back.payload, vector.payload, vector.name);
  }
});

Deno.test("docs/protocol.md carries the same catch-up vectors", async () => {
  const doc = (await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url))).replace(/\s+/g, "");
  for (const vector of VECTORS) {
    for (const hex of [vector.payloadHex, vector.id, vector.envelope]) {
      assert.ok(doc.includes(hex), `docs/protocol.md lacks ${hex.slice(0, 40)}... (${vector.name})`);
    }
  }
});

Deno.test("ranges go on the wire as distances from the previous bound plus one, the end as 0, and come back the same", () => {
  const ranges: SyncRange[] = [
    { upper: { timestamp: NOW, id: A }, fingerprint: new Uint8Array(16).fill(1) },
    { upper: { timestamp: NOW, id: B }, skip: true },
    { upper: { timestamp: NOW + 5, id: EMPTY }, ids: [A] },
    { upper: END, ids: [] },
  ];
  const wire = encodeRanges(ranges);
  assert.deepEqual(wire.map((r) => r.timestamp), [NOW + 1, 1, 6, 0]);
  assert.deepEqual(decodeRanges(wire), ranges);
});

Deno.test("CATCHUP_RECONCILE decodes strictly: a topic, bounded ranges of bounded ids, the end only last, no id twice", () => {
  const R = MessageType.CATCHUP_RECONCILE;
  const ok = (ranges: unknown[], have: unknown[] = []) => refused(R, ["chat", 1, false, 0, ranges, have]);
  assert.equal(ok([[0, EMPTY, new Uint8Array(16)]]), "accepted");
  assert.equal(ok([[5, A], [0, EMPTY, [A, B]]], [A]), "accepted");
  assert.equal(refused(R, ["", 1, false, 0, [], []]), "BAD_FIELD", "the network-wide topic is not logged");
  assert.equal(refused(R, ["chat", 2 ** 32, false, 0, [], []]), "BAD_FIELD", "session over 32 bits");
  assert.equal(ok([[0, EMPTY], [5, EMPTY]]), "BAD_FIELD", "the end before the last range");
  assert.equal(ok([[-1, EMPTY]]), "BAD_FIELD");
  assert.equal(ok([[1, new Uint8Array(3)]]), "accepted", "a bound's id prefix of 3 bytes");
  assert.equal(ok([[1, new Uint8Array(33)]]), "BAD_FIELD", "a bound's id of 33 bytes");
  assert.equal(ok([[1, EMPTY, new Uint8Array(15)]]), "BAD_FIELD", "a fingerprint of 15 bytes");
  assert.equal(ok([[1, EMPTY, [new Uint8Array(31)]]]), "BAD_FIELD");
  assert.equal(ok([[1, EMPTY, "x"]]), "BAD_FIELD");
  assert.equal(ok([[1]]), "BAD_FIELD");
  assert.equal(ok([[1, EMPTY, [], 4]]), "BAD_FIELD");
  assert.equal(ok([[1, EMPTY, Array.from({ length: 65 }, () => A)]]), "BAD_FIELD", "65 ids in a range");
  assert.equal(ok(Array.from({ length: 513 }, () => [1, EMPTY])), "BAD_FIELD", "513 ranges");
  const full = Array.from({ length: 64 }, () => [1, EMPTY, Array.from({ length: 64 }, () => A)]);
  assert.equal(ok(full), "accepted", "4,096 ids in all");
  assert.equal(ok([...full, [1, EMPTY, [A]]]), "BAD_FIELD", "4,097 ids in all");
  assert.equal(ok([], [A, A]), "BAD_FIELD", "an id twice in have");
  assert.equal(
    ok(
      [],
      Array.from(
        { length: 4_097 },
        (_, i) => new Uint8Array(32).fill(i % 256).map((x, j) => j < 2 ? (i >> (8 * j)) & 255 : x),
      ),
    ),
    "BAD_FIELD",
  );
});

Deno.test("CATCHUP_FETCH and CATCHUP_BODIES decode strictly: 1 to 256 distinct ids, at most 256 non-empty bodies of 224 KiB in all", () => {
  const F = MessageType.CATCHUP_FETCH, D = MessageType.CATCHUP_BODIES;
  const ids = (n: number) =>
    Array.from(
      { length: n },
      (_, i) => new Uint8Array(32).fill(0).map((_, j) => j === 0 ? i & 255 : j === 1 ? i >> 8 : 0),
    );
  assert.equal(refused(F, ["chat", 1, ids(256)]), "accepted");
  assert.equal(refused(F, ["chat", 1, ids(257)]), "BAD_FIELD");
  assert.equal(refused(F, ["chat", 1, []]), "BAD_FIELD", "a fetch of nothing");
  assert.equal(refused(F, ["chat", 1, [A, A]]), "BAD_FIELD", "an id twice");
  assert.equal(refused(D, ["chat", 1, [BODY], []]), "accepted");
  assert.equal(refused(D, ["chat", 1, [EMPTY], []]), "BAD_FIELD", "an empty body");
  assert.equal(refused(D, ["chat", 1, [new Uint8Array(MAX_CATCHUP_BODY_BYTES)], []]), "accepted");
  assert.equal(
    refused(D, ["chat", 1, [new Uint8Array(MAX_CATCHUP_BODY_BYTES), BODY], []]),
    "BAD_FIELD",
    "over 224 KiB",
  );
  assert.equal(refused(D, ["chat", 1, Array.from({ length: 257 }, () => BODY), []]), "BAD_FIELD");
  assert.equal(refused(D, ["chat", 1, [], ids(257)]), "BAD_FIELD");
});
