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

const LOOPBACK = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 1, peerMaintenanceIntervalMs: 200 };

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
async function withRelay(relay: Partial<RelayConfig>, fn: (nodes: {
  relay: KithNode;
  reserved: KithNode;
  dialer: KithNode;
  relayed: Uint8Array[];
}) => Promise<void>): Promise<void> {
  const relayNode = new KithNode({ config: LOOPBACK, relay: { relayService: true, ...relay } });
  await relayNode.start();
  const started: KithNode[] = [relayNode];
  const relayed: Uint8Array[] = [];
  try {
    const tcp = relayNode.components.transport as TcpTransport;
    const serve = tcp.circuitLeg!;
    tcp.circuitLeg = (leg: CircuitLeg) => serve({ ...leg, conn: recorded(leg.conn, relayed) });
    const reserved = new KithNode({
      config: { ...LOOPBACK, bootstrap: [relayNode.address] },
      relay: { reserveRelays: 1, holePunching: false },
    });
    await reserved.start();
    started.push(reserved);
    const dialer = new KithNode({ config: { ...LOOPBACK, bootstrap: [relayNode.address] } });
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
