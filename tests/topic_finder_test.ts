/**
 * Finding a topic's peers (issue 22, "Cold start"): a node whose only peer is in no topic of its own asks it
 * for the topic's peers (PEER_DISCOVERY naming the topic), dials them into its topic slots, and receives the
 * topic's messages. On the simulator's virtual clock (deterministic, so the bound in gossip rounds is
 * asserted), plus one loopback TCP run of the same with a generous deadline.
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { KithNode, type ReceivedMessage } from "../lib/node.ts";
import { seededRandom } from "../lib/random.ts";
import { simAddress } from "../lib/sim/node.ts";
import { SimLab } from "./_sim_lab.ts";
import { waitFor } from "./_support.ts";

const GOSSIP_INTERVAL_MS = 1_000;

/** Settings that let the network form quickly; gossip rounds at the default interval. */
const BASE: Partial<NetworkConfig> = {
  gossipIntervalMs: GOSSIP_INTERVAL_MS,
  peerMaintenanceIntervalMs: 50,
  discoveryIntervalMs: 300,
  heartbeatIntervalMs: 2_000,
  // These tests pin the first source, peer exchange, and its bounds; the DHT's rendezvous (the second source,
  // which also finds X's own provider record) is tested in tests/dht_node_test.ts.
  dhtEnabled: false,
};

/** Only P: one outbound peer wanted, one made (its bootstrap). */
const LONE: Partial<NetworkConfig> = { minPeers: 1, outboundSlots: 1 };

class Lab extends SimLab {
  constructor(seed: number) {
    super({ networkSeed: seed, random: seededRandom(33), base: BASE, stepMs: 5 });
  }

  async add(config: Partial<NetworkConfig> = {}): Promise<KithNode> {
    return (await this.startNode(config)).node;
  }
}

const activeIds = (node: KithNode) => node.peers().filter((p) => p.state === "active").map((p) => p.nodeId);

/**
 * P is in no topic; members of "t" are connected to P and to each other; X's only peer is P. Returns them
 * once that holds.
 */
async function coldStartLab(lab: Lab, xConfig: Partial<NetworkConfig> = {}) {
  const p = await lab.add({ minPeers: 0 });
  const members: KithNode[] = [];
  for (let i = 0; i < 3; i++) {
    const member = await lab.add({ minPeers: 3, outboundSlots: 0, bootstrap: [simAddress(0)] });
    member.subscribe("t");
    members.push(member);
  }
  await lab.runUntil(() => members.every((m) => m.topicPeers("t").length >= 2), "a mesh of t's members");
  await lab.runUntil(() => p.topicPeers("t").length === 3, "P knowing the members' topics");
  const x = await lab.add({ ...LONE, bootstrap: [simAddress(0)], ...xConfig });
  await lab.runUntil(() => activeIds(x).length === 1, "X's link to P");
  await lab.run(6_000); // X settles with P alone: its ordinary discovery and its links are done
  assert.deepEqual(activeIds(x), [p.nodeId], "X's only peer is P");
  assert.equal(p.topics().length, 0, "P is in no topic");
  return { p, members, x };
}

Deno.test("cold start: a node whose only peer is in no topic finds the topic's peers and gets its next message within 2 gossip rounds", async () => {
  const lab = new Lab(1);
  try {
    // X on the default maintenance and discovery intervals: the search starts with the subscription, not a tick.
    const { members, x } = await coldStartLab(lab, { peerMaintenanceIntervalMs: 1_000, discoveryIntervalMs: 30_000 });
    const received: ReceivedMessage[] = [];
    const start = lab.clock.now();
    x.subscribe("t", (message) => received.push(message));
    members[0].broadcast("next", { topic: "t" });
    await lab.runUntil(() => received.length > 0, "the message at X", 10 * GOSSIP_INTERVAL_MS);
    const rounds = (lab.clock.now() - start) / GOSSIP_INTERVAL_MS;
    assert.ok(rounds <= 2, `received after ${rounds} gossip rounds`);
    assert.equal(new TextDecoder().decode(received[0].data), "next");
    assert.ok(x.topicPeers("t").length >= 1, "X has a peer in t");
    const stats = x.stats();
    assert.ok(stats.topicFinder.dials >= 1 && stats.peers.topicDials >= 1, "X dialed into its topic slots");
  } finally {
    await lab.stop();
  }
});

Deno.test("a publish from outside a topic with no peer in it fails, searches, and the next publish reaches the topic", async () => {
  const lab = new Lab(2);
  try {
    const { members, x } = await coldStartLab(lab);
    const received: ReceivedMessage[] = [];
    members[1].subscribe("t", (message) => received.push(message));
    assert.throws(() => x.broadcast("first", { topic: "t" }), { code: "NO_TOPIC_PEERS" });
    await lab.runUntil(() => x.topicPeers("t").length >= 1, "a peer of t at X", 10 * GOSSIP_INTERVAL_MS);
    x.broadcast("second", { topic: "t" });
    await lab.runUntil(() => received.length > 0, "the second publish at a member");
    assert.equal(new TextDecoder().decode(received[0].data), "second");
    assert.equal(x.topics().length, 0, "X publishes from outside: it joined nothing");
  } finally {
    await lab.stop();
  }
});

Deno.test("topic links are bounded by topicSlots, beyond the outbound target, and are not anchors", async () => {
  const lab = new Lab(3);
  try {
    const p = await lab.add({ minPeers: 0 });
    const members: KithNode[] = [];
    for (let i = 0; i < 6; i++) {
      const member = await lab.add({ minPeers: 2, outboundSlots: 0, bootstrap: [simAddress(0)] });
      member.subscribe("t");
      members.push(member);
    }
    await lab.runUntil(() => p.topicPeers("t").length === 6, "P knowing the members' topics");
    // X wants more topic peers than it has slots for: the slots bound it.
    const x = await lab.add({ ...LONE, bootstrap: [simAddress(0)], minTopicPeers: 6, topicSlots: 1 });
    await lab.runUntil(() => activeIds(x).length === 1, "X's link to P");
    await lab.run(6_000);
    x.subscribe("t");
    await lab.run(30_000);
    const peers = x.components.peers;
    assert.equal(peers.topicLinks().length, 1, "one topic slot, one topic link");
    assert.equal(activeIds(x).length, 2, "P and the topic link: no more");
    assert.equal(peers.stats.topicDials, 1, "no dial beyond the slot while it is held");
    const anchors = x.components.storage.getState("peers.anchors") ?? "[]";
    assert.ok(anchors.includes(p.nodeId), "P, dialed by X's own choice, is an anchor");
    assert.ok(!anchors.includes(peers.topicLinks()[0].nodeId), "the topic link is not");
  } finally {
    await lab.stop();
  }
});

Deno.test("a topic link whose peer is in none of this node's topics is closed after the grace period", async () => {
  const lab = new Lab(4);
  try {
    const { x } = await coldStartLab(lab);
    const sub = x.subscribe("t");
    await lab.runUntil(() => x.components.peers.topicLinks().length >= 1, "a topic link at X", 10_000);
    sub.unsubscribe();
    await lab.run(15_000);
    assert.equal(x.components.peers.topicLinks().length, 0, "the links were closed once t was left");
    assert.ok(x.stats().topicFinder.released >= 1);
  } finally {
    await lab.stop();
  }
});

Deno.test("loopback TCP: a node whose only peer is in no topic finds the topic's peers and receives its messages", async () => {
  // Each node on a loopback /24 of its own, so per-IP and per-subnet bounds see distinct hosts.
  const host = (i: number) => `127.0.${40 + i}.1`;
  const base: Partial<NetworkConfig> = { listenPort: 0, peerMaintenanceIntervalMs: 100, discoveryIntervalMs: 500 };
  const nodes: KithNode[] = [];
  const start = async (i: number, config: Partial<NetworkConfig>) => {
    const node = new KithNode({ config: { ...base, listenHost: host(i), ...config } });
    nodes.push(node);
    await node.start();
    return node;
  };
  try {
    const p = await start(0, { minPeers: 0 });
    const members: KithNode[] = [];
    for (let i = 1; i <= 3; i++) {
      // Each member dials P and the members before it: the mesh forms without waiting on discovery.
      const bootstrap = [p.address, ...members.map((m) => m.address)];
      const member = await start(i, { minPeers: 3, outboundSlots: 0, bootstrap });
      member.subscribe("t");
      members.push(member);
    }
    await waitFor(() => members.every((m) => m.topicPeers("t").length >= 2), "a mesh of t's members");
    await waitFor(() => p.topicPeers("t").length === 3, "P knowing the members' topics");
    const x = await start(4, { ...LONE, bootstrap: [p.address] });
    await waitFor(() => activeIds(x).length === 1, "X's link to P");
    assert.deepEqual(activeIds(x), [p.nodeId]);
    const received: ReceivedMessage[] = [];
    x.subscribe("t", (message) => received.push(message));
    await waitFor(() => x.topicPeers("t").length >= 1, "a peer of t at X");
    // Published until one arrives (an early one may go out before X's membership reaches the members).
    for (let i = 0; i < 50 && received.length === 0; i++) {
      members[0].broadcast(`m${i}`, { topic: "t" });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(received.length > 0, "X received t's messages");
    assert.ok(x.stats().peers.topicDials >= 1, "through its topic slots");
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
  }
});
