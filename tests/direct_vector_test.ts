/**
 * The direct message types on the wire (docs/protocol.md, "Direct messages"): golden vectors of
 * DIRECT_MESSAGE, REQUEST and RESPONSE from the RFC 8032 test key, and the strict decoding of their fields.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/bytes.ts";
import { ProtocolError } from "../lib/errors.ts";
import { Identity } from "../lib/identity.ts";
import {
  createMessage,
  encodePayload,
  isProtocolName,
  MessageCodec,
  MessageType,
  type PayloadByType,
} from "../lib/protocol/mod.ts";
import { refused } from "./_payload_refusal.ts";

const me = Identity.fromSecretKey(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!);
const codec = new MessageCodec();
const NOW = 1_700_000_000_000;
const DATA = new Uint8Array([0, 1, 2, 3]);
const KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

const VECTORS = [
  {
    type: MessageType.DIRECT_MESSAGE,
    payload: { data: DATA },
    payloadHex: "91c40400010203",
    id: "36e01b607a87de10f41deccf613e57aad5979a6de2eec82369081a45adda6e4c",
    signature:
      "a89c3c39117e2af34ddc855f38148e1919f2ed1a3a7b850429bb9e30b0ea9701f4478116d14f90e1c9b781281f0ba1c960df85a82af94d2a2aae614771297a09",
  },
  {
    type: MessageType.REQUEST,
    payload: { requestId: 1, protocol: "echo/1", data: DATA },
    payloadHex: "9301a66563686f2f31c40400010203",
    id: "023fd70fd98ea700ac79a2c22e0b387a08c72cee70eb385371f71975d8b2f005",
    signature:
      "7c8c94e54326112b7a3c74f719bc08dba880868083b9db6397ee5fa5141b05f555079876e67cc70ed453d5b6cce942569653eb4f6d2a1c4136c847349bef6506",
  },
  {
    type: MessageType.RESPONSE,
    payload: { requestId: 1, status: 0, data: DATA, detail: "" },
    payloadHex: "940100c40400010203a0",
    id: "33f8dfcf5a926cc178f790aea26d4dcebd9a220e2ea08a33a315bdcdbf3fad71",
    signature:
      "c212f6608775e13605e8444d3333e3878596859922e9af0626b1e105024cbc08d881de05d7852eb095070626e7c6b1f983b51522c96e260c53f3a49eedade206",
  },
] as const;

Deno.test("golden vectors: DIRECT_MESSAGE, REQUEST and RESPONSE from a fixed key encode to exactly these bytes", () => {
  for (const vector of VECTORS) {
    const message = createMessage(me, vector.type, vector.payload as PayloadByType[typeof vector.type], {
      timestamp: NOW,
      ttl: 0,
    });
    assert.equal(toHex(message.payloadBytes), vector.payloadHex);
    assert.equal(toHex(message.id), vector.id);
    assert.equal(toHex(message.signature), vector.signature);
    const length = (vector.payloadHex.length / 2).toString(16).padStart(2, "0");
    const typeHex = vector.type.toString(16).padStart(2, "0");
    assert.equal(
      toHex(codec.encode(message)),
      `9702${typeHex}c420${KEY}cf0000018bcfe5680000c4${length}${vector.payloadHex}c440${vector.signature}`,
    );
    assert.deepEqual(codec.decode(codec.encode(message), NOW).payload, vector.payload);
  }
});

Deno.test("the direct types decode strictly: field counts, kinds, id and status bounds, protocol names", () => {
  const R = MessageType.REQUEST;
  const S = MessageType.RESPONSE;
  assert.equal(refused(MessageType.DIRECT_MESSAGE, [DATA]), "accepted");
  assert.equal(refused(MessageType.DIRECT_MESSAGE, []), "BAD_FIELD");
  assert.equal(refused(MessageType.DIRECT_MESSAGE, ["text"]), "BAD_FIELD");
  assert.equal(refused(MessageType.DIRECT_MESSAGE, [DATA, DATA]), "BAD_FIELD");
  assert.equal(refused(R, [2 ** 32 - 1, "a", DATA]), "accepted");
  assert.equal(refused(R, [2 ** 32, "a", DATA]), "BAD_FIELD");
  assert.equal(refused(R, [-1, "a", DATA]), "BAD_FIELD");
  for (const name of ["", "with space", "x".repeat(65), "ünicode", "a\n"]) {
    assert.equal(refused(R, [1, name, DATA]), "BAD_FIELD", JSON.stringify(name));
    assert.equal(isProtocolName(name), false);
  }
  assert.equal(refused(R, [1, "A-z_0.9/x", DATA]), "accepted");
  assert.equal(refused(R, [1, "a+b", DATA]), "BAD_FIELD");
  assert.equal(refused(R, [1, "x".repeat(64), DATA]), "accepted");
  assert.equal(refused(S, [1, 255, DATA, ""]), "accepted");
  assert.equal(refused(S, [1, 256, DATA, ""]), "BAD_FIELD");
  assert.equal(refused(S, [1, 0, DATA]), "BAD_FIELD");
  assert.equal(refused(S, [1, 0, DATA, "x".repeat(257)]), "BAD_FIELD");
  // And through the codec: a payload that is not MessagePack is MALFORMED.
  const message = createMessage(me, MessageType.DIRECT_MESSAGE, { data: DATA }, { timestamp: NOW, ttl: 0 });
  assert.throws(
    () => codec.verify({ ...message, payloadBytes: new Uint8Array([0xc1]) }, NOW),
    (e) => e instanceof ProtocolError && e.code === "MALFORMED",
  );
  assert.throws(() => encodePayload(R, { requestId: 1, protocol: "bad name", data: DATA }), ProtocolError);
});
