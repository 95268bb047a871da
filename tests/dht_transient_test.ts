/**
 * Transient links against peer links (docs/protocol.md, "DHT"): a transient link is marked by its dialer's
 * HANDSHAKE, held at the answering end outside the peer slots with bounds of its own, carries DHT messages
 * only, and a peer link between the same two nodes (dialed by either) displaces it at both ends, the DHT
 * queries in flight over it sent again over the peer link. On the simulator's virtual clock.
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { Identity } from "../lib/identity.ts";
import type { KithNode } from "../lib/node.ts";
import { InboundTransientLinks } from "../lib/peers/transient_inbound.ts";
import { MessageType } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import type { SimNode } from "../lib/sim/node.ts";
import type { Connection } from "../lib/transport/types.ts";
import { announces, TRANSIENT_TOKEN } from "../lib/version.ts";
import { SimLab } from "./_sim_lab.ts";

/** Nodes that dial no one by themselves: every link in these tests is one the test asked for. */
const BASE: Partial<NetworkConfig> = {
  minPeers: 0,
  outboundSlots: 0,
  topicSlots: 0,
  peerMaintenanceIntervalMs: 100,
  discoveryIntervalMs: 3_600_000,
  feelerIntervalMs: 3_600_000,
  heartbeatIntervalMs: 1_000,
  trustExchangeIntervalMs: 3_600_000,
};

class Lab extends SimLab {
  constructor(seed: number) {
    super({ networkSeed: seed, random: seededRandom(seed + 11), base: BASE, stepMs: 1 });
  }
}

const isActive = (node: KithNode, nodeId: string) =>
  node.peers().some((p) => p.nodeId === nodeId && p.state === "active");

/** Resolves `promise` while stepping virtual time. */
async function settle<T>(lab: Lab, promise: Promise<T>, limitMs = 30_000): Promise<T> {
  let done = false, value: T | undefined, failure: unknown;
  promise.then((v) => value = v, (e) => failure = e).finally(() => done = true);
  await lab.runUntil(() => done, "the operation", limitMs);
  if (failure !== undefined) throw failure;
  return value as T;
}

/** Two unlinked nodes, `a` holding a transient link to `b` (as a DHT query opens one). */
async function transientPair(lab: Lab): Promise<{ a: SimNode; b: SimNode; link: Connection }> {
  const a = await lab.startNode(), b = await lab.startNode();
  const link = await settle(lab, a.node.dht.transient.open(b.identity.nodeId, b.address));
  assert.ok(link, "the transient link opened");
  assert.ok(link.transient);
  const far = b.transport.connection(a.identity.nodeId)!;
  assert.ok(far.transient && announces(far.agent, TRANSIENT_TOKEN), "the answering end sees it marked");
  a.node.dht.service.table.add(b.identity.nodeId, b.address, lab.clock.now());
  return { a, b, link };
}

Deno.test("node.connect to a node this one holds a transient link to returns an active peer, active at both ends", async () => {
  const lab = new Lab(1);
  try {
    const { a, b, link } = await transientPair(lab);
    const peer = await settle(lab, a.node.connect(b.address));
    assert.equal(peer.nodeId, b.identity.nodeId);
    assert.equal(peer.state, "active");
    await lab.runUntil(() => isActive(b.node, a.identity.nodeId), "b taking a as a peer");
    assert.ok(isActive(a.node, b.identity.nodeId));
    assert.ok(!link.isOpen, "the transient link was displaced");
    assert.equal(a.transport.connection(b.identity.nodeId)?.transient, false);
    assert.equal(b.transport.connection(a.identity.nodeId)?.transient, false);
    assert.equal(a.node.dht.transient.size, 0);
    assert.equal(b.node.dht.inbound.size, 0);
  } finally {
    await lab.stop();
  }
});

Deno.test("a node dialed by the node it holds a transient link to: the dial's link is a peer link at both ends", async () => {
  const lab = new Lab(2);
  try {
    const { a, b, link } = await transientPair(lab);
    const peer = await settle(lab, b.node.connect(a.address));
    assert.equal(peer.nodeId, a.identity.nodeId);
    await lab.runUntil(() => isActive(a.node, b.identity.nodeId), "a taking b as a peer");
    assert.ok(isActive(b.node, a.identity.nodeId));
    assert.ok(!link.isOpen, "the transient link was displaced");
    assert.equal(a.transport.connection(b.identity.nodeId)?.direction, "inbound");
    assert.equal(b.transport.connection(a.identity.nodeId)?.direction, "outbound");
  } finally {
    await lab.stop();
  }
});

Deno.test("a DHT query in flight over a transient link a peer link displaced is sent again over the peer link and answered", async () => {
  const lab = new Lab(3);
  try {
    const { a, b, link } = await transientPair(lab);
    // b's answers to a are held (a one-way partition): the first answer is still on the transient link when
    // the peer link displaces it.
    lab.network.blocked = (from, to) => from === b.address && to === a.address;
    const lookup = a.node.dht.findPeer("ab".repeat(32));
    await lab.runUntil(() => b.node.dht.stats.answered === 1, "b answering over the transient link");
    const connecting = a.node.connect(b.address);
    await lab.runUntil(() => !link.isOpen, "the peer link displacing the transient one");
    await lab.run(50);
    lab.network.heal();
    await settle(lab, connecting);
    assert.equal(await settle(lab, lookup), undefined, "no such node");
    assert.ok(b.node.dht.stats.answered >= 2, "asked again over the peer link");
    assert.equal(a.node.dht.stats.queriesFailed, 0, "no query failed or timed out");
  } finally {
    await lab.stop();
  }
});

Deno.test("an inbound transient link takes no peer slot and carries only DHT messages, at a node whose slots are all taken", async () => {
  const lab = new Lab(4);
  try {
    // b has one slot, taken by c; a's transient link must neither be refused for it nor displace c.
    const b = await lab.startNode({ maxPeers: 1, outboundSlots: 0 });
    const c = await lab.startNode();
    await settle(lab, c.node.connect(b.address));
    const a = await lab.startNode();
    const types = new Set<number>();
    lab.network.onReceive = (to, from, envelope) => {
      if (to === a.address && from === b.address) types.add(envelope.type);
    };
    const link = await settle(lab, a.node.dht.transient.open(b.identity.nodeId, b.address));
    assert.ok(link);
    a.node.dht.service.table.add(b.identity.nodeId, b.address, lab.clock.now());
    assert.equal(await settle(lab, a.node.dht.findPeer(c.identity.nodeId)), c.address);
    b.node.broadcast("over gossip, to peers only");
    await lab.run(2_000);
    assert.ok(!link.isOpen, "closed when the lookup ended");
    assert.ok(isActive(b.node, c.identity.nodeId), "b's peer stays");
    assert.ok(!isActive(b.node, a.identity.nodeId), "a is no peer of b");
    assert.equal(b.node.peers().filter((p) => p.state === "active").length, 1);
    assert.equal(b.node.dht.stats.inboundTransient.accepted, 1);
    assert.deepEqual([...types], [MessageType.DHT_RESPONSE], "b sent a nothing but DHT answers");
  } finally {
    await lab.stop();
  }
});

/** A connection as InboundTransientLinks sees one: its id, and where it comes from. */
class FakeLink {
  readonly transient = true;
  readonly direction = "inbound";
  readonly remoteNodeId: string;
  readonly remoteAddress: string;
  readonly listenAddress: string;
  isOpen = true;
  closedWith: number | undefined;
  onEnvelope: unknown;
  onClose: (() => void) | undefined;
  constructor(host: string, index: number) {
    this.remoteNodeId = Identity.generate().nodeId;
    this.remoteAddress = `${host}:${40_000 + index}`;
    this.listenAddress = "";
  }
  close(reason: number): Promise<void> {
    this.isOpen = false;
    this.closedWith = reason;
    this.onClose?.();
    return Promise.resolve();
  }
}

Deno.test("inbound transient links are bounded in all, per IP and per subnet, refused below the trust threshold, and closed when idle", () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const low = new Set<string>();
  const links = new InboundTransientLinks({
    clock,
    log: () => {},
    trust: { shouldDisconnect: (nodeId) => low.has(nodeId) },
    config: { maxLinks: 6, maxPeersPerIp: 2, maxPeersPerSubnet: 3, idleMs: 1_000 },
    onEnvelope: () => {},
    onClose: () => {},
  });
  const admit = (host: string, index: number) => {
    const link = new FakeLink(host, index);
    links.admit(link as unknown as Connection);
    return link;
  };
  const sameIp = [0, 1, 2].map((i) => admit("127.51.100.7", i));
  assert.deepEqual(sameIp.map((l) => l.isOpen), [true, true, false], "2 per IP");
  assert.ok(admit("127.51.100.8", 3).isOpen);
  assert.ok(!admit("127.51.100.9", 4).isOpen, "3 per /24");
  const spread = [5, 6, 7, 8].map((i) => admit(`127.${113 + i}.0.1`, i));
  assert.deepEqual(spread.map((l) => l.isOpen), [true, true, true, false], "6 in all");
  assert.equal(links.size, 6);
  const distrusted = new FakeLink("127.2.0.1", 9);
  low.add(distrusted.remoteNodeId);
  links.drop(spread[0].remoteNodeId, 1, "room for the next");
  links.admit(distrusted as unknown as Connection);
  assert.ok(!distrusted.isOpen, "a node below the trust threshold is refused");
  assert.equal(links.stats.refused, 4);
  clock.runUntil(clock.now() + 600);
  links.used(sameIp[0].remoteNodeId);
  clock.runUntil(clock.now() + 800);
  assert.deepEqual([links.size, links.link(sameIp[0].remoteNodeId) !== undefined], [1, true], "idle ones closed");
  links.stop();
  assert.equal(links.size, 0);
});

Deno.test("a node's dhtInboundTransient settings, not its peers' bounds, bound the inbound transient links it holds; 0 holds none", async () => {
  const lab = new Lab(5);
  try {
    const b = await lab.startNode({
      dhtInboundTransientLinks: 2,
      dhtInboundTransientPerIp: 3,
      dhtInboundTransientPerSubnet: 5,
      maxPeersPerIp: 7,
      maxPeersPerSubnet: 9,
    });
    const { maxLinks, maxPeersPerIp, maxPeersPerSubnet } = b.node.dht.inbound.config;
    assert.deepEqual([maxLinks, maxPeersPerIp, maxPeersPerSubnet], [2, 3, 5], "the settings in force");
    const askers = [await lab.startNode(), await lab.startNode(), await lab.startNode()];
    for (const a of askers) await settle(lab, a.node.dht.transient.open(b.identity.nodeId, b.address));
    await lab.run(50);
    assert.equal(b.node.dht.inbound.size, 2, "2 held");
    assert.deepEqual([b.node.dht.stats.inboundTransient.accepted, b.node.dht.stats.inboundTransient.refused], [2, 1]);
    const none = await lab.startNode({ dhtInboundTransientLinks: 0 });
    await settle(lab, askers[0].node.dht.transient.open(none.identity.nodeId, none.address));
    await lab.run(50);
    assert.deepEqual([none.node.dht.inbound.size, none.node.dht.stats.inboundTransient.refused], [0, 1], "none held");
    assert.equal(none.node.peers().filter((p) => p.state === "active").length, 0, "nor taken as a peer");
  } finally {
    await lab.stop();
  }
});
