import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { fromHex, toHex } from "../lib/bytes.ts";
import { ProtocolError, type ProtocolErrorCode } from "../lib/errors.ts";
import { Identity } from "../lib/identity.ts";
import {
  computeMessageId,
  createLinkMessage,
  createMessage,
  encodePayload,
  type Envelope,
  MAX_PEER_LIST,
  MessageCodec,
  MessageType,
  type PayloadByType,
} from "../lib/protocol/mod.ts";

const NOW = 1_700_000_000_000;
const bytes = (n: number) => new Uint8Array([n, n, n]);
const RFC_SECRET = fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!;
const me = Identity.fromSecretKey(RFC_SECRET);
const codec = new MessageCodec();
const bytes32 = (fill: number) => new Uint8Array(32).fill(fill);

function assertProtocolError(fn: () => unknown, code: ProtocolErrorCode) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const peer = { nodeId: bytes32(4), address: "[::1]:7401", lastSeen: NOW };
const handshake = {
  networkId: "kith-main",
  nonce: bytes32(1),
  ephemeralKey: bytes32(2),
  listenAddress: "127.0.0.1:7400",
  agent: "kith/0.1.0",
};
/** One valid payload of every message type. */
const SAMPLES: { [T in MessageType]: PayloadByType[T] } = {
  [MessageType.HANDSHAKE]: handshake,
  [MessageType.HANDSHAKE_ACK]: { ...handshake, handshakeId: bytes32(3), peers: [peer] },
  [MessageType.DISCONNECT]: { reason: 1, detail: "shutting down" },
  [MessageType.PEER_DISCOVERY]: { limit: 16, topic: "" },
  [MessageType.PEER_ANNOUNCEMENT]: {
    peers: [peer, { nodeId: bytes32(5), address: "node.example.org:7400", lastSeen: 0 }],
  },
  [MessageType.HEARTBEAT]: { seq: 42, reply: true },
  [MessageType.GOSSIP_MESSAGE]: { have: [bytes32(10), bytes32(11)], want: [], prune: false, topic: "" },
  [MessageType.CUSTOM_DATA]: { topic: "chat", data: new Uint8Array([1, 2, 3]), after: [new Uint8Array(32).fill(7)] },
  [MessageType.TRUST_UPDATE]: { subject: bytes32(6), trust: 0.8 },
  [MessageType.TRUSTED_PEERS_REQUEST]: { limit: MAX_PEER_LIST },
  [MessageType.TRUSTED_PEERS_RESPONSE]: {
    peers: [{ nodeId: bytes32(7), trust: 0.25 }, { nodeId: bytes32(8), trust: 1 }],
  },
  [MessageType.HANDSHAKE_CONFIRM]: { ackId: bytes32(9) },
  [MessageType.DIRECT_MESSAGE]: { data: new Uint8Array([4, 5]) },
  [MessageType.REQUEST]: { requestId: 2 ** 32 - 1, protocol: "echo/1", data: new Uint8Array([6]) },
  [MessageType.RESPONSE]: { requestId: 7, status: 2, data: new Uint8Array(0), detail: "handler failed" },
  [MessageType.TOPIC_SUBSCRIPTIONS]: { full: true, all: false, join: ["chat", "blocks/1"], leave: [] },
  [MessageType.DHT_REQUEST]: {
    requestId: 3,
    op: 2,
    key: bytes32(12),
    records: [{
      publicKey: bytes32(13),
      name: "profile",
      value: new Uint8Array([7, 8]),
      seq: 4,
      expiresAt: NOW + 60_000,
      signature: new Uint8Array(64).fill(14),
    }],
  },
  [MessageType.DHT_RESPONSE]: {
    requestId: 3,
    status: 0,
    nodes: [peer],
    providers: [{ nodeId: bytes32(15), address: "127.0.0.9:7400", expiresAt: NOW + 1 }],
    records: [],
  },
  [MessageType.CATCHUP_RECONCILE]: {
    topic: "chat",
    session: 9,
    reply: false,
    since: NOW - 60_000,
    ranges: [
      { timestamp: NOW, id: bytes32(16), mode: 1, value: new Uint8Array(16).fill(17) },
      { timestamp: 5, id: new Uint8Array(0), mode: 0, value: new Uint8Array(0) },
      { timestamp: 0, id: new Uint8Array(0), mode: 2, value: [bytes32(18)] },
    ],
    have: [bytes32(19)],
  },
  [MessageType.CATCHUP_FETCH]: { topic: "chat", requestId: 4, ids: [bytes32(20), bytes32(21)] },
  [MessageType.CATCHUP_BODIES]: {
    topic: "chat",
    requestId: 4,
    bodies: [new Uint8Array([1, 2])],
    missing: [bytes32(21)],
  },
  [MessageType.RELAY_RESERVE]: { requestId: 2 },
  [MessageType.RELAY_RESERVATION]: { requestId: 2, status: 0, expiresAt: NOW, observedAddress: "127.0.0.3:9" },
  [MessageType.RELAY_CONNECT]: { requestId: 3, target: bytes32(16) },
  [MessageType.RELAY_CIRCUIT]: {
    requestId: 3,
    status: 0,
    role: 1,
    peer: bytes32(17),
    token: new Uint8Array(16).fill(6),
    observedAddress: "",
    maxBytes: 1024,
    maxDurationMs: 1000,
  },
  [MessageType.HOLE_PUNCH]: { kind: 0, attempt: 1, addresses: ["127.0.0.4:9", "[::1]:9"] },
  [MessageType.OBSERVED_ADDRESS]: { address: "127.0.0.1:49152" },
  [MessageType.DIAL_BACK_REQUEST]: { requestId: 9, address: "127.0.0.1:7400" },
  [MessageType.DIAL_BACK_RESPONSE]: { requestId: 9, status: 1, detail: "nothing answers" },
};

Deno.test("every message type survives encode and decode with its payload intact", () => {
  for (const [typeText, payload] of Object.entries(SAMPLES)) {
    const type = Number(typeText) as MessageType;
    const message = createMessage(me, type, payload, { timestamp: NOW, ttl: 5 });
    const back = codec.decode(codec.encode(message), NOW);
    assert.equal(back.type, type);
    assert.equal(back.ttl, 5);
    assert.equal(back.timestamp, NOW);
    assert.deepEqual(back.origin, me.nodeIdBytes);
    assert.deepEqual(back.id, message.id);
    assert.deepEqual(back.payload, payload);
  }
});

Deno.test("encodeWith hands over the same bytes as encode, in a view the encoder reuses for the next envelope", () => {
  const first = createMessage(me, MessageType.CUSTOM_DATA, SAMPLES[MessageType.CUSTOM_DATA], { timestamp: NOW });
  const second = createMessage(me, MessageType.HEARTBEAT, SAMPLES[MessageType.HEARTBEAT], { timestamp: NOW });
  const kept = codec.encodeWith(first, (shared) => shared.slice());
  assert.deepEqual(kept, codec.encode(first));
  const view = codec.encodeWith(first, (shared) => shared);
  codec.encodeWith(second, () => undefined);
  assert.notDeepEqual(view, kept, "the view is only valid during the call");
});

Deno.test("envelopes are written byte for byte as msgpack encodes their fields, at every integer and byte-string size boundary", () => {
  // The codec writes the envelope's fixed shape itself; msgpack's own encoding of the same fields is the reference.
  const sizes = [0, 1, 31, 32, 64, 255, 256, 65_535, 65_536, 70_000];
  const timestamps = [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, NOW, Number.MAX_SAFE_INTEGER];
  const fields = (
    e: Envelope,
    ttl = e.ttl,
  ) => [e.version, e.type, e.publicKey, e.timestamp, ttl, e.payloadBytes, e.signature];
  let n = 0;
  for (const size of sizes) {
    for (const timestamp of timestamps) {
      for (const [ttl, type, signatureLength] of [[0, 1, 64], [127, 29, 0], [16, MessageType.CUSTOM_DATA, 64]]) {
        const envelope = {
          version: 1,
          type,
          id: new Uint8Array(32),
          origin: new Uint8Array(32),
          publicKey: new Uint8Array(32).fill(size % 251),
          timestamp,
          ttl,
          payloadBytes: new Uint8Array(size).map((_, i) => i * 7),
          signature: new Uint8Array(signatureLength).fill(9),
        } as Envelope;
        assert.deepEqual(
          codec.encode(envelope),
          msgpackEncode(fields(envelope)),
          `size ${size}, timestamp ${timestamp}`,
        );
        const forwarded = codec.encodeWith(envelope, (shared) => shared.slice(), 3);
        assert.deepEqual(forwarded, msgpackEncode(fields(envelope, 3)));
        n++;
      }
    }
  }
  assert.equal(n, sizes.length * timestamps.length * 3);
  // Outside the shape kith makes (a TTL over 127, a fractional timestamp), msgpack itself encodes them.
  const odd = { ...createMessage(me, MessageType.HEARTBEAT, SAMPLES[MessageType.HEARTBEAT], { timestamp: NOW }) };
  for (const change of [{ ttl: 200 }, { timestamp: 1.5 }, { version: -1 }]) {
    const envelope = { ...odd, ...change } as Envelope;
    assert.deepEqual(codec.encode(envelope), msgpackEncode(fields(envelope)));
  }
});

Deno.test("the full check after peekTopic reads the payload of the envelope it checks, not the one peeked last", () => {
  const peeked = codec.parse(codec.encode(createMessage(me, MessageType.CUSTOM_DATA, { topic: "a", data: bytes(1) })));
  const other = codec.parse(codec.encode(createMessage(me, MessageType.CUSTOM_DATA, { topic: "b", data: bytes(2) })));
  assert.equal(codec.peekTopic(peeked), "a");
  const checked = codec.verify(other, Date.now());
  assert.equal(checked.type === MessageType.CUSTOM_DATA && checked.payload.topic, "b");
  // The peeked one checked after it still gets its own payload (decoded again: the value is taken once).
  assert.equal(codec.peekTopic(peeked), "a");
  for (let i = 0; i < 2; i++) {
    const again = codec.verify(peeked, Date.now());
    assert.equal(again.type === MessageType.CUSTOM_DATA && again.payload.topic, "a");
    assert.deepEqual(again.type === MessageType.CUSTOM_DATA && again.payload.data, bytes(1));
  }
});

Deno.test("golden vector: a fixed key and content give exactly these bytes, id and signature", () => {
  const message = createMessage(me, MessageType.CUSTOM_DATA, {
    topic: "chat",
    data: Uint8Array.from({ length: 16 }, (_, i) => i),
  }, { timestamp: NOW, ttl: 8 });
  assert.equal(me.nodeId, "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9");
  assert.equal(toHex(message.id), "ffd11f2442ee7962b42ae47afb7af47af700b960b07b609c56800f39492752f0");
  assert.equal(
    toHex(message.signature),
    "3baa6ec35fbe118e088a6589e3c4a5400babee0555227059be6776dc50d8b8ab7beb6cfe8fd4719fda3703ff0b91c960015468485c475571799ba4804ac04f09",
  );
  assert.equal(
    toHex(codec.encode(message)),
    "970208c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5680008c41892a463686174" +
      "c410000102030405060708090a0b0c0d0e0fc4403baa6ec35fbe118e088a6589e3c4a5400babee0555227059be6776dc50d8b8ab7beb6cfe8f" +
      "d4719fda3703ff0b91c960015468485c475571799ba4804ac04f09",
  );
});

Deno.test("golden vector: HANDSHAKE_ACK with a peer list encodes to exactly these bytes", () => {
  const message = createMessage(me, MessageType.HANDSHAKE_ACK, SAMPLES[MessageType.HANDSHAKE_ACK], {
    timestamp: NOW,
    ttl: 0,
  });
  assert.equal(toHex(message.id), "762db6765b54f78377f99ab605f9f10033f4e9daf791203ad15d9491704c53d4");
  assert.equal(
    toHex(codec.encode(message)),
    "970202c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5680000c4c397a96b697468" +
      "2d6d61696ec4200101010101010101010101010101010101010101010101010101010101010101c42002020202020202020202020202020202" +
      "02020202020202020202020202020202ae3132372e302e302e313a37343030aa6b6974682f302e312e30c42003030303030303030303030303" +
      "030303030303030303030303030303030303039193c4200404040404040404040404040404040404040404040404040404040404040404aa5b" +
      "3a3a315d3a37343031cf0000018bcfe56800c44009795463084032359e8aa6980eaea790cb2d05e98df159884e8232d7dad6789ffcbf8afe88" +
      "6fa7568a54122c143f1d28166af06a7833a1e804ff590cbb6ccd0d",
  );
});

Deno.test("the id is SHA-256 over the documented preimage layout, and the signature signs the id", () => {
  const message = createMessage(me, MessageType.CUSTOM_DATA, SAMPLES[MessageType.CUSTOM_DATA], {
    timestamp: NOW,
  });
  const header = new Uint8Array(9 + 2 + 32 + 32 + 8);
  header.set(new TextEncoder().encode("kith-msg\0"));
  header[9] = 2; // version
  header[10] = MessageType.CUSTOM_DATA;
  header.set(me.nodeIdBytes, 11);
  header.set(me.publicKey, 43);
  new DataView(header.buffer).setBigUint64(75, BigInt(NOW));
  const expected = createHash("sha256").update(header).update(message.payloadBytes).digest();
  assert.equal(toHex(message.id), toHex(new Uint8Array(expected)));
  assert.equal(Identity.verify(message.signature, message.id, me.publicKey), true);
});

Deno.test("changing any byte of a signed field is refused; only the TTL may change", () => {
  const message = createMessage(me, MessageType.CUSTOM_DATA, SAMPLES[MessageType.CUSTOM_DATA], {
    timestamp: NOW,
    ttl: 8,
  });
  const wire = codec.encode(message);
  // The TTL is the positive fixint right after the timestamp (uint64: 0xcf + 8 bytes).
  const ttlOffset = wire.indexOf(0xcf) + 9;
  assert.equal(wire[ttlOffset], 8);
  for (let i = 0; i < wire.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const mutated = wire.slice();
      mutated[i] ^= bit;
      if (i === ttlOffset && bit === 0x01) {
        assert.equal(codec.decode(mutated, NOW).ttl, 9); // unsigned by design; clamped below
        continue;
      }
      assert.throws(() => codec.decode(mutated, NOW), ProtocolError, `byte ${i} bit ${bit}`);
    }
  }
});

Deno.test("a TTL above the maximum is clamped, not refused", () => {
  const tight = new MessageCodec({ maxTtl: 4 });
  const message = createMessage(me, MessageType.CUSTOM_DATA, SAMPLES[MessageType.CUSTOM_DATA], {
    timestamp: NOW,
    ttl: 200,
  });
  assert.equal(tight.decode(tight.encode(message), NOW).ttl, 4);
});

Deno.test("timestamps outside the age and skew window are refused", () => {
  const message = createMessage(me, MessageType.HEARTBEAT, { seq: 1, reply: false }, { timestamp: NOW });
  const wire = codec.encode(message);
  assert.equal(codec.decode(wire, NOW + codec.limits.maxMessageAgeMs).timestamp, NOW);
  assertProtocolError(() => codec.decode(wire, NOW + codec.limits.maxMessageAgeMs + 1), "STALE_TIMESTAMP");
  assert.equal(codec.decode(wire, NOW - codec.limits.maxClockSkewMs).timestamp, NOW);
  assertProtocolError(() => codec.decode(wire, NOW - codec.limits.maxClockSkewMs - 1), "FUTURE_TIMESTAMP");
});

/**
 * A hand-built envelope: the fields given replace those of a valid CUSTOM_DATA. With `resign`, the id the
 * receiver will compute is signed, so only the field under test is wrong.
 */
function forge(
  fields: Partial<Envelope> & { payloadValue?: unknown; resign?: boolean },
  signer = me,
): Uint8Array {
  const base = createMessage(signer, MessageType.CUSTOM_DATA, SAMPLES[MessageType.CUSTOM_DATA], {
    timestamp: NOW,
  });
  const payloadBytes = fields.payloadValue !== undefined ? msgpackEncode(fields.payloadValue) : base.payloadBytes;
  const env = { ...base, ...fields, payloadBytes: fields.payloadBytes ?? payloadBytes };
  if (fields.resign) {
    const id = computeMessageId(
      env.version,
      env.type,
      new Uint8Array(createHash("sha256").update(env.publicKey).digest()),
      env.publicKey,
      env.timestamp,
      env.payloadBytes,
    );
    env.signature = signer.sign(id);
  }
  return msgpackEncode([env.version, env.type, env.publicKey, env.timestamp, env.ttl, env.payloadBytes, env.signature]);
}

Deno.test("each way an envelope can be wrong gives its own error code", () => {
  const other = Identity.generate();
  const base = createMessage(me, MessageType.CUSTOM_DATA, SAMPLES[MessageType.CUSTOM_DATA], { timestamp: NOW });
  assertProtocolError(() => codec.decode(new Uint8Array([0xc1]), NOW), "MALFORMED");
  assertProtocolError(() => codec.decode(new Uint8Array([0x90, 0x00]), NOW), "MALFORMED"); // trailing byte
  assertProtocolError(() => codec.decode(msgpackEncode({ v: 1 }), NOW), "MALFORMED"); // maps are not part of the format
  assertProtocolError(() => codec.decode(msgpackEncode([2, 2, 3]), NOW), "BAD_FIELD");
  assertProtocolError(() => codec.decode(forge({ version: 3 }), NOW), "UNSUPPORTED_VERSION");
  // A version 1 envelope (nine fields, with id and origin) names its version before anything else is read.
  assertProtocolError(
    () =>
      codec.decode(
        msgpackEncode([1, 8, bytes32(1), bytes32(2), me.publicKey, NOW, 8, new Uint8Array(1), new Uint8Array(64)]),
        NOW,
      ),
    "UNSUPPORTED_VERSION",
  );
  assertProtocolError(() => codec.decode(forge({ type: 99 as MessageType }), NOW), "UNKNOWN_TYPE");
  assertProtocolError(() => codec.decode(forge({ signature: new Uint8Array(64) }), NOW), "BAD_SIGNATURE");
  // Any change to a signed field changes the id the receiver computes, so the signature no longer fits.
  assertProtocolError(() => codec.decode(forge({ timestamp: NOW - 1 }), NOW), "BAD_SIGNATURE");
  // Signed by another key than the one presented.
  const wrongSigner = createMessage(other, MessageType.CUSTOM_DATA, SAMPLES[MessageType.CUSTOM_DATA], {
    timestamp: NOW,
  });
  assertProtocolError(() => codec.decode(forge({ signature: wrongSigner.signature }), NOW), "BAD_SIGNATURE");
  // The id and origin are not on the wire: nine fields of version 2 are malformed, not a forged id.
  assertProtocolError(
    () =>
      codec.decode(
        msgpackEncode([2, 8, bytes32(1), bytes32(2), me.publicKey, NOW, 8, new Uint8Array(1), new Uint8Array(64)]),
        NOW,
      ),
    "BAD_FIELD",
  );
  // Wrongly typed envelope fields.
  assertProtocolError(() => codec.decode(forge({ ttl: -1 }), NOW), "BAD_FIELD");
  assertProtocolError(() => codec.decode(forge({ ttl: 256 }), NOW), "BAD_FIELD");
  assertProtocolError(() => codec.decode(forge({ timestamp: 1.5 }), NOW), "BAD_FIELD");
  assertProtocolError(() => codec.decode(forge({ publicKey: new Uint8Array(31) }), NOW), "BAD_FIELD");
  assertProtocolError(() => codec.decode(forge({ signature: new Uint8Array(63) }), NOW), "BAD_FIELD");
  assert.equal(codec.decode(codec.encode(base), NOW).type, MessageType.CUSTOM_DATA); // the control: untouched, it decodes
});

Deno.test("a small-order origin key is refused as BAD_PUBLIC_KEY before any signature check", () => {
  const identityPoint = fromHex("0100000000000000000000000000000000000000000000000000000000000000")!;
  const signature = new Uint8Array(64);
  signature.set(identityPoint); // R = identity, S = 0: accepted by lax verifiers for a small-order key
  assertProtocolError(() => codec.decode(forge({ publicKey: identityPoint, signature }), NOW), "BAD_PUBLIC_KEY");
  // The spec's order: the payload schema (step 7) is checked before the key (step 8).
  assertProtocolError(
    () => codec.decode(forge({ publicKey: identityPoint, signature, payloadBytes: new Uint8Array([0x91, 0x01]) }), NOW),
    "BAD_FIELD",
  );
});

Deno.test("payloads that break their schema are refused with BAD_FIELD", () => {
  const signedWithPayload = (type: MessageType, value: unknown) =>
    forge({ type, payloadBytes: msgpackEncode(value), resign: true });
  const bad: [MessageType, unknown][] = [
    [MessageType.GOSSIP_MESSAGE, [[new Uint8Array(31)], []]], // a short id
    [MessageType.GOSSIP_MESSAGE, [Array.from({ length: 257 }, () => bytes32(1)), []]], // too many ids
    [MessageType.GOSSIP_MESSAGE, [[], "nope"]],
    [MessageType.GOSSIP_MESSAGE, [[], [], true, true]], // the prune flag is the last field
    [MessageType.GOSSIP_MESSAGE, [[], [], 1]], // prune is a boolean
    [MessageType.GOSSIP_MESSAGE, [[]]], // want is required
    [MessageType.CUSTOM_DATA, ["chat"]], // missing field
    [MessageType.CUSTOM_DATA, ["chat", new Uint8Array(1), [], 1]], // extra field
    [MessageType.CUSTOM_DATA, [5, new Uint8Array(1)]], // topic not a string
    [MessageType.CUSTOM_DATA, ["x".repeat(256), new Uint8Array(1)]], // topic too long
    [MessageType.CUSTOM_DATA, ["é".repeat(128), new Uint8Array(1)]], // 256 UTF-8 bytes
    [MessageType.HEARTBEAT, [-1, false]],
    [MessageType.HEARTBEAT, [1, 0]],
    [MessageType.TRUST_UPDATE, [bytes32(1), 1.5]],
    [MessageType.TRUST_UPDATE, [bytes32(1), Number.NaN]],
    [MessageType.TRUST_UPDATE, [new Uint8Array(31), 0.5]],
    [MessageType.PEER_DISCOVERY, [MAX_PEER_LIST + 1]],
    [MessageType.DISCONNECT, [70000, ""]],
    [MessageType.PEER_ANNOUNCEMENT, [[[bytes32(1), "not an address", 0]]]],
    [MessageType.PEER_ANNOUNCEMENT, [[[bytes32(1), "10.0.0.1:0", 0]]]],
    [MessageType.PEER_ANNOUNCEMENT, [[[bytes32(1), "", 0]]]],
    [MessageType.PEER_ANNOUNCEMENT, [Array.from({ length: MAX_PEER_LIST + 1 }, () => [bytes32(1), "1.2.3.4:5", 0])]],
    [MessageType.HANDSHAKE, ["kith-main", bytes32(1), new Uint8Array(16), "", "kith"]],
    [MessageType.TRUSTED_PEERS_RESPONSE, [[[bytes32(1)]]]],
  ];
  for (const [type, value] of bad) {
    assert.throws(
      () => codec.decode(signedWithPayload(type, value), NOW),
      (e: unknown) => e instanceof ProtocolError && (e.code === "BAD_FIELD" || e.code === "MALFORMED"),
      JSON.stringify(value, (_, v) => v instanceof Uint8Array ? `bytes(${v.length})` : v).slice(0, 80),
    );
  }
  // The control: a correct payload through the same path decodes.
  assert.equal(codec.decode(signedWithPayload(MessageType.HEARTBEAT, [1, false]), NOW).type, MessageType.HEARTBEAT);
});

Deno.test("an oversized payload is refused, and the encoder refuses what a receiver would", () => {
  const small = new MessageCodec({ maxPayloadBytes: 1024 });
  const big = createMessage(me, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(1100) }, {
    timestamp: NOW,
  });
  assertProtocolError(() => small.decode(small.encode(big), NOW), "PAYLOAD_TOO_LARGE");
  const justUnder = new MessageCodec({ maxPayloadBytes: 2048 });
  assert.equal(justUnder.decode(justUnder.encode(big), NOW).type, MessageType.CUSTOM_DATA);
  assert.throws(
    () => encodePayload(MessageType.TRUST_UPDATE, { subject: bytes32(1), trust: 2 }),
    (e: unknown) => e instanceof ProtocolError && e.code === "BAD_FIELD",
  );
});

Deno.test("parse checks structure and id without the signature; verify then checks the signature", () => {
  const wire = forge({ signature: new Uint8Array(64) });
  const parsed = codec.parse(wire);
  assert.equal(parsed.type, MessageType.CUSTOM_DATA);
  assertProtocolError(() => codec.verify(parsed, NOW), "BAD_SIGNATURE");
});

Deno.test("an unsigned link message is accepted only from its session's own peer, with TTL 0, and only for link types", () => {
  const other = Identity.generate();
  const heartbeat = createLinkMessage(me, MessageType.HEARTBEAT, { seq: 7, reply: false }, { timestamp: NOW });
  assert.equal(heartbeat.signature.length, 0);
  assert.equal(heartbeat.ttl, 0);
  const wire = codec.encode(heartbeat);
  assert.ok(
    wire.length <
      codec.encode(createMessage(me, MessageType.HEARTBEAT, heartbeat.payload, { ttl: 0, timestamp: NOW })).length - 60,
  );
  const back = codec.decode(wire, NOW, { linkPeer: me.nodeId });
  assert.equal(back.type === MessageType.HEARTBEAT && back.payload.seq, 7);
  // Without the session's word, from another session, or with a TTL that would let it travel: refused.
  assertProtocolError(() => codec.decode(wire, NOW), "UNSIGNED");
  assertProtocolError(() => codec.decode(wire, NOW, { linkPeer: other.nodeId }), "UNSIGNED");
  assertProtocolError(
    () => codec.decode(codec.encode({ ...heartbeat, ttl: 1 }), NOW, { linkPeer: me.nodeId }),
    "UNSIGNED",
  );
  // Application messages always need their origin's signature, even from the origin itself.
  const unsignedData = forge({ signature: new Uint8Array(0), ttl: 0 });
  assertProtocolError(() => codec.decode(unsignedData, NOW, { linkPeer: me.nodeId }), "UNSIGNED");
  assert.throws(
    () => createLinkMessage(me, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array() }),
    RangeError,
  );
  // A signature of any other length is malformed.
  assertProtocolError(() => codec.decode(forge({ signature: new Uint8Array(10) }), NOW), "BAD_FIELD");
});

Deno.test("PRUNE is an optional trailing flag: a two-field digest reads as prune false and keeps its old bytes", () => {
  const old = encodePayload(MessageType.GOSSIP_MESSAGE, { have: [bytes32(1)], want: [] });
  assert.deepEqual(old, msgpackEncode([[bytes32(1)], []]));
  assert.deepEqual(encodePayload(MessageType.GOSSIP_MESSAGE, { have: [bytes32(1)], want: [], prune: false }), old);
  const pruning = createLinkMessage(me, MessageType.GOSSIP_MESSAGE, { have: [], want: [], prune: true }, {
    timestamp: NOW,
  });
  assert.deepEqual(pruning.payloadBytes, msgpackEncode([[], [], true]));
  const back = codec.decode(codec.encode(pruning), NOW, { linkPeer: me.nodeId });
  assert.equal(back.type === MessageType.GOSSIP_MESSAGE && back.payload.prune, true);
  const plain = codec.decode(
    codec.encode(createLinkMessage(me, MessageType.GOSSIP_MESSAGE, { have: [], want: [] }, {
      timestamp: NOW,
    })),
    NOW,
    { linkPeer: me.nodeId },
  );
  assert.equal(plain.type === MessageType.GOSSIP_MESSAGE && plain.payload.prune, false);
});
