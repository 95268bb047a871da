/**
 * Relayed links over real TCP on loopback: a node that reserves at a relay announces a relayed address; a
 * third node dials it through the relay; kith's handshake runs end to end over the spliced legs, so the
 * relay carries ciphertext only (a marker sent over the link never appears in the bytes it copies); and
 * the relay closes a circuit at its byte limit without carrying a byte over it.
 */
import assert from "node:assert/strict";
import { parseRelayedAddress } from "../lib/address.ts";
import { KithNode } from "../lib/node.ts";
import type { RelayConfig } from "../lib/relay/config.ts";
import type { CircuitLeg } from "../lib/transport/circuit.ts";
import type { ByteConn } from "../lib/transport/connection.ts";
import type { Connection, TcpTransport } from "../lib/transport/mod.ts";
import { waitFor } from "./_support.ts";

// Each node listens on a loopback address of its own, as a host of its own (the relay on 127.0.0.1).
const LOOPBACK = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 1, peerMaintenanceIntervalMs: 200 };
// The DHT on: a lookup's transient link to the reserved node never stands in for the circuit a dial to its
// relayed address asks for (a peer link displaces a transient one at both ends).
const host = (n: number) => ({ ...LOOPBACK, listenHost: `127.0.0.${n}` });

/** A leg whose bytes, read by the relay, are kept for the test to look at. */
function recorded(conn: ByteConn, into: Uint8Array[]): ByteConn {
  return {
    read: async (p: Uint8Array) => {
      const n = await conn.read(p);
      if (n) into.push(p.slice(0, n));
      return n;
    },
    write: (p: Uint8Array) => conn.write(p),
    close: () => conn.close(),
    setNoDelay: (on?: boolean) => conn.setNoDelay(on),
  };
}

function contains(chunks: Uint8Array[], needle: Uint8Array): boolean {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  outer: for (let i = 0; i + needle.length <= all.length; i++) {
    for (let j = 0; j < needle.length; j++) if (all[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** A relay, a node behind it (reserving) and a third node, on loopback; stops them all after `fn`. */
async function withRelay(
  relay: Partial<RelayConfig>,
  fn: (nodes: {
    relay: KithNode;
    reserved: KithNode;
    dialer: KithNode;
    relayed: Uint8Array[];
  }) => Promise<void>,
): Promise<void> {
  const relayNode = new KithNode({ config: LOOPBACK, relay: { relayService: true, ...relay } });
  await relayNode.start();
  const started: KithNode[] = [relayNode];
  const relayed: Uint8Array[] = [];
  try {
    const tcp = relayNode.components.transport as TcpTransport;
    const serve = tcp.circuitLeg!;
    tcp.circuitLeg = (leg: CircuitLeg) => serve({ ...leg, conn: recorded(leg.conn, relayed) });
    // One outbound peer (the relay) and no feelers, here and at the dialer: a direct link between the two, a
    // peer's dial or a feeler, may be the one the duplicate rule keeps over the relayed one the tests ask for.
    const reserved = new KithNode({
      config: { ...host(2), bootstrap: [relayNode.address], outboundSlots: 1, feelerIntervalMs: 3_600_000 },
      relay: { reserveRelays: 1, holePunching: false },
    });
    await reserved.start();
    started.push(reserved);
    const dialer = new KithNode({
      config: { ...host(3), bootstrap: [relayNode.address], outboundSlots: 1, feelerIntervalMs: 3_600_000 },
    });
    await dialer.start();
    started.push(dialer);
    await fn({ relay: relayNode, reserved, dialer, relayed });
  } finally {
    for (const node of started.reverse()) await node.stop();
  }
}

/** Waits for `node`'s reservation and returns its relayed address. */
async function relayedAddressOf(node: KithNode): Promise<string> {
  await waitFor(() => node.stats().relay.client.reservations === 1, "a reservation at the relay");
  const address = node.components.transport.advertisedAddress;
  assert.ok(parseRelayedAddress(address), `announces ${address}`);
  return address;
}

Deno.test("a relayed link runs kith's handshake end to end, and the relay copies only ciphertext", async () => {
  await withRelay({}, async ({ relay, reserved, dialer, relayed }) => {
    const address = await relayedAddressOf(reserved);
    assert.equal(parseRelayedAddress(address)!.relayNodeId, relay.nodeId);
    const link: Connection = await dialer.components.transport.dial(address, { expectedNodeId: reserved.nodeId });
    assert.equal(link.linkKind, "relayed");
    assert.equal(link.remoteNodeId, reserved.nodeId);
    await waitFor(() => reserved.peers().some((p) => p.nodeId === dialer.nodeId && p.state === "active"), "both ends");
    await waitFor(() => reserved.components.transport.connection(dialer.nodeId)?.linkKind === "relayed", "relayed");
    const back = reserved.components.transport.connection(dialer.nodeId)!;
    assert.equal(back.linkKind, "relayed");
    const marker = new TextEncoder().encode("plaintext-marker-5f1c0e");
    const got = new Promise<Uint8Array>((resolve) => reserved.onDirect((m) => resolve(m.data)));
    await waitFor(() => dialer.peers().some((p) => p.nodeId === reserved.nodeId && p.state === "active"), "active");
    dialer.sendDirect(reserved.nodeId, marker);
    assert.deepEqual(await got, marker);
    assert.equal(relay.stats().relay.relay.circuitsSpliced, 1);
    assert.ok(relayed.length > 0, "the relay copied the link's bytes");
    assert.ok(!contains(relayed, marker), "the marker crossed the relay in the clear");
  });
});

Deno.test("a relay closes a circuit at its byte limit and carries no byte over it", async () => {
  const maxBytes = 48 * 1024;
  await withRelay({ circuitMaxBytes: maxBytes }, async ({ relay, reserved, dialer }) => {
    const address = await relayedAddressOf(reserved);
    const link = await dialer.components.transport.dial(address, { expectedNodeId: reserved.nodeId });
    await waitFor(() => dialer.peers().some((p) => p.nodeId === reserved.nodeId && p.state === "active"), "active");
    // Ten times the limit, in direct messages of 4 KiB.
    const chunk = new Uint8Array(4096).fill(7);
    for (let i = 0; i < (10 * maxBytes) / chunk.length && link.isOpen; i++) {
      try {
        dialer.sendDirect(reserved.nodeId, chunk);
      } catch {
        break; // the link closed, or the direct rate was reached: either way the limit is what is tested
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => relay.stats().relay.relay.circuitsCutAtBytes === 1, "the circuit cut at its byte limit");
    const stats = relay.stats().relay.relay;
    assert.ok(stats.bytesRelayed <= maxBytes, `carried ${stats.bytesRelayed} of at most ${maxBytes}`);
    await link.closed;
  });
});

Deno.test("a relayed link moves to a hole-punched socket, and the relayed one closes", async () => {
  await withRelay({}, async ({ reserved, dialer }) => {
    // This test's node behind the relay punches too (withRelay turns it off for the others).
    await reserved.stop();
    const punching = new KithNode({
      config: { ...host(6), bootstrap: [dialer.components.transport.connections()[0].remoteAddress] },
      relay: { reserveRelays: 1 },
    });
    await punching.start();
    try {
      const address = await relayedAddressOf(punching);
      const relayed = await dialer.components.transport.dial(address, { expectedNodeId: punching.nodeId });
      assert.equal(relayed.linkKind, "relayed");
      await waitFor(
        () => dialer.components.transport.connection(punching.nodeId)?.linkKind === "hole-punched",
        "the punched link",
      );
      const closed = await relayed.closed;
      assert.equal(closed.detail, "kept the other connection");
      await waitFor(
        () => punching.components.transport.connection(dialer.nodeId)?.linkKind === "hole-punched",
        "the punched link at the other end",
      );
      assert.equal(dialer.stats().relay.punch.punched, 1);
      const got = new Promise<string>((resolve) => punching.onDirect((m) => resolve(new TextDecoder().decode(m.data))));
      await waitFor(() => dialer.peers().some((p) => p.nodeId === punching.nodeId && p.state === "active"), "active");
      dialer.sendDirect(punching.nodeId, "over the punched link");
      assert.equal(await got, "over the punched link");
    } finally {
      await punching.stop();
    }
  });
});

Deno.test("a relay under abuse keeps its limits and keeps serving an honest circuit", async () => {
  const maxBytes = 48 * 1024;
  const limits = { circuitMaxBytes: maxBytes, maxReservationsPerIp: 4 };
  await withRelay(limits, async ({ relay, reserved, dialer }) => {
    const address = await relayedAddressOf(reserved);
    const honest = await dialer.components.transport.dial(address, { expectedNodeId: reserved.nodeId });
    await waitFor(() => dialer.peers().some((p) => p.nodeId === reserved.nodeId && p.state === "active"), "honest");
    // 1,000 reservation attempts from one IP (one node), over its link to the relay.
    const abuser = new KithNode({ config: { ...host(4), bootstrap: [relay.address] } });
    await abuser.start();
    let flooder: KithNode | undefined;
    try {
      await waitFor(() => abuser.components.transport.connection(relay.nodeId) !== undefined, "the abuser's link");
      const link = abuser.components.transport.connection(relay.nodeId)!;
      const { createLinkMessage, MessageType } = await import("../lib/protocol/mod.ts");
      for (let i = 0; i < 1000 && link.isOpen; i++) {
        link.send(createLinkMessage(abuser.components.identity, MessageType.RELAY_RESERVE, { requestId: i }));
      }
      await waitFor(() => !link.isOpen, "the abuser cut off (its trust spent on refused requests)");
      const book = relay.stats().relay.relay;
      assert.ok(book.reservations <= limits.maxReservationsPerIp, `holds ${book.reservations}`);
      // A second circuit pushes ten times its byte limit. On loopback every node shares the abuser's IP, whose
      // request rate the flood spent: the dial is retried until the rate has room again.
      flooder = new KithNode({ config: { ...host(5), bootstrap: [relay.address] } });
      await flooder.start();
      const flooding = flooder;
      await waitFor(() => relay.peers().some((p) => p.nodeId === flooding.nodeId && p.state === "active"), "its link");
      let pushed: Connection | undefined;
      for (let i = 0; i < 8 && !pushed; i++) {
        pushed = await flooding.components.transport.dial(address, { expectedNodeId: reserved.nodeId }).catch(() =>
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 250))
        );
      }
      assert.ok(pushed, "the flooder's circuit");
      await waitFor(() => flooding.peers().some((p) => p.nodeId === reserved.nodeId && p.state === "active"), "flood");
      const chunk = new Uint8Array(4096).fill(1);
      for (let i = 0; i < (10 * maxBytes) / chunk.length && pushed.isOpen; i++) {
        try {
          flooding.sendDirect(reserved.nodeId, chunk);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await waitFor(() => relay.stats().relay.relay.circuitsCutAtBytes === 1, "the flooding circuit cut");
      // The honest circuit still carries its traffic.
      assert.ok(honest.isOpen);
      const got = new Promise<string>((resolve) =>
        reserved.onDirect((m) => m.from === dialer.nodeId && resolve(new TextDecoder().decode(m.data)))
      );
      dialer.sendDirect(reserved.nodeId, "still here");
      assert.equal(await got, "still here");
      const after = relay.stats().relay.relay;
      console.log(
        `relay under abuse: reservations held ${after.reservations}, granted ${after.reservationsGranted}, refused ` +
          `${after.reservationsRefused}; circuits cut at bytes ${after.circuitsCutAtBytes}; bytes relayed ` +
          `${after.bytesRelayed} (limit ${maxBytes} a circuit)`,
      );
    } finally {
      await flooder?.stop();
      await abuser.stop();
    }
  });
});
