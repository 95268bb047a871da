/**
 * Costs of the message path: signing, verification (fast path and the pure
 * JS fallback), envelope encoding, decode+verify of a 256-byte
 * CUSTOM_DATA (the application message), and frame decoding. Run: deno task bench
 */
import { encode } from "@msgpack/msgpack";
import { nativeBackend, nobleBackend } from "../../lib/ed25519.ts";
import { encodeFrame, FrameDecoder } from "../../lib/framing.ts";
import { Identity } from "../../lib/identity.ts";
import { createMessage, MessageCodec, MessageType } from "../../lib/protocol/mod.ts";

const identity = Identity.fromSecretKey(new Uint8Array(32).fill(3));
const secret = identity.exportSecretKey();
const codec = new MessageCodec();
const payload = { topic: "bench", data: new Uint8Array(256).fill(0xab) };
const message = createMessage(identity, MessageType.CUSTOM_DATA, payload);
const wire = codec.encode(message);
const now = message.timestamp;
const id = message.id;
const signature = message.signature;

Deno.bench("ed25519 sign 32-byte id (node:crypto, key cached)", { group: "sign", baseline: true }, () => {
  identity.sign(id);
});
Deno.bench("ed25519 sign 32-byte id (noble)", { group: "sign" }, () => {
  nobleBackend.sign(secret, id);
});
Deno.bench("ed25519 verify (node:crypto fast path, key cached)", { group: "verify", baseline: true }, () => {
  nativeBackend.verify(signature, id, identity.publicKey);
});
Deno.bench("ed25519 verify (noble fallback)", { group: "verify" }, () => {
  nobleBackend.verify(signature, id, identity.publicKey);
});
Deno.bench("create+sign CUSTOM_DATA, 256-byte data", { group: "message" }, () => {
  createMessage(identity, MessageType.CUSTOM_DATA, payload, { timestamp: now });
});
Deno.bench("encode envelope, 256-byte data", { group: "message" }, () => {
  codec.encode(message);
});
Deno.bench("encode envelope, 256-byte data, msgpack's generic encoder (what codec.encode did before)", {
  group: "message",
}, () => {
  encode([
    message.version,
    message.type,
    message.publicKey,
    message.timestamp,
    message.ttl,
    message.payloadBytes,
    message.signature,
  ]);
});
Deno.bench("parse envelope (structure + id, no signature)", { group: "message" }, () => {
  codec.parse(wire);
});
Deno.bench("decode+verify CUSTOM_DATA, 256-byte data", { group: "message", baseline: true }, () => {
  codec.decode(wire, now);
});

// A GOSSIP_MESSAGE whose payload is 256 bytes of ids (an 8-id IHAVE digest).
const digest = createMessage(identity, MessageType.GOSSIP_MESSAGE, {
  have: Array.from({ length: 8 }, (_, i) => new Uint8Array(32).fill(i)),
  want: [],
});
const digestWire = codec.encode(digest);
Deno.bench("decode+verify GOSSIP_MESSAGE, 8-id digest (256 bytes of ids)", { group: "message" }, () => {
  codec.decode(digestWire, now);
});

const framed = encodeFrame(wire);
const batch = new Uint8Array(framed.length * 64);
for (let i = 0; i < 64; i++) batch.set(framed, i * framed.length);
const frames = new FrameDecoder();
Deno.bench("frame decode, 64 frames of one envelope in one read (per read)", { group: "framing" }, () => {
  frames.push(batch);
});
Deno.bench("frame decode, one frame split in 3 reads", { group: "framing" }, () => {
  frames.push(framed.subarray(0, 2));
  frames.push(framed.subarray(2, 100));
  frames.push(framed.subarray(100));
});
