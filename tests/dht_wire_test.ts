/** The DHT's link messages: requests and answers survive the codec, and answers are matched to requests in flight. */
import assert from "node:assert/strict";
import {
  DhtRequests,
  DhtStatus,
  MAX_DHT_REQUESTS_IN_FLIGHT,
  recordKey,
  requestFrom,
  requestPayload,
  responseFrom,
  responsePayload,
  signRecord,
} from "../lib/dht/mod.ts";
import { Identity } from "../lib/identity.ts";
import { createLinkMessage, MessageCodec, MessageType } from "../lib/protocol/mod.ts";

const NOW = 1_700_000_000_000;
const codec = new MessageCodec();
const me = Identity.generate();

function overTheWire<T extends typeof MessageType.DHT_REQUEST | typeof MessageType.DHT_RESPONSE>(
  type: T,
  payload: unknown,
) {
  const message = createLinkMessage(me, type, payload as never, { timestamp: NOW });
  const back = codec.decode(codec.encode(message), NOW, { linkPeer: me.nodeId });
  assert.equal(back.type, type);
  return back.payload as never;
}

Deno.test("a PUT_VALUE request and a GET_VALUE answer carry their record through the codec unchanged", () => {
  const record = signRecord(me, "profile", new TextEncoder().encode("v"), 3, NOW, 60_000);
  const key = recordKey(me.publicKey, "profile");
  const request = requestFrom(
    overTheWire(MessageType.DHT_REQUEST, requestPayload(9, { op: "PUT_VALUE", key, record })),
  );
  assert.deepEqual(request, { op: "PUT_VALUE", key, record });
  const response = {
    status: DhtStatus.OK,
    nodes: [{ nodeId: me.nodeId, address: "127.0.0.5:7400" }],
    providers: [{ nodeId: me.nodeId, address: "127.0.0.6:7400", expiresAt: NOW + 5 }],
    record,
  };
  assert.deepEqual(responseFrom(overTheWire(MessageType.DHT_RESPONSE, responsePayload(9, response))), response);
});

Deno.test("an unknown operation is no request; more than 32 nodes do not fit one answer", () => {
  assert.equal(requestFrom({ requestId: 1, op: 9, key: new Uint8Array(32), records: [] }), undefined);
  const many = Array.from({ length: 40 }, (_, i) => ({ nodeId: me.nodeId, address: `127.0.0.${i + 1}:1` }));
  assert.equal(responsePayload(1, { status: 0, nodes: many, providers: [] }).nodes.length, 32);
  // A peer that sends 33 anyway is refused by the codec.
  const tooMany = {
    requestId: 1,
    status: 0,
    nodes: [...Array(33)].map(() => ({ nodeId: new Uint8Array(32), address: "127.0.0.1:1", lastSeen: 0 })),
    providers: [],
    records: [],
  };
  assert.throws(() => overTheWire(MessageType.DHT_RESPONSE, tooMany), /at most 32/);
});

Deno.test("answers go to the request in flight with their id, once; a peer holds at most 16 in flight; a gone peer's fail", () => {
  const requests = new DhtRequests();
  const got: (number | undefined)[] = [];
  const ids = Array.from({ length: MAX_DHT_REQUESTS_IN_FLIGHT }, () => requests.open("a", (r) => got.push(r?.status)));
  assert.ok(ids.every((id) => id !== undefined));
  assert.equal(requests.open("a", () => {}), undefined, "the 17th waits for none: it fails at once");
  assert.ok(requests.open("b", () => {}) !== undefined, "another peer has its own allowance");
  const answer = (requestId: number) => ({ requestId, status: 3, nodes: [], providers: [], records: [] });
  assert.ok(requests.answered("a", answer(ids[0]!)));
  assert.ok(!requests.answered("a", answer(ids[0]!)), "an id answers once");
  assert.ok(!requests.answered("b", answer(ids[1]!)), "another peer cannot answer a's request");
  requests.drop("a", ids[1]!);
  requests.peerGone("a");
  assert.deepEqual(got, [3, ...Array(MAX_DHT_REQUESTS_IN_FLIGHT - 2).fill(undefined)]);
  assert.equal(requests.size, 1);
});

Deno.test("a node or provider behind a NAT, known by its relayed address, fits a DHT answer", () => {
  const relayed = `127.0.0.7:7400/relay/${"ab".repeat(32)}`;
  const response = {
    status: DhtStatus.OK,
    nodes: [{ nodeId: me.nodeId, address: relayed }],
    providers: [{ nodeId: me.nodeId, address: relayed, expiresAt: NOW + 5 }],
  };
  assert.deepEqual(responseFrom(overTheWire(MessageType.DHT_RESPONSE, responsePayload(4, response))), response);
});
