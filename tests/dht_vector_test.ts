/**
 * The DHT on the wire (docs/protocol.md, "DHT"): golden vectors of DHT_REQUEST and DHT_RESPONSE from the RFC 8032
 * test key (link messages: unsigned, TTL 0), one carrying a signed record whose signature is pinned too, and the
 * same vectors in docs/protocol.md.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/bytes.ts";
import {
  recordKey,
  requestFrom,
  requestPayload,
  responseFrom,
  responsePayload,
  signRecord,
  verifyRecord,
} from "../lib/dht/mod.ts";
import { Identity } from "../lib/identity.ts";
import { createLinkMessage, MessageCodec, MessageType } from "../lib/protocol/mod.ts";

const me = Identity.fromSecretKey(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!);
const codec = new MessageCodec();
const NOW = 1_700_000_000_000;
const AA = "aa".repeat(32);
const RECORD_KEY = "c65e43403b4b66ba37c1708a88596ffa4cbf46c2e0dde724d08accf014efa29b";
const SIGNATURE =
  "39c63d77db4546ff0fe51b6e97c0eb955c69dfd380e746db704339a6f5fcc1c29b482b545b0ed3c745161843011b8b2c85c1a46aa3af21b2012aaf567285f704";
const record = signRecord(me, "profile", new TextEncoder().encode("hi"), 1, NOW, 60_000);

interface Vector {
  name: string;
  type: typeof MessageType.DHT_REQUEST | typeof MessageType.DHT_RESPONSE;
  payload: unknown;
  payloadHex: string;
  id: string;
}

const VECTORS: Vector[] = [
  {
    name: "DHT_REQUEST FIND_NODE, request 7, key 32 bytes 11",
    type: MessageType.DHT_REQUEST,
    payload: requestPayload(7, { op: "FIND_NODE", key: new Uint8Array(32).fill(0x11) }),
    payloadHex: "940700c420111111111111111111111111111111111111111111111111111111111111111190",
    id: "814a249ae21c8bcfeb133b7d1b26363acff8883bb813afd860fbe26c1b669f72",
  },
  {
    name: "DHT_RESPONSE to request 7: OK, one node",
    type: MessageType.DHT_RESPONSE,
    payload: responsePayload(7, { status: 0, nodes: [{ nodeId: AA, address: "127.0.0.2:7400" }], providers: [] }),
    payloadHex:
      "9507009193c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaae3132372e302e302e323a37343030009090",
    id: "9a3926a377898f363177e53811a43e1cf8fdc16cf6bf83fb07d3e57c9ee8924c",
  },
  {
    name: 'DHT_REQUEST PUT_VALUE, request 8: the key\'s record "profile" = "hi", seq 1, expiring at T + 60 s',
    type: MessageType.DHT_REQUEST,
    payload: requestPayload(8, { op: "PUT_VALUE", key: recordKey(me.publicKey, "profile"), record }),
    payloadHex: "940802c420" + RECORD_KEY +
      "9196c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511aa770726f66696c65c402686901cf0000018bcfe65260c440" +
      SIGNATURE,
    id: "d232418544090dca63cd1696337459c6e8c78276f2cdf15dbadbb29c2178484c",
  },
  {
    name: "DHT_RESPONSE to request 9: OK, one provider expiring at T + 24 h",
    type: MessageType.DHT_RESPONSE,
    payload: responsePayload(9, {
      status: 0,
      nodes: [],
      providers: [{ nodeId: AA, address: "127.0.0.3:7400", expiresAt: NOW + 86_400_000 }],
    }),
    payloadHex:
      "950900909193c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaae3132372e302e302e333a37343030cf0000018bd50bc40090",
    id: "aa865ce0bfb788f33e941caee58e1441101a12ec3d87e3dddc270668af71c4d2",
  },
];

const KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

function envelopeHex(vector: Vector): string {
  const length = (vector.payloadHex.length / 2).toString(16).padStart(2, "0");
  return `9702${vector.type.toString(16)}c420${KEY}cf0000018bcfe5680000c4${length}${vector.payloadHex}c400`;
}

Deno.test("golden vectors: DHT_REQUEST and DHT_RESPONSE from a fixed key encode to exactly these bytes and decode back", () => {
  assert.equal(toHex(recordKey(me.publicKey, "profile")), RECORD_KEY);
  assert.equal(toHex(record.signature), SIGNATURE, "Ed25519 signatures are deterministic");
  for (const vector of VECTORS) {
    const message = createLinkMessage(me, vector.type, vector.payload as never, { timestamp: NOW });
    assert.equal(toHex(message.payloadBytes), vector.payloadHex, vector.name);
    assert.equal(toHex(message.id), vector.id, vector.name);
    assert.equal(toHex(codec.encode(message)), envelopeHex(vector), vector.name);
    const back = codec.decode(fromHex(envelopeHex(vector))!, NOW, { linkPeer: me.nodeId });
    assert.equal(back.type, vector.type);
    assert.deepEqual(back.payload, vector.payload, vector.name);
  }
  // What the node reads from the PUT_VALUE vector is the record as signed, and it verifies.
  const put = codec.decode(fromHex(envelopeHex(VECTORS[2]))!, NOW, { linkPeer: me.nodeId });
  const request = requestFrom(put.payload as never)!;
  assert.equal(request.op, "PUT_VALUE");
  verifyRecord(request.record!, request.key, NOW);
  const providers =
    responseFrom(codec.decode(fromHex(envelopeHex(VECTORS[3]))!, NOW, { linkPeer: me.nodeId }).payload as never)
      .providers;
  assert.deepEqual(providers, [{ nodeId: AA, address: "127.0.0.3:7400", expiresAt: NOW + 86_400_000 }]);
});

Deno.test("docs/protocol.md carries the same DHT vectors", async () => {
  const doc = (await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url))).replace(/\s+/g, " ");
  for (const vector of VECTORS) {
    for (const hex of [vector.payloadHex, vector.id, envelopeHex(vector)]) {
      assert.ok(doc.includes(hex), `docs/protocol.md lacks ${hex} (${vector.name})`);
    }
  }
});
