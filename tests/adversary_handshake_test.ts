/**
 * Handshake CPU at CI size (scripts/chaos/handshake.ts runs it at full size): a replayed HANDSHAKE costs the
 * responder no signature check, new connections from one IP beyond its bucket are closed at accept, and the
 * scenario's attacker forces no more verifications than the per-IP bucket allows. Loopback only.
 */
import assert from "node:assert/strict";
import { encodeFrame } from "../lib/framing.ts";
import { Identity } from "../lib/identity.ts";
import { systemClock } from "../lib/clock.ts";
import { createMessage, type Envelope, type Message, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import type { VerifyOptions } from "../lib/protocol/codec.ts";
import { TcpTransport } from "../lib/transport/mod.ts";
import { handshake } from "../scripts/chaos/handshake.ts";

/** Wraps the verifier: counts the HANDSHAKE signatures checked. */
class CountingCodec extends MessageCodec {
  verified = 0;
  override verify(envelope: Envelope, now: number, options?: VerifyOptions): Message {
    if (envelope.type === MessageType.HANDSHAKE && envelope.signature.length !== 0) this.verified++;
    return super.verify(envelope, now, options);
  }
}

function helloFrame(identity: Identity): Uint8Array {
  return encodeFrame(new MessageCodec().encode(createMessage(identity, MessageType.HANDSHAKE, {
    networkId: "kith-main",
    nonce: crypto.getRandomValues(new Uint8Array(32)),
    ephemeralKey: new Uint8Array(32).fill(9),
    listenAddress: "",
    agent: "test",
  }, { ttl: 0 })));
}

/** Opens a connection, sends `frame`, and says whether the victim answered with any bytes before closing. */
async function send(address: string, frame: Uint8Array): Promise<boolean> {
  const [hostname, port] = [address.split(":")[0], Number(address.split(":")[1])];
  const conn = await Deno.connect({ hostname, port });
  try {
    await conn.write(frame).catch(() => {});
    const n = await conn.read(new Uint8Array(4096)).catch(() => null);
    return n !== null && n > 0;
  } finally {
    conn.close();
  }
}

function victim(codec: MessageCodec, config: Record<string, number>) {
  // The clock stands still for the buckets (no refill while the test runs); timers are real.
  const t0 = Date.now();
  return new TcpTransport({
    identity: Identity.generate(),
    codec,
    clock: { ...systemClock, now: () => t0 },
    config: { listenHost: "127.0.0.1", listenPort: 0, maxConnectionsPerIp: 1_000, ...config },
  });
}

Deno.test("a replayed HANDSHAKE is refused before its signature is checked", async () => {
  const codec = new CountingCodec();
  const t = victim(codec, { inboundRatePerIp: 10_000, inboundBurstPerIp: 10_000 });
  const address = await t.listen();
  try {
    const recorded = helloFrame(Identity.generate());
    assert.ok(await send(address, recorded), "the first delivery is answered");
    let answered = 0;
    for (let i = 0; i < 50; i++) if (await send(address, recorded)) answered++;
    assert.equal(answered, 0, "replays are closed without an answer");
    assert.equal(codec.verified, 1, "only the first delivery cost a signature check");
    assert.equal(t.stats.handshakeVerifications, 1);
    assert.equal(t.stats.handshakesReplayed, 50);
  } finally {
    await t.close();
  }
});

Deno.test("new connections from one IP beyond its bucket are closed at accept, unread", async () => {
  const codec = new CountingCodec();
  const t = victim(codec, { inboundRatePerIp: 1, inboundBurstPerIp: 10 });
  const address = await t.listen();
  try {
    const attacker = Identity.generate();
    let answered = 0;
    for (let i = 0; i < 30; i++) if (await send(address, helloFrame(attacker))) answered++;
    assert.equal(answered, 10, "the burst is answered");
    assert.equal(codec.verified, 10, "refused connections cost no signature check");
    assert.equal(t.stats.rateLimited, 20);
    assert.equal(t.stats.refused, 20);
  } finally {
    await t.close();
  }
});

Deno.test("handshake scenario at CI size: replays force no verification, fresh ones stay within the per-IP bucket", async () => {
  const result = await handshake({ durationS: 1, concurrency: 4 });
  assert.equal(result.replay.verifications, 0, JSON.stringify(result));
  assert.ok(result.replay.attempts > 0, JSON.stringify(result));
  // The default bucket: a burst of 100, then 20 a second (a generous bound over the scenario's few seconds).
  assert.ok(result.fresh.verifications <= 100 + 20 * 10, JSON.stringify(result));
  assert.ok(result.replay.honest_delivered && result.fresh.honest_delivered, JSON.stringify(result));
});
