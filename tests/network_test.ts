import assert from "node:assert/strict";
import { ConfigError, type ProtocolError } from "../lib/errors.ts";
import { encodeFrame, FrameDecoder } from "../lib/framing.ts";
import { Identity } from "../lib/identity.ts";
import {
  type CloseInfo,
  type Connection,
  resolveTransportConfig,
  TcpTransport,
  type TransportConfig,
  TransportError,
} from "../lib/transport/mod.ts";
import {
  computeMessageId,
  createMessage,
  DisconnectReason,
  type Envelope,
  MessageCodec,
  MessageType,
  type PeerRecord,
  PROTOCOL_VERSION,
} from "../lib/protocol/mod.ts";
import { deriveSessionKeys, generateEphemeralKeyPair, RecordSealer } from "../lib/transport/session.ts";
import { waitFor } from "./_support.ts";

const codec = new MessageCodec();

/** Transports made by a test, closed at its end whatever happens. */
class Fixture {
  readonly transports: TcpTransport[] = [];
  readonly sockets: Deno.TcpConn[] = [];
  readonly listeners: Deno.TcpListener[] = [];

  node(config: Partial<TransportConfig> = {}, extra: { initialPeers?: () => PeerRecord[]; identity?: Identity } = {}) {
    const transport = new TcpTransport({
      identity: extra.identity ?? Identity.generate(),
      config: { listenHost: "127.0.0.1", listenPort: 0, maxConnectionsPerIp: 1000, ...config },
      initialPeers: extra.initialPeers,
    });
    this.transports.push(transport);
    return transport;
  }

  async raw(address: string): Promise<Deno.TcpConn> {
    const [host, port] = splitAddress(address);
    const conn = await Deno.connect({ hostname: host, port });
    this.sockets.push(conn);
    return conn;
  }

  async close() {
    for (const s of this.sockets) {
      try {
        s.close();
      } catch { /* closed */ }
    }
    for (const l of this.listeners) {
      try {
        l.close();
      } catch { /* closed */ }
    }
    await Promise.all(this.transports.map((t) => t.close()));
  }
}

function withFixture(name: string, fn: (f: Fixture) => Promise<void>) {
  Deno.test(name, async () => {
    const fixture = new Fixture();
    try {
      await fn(fixture);
    } finally {
      await fixture.close();
    }
  });
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon).replace(/^\[|\]$/g, ""), Number(address.slice(colon + 1))];
}

/** Reads frames from a raw socket until EOF (or `limit` frames); the guard closes the socket after `limitMs`. */
async function readFramesUntilEof(
  conn: Deno.TcpConn,
  limitMs = 5_000,
): Promise<{ frames: Uint8Array[]; eof: boolean }> {
  const decoder = new FrameDecoder(1 << 20);
  const frames: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  let guardFired = false;
  const guard = setTimeout(() => {
    guardFired = true;
    try {
      conn.close();
    } catch { /* closed */ }
  }, limitMs);
  try {
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      frames.push(...decoder.push(buffer.subarray(0, n)));
    }
  } finally {
    clearTimeout(guard);
  }
  return { frames, eof: !guardFired };
}

function collect(transport: TcpTransport) {
  const connections: Connection[] = [];
  const envelopes: Envelope[] = [];
  const errors: ProtocolError[] = [];
  transport.onConnection = (c) => {
    connections.push(c);
    c.onEnvelope = (e) => envelopes.push(e);
  };
  transport.onProtocolError = (_c, e) => errors.push(e);
  return { connections, envelopes, errors };
}

const gossip = (identity: Identity, text: string) =>
  createMessage(identity, MessageType.CUSTOM_DATA, { topic: "t", data: new TextEncoder().encode(text) });

for (const host of ["127.0.0.1", "::1"]) {
  withFixture(`handshake both ways on ${host}; envelopes flow in both directions`, async (f) => {
    const a = f.node({ listenHost: host }), b = f.node({ listenHost: host });
    const seenA = collect(a), seenB = collect(b);
    const addressA = await a.listen(), addressB = await b.listen();
    const ab = await b.dial(addressA);
    assert.equal(ab.remoteNodeId, a.nodeId);
    assert.equal(ab.direction, "outbound");
    assert.deepEqual(ab.remotePublicKey, a.identity.publicKey);
    assert.equal(ab.listenAddress, addressA);
    await waitFor(() => seenA.connections.length === 1, "A to see B");
    assert.equal(seenA.connections[0].remoteNodeId, b.nodeId);
    assert.equal(seenA.connections[0].direction, "inbound");
    ab.send(gossip(b.identity, "to a"));
    seenA.connections[0].send(gossip(a.identity, "to b"));
    await waitFor(() => seenA.envelopes.length === 1 && seenB.envelopes.length === 1, "envelopes both ways");
    assert.deepEqual(seenA.envelopes[0].origin, b.identity.nodeIdBytes);
    assert.deepEqual(seenB.envelopes[0].origin, a.identity.nodeIdBytes);
    // And the other way round: a fresh pair where A dials B.
    const c = f.node({ listenHost: host });
    collect(c);
    const ac = await a.dial(await c.listen());
    assert.equal(ac.remoteNodeId, c.nodeId);
    assert.ok(addressB.length > 0);
  });
}

withFixture("envelopes sent in one turn share one sealed record, and recordsOut counts records", async (f) => {
  const a = f.node(), b = f.node();
  const seenA = collect(a);
  collect(b);
  const ab = await b.dial(await a.listen());
  await waitFor(() => seenA.connections.length === 1, "A to see B");
  const before = b.stats.recordsOut;
  for (let i = 0; i < 3; i++) ab.send(gossip(b.identity, `batched ${i}`));
  await waitFor(() => seenA.envelopes.length === 3, "three envelopes");
  assert.equal(b.stats.recordsOut - before, 1);
  ab.send(gossip(b.identity, "alone"));
  await waitFor(() => seenA.envelopes.length === 4, "the fourth");
  assert.equal(b.stats.recordsOut - before, 2);
  assert.equal(ab.stats.envelopesOut, 4);
});

withFixture("HANDSHAKE_ACK carries the initial peer list, bounded at 64", async (f) => {
  const many: PeerRecord[] = Array.from({ length: 100 }, (_, i) => ({
    nodeId: new Uint8Array(32).fill(i),
    address: `127.0.0.${i + 1}:7400`,
    lastSeen: 1,
  }));
  const a = f.node({}, { initialPeers: () => many });
  const b = f.node();
  const connection = await b.dial(await a.listen());
  assert.equal(connection.initialPeers.length, 64);
  assert.equal(connection.initialPeers[5].address, "127.0.0.6:7400");
});

withFixture("a peer with another key than the one expected is refused", async (f) => {
  const a = f.node(), b = f.node();
  const seenA = collect(a);
  const address = await a.listen();
  const impostorExpected = Identity.generate().nodeId;
  await assert.rejects(b.dial(address, { expectedNodeId: impostorExpected }), (e: unknown) => {
    assert.ok(e instanceof TransportError);
    assert.equal(e.code, "WRONG_PEER");
    return true;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(seenA.connections.length, 0);
  assert.equal(b.connections().length, 0);
});

withFixture("a HANDSHAKE whose node id does not match its key is refused with PROTOCOL_ERROR", async (f) => {
  const a = f.node();
  const seenA = collect(a);
  const address = await a.listen();
  const liar = Identity.generate(), someoneElse = Identity.generate();
  const honest = createMessage(liar, MessageType.HANDSHAKE, {
    networkId: "kith-main",
    nonce: new Uint8Array(32).fill(1),
    ephemeralKey: generateEphemeralKeyPair().publicKey,
    listenAddress: "",
    agent: "liar",
  });
  // Claim someone else's node id with the liar's key, re-hashed and re-signed so only the binding is wrong.
  const id = computeMessageId(
    1,
    MessageType.HANDSHAKE,
    someoneElse.nodeIdBytes,
    liar.publicKey,
    honest.timestamp,
    honest.payloadBytes,
  );
  const forged = { ...honest, origin: someoneElse.nodeIdBytes, id, signature: liar.sign(id) };
  const conn = await f.raw(address);
  await conn.write(encodeFrame(codec.encode(forged)));
  const { frames, eof } = await readFramesUntilEof(conn);
  assert.ok(eof);
  const reply = codec.decode(frames[0], Date.now());
  assert.equal(reply.type, MessageType.DISCONNECT);
  assert.equal(reply.type === MessageType.DISCONNECT && reply.payload.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.equal(seenA.connections.length, 0);
});

/** A loopback TCP relay that records client-to-server bytes and can flip a bit in them. */
function startRelay(f: Fixture, target: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  f.listeners.push(listener);
  const recorded: Uint8Array[] = [];
  const state = { flipNext: false, flipped: false };
  const pipes: Promise<void>[] = [];
  const pipe = async (from: Deno.TcpConn, to: Deno.TcpConn, clientToServer: boolean) => {
    const buffer = new Uint8Array(65536);
    for (;;) {
      const n = await from.read(buffer).catch(() => null);
      if (n === null) break;
      const chunk = buffer.slice(0, n);
      if (clientToServer) {
        recorded.push(chunk.slice());
        if (state.flipNext && chunk.length > 8) {
          chunk[chunk.length - 3] ^= 0x10; // inside the record's ciphertext or tag
          state.flipNext = false;
          state.flipped = true;
        }
      }
      const ok = await to.write(chunk).then(() => true, () => false);
      if (!ok) break;
    }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  };
  const accepting = (async () => {
    for (;;) {
      const client = await listener.accept().catch(() => null);
      if (!client) return;
      const [host, port] = splitAddress(target);
      const server = await Deno.connect({ hostname: host, port });
      f.sockets.push(client, server);
      pipes.push(pipe(client, server, true), pipe(server, client, false));
    }
  })();
  const addr = listener.addr as Deno.NetAddr;
  return {
    address: `127.0.0.1:${addr.port}`,
    recorded,
    state,
    async stop() {
      listener.close();
      await accepting;
      await Promise.all(pipes);
    },
  };
}

withFixture("a recorded handshake replayed on a new connection is refused", async (f) => {
  const a = f.node(), b = f.node();
  const seenA = collect(a);
  const relay = await startRelay(f, await a.listen());
  const first = await b.dial(relay.address);
  await waitFor(() => seenA.connections.length === 1, "the genuine handshake through the relay");
  await first.close();
  await waitFor(() => a.connections().length === 0, "A to drop the first connection");
  await relay.stop();
  // Replay everything B sent (HANDSHAKE, then the sealed HANDSHAKE_CONFIRM) to A on a fresh connection.
  const replayed = Uint8Array.from(relay.recorded.flatMap((chunk) => [...chunk]));
  const conn = await f.raw(a.listenAddress);
  await conn.write(replayed).catch(() => {});
  const { eof } = await readFramesUntilEof(conn);
  assert.ok(eof, "A closed the replaying connection");
  assert.equal(seenA.connections.length, 1, "no second connection was established");
  assert.equal(a.connections().length, 0);
});

withFixture("a wrong network id is refused with WRONG_NETWORK", async (f) => {
  const a = f.node({ networkId: "kith-main" }), b = f.node({ networkId: "kith-test" });
  const seenA = collect(a);
  await assert.rejects(b.dial(await a.listen()), (e: unknown) => {
    assert.ok(e instanceof TransportError);
    assert.equal(e.code, "WRONG_NETWORK");
    assert.equal(e.reason, DisconnectReason.WRONG_NETWORK);
    return true;
  });
  assert.equal(seenA.connections.length, 0);
});

withFixture("a connection to self is refused with SELF_CONNECTION", async (f) => {
  const a = f.node();
  await assert.rejects(
    a.dial(await a.listen()),
    (e: unknown) => e instanceof TransportError && e.code === "SELF_CONNECTION",
  );
  assert.equal(a.connections().length, 0);
});

withFixture("simultaneous dials both ways: both ends keep the same connection", async (f) => {
  const a = f.node(), b = f.node();
  collect(a);
  collect(b);
  const [addressA, addressB] = [await a.listen(), await b.listen()];
  const closes: CloseInfo[] = [];
  const [ab, ba] = await Promise.all([a.dial(addressB), b.dial(addressA)]);
  for (const c of [ab, ba]) c.closed.then((info) => closes.push(info));
  await waitFor(
    () => a.connections().length === 1 && b.connections().length === 1 && a.stats.inbound + a.stats.outbound === 1,
    "one connection each",
  );
  const keptAtA = a.connection(b.nodeId)!, keptAtB = b.connection(a.nodeId)!;
  // The kept connection was opened by the node with the lower id, and it is the same link at both ends.
  const lower = a.nodeId < b.nodeId ? "a" : "b";
  assert.equal(keptAtA.direction, lower === "a" ? "outbound" : "inbound");
  assert.equal(keptAtB.direction, lower === "b" ? "outbound" : "inbound");
  // Traffic still flows on the kept one.
  const received: Envelope[] = [];
  keptAtB.onEnvelope = (e) => received.push(e);
  keptAtA.send(gossip(a.identity, "still here"));
  await waitFor(() => received.length === 1, "traffic on the kept connection");
  assert.ok(closes.every((info) => info.reason === DisconnectReason.DUPLICATE_CONNECTION));
});

withFixture("a second dial in the same direction replaces the first (the older may be dead)", async (f) => {
  const a = f.node(), b = f.node();
  collect(a);
  const address = await a.listen();
  const first = await b.dial(address);
  const second = await b.dial(address);
  assert.notEqual(first, second);
  assert.equal((await first.closed).reason, DisconnectReason.DUPLICATE_CONNECTION);
  assert.equal(b.connection(a.nodeId), second);
  await waitFor(() => a.connections().length === 1 && a.stats.inbound === 1, "A to keep one");
  // With the expected id, a dial returns the open connection instead of dialing again.
  assert.equal(await b.dial(address, { expectedNodeId: a.nodeId }), second);
});

withFixture("a flipped bit in an encrypted frame closes the link", async (f) => {
  const a = f.node(), b = f.node();
  const seenA = collect(a);
  const relay = await startRelay(f, await a.listen());
  const connection = await b.dial(relay.address);
  await waitFor(() => seenA.connections.length === 1, "handshake through the relay");
  connection.send(gossip(b.identity, "clean"));
  await waitFor(() => seenA.envelopes.length === 1, "a clean envelope");
  relay.state.flipNext = true;
  connection.send(gossip(b.identity, "tampered"));
  const info = await seenA.connections[0].closed;
  assert.ok(relay.state.flipped);
  assert.equal(info.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.equal(info.by, "local");
  assert.ok(seenA.errors.some((e) => e.code === "DECRYPT_FAILED"));
  assert.equal(seenA.envelopes.length, 1, "the tampered envelope was not delivered");
  await connection.closed;
  await relay.stop();
});

withFixture("an oversize length prefix is refused at once, before any body is read", async (f) => {
  const a = f.node({ handshakeTimeoutMs: 60_000 });
  const seenA = collect(a);
  const conn = await f.raw(await a.listen());
  await conn.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
  const { eof } = await readFramesUntilEof(conn, 5_000);
  assert.ok(eof, "closed long before the 60 s handshake timeout");
  assert.equal(a.stats.handshakesFailed, 1);
  assert.equal(seenA.connections.length, 0);
});

withFixture("a client that connects and sends nothing is dropped after the handshake timeout", async (f) => {
  const a = f.node({ handshakeTimeoutMs: 200 });
  const conn = await f.raw(await a.listen());
  const { frames, eof } = await readFramesUntilEof(conn, 5_000);
  assert.ok(eof);
  const reply = codec.decode(frames[0], Date.now());
  assert.equal(reply.type === MessageType.DISCONNECT && reply.payload.reason, DisconnectReason.HANDSHAKE_TIMEOUT);
  await waitFor(() => a.stats.inbound === 0, "the slot to be freed");
});

withFixture("connection limits hold under 500 concurrent connection attempts", async (f) => {
  // The squatters and the honest node share 127.0.0.1: bursts that let all 500 reach the slot limits under test
  // (the new-connection rates have their own test, tests/adversary_handshake_test.ts).
  const a = f.node({
    maxInbound: 20,
    handshakeTimeoutMs: 3_000,
    inboundBurstPerIp: 1_000,
    inboundBurstPerSubnet: 1_000,
    inboundBurstGlobal: 1_000,
  });
  const address = await a.listen();
  const [host, port] = splitAddress(address);
  const attempts = await Promise.allSettled(Array.from({ length: 500 }, () => Deno.connect({ hostname: host, port })));
  for (const attempt of attempts) if (attempt.status === "fulfilled") f.sockets.push(attempt.value);
  await waitFor(() => a.stats.refused + a.stats.inbound >= f.sockets.length, "every attempt to be admitted or refused");
  assert.ok(a.stats.peakInbound <= 20, `peak inbound ${a.stats.peakInbound}`);
  assert.ok(a.stats.refused >= f.sockets.length - 20, `refused ${a.stats.refused} of ${f.sockets.length}`);
  // Slots come back when the squatters go, and an honest node gets in.
  for (const s of f.sockets.splice(0)) s.close();
  await waitFor(() => a.stats.inbound === 0, "slots to be freed");
  const b = f.node();
  assert.equal((await b.dial(address)).remoteNodeId, a.nodeId);
});

withFixture("at most maxConnectionsPerIp inbound connections come from one address", async (f) => {
  const a = f.node({ maxConnectionsPerIp: 3, handshakeTimeoutMs: 3_000 });
  const address = await a.listen();
  for (let i = 0; i < 10; i++) await f.raw(address);
  await waitFor(() => a.stats.refused + a.stats.inbound >= 10, "admission of 10 connections");
  assert.equal(a.stats.peakInbound, 3);
  assert.equal(a.stats.refused, 7);
});

/** Performs the initiator's side of the handshake by hand, then never reads again. */
async function handshakeThenStall(f: Fixture, address: string, identity: Identity): Promise<Deno.TcpConn> {
  const conn = await f.raw(address);
  const ephemeral = generateEphemeralKeyPair();
  const hello = createMessage(identity, MessageType.HANDSHAKE, {
    networkId: "kith-main",
    nonce: crypto.getRandomValues(new Uint8Array(32)),
    ephemeralKey: ephemeral.publicKey,
    listenAddress: "",
    agent: "staller",
  });
  await conn.write(encodeFrame(codec.encode(hello)));
  const decoder = new FrameDecoder(1 << 20);
  const buffer = new Uint8Array(65536);
  let frames: Uint8Array[] = [];
  while (frames.length === 0) {
    const n = await conn.read(buffer);
    assert.ok(n !== null);
    frames = decoder.push(buffer.subarray(0, n));
  }
  const ack = codec.decode(frames[0], Date.now());
  assert.equal(ack.type, MessageType.HANDSHAKE_ACK);
  if (ack.type !== MessageType.HANDSHAKE_ACK) throw new Error("unreachable");
  const keys = deriveSessionKeys(ephemeral, ack.payload.ephemeralKey, ack.id, true)!;
  const confirm = createMessage(identity, MessageType.HANDSHAKE_CONFIRM, { ackId: ack.id });
  await conn.write(encodeFrame(new RecordSealer(keys.sendKey).seal(encodeFrame(codec.encode(confirm)))));
  return conn;
}

withFixture("a stalled reader does not grow the sender's memory past its bound", async (f) => {
  const bound = 1024 * 1024;
  const a = f.node({ maxSendQueueBytes: bound, writeTimeoutMs: 2_000 });
  const seenA = collect(a);
  await handshakeThenStall(f, await a.listen(), Identity.generate());
  await waitFor(() => seenA.connections.length === 1, "the staller's handshake");
  const connection = seenA.connections[0];
  const big = codec.encode(
    createMessage(a.identity, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(64 * 1024) }),
  );
  let peak = 0, accepted = 0;
  // Far more than the socket buffers and the queue can hold; stop when the connection gives up.
  for (let i = 0; i < 4000 && connection.isOpen; i++) {
    if (connection.sendEncoded(big)) accepted++;
    peak = Math.max(peak, connection.bufferedBytes);
    if (i % 16 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  const info = await connection.closed;
  assert.equal(info.reason, DisconnectReason.SLOW_READER);
  assert.ok(peak <= bound, `queued ${peak} bytes, bound ${bound}`);
  assert.ok(accepted < 4000, "sending stopped being accepted");
});

withFixture("close sends DISCONNECT with its reason to the peer", async (f) => {
  const a = f.node(), b = f.node();
  const seenA = collect(a);
  const connection = await b.dial(await a.listen());
  await waitFor(() => seenA.connections.length === 1, "A to see B");
  await connection.close(DisconnectReason.LOW_TRUST, "bye");
  assert.deepEqual(await seenA.connections[0].closed, {
    reason: DisconnectReason.LOW_TRUST,
    detail: "bye",
    by: "remote",
  });
  assert.equal(connection.send(gossip(b.identity, "late")), false);
});

Deno.test("an invalid transport setting is refused with the key's name", () => {
  assert.throws(
    () => resolveTransportConfig({ maxInbound: 0 }),
    (e: unknown) => e instanceof ConfigError && e.key === "transport.maxInbound",
  );
  assert.throws(
    () => resolveTransportConfig({ networkId: "" }),
    (e: unknown) => e instanceof ConfigError && e.key === "transport.networkId",
  );
  assert.throws(
    () => resolveTransportConfig({ advertisedAddress: "nope" }),
    (e: unknown) => e instanceof ConfigError && e.key === "transport.advertisedAddress",
  );
});

withFixture("a HANDSHAKE of another protocol version is refused with UNSUPPORTED_VERSION", async (f) => {
  const a = f.node();
  const seenA = collect(a);
  const conn = await f.raw(await a.listen());
  const me = Identity.generate();
  const hello = createMessage(me, MessageType.HANDSHAKE, {
    networkId: "kith-main",
    nonce: new Uint8Array(32),
    ephemeralKey: generateEphemeralKeyPair().publicKey,
    listenAddress: "",
    agent: "future",
  });
  const id = computeMessageId(
    PROTOCOL_VERSION + 1,
    MessageType.HANDSHAKE,
    hello.origin,
    hello.publicKey,
    hello.timestamp,
    hello.payloadBytes,
  );
  await conn.write(encodeFrame(codec.encode({ ...hello, version: PROTOCOL_VERSION + 1, id, signature: me.sign(id) })));
  const { frames, eof } = await readFramesUntilEof(conn);
  assert.ok(eof);
  const reply = codec.decode(frames[0], Date.now());
  assert.equal(reply.type === MessageType.DISCONNECT && reply.payload.reason, DisconnectReason.UNSUPPORTED_VERSION);
  assert.equal(seenA.connections.length, 0);
});

withFixture("envelopes of mixed sizes arrive whole and in order, never interleaved", async (f) => {
  const a = f.node(), b = f.node();
  const seenA = collect(a);
  const connection = await b.dial(await a.listen());
  const sizes = Array.from({ length: 300 }, (_, i) => [0, 1, 200, 5_000, 70_000, 200_000][i % 6]);
  for (const [i, size] of sizes.entries()) {
    // Respect backpressure: past 8 MiB queued, the link would be dropped as a slow reader.
    while (connection.bufferedBytes > 2 * 1024 * 1024) await new Promise((r) => setTimeout(r, 1));
    const data = new Uint8Array(size).fill(i & 0xff);
    assert.ok(connection.send(createMessage(b.identity, MessageType.CUSTOM_DATA, { topic: String(i), data })));
  }
  await waitFor(() => seenA.envelopes.length === sizes.length, "all envelopes", 20_000);
  assert.deepEqual(seenA.errors, []);
  seenA.envelopes.forEach((envelope, i) => {
    const message = codec.decode(codec.encode(envelope), Date.now());
    assert.ok(message.type === MessageType.CUSTOM_DATA);
    if (message.type !== MessageType.CUSTOM_DATA) return;
    assert.equal(message.payload.topic, String(i));
    assert.equal(message.payload.data.length, sizes[i]);
    assert.ok(message.payload.data.every((byte) => byte === (i & 0xff)));
  });
});

withFixture("dials beyond maxOutbound are refused locally", async (f) => {
  const a = f.node({ maxOutbound: 2 });
  const targets = [f.node(), f.node(), f.node()];
  for (const t of targets) collect(t);
  await a.dial(await targets[0].listen());
  await a.dial(await targets[1].listen());
  await assert.rejects(
    a.dial(await targets[2].listen()),
    (e: unknown) => e instanceof TransportError && e.code === "TOO_MANY_CONNECTIONS",
  );
  assert.equal(a.stats.outbound, 2);
});

withFixture("concurrent dials to the same address share one handshake and one connection", async (f) => {
  const a = f.node(), b = f.node();
  collect(a);
  const address = await a.listen();
  const [first, second] = await Promise.all([b.dial(address), b.dial(address)]);
  assert.equal(first, second);
  await waitFor(() => a.connections().length === 1, "A to see one link");
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(first.isOpen, "the shared link stays open at B");
  assert.equal(a.stats.handshakesCompleted, 1);
});

withFixture("close with an out-of-range reason and a long multi-byte detail still closes cleanly", async (f) => {
  const a = f.node(), b = f.node();
  const seenA = collect(a);
  const connection = await b.dial(await a.listen());
  await waitFor(() => seenA.connections.length === 1, "A to see B");
  await connection.close(70_000, "é".repeat(300));
  const info = await seenA.connections[0].closed;
  assert.equal(info.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.ok(new TextEncoder().encode(info.detail).length <= 200);
  assert.equal(b.connections().length, 0);
});

withFixture("a burst of invalid envelopes closes the link", async (f) => {
  const a = f.node(), b = f.node();
  const seenA = collect(a);
  const connection = await b.dial(await a.listen());
  await waitFor(() => seenA.connections.length === 1, "A to see B");
  for (let i = 0; i < 500 && connection.isOpen; i++) connection.sendEncoded(new Uint8Array([0xc1, i & 0xff]));
  const info = await seenA.connections[0].closed;
  assert.equal(info.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.ok(seenA.errors.length > 100 && seenA.errors.length < 500, `${seenA.errors.length} errors reported`);
});

withFixture("an exact replay of a HANDSHAKE gets no answer at all", async (f) => {
  const a = f.node();
  const seenA = collect(a);
  const address = await a.listen();
  const me = Identity.generate();
  const hello = encodeFrame(codec.encode(createMessage(me, MessageType.HANDSHAKE, {
    networkId: "kith-main",
    nonce: crypto.getRandomValues(new Uint8Array(32)),
    ephemeralKey: generateEphemeralKeyPair().publicKey,
    listenAddress: "",
    agent: "replayer",
  })));
  const first = await f.raw(address);
  await first.write(hello);
  const buffer = new Uint8Array(65536);
  const n = await first.read(buffer);
  assert.ok(n !== null && n > 0, "the first HANDSHAKE is answered");
  const second = await f.raw(address);
  await second.write(hello);
  const { frames, eof } = await readFramesUntilEof(second);
  assert.ok(eof);
  assert.equal(frames.length, 0, "no ACK, no DISCONNECT: not worth a signature");
  assert.equal(seenA.connections.length, 0);
});

Deno.test("maxRecordBytes cannot exceed the protocol's 64 KiB record limit", () => {
  assert.throws(
    () => resolveTransportConfig({ maxRecordBytes: 65_537 }),
    (e: unknown) => e instanceof ConfigError && e.key === "transport.maxRecordBytes",
  );
});

withFixture("a write blocked past writeTimeoutMs closes the link as a slow reader", async (f) => {
  const a = f.node({ maxSendQueueBytes: 512 * 1024 * 1024, writeTimeoutMs: 300 });
  const seenA = collect(a);
  await handshakeThenStall(f, await a.listen(), Identity.generate());
  await waitFor(() => seenA.connections.length === 1, "the staller's handshake");
  const connection = seenA.connections[0];
  const big = codec.encode(
    createMessage(a.identity, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(60_000) }),
  );
  // Enough to fill the socket buffers, far below the queue bound: only the write watchdog can end this.
  for (let i = 0; i < 1_000 && connection.isOpen; i++) connection.sendEncoded(big);
  const info = await connection.closed;
  assert.equal(info.reason, DisconnectReason.SLOW_READER);
  assert.equal(info.detail, "write timed out");
});
