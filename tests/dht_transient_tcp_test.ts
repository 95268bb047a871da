/**
 * Over real TCP on loopback, where both ends choose between duplicate links on their own (the simulator
 * models that choice, tests/dht_transient_test.ts covers the rest): a peer link displaces a transient link
 * at both ends whichever node dials it, and a dial to a relayed address gets its circuit while a transient
 * link to the same node is open. The transient link is opened by the node with the lower id, toward the
 * other, so that the rule without transient links (the lower id's link stays) would keep it.
 */
import assert from "node:assert/strict";
import { parseRelayedAddress } from "../lib/address.ts";
import { Identity } from "../lib/identity.ts";
import { KithNode } from "../lib/node.ts";
import { waitFor } from "./_support.ts";

// No dials of their own (no outbound target, no feelers): every link is one the test asks for.
const LOOPBACK = {
  listenHost: "127.0.0.1",
  listenPort: 0,
  minPeers: 0,
  outboundSlots: 0,
  feelerIntervalMs: 3_600_000,
  peerMaintenanceIntervalMs: 200,
};

/** Two identities, the lower node id first. */
function ordered(): [Identity, Identity] {
  const x = Identity.generate(), y = Identity.generate();
  return x.nodeId < y.nodeId ? [x, y] : [y, x];
}

const isActive = (node: KithNode, nodeId: string) =>
  node.peers().some((p) => p.nodeId === nodeId && p.state === "active");

Deno.test("over TCP: a node dialed by the node it holds a transient link to keeps the dial's link, a peer's at both ends", async () => {
  const [low, high] = ordered();
  const holder = new KithNode({ identity: low, config: { ...LOOPBACK, listenHost: "127.0.0.2" } });
  const other = new KithNode({ identity: high, config: { ...LOOPBACK, listenHost: "127.0.0.3" } });
  await holder.start();
  await other.start();
  try {
    const link = await holder.dht.transient.open(other.nodeId, other.address);
    assert.ok(link?.transient, "the transient link opened");
    holder.dht.transient.busy(other.nodeId); // as while a query is in flight over it
    await waitFor(() => other.dht.inbound.size === 1, "the other end holding it as transient");
    assert.ok(!isActive(other, holder.nodeId), "a transient link is no peer at the answering end");
    const peer = await other.connect(holder.address);
    assert.equal(peer.nodeId, holder.nodeId);
    assert.equal(peer.state, "active");
    await waitFor(() => isActive(holder, other.nodeId), "the holder taking the peer link");
    await waitFor(() => !link.isOpen, "the transient link closing");
    assert.equal(holder.components.transport.connection(other.nodeId)?.transient, false);
    assert.equal(other.components.transport.connection(holder.nodeId)?.transient, false);
  } finally {
    await other.stop();
    await holder.stop();
  }
});

Deno.test("over TCP: a dial to a relayed address opens the circuit while the node behind it holds a transient link to the dialer", async () => {
  const relay = new KithNode({ config: { ...LOOPBACK, minPeers: 1 }, relay: { relayService: true } });
  await relay.start();
  const [low, high] = ordered();
  const reserved = new KithNode({
    identity: low,
    config: { ...LOOPBACK, listenHost: "127.0.0.4", minPeers: 1, outboundSlots: 1, bootstrap: [relay.address] },
    relay: { reserveRelays: 1, holePunching: false },
  });
  const dialer = new KithNode({
    identity: high,
    config: { ...LOOPBACK, listenHost: "127.0.0.5", minPeers: 1, outboundSlots: 1, bootstrap: [relay.address] },
  });
  await reserved.start();
  await dialer.start();
  try {
    await waitFor(() => reserved.stats().relay.client.reservations === 1, "a reservation at the relay");
    const relayed = reserved.components.transport.advertisedAddress;
    assert.ok(parseRelayedAddress(relayed), `announces ${relayed}`);
    const transient = await reserved.dht.transient.open(dialer.nodeId, dialer.address);
    assert.ok(transient?.transient, "the transient link opened");
    // As while a query is in flight over it: the end of the node's own DHT lookups does not close it.
    reserved.dht.transient.busy(dialer.nodeId);
    const link = await dialer.components.transport.dial(relayed, { expectedNodeId: reserved.nodeId });
    assert.equal(link.linkKind, "relayed");
    assert.equal(link.transient, false);
    await waitFor(
      () => reserved.components.transport.connection(dialer.nodeId)?.linkKind === "relayed",
      "the relayed link at the other end",
    );
    await waitFor(() => !transient.isOpen, "the transient link closing");
    assert.equal(relay.stats().relay.relay.circuitsSpliced, 1);
  } finally {
    await dialer.stop();
    await reserved.stop();
    await relay.stop();
  }
});
