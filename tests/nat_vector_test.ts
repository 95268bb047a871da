/**
 * Observed addresses and reachability on the wire (docs/protocol.md, "Observed addresses and reachability"):
 * golden vectors of OBSERVED_ADDRESS, DIAL_BACK_REQUEST and DIAL_BACK_RESPONSE from the RFC 8032 test key, as
 * link messages (unsigned, TTL 0), and the strict decoding of their fields.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/bytes.ts";
import { Identity } from "../lib/identity.ts";
import { createLinkMessage, MessageCodec, MessageType, type PayloadByType } from "../lib/protocol/mod.ts";
import { refused } from "./_payload_refusal.ts";
import { DIAL_BACK_AGENT } from "../lib/version.ts";

const me = Identity.fromSecretKey(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!);
const codec = new MessageCodec();
const NOW = 1_700_000_000_000;
const KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const ENVELOPE_HEAD = `9702%TYPE%c420${KEY}cf0000018bcfe5680000`;

type NatType =
  | typeof MessageType.OBSERVED_ADDRESS
  | typeof MessageType.DIAL_BACK_REQUEST
  | typeof MessageType.DIAL_BACK_RESPONSE;

interface Vector {
  name: string;
  type: NatType;
  payload: PayloadByType[NatType];
  payloadHex: string;
  id: string;
}

const VECTORS: Vector[] = [
  {
    name: "OBSERVED_ADDRESS: seen at 203.0.113.7:50123",
    type: MessageType.OBSERVED_ADDRESS,
    payload: { address: "203.0.113.7:50123" },
    payloadHex: "91b13230332e302e3131332e373a3530313233",
    id: "6f0dfaec876113f268fd41ce613e41d5dcf4f43d8de2f0284c73276a51d76ee0",
  },
  {
    name: "DIAL_BACK_REQUEST 7: dial me at 203.0.113.7:7400",
    type: MessageType.DIAL_BACK_REQUEST,
    payload: { requestId: 7, address: "203.0.113.7:7400" },
    payloadHex: "9207b03230332e302e3131332e373a37343030",
    id: "df332c21132a73d7a95984cdee973839adc96c2760986214e27999f6ac57cf2d",
  },
  {
    name: "DIAL_BACK_RESPONSE 7: reached",
    type: MessageType.DIAL_BACK_RESPONSE,
    payload: { requestId: 7, status: 0, detail: "" },
    payloadHex: "930700a0",
    id: "dd5066ff55d54f8ffcaad988253d94823c5423e5da4ab6e5dbbcdd9c986069c4",
  },
  {
    name: "DIAL_BACK_RESPONSE 7: refused",
    type: MessageType.DIAL_BACK_RESPONSE,
    payload: { requestId: 7, status: 2, detail: "the address is not the asker's own IP" },
    payloadHex: "930702d9257468652061646472657373206973206e6f74207468652061736b65722773206f776e204950",
    id: "ecab182a4bdb079c75f66adec9b7d8c58c031c9adb95dadcb7489d6afea988f8",
  },
];

function envelopeHex(vector: Vector): string {
  const length = (vector.payloadHex.length / 2).toString(16).padStart(2, "0");
  const head = ENVELOPE_HEAD.replace("%TYPE%", vector.type.toString(16).padStart(2, "0"));
  return `${head}c4${length}${vector.payloadHex}c400`;
}

Deno.test("golden vectors: OBSERVED_ADDRESS and the dial-back messages from a fixed key encode to exactly these bytes and decode back", () => {
  for (const vector of VECTORS) {
    const message = createLinkMessage(me, vector.type, vector.payload as never, { timestamp: NOW });
    assert.equal(toHex(message.payloadBytes), vector.payloadHex, vector.name);
    assert.equal(toHex(message.id), vector.id, vector.name);
    const bytes = codec.encode(message);
    assert.equal(toHex(bytes), envelopeHex(vector), vector.name);
    const back = codec.decode(fromHex(envelopeHex(vector))!, NOW, { linkPeer: me.nodeId });
    assert.equal(back.type, vector.type);
    assert.deepEqual(back.payload, vector.payload, vector.name);
  }
});

Deno.test("docs/protocol.md carries the same NAT vectors and the dial-back agent", async () => {
  const doc = (await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url))).replace(/\s+/g, " ");
  for (const vector of VECTORS) {
    for (const hex of [vector.payloadHex, vector.id, envelopeHex(vector)]) {
      assert.ok(doc.includes(hex), `docs/protocol.md lacks ${hex} (${vector.name})`);
    }
  }
  assert.equal(DIAL_BACK_AGENT, "kith/0.1.0 dialback/1");
  assert.ok(doc.includes("`kith/0.1.0 dialback/1`"));
});

Deno.test("the NAT messages decode strictly: an address host:port, a 32-bit request id, a status byte, 256 bytes of detail", () => {
  const O = MessageType.OBSERVED_ADDRESS, Q = MessageType.DIAL_BACK_REQUEST, R = MessageType.DIAL_BACK_RESPONSE;
  assert.equal(refused(O, ["[2001:db8::1]:7400"]), "accepted");
  assert.equal(refused(O, [""]), "BAD_FIELD", "no empty observation");
  assert.equal(refused(O, ["203.0.113.7"]), "BAD_FIELD", "no port");
  assert.equal(refused(O, ["203.0.113.7:0"]), "BAD_FIELD");
  assert.equal(refused(O, ["203.0.113.7:1", "x"]), "BAD_FIELD");
  assert.equal(refused(Q, [2 ** 32 - 1, "203.0.113.7:7400"]), "accepted");
  assert.equal(refused(Q, [2 ** 32, "203.0.113.7:7400"]), "BAD_FIELD");
  assert.equal(refused(Q, [1, ""]), "BAD_FIELD");
  assert.equal(refused(Q, [1]), "BAD_FIELD");
  assert.equal(refused(R, [1, 255, "x".repeat(256)]), "accepted");
  assert.equal(refused(R, [1, 256, ""]), "BAD_FIELD");
  assert.equal(refused(R, [1, 0, "x".repeat(257)]), "BAD_FIELD");
  assert.equal(refused(R, [1, 0]), "BAD_FIELD");
});
