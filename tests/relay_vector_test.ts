/**
 * Relays and hole punching on the wire (docs/protocol.md, "Relays and hole punching"): golden vectors of
 * RELAY_RESERVE .. HOLE_PUNCH and of a peer record carrying a relayed address, from the RFC 8032 test key
 * (link messages: unsigned, TTL 0); the strict decoding of their fields; and relayed addresses held to the
 * same rules as direct ones, by the parser, the schema and the dial policy.
 */
import assert from "node:assert/strict";
import { formatRelayedAddress, parseRelayedAddress } from "../lib/address.ts";
import { fromHex, toHex } from "../lib/bytes.ts";
import { ProtocolError } from "../lib/errors.ts";
import { Identity } from "../lib/identity.ts";
import { createLinkMessage, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { readPayload } from "../lib/protocol/schema.ts";
import { TcpTransport } from "../lib/transport/mod.ts";

const me = Identity.fromSecretKey(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!);
const codec = new MessageCodec();
const NOW = 1_700_000_000_000;
const B = new Uint8Array(32).fill(0xbb);
const TOKEN = new Uint8Array(16).fill(0xcc);
const RELAY_ID = "dd".repeat(32);

interface Vector {
  name: string;
  type: MessageType;
  payload: unknown;
  payloadHex: string;
  id: string;
  envelopeHex: string;
}

const HEAD = "c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5680000";
const VECTORS: Vector[] = [
  {
    name: "RELAY_RESERVE",
    type: MessageType.RELAY_RESERVE,
    payload: { requestId: 7 },
    payloadHex: "9107",
    id: "27b53db80d5135149b5c496694f6086d3007815473aaf848f4004575e57addf0",
    envelopeHex: `970219${HEAD}c4029107c400`,
  },
  {
    name: "RELAY_RESERVATION granted",
    type: MessageType.RELAY_RESERVATION,
    payload: { requestId: 7, status: 0, expiresAt: NOW + 1_800_000, observedAddress: "198.51.100.7:40123" },
    payloadHex: "940700cf0000018bd000df40b23139382e35312e3130302e373a3430313233",
    id: "e48e99ccc1f2df4e5e8c855040cf7596dba56f7d9dd6618b507514a802752bf8",
    envelopeHex: `97021a${HEAD}c41f940700cf0000018bd000df40b23139382e35312e3130302e373a3430313233c400`,
  },
  {
    name: "RELAY_CONNECT",
    type: MessageType.RELAY_CONNECT,
    payload: { requestId: 8, target: B },
    payloadHex: `9208c420${"bb".repeat(32)}`,
    id: "b89cdb24cd3d10ec25e2bf61f7125ae55b00a59651c7dd8b86d6ad0098737fba",
    envelopeHex: `97021b${HEAD}c4249208c420${"bb".repeat(32)}c400`,
  },
  {
    name: "RELAY_CIRCUIT to the node that asked",
    type: MessageType.RELAY_CIRCUIT,
    payload: {
      requestId: 8,
      status: 0,
      role: 0,
      peer: B,
      token: TOKEN,
      observedAddress: "198.51.100.9:50000",
      maxBytes: 16_777_216,
      maxDurationMs: 600_000,
    },
    payloadHex: `98080000c420${"bb".repeat(32)}c410${"cc".repeat(16)}b23139382e35312e3130302e393a3530303030` +
      "ce01000000ce000927c0",
    id: "ef73692c8c40a369b2fe6ab5089d44d52e4ac77a8ef474d95b887d1ecbe0940d",
    envelopeHex: `97021c${HEAD}c45598080000c420${"bb".repeat(32)}c410${"cc".repeat(16)}` +
      "b23139382e35312e3130302e393a3530303030ce01000000ce000927c0c400",
  },
  {
    name: "RELAY_CIRCUIT PEER_ADDRESS: where the relay sees the circuit's other end",
    type: MessageType.RELAY_CIRCUIT,
    payload: {
      requestId: 0,
      status: 5,
      role: 0,
      peer: B,
      token: new Uint8Array(0),
      observedAddress: "198.51.100.10:41000",
      maxBytes: 0,
      maxDurationMs: 0,
    },
    payloadHex: `98000500c420${"bb".repeat(32)}c400b33139382e35312e3130302e31303a34313030300000`,
    id: "abe0e32756f50b280d00a7835b20847723c9bf47e7008ed881eb771ae03d625a",
    envelopeHex: `97021c${HEAD}c43e98000500c420${"bb".repeat(32)}c400b33139382e35312e3130302e31303a34313030300000c400`,
  },
  {
    name: "HOLE_PUNCH CONNECT",
    type: MessageType.HOLE_PUNCH,
    payload: { kind: 0, attempt: 1, addresses: ["198.51.100.7:41000"] },
    payloadHex: "93000191b23139382e35312e3130302e373a3431303030",
    id: "d4a83481ab428ec1345e95b5cc8c251080deab29e47fdb251036ca96e53d3b67",
    envelopeHex: `97021d${HEAD}c41793000191b23139382e35312e3130302e373a3431303030c400`,
  },
  {
    name: "PEER_ANNOUNCEMENT of a relayed address",
    type: MessageType.PEER_ANNOUNCEMENT,
    payload: { peers: [{ nodeId: B, address: `198.51.100.1:7400/relay/${RELAY_ID}`, lastSeen: 0 }] },
    payloadHex: `919193c420${"bb".repeat(32)}d9583139382e35312e3130302e313a373430302f72656c61792f${"64".repeat(64)}00`,
    id: "ee373b382924988cfb453b7897d0ba94189af7b09410d5aa4d7c72a7426f971e",
    envelopeHex: `970205${HEAD}c480919193c420${"bb".repeat(32)}d9583139382e35312e3130302e313a373430302f72656c61792f` +
      `${"64".repeat(64)}00c400`,
  },
];

Deno.test("golden vectors: the relay and hole-punching messages from a fixed key encode to exactly these bytes and decode back", () => {
  for (const vector of VECTORS) {
    const message = createLinkMessage(me, vector.type, vector.payload as never, { timestamp: NOW });
    assert.equal(toHex(message.payloadBytes), vector.payloadHex, vector.name);
    assert.equal(toHex(message.id), vector.id, vector.name);
    assert.equal(toHex(codec.encode(message)), vector.envelopeHex, vector.name);
    const back = codec.decode(fromHex(vector.envelopeHex)!, NOW, { linkPeer: me.nodeId });
    assert.deepEqual(back.payload, vector.payload, vector.name);
  }
});

Deno.test("docs/protocol.md carries the same relay vectors", async () => {
  const doc = (await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url))).replace(/\s+/g, "");
  for (const vector of VECTORS) {
    for (const hex of [vector.payloadHex, vector.id, vector.envelopeHex]) {
      assert.ok(doc.includes(hex), `docs/protocol.md lacks ${hex} (${vector.name})`);
    }
  }
});

function decoded(type: MessageType, fields: unknown[]): string {
  try {
    readPayload(type, fields);
  } catch (error) {
    assert.ok(error instanceof ProtocolError);
    return error.code;
  }
  return "accepted";
}

Deno.test("relayed addresses parse only as a strict host:port, the marker and a 64-digit lowercase id", () => {
  const ok = `127.0.0.1:7400/relay/${RELAY_ID}`;
  assert.deepEqual(parseRelayedAddress(ok), {
    relay: { host: "127.0.0.1", port: 7400, family: "ipv4" },
    relayNodeId: RELAY_ID,
  });
  assert.equal(parseRelayedAddress(`[::1]:7400/relay/${RELAY_ID}`)?.relay.host, "::1");
  assert.equal(formatRelayedAddress("127.0.0.1:7400", RELAY_ID), ok);
  for (
    const bad of [
      `127.0.0.1/relay/${RELAY_ID}`, // no port
      `127.0.0.1:0/relay/${RELAY_ID}`,
      `256.0.0.1:7400/relay/${RELAY_ID}`,
      `127.0.0.1:7400/relay/${RELAY_ID.toUpperCase()}`,
      `127.0.0.1:7400/relay/${RELAY_ID.slice(2)}`,
      `127.0.0.1:7400/relay/${RELAY_ID}00`,
      `127.0.0.1:7400/relay/${RELAY_ID}/relay/${RELAY_ID}`,
      `/relay/${RELAY_ID}`,
      `127.0.0.1:7400/relay/`,
      "127.0.0.1:7400",
    ]
  ) assert.equal(parseRelayedAddress(bad), undefined, bad);
});

Deno.test("peer records and handshakes take relayed addresses; observed and punched addresses must be direct", () => {
  const relayed = `127.0.0.1:7400/relay/${RELAY_ID}`;
  assert.equal(decoded(MessageType.PEER_ANNOUNCEMENT, [[[B, relayed, 0]]]), "accepted");
  assert.equal(decoded(MessageType.PEER_ANNOUNCEMENT, [[[B, `${relayed}x`, 0]]]), "BAD_FIELD");
  assert.equal(decoded(MessageType.RELAY_RESERVATION, [1, 0, 0, relayed]), "BAD_FIELD");
  assert.equal(decoded(MessageType.RELAY_RESERVATION, [1, 0, 0, ""]), "accepted");
  assert.equal(decoded(MessageType.HOLE_PUNCH, [0, 1, [relayed]]), "BAD_FIELD");
  assert.equal(decoded(MessageType.HOLE_PUNCH, [0, 1, ["127.0.0.1:1", "127.0.0.1:1"]]), "BAD_FIELD");
  assert.equal(
    decoded(MessageType.HOLE_PUNCH, [0, 1, ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"]]),
    "accepted",
  );
  assert.equal(
    decoded(MessageType.HOLE_PUNCH, [0, 1, ["1.1.1.1:1", "1.1.1.1:2", "1.1.1.1:3", "1.1.1.1:4", "1.1.1.1:5"]]),
    "BAD_FIELD",
  );
  assert.equal(decoded(MessageType.HOLE_PUNCH, [3, 1, []]), "BAD_FIELD");
  const circuit = (token: Uint8Array, role = 0) => [1, 0, role, B, token, "", 1, 1];
  assert.equal(decoded(MessageType.RELAY_CIRCUIT, circuit(TOKEN)), "accepted");
  assert.equal(decoded(MessageType.RELAY_CIRCUIT, circuit(new Uint8Array(0))), "accepted");
  assert.equal(decoded(MessageType.RELAY_CIRCUIT, circuit(new Uint8Array(15))), "BAD_FIELD");
  assert.equal(decoded(MessageType.RELAY_CIRCUIT, circuit(TOKEN, 2)), "BAD_FIELD");
  assert.equal(decoded(MessageType.RELAY_CONNECT, [1, new Uint8Array(31)]), "BAD_FIELD");
});

Deno.test("the dial policy judges a relayed address by its relay's address, and refuses it without a relay client", async () => {
  const transport = new TcpTransport({ identity: me, config: { listenHost: "127.0.0.1", listenPort: 0 } });
  try {
    const loopbackRelay = `127.0.0.1:7400/relay/${RELAY_ID}`;
    const farRelay = `198.51.100.1:7400/relay/${RELAY_ID}`;
    assert.equal(transport.permitsDial(loopbackRelay), false, "no relay client: nothing dials it");
    transport.relayedDial = () => Promise.reject(new Error("not dialed in this test"));
    assert.equal(transport.permitsDial(loopbackRelay), true);
    assert.equal(transport.permitsDial(farRelay), false, "a relay outside loopback, under the loopback policy");
  } finally {
    await transport.close();
  }
});
