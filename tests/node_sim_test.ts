/**
 * KithNode's delivery behaviour on the simulator: the node that ships, over the in-memory network and a
 * virtual clock, so each test is deterministic and takes no wall-clock waits. tests/node_test.ts keeps the
 * lifecycle tests that need real TCP and a data directory.
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { KithNode, type ReceivedMessage } from "../lib/node.ts";
import { seededRandom } from "../lib/random.ts";
import { simAddress } from "../lib/sim/node.ts";
import { SimLab } from "./_sim_lab.ts";

/** Settings that let a network form and repair in well under a second of virtual time. */
const FAST: Partial<NetworkConfig> = {
  gossipIntervalMs: 100,
  peerMaintenanceIntervalMs: 50,
  discoveryIntervalMs: 300,
  heartbeatIntervalMs: 1_000,
};

/** A simulated network whose nodes are KithNodes. */
class Lab extends SimLab {
  constructor(seed: number) {
    super({ networkSeed: seed, random: seededRandom(21), base: FAST });
  }

  async add(config: Partial<NetworkConfig> = {}): Promise<KithNode> {
    return (await this.startNode(config)).node;
  }
}

function inbox(node: KithNode): ReceivedMessage[] {
  const received: ReceivedMessage[] = [];
  node.subscribe(undefined, (m) => received.push(m));
  return received;
}

const activePeers = (node: KithNode) => node.peers().filter((p) => p.state === "active").length;

Deno.test("a 10-node network delivers all of 200 broadcasts to every node, each exactly once", async () => {
  const lab = new Lab(1);
  // The simulator does not model HANDSHAKE_ACK's peer list, so the seed takes everyone inbound and the
  // others find each other by PEER_DISCOVERY.
  const nodes = [await lab.add({ minPeers: 3, maxPeers: 12, outboundSlots: 0 })];
  for (let i = 1; i < 10; i++) nodes.push(await lab.add({ minPeers: 3, maxPeers: 8, bootstrap: [simAddress(0)] }));
  await lab.runUntil(() => nodes.every((n) => activePeers(n) >= 3), "3 peers each");
  const inboxes = nodes.map(inbox);
  const published: { id: string; by: number }[] = [];
  for (let i = 0; i < 200; i++) {
    const by = i % 10;
    published.push({ id: nodes[by].broadcast(`message ${i}`), by });
  }
  await lab.runUntil(
    () => inboxes.every((box, n) => box.length >= published.filter((p) => p.by !== n).length),
    "delivery everywhere",
  );
  await lab.run(1_000); // ten repair rounds: no late duplicate may appear
  inboxes.forEach((box, n) => {
    const expected = published.filter((p) => p.by !== n).map((p) => p.id).sort();
    assert.deepEqual(box.map((m) => m.id).sort(), expected, `node ${n} got each message from the others exactly once`);
  });
  assert.equal(new TextDecoder().decode(inboxes[0].find((m) => m.id === published[1].id)!.data), "message 1");
  await lab.stop();
});

Deno.test("a node that joins after messages were published receives them through anti-entropy", async () => {
  const lab = new Lab(2);
  const nodes = [await lab.add({ minPeers: 2 })];
  for (let i = 0; i < 3; i++) nodes.push(await lab.add({ minPeers: 2, bootstrap: [simAddress(0)] }));
  await lab.runUntil(() => nodes.every((n) => activePeers(n) > 0), "the first nodes to connect");
  const ids = nodes.flatMap((node, n) => Array.from({ length: 10 }, (_, i) => node.broadcast(`early ${n}.${i}`)));
  await lab.run(300);
  const late = await lab.add({ minPeers: 2, bootstrap: [simAddress(2)] });
  const box = inbox(late);
  await lab.runUntil(() => box.length >= ids.length, `all ${ids.length} earlier messages at the late node`);
  assert.deepEqual(box.map((m) => m.id).sort(), [...ids].sort());
  assert.ok(late.stats().gossip.requested >= ids.length, "they came by repair (want), not by chance");
  await lab.stop();
});

Deno.test("with TTL 2 on a line topology, propagation stops two hops out", async () => {
  const lab = new Lab(3);
  const nodes: KithNode[] = [];
  for (let i = 0; i < 5; i++) nodes.push(await lab.add({ minPeers: 0, outboundSlots: 0 }));
  for (let i = 0; i < 4; i++) { // A - B - C - D - E
    const link = nodes[i].connect(simAddress(i + 1));
    await lab.run(50);
    await link;
  }
  const boxes = nodes.map(inbox);
  const short = nodes[0].broadcast("two hops", { ttl: 2 });
  const long = nodes[0].broadcast("four hops", { ttl: 4 });
  await lab.runUntil(() => boxes[4].some((m) => m.id === long), "the TTL 4 message at E");
  await lab.run(500); // five repair rounds
  const has = (n: number, id: string) => boxes[n].some((m) => m.id === id);
  assert.deepEqual([1, 2, 3, 4].map((n) => has(n, short)), [true, true, false, false]);
  assert.deepEqual([1, 2, 3, 4].map((n) => has(n, long)), [true, true, true, true]);
  await lab.stop();
});

Deno.test("subscriptions filter by topic and work as async iterators", async () => {
  const lab = new Lab(4);
  const a = await lab.add({ minPeers: 1 });
  const b = await lab.add({ minPeers: 1, bootstrap: [simAddress(0)] });
  await lab.runUntil(() => activePeers(a) > 0, "a link");
  const news = a.subscribe("news");
  const sport = a.subscribe("sport");
  const all = inbox(a);
  // b is in neither topic: it publishes from outside, to the peers it knows are in them (a, once a has said so).
  await lab.runUntil(() => b.topicPeers("news").length > 0 && b.topicPeers("sport").length > 0, "a's topics at b");
  b.broadcast("headline", { topic: "news" });
  b.broadcast("score", { topic: "sport" });
  await lab.runUntil(() => all.length === 2, "both messages");
  for await (const message of news) {
    assert.equal(new TextDecoder().decode(message.data), "headline");
    assert.equal(message.origin, b.nodeId);
    break;
  }
  for await (const message of sport) {
    assert.equal(message.topic, "sport");
    break;
  }
  await lab.stop();
});

Deno.test("stopping the node ends the pending iterations of its subscriptions", async () => {
  const lab = new Lab(6);
  const a = await lab.add({ minPeers: 1 });
  const b = await lab.add({ minPeers: 1, bootstrap: [simAddress(0)] });
  await lab.runUntil(() => activePeers(a) > 0, "a link");
  const all = inbox(a);
  const one = a.subscribe("t");
  await lab.runUntil(() => b.topicPeers("t").length > 0, "a's topic at b");
  b.broadcast("m0", { topic: "t" });
  await lab.runUntil(() => all.length === 1, "a message");
  for await (const message of one) {
    assert.equal(new TextDecoder().decode(message.data), "m0");
    break;
  }
  const pending = a.subscribe("t");
  const ended = (async () => {
    let n = 0;
    for await (const _ of pending) n++;
    return n;
  })();
  await a.stop();
  assert.equal(await ended, 0, "the pending iteration finished when the node stopped");
  await lab.stop();
});

Deno.test("a subscriber callback that throws is reported through the node's log sink, and delivery goes on", async () => {
  const lab = new Lab(5);
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const listener = new KithNode({
    config: { ...FAST, minPeers: 0, outboundSlots: 0, verifyThreads: 0 },
    clock: lab.clock,
    random: lab.random,
    log: (level, message, fields) => lines.push({ level, message, fields }),
    transport: (context) => lab.network.transport(context.identity, "127.9.0.1:7400"),
  });
  await listener.start();
  const sender = await lab.add({ minPeers: 1, bootstrap: ["127.9.0.1:7400"] });
  await lab.runUntil(() => activePeers(listener) > 0, "a link");
  listener.subscribe("t", () => {
    throw new Error("application bug");
  });
  const after = inbox(listener);
  await lab.runUntil(() => sender.topicPeers("t").length > 0, "the listener's topic at the sender");
  sender.broadcast("x", { topic: "t" });
  await lab.runUntil(() => after.length === 1, "the message at the second subscriber");
  const failure = lines.find((line) => line.message === "subscriber callback failed");
  assert.equal(failure?.level, "error");
  assert.equal(failure?.fields?.error, "application bug");
  await listener.stop();
  await lab.stop();
});

Deno.test("with continuous traffic both ways, every link's round trip is still measured (RTT probe on a timer)", async () => {
  const lab = new Lab(26);
  try {
    const a = await lab.add({ minPeers: 1 });
    const b = await lab.add({ minPeers: 1, bootstrap: [simAddress(0)] });
    await lab.runUntil(() => activePeers(a) === 1 && activePeers(b) === 1, "link");
    // Traffic every 100 ms from both ends: neither end is ever silent for the 1 s heartbeat interval, so
    // only the RTT probe (default every 20 s, and once just after the link opens) measures the round trip.
    for (let i = 0; i < 250; i++) {
      (i % 2 === 0 ? a : b).broadcast(`traffic ${i}`);
      await lab.run(100);
    }
    for (const node of [a, b]) {
      const [peer] = node.peers().filter((p) => p.state === "active");
      assert.equal(typeof peer.rttMs, "number", `rttMs measured at ${node.nodeId.slice(0, 8)}`);
      assert.ok(peer.rttMs! >= 4, `at least two one-way latencies of 2 ms: ${peer.rttMs}`);
    }
  } finally {
    await lab.stop();
  }
});
