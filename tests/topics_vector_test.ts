/**
 * Topics on the wire (docs/protocol.md, "Topics"): golden vectors of TOPIC_SUBSCRIPTIONS and of a GOSSIP_MESSAGE
 * digest naming its topic, from the RFC 8032 test key, and the strict decoding of their fields. The vectors are
 * link messages: unsigned, TTL 0.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/bytes.ts";
import { Identity } from "../lib/identity.ts";
import {
  createLinkMessage,
  type GossipDigestPayload,
  MessageCodec,
  MessageType,
  type TopicSubscriptionsPayload,
} from "../lib/protocol/mod.ts";
import { refused } from "./_payload_refusal.ts";
import { readPayload } from "../lib/protocol/schema.ts";

const me = Identity.fromSecretKey(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!);
const codec = new MessageCodec();
const NOW = 1_700_000_000_000;
const ID = new Uint8Array(32).fill(0xaa);
const KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const ENVELOPE_HEAD = `9702%TYPE%c420${KEY}cf0000018bcfe5680000`;

interface Vector {
  name: string;
  type: typeof MessageType.TOPIC_SUBSCRIPTIONS | typeof MessageType.GOSSIP_MESSAGE;
  payload: TopicSubscriptionsPayload | GossipDigestPayload;
  payloadHex: string;
  id: string;
}

const VECTORS: Vector[] = [
  {
    name: "TOPIC_SUBSCRIPTIONS, the whole set on a new link",
    type: MessageType.TOPIC_SUBSCRIPTIONS,
    payload: { full: true, all: false, join: ["chat", "news"], leave: [] },
    payloadHex: "94c3c292a463686174a46e65777390",
    id: "90388833ebe0aa348189d3bf0a14e687a8cebabace4a0da2927c8f937c40449d",
  },
  {
    name: "TOPIC_SUBSCRIPTIONS, a change",
    type: MessageType.TOPIC_SUBSCRIPTIONS,
    payload: { full: false, all: false, join: ["sports"], leave: ["news"] },
    payloadHex: "94c2c291a673706f72747391a46e657773",
    id: "5138df85a9bc1129aea0ac08db9da53e1ef2937bbecd37d6461776f61c7489ad",
  },
  {
    name: "TOPIC_SUBSCRIPTIONS of an all-topics node",
    type: MessageType.TOPIC_SUBSCRIPTIONS,
    payload: { full: true, all: true, join: [], leave: [] },
    payloadHex: "94c3c39090",
    id: "b3d9ff00312f113f55e0a72198d976b2a0845932c12eba1f7ba6bc949c1312bb",
  },
  {
    name: "GOSSIP_MESSAGE digest of topic chat",
    type: MessageType.GOSSIP_MESSAGE,
    payload: { have: [ID], want: [], prune: false, topic: "chat" },
    payloadHex: "9491c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa90c2a463686174",
    id: "9f55953f256e937b326093f29be3b8045a649a0b294463f184a08b462729eaa9",
  },
  {
    name: "GOSSIP_MESSAGE digest of the network-wide topic (no topic written)",
    type: MessageType.GOSSIP_MESSAGE,
    payload: { have: [ID], want: [], prune: false, topic: "" },
    payloadHex: "9291c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa90",
    id: "6c7a1b55ef841cf8933e8f820f9afda2319d7d0ef49755a17935095930f891b6",
  },
];

function envelopeHex(vector: Vector): string {
  const length = (vector.payloadHex.length / 2).toString(16).padStart(2, "0");
  const head = ENVELOPE_HEAD.replace("%TYPE%", vector.type.toString(16).padStart(2, "0"));
  return `${head}c4${length}${vector.payloadHex}c400`;
}

Deno.test("golden vectors: TOPIC_SUBSCRIPTIONS and a topic's digest from a fixed key encode to exactly these bytes and decode back", () => {
  for (const vector of VECTORS) {
    const message = createLinkMessage(me, vector.type, vector.payload as never, {
      timestamp: NOW,
    });
    assert.equal(toHex(message.payloadBytes), vector.payloadHex, vector.name);
    assert.equal(toHex(message.id), vector.id, vector.name);
    const bytes = codec.encode(message);
    assert.equal(toHex(bytes), envelopeHex(vector), vector.name);
    const back = codec.decode(fromHex(envelopeHex(vector))!, NOW, { linkPeer: me.nodeId });
    assert.equal(back.type, vector.type);
    assert.equal(toHex(back.id), vector.id);
    assert.deepEqual(back.payload, vector.payload, vector.name);
    assert.equal(
      codec.peekTopic(codec.parse(bytes)),
      (vector.payload as GossipDigestPayload).topic ?? "",
    );
  }
});

Deno.test("docs/protocol.md carries the same topic vectors", async () => {
  const doc = (await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url))).replace(/\s+/g, " ");
  for (const vector of VECTORS) {
    for (const hex of [vector.payloadHex, vector.id, envelopeHex(vector)]) {
      assert.ok(doc.includes(hex), `docs/protocol.md lacks ${hex} (${vector.name})`);
    }
  }
});

Deno.test("TOPIC_SUBSCRIPTIONS decodes strictly: four fields, booleans, at most 64 distinct names of 1 to 255 bytes", () => {
  const T = MessageType.TOPIC_SUBSCRIPTIONS;
  const names = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);
  assert.equal(refused(T, [true, false, names(64), []]), "accepted");
  assert.equal(refused(T, [false, false, names(64), names(64)]), "accepted");
  assert.equal(refused(T, [true, false, names(65), []]), "BAD_FIELD");
  assert.equal(refused(T, [false, false, [], names(65)]), "BAD_FIELD");
  assert.equal(refused(T, [true, false, [""], []]), "BAD_FIELD", "the network-wide topic is never named");
  assert.equal(refused(T, [true, false, ["x".repeat(255)], []]), "accepted");
  assert.equal(refused(T, [true, false, ["é".repeat(128)], []]), "BAD_FIELD", "256 bytes of UTF-8");
  assert.equal(refused(T, [true, false, ["a", "a"], []]), "BAD_FIELD", "a name twice");
  assert.equal(refused(T, [true, false, [1], []]), "BAD_FIELD");
  assert.equal(refused(T, [1, false, [], []]), "BAD_FIELD");
  assert.equal(refused(T, [true, 0, [], []]), "BAD_FIELD");
  assert.equal(refused(T, [true, false, []]), "BAD_FIELD");
  assert.equal(refused(T, [true, false, [], [], []]), "BAD_FIELD");
});

Deno.test("a digest's topic is a trailing optional string: absent is the network-wide topic, written only when named", () => {
  const G = MessageType.GOSSIP_MESSAGE;
  assert.deepEqual(readPayload(G, [[ID], []]), { have: [ID], want: [], prune: false, topic: "" });
  assert.deepEqual(readPayload(G, [[], [], true]), { have: [], want: [], prune: true, topic: "" });
  assert.deepEqual(readPayload(G, [[], [], false, ""]), { have: [], want: [], prune: false, topic: "" });
  assert.equal(refused(G, [[], [], false, "x".repeat(255)]), "accepted");
  assert.equal(refused(G, [[], [], false, "x".repeat(256)]), "BAD_FIELD");
  assert.equal(refused(G, [[], [], false, 7]), "BAD_FIELD");
  assert.equal(refused(G, [[], [], "chat"]), "BAD_FIELD", "the topic comes after prune, which must then be written");
  assert.equal(refused(G, [[], [], false, "chat", 1]), "BAD_FIELD");
  // PEER_DISCOVERY's trailing topic is encoded the same way.
  const D = MessageType.PEER_DISCOVERY;
  assert.deepEqual(readPayload(D, [32]), { limit: 32, topic: "" });
  assert.deepEqual(readPayload(D, [32, "chat"]), { limit: 32, topic: "chat" });
  assert.equal(refused(D, [32, 5]), "BAD_FIELD");
});
