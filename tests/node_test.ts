import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { KithError } from "../lib/errors.ts";
import { KithNode, type ReceivedMessage } from "../lib/node.ts";
import { waitFor } from "./_support.ts";

let subnet = 100;
/** Settings that let a loopback network form and repair in well under a second. */
function fast(overrides: Partial<NetworkConfig> = {}): Partial<NetworkConfig> {
  return {
    listenHost: `127.1.${++subnet % 250}.1`,
    listenPort: 0,
    maxConnectionsPerIp: 1_000,
    gossipIntervalMs: 100,
    peerMaintenanceIntervalMs: 50,
    discoveryIntervalMs: 300,
    heartbeatIntervalMs: 1_000,
    ...overrides,
  };
}

async function withNodes(fn: (nodes: KithNode[]) => Promise<void>) {
  const nodes: KithNode[] = [];
  try {
    await fn(nodes);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

function inbox(node: KithNode) {
  const received: ReceivedMessage[] = [];
  node.subscribe(undefined, (m) => received.push(m));
  return received;
}

Deno.test("a 10-node network delivers all of 200 broadcasts to every node, each exactly once", async () => {
  await withNodes(async (nodes) => {
    const seed = new KithNode({ config: fast({ minPeers: 3, maxPeers: 8 }) });
    await seed.start();
    nodes.push(seed);
    for (let i = 1; i < 10; i++) {
      const node = new KithNode({ config: fast({ minPeers: 3, maxPeers: 8, bootstrap: [seed.address] }) });
      await node.start();
      nodes.push(node);
    }
    await waitFor(() => nodes.every((n) => n.peers().filter((p) => p.state === "active").length >= 3), "3 peers each");
    const inboxes = nodes.map(inbox);
    const published: { id: string; by: number }[] = [];
    for (let i = 0; i < 200; i++) {
      const by = i % 10;
      published.push({ id: nodes[by].broadcast(`message ${i}`, { topic: "test" }), by });
    }
    await waitFor(
      () => inboxes.every((box, n) => box.length >= published.filter((p) => p.by !== n).length),
      "every delivery",
    );
    await new Promise((r) => setTimeout(r, 300)); // a few repair rounds: no late duplicates may appear
    inboxes.forEach((box, n) => {
      const expected = published.filter((p) => p.by !== n).map((p) => p.id).sort();
      const got = box.map((m) => m.id).sort();
      assert.deepEqual(got, expected, `node ${n} got each message from the others exactly once`);
    });
    const text = new TextDecoder().decode(inboxes[0].find((m) => m.id === published[1].id)!.data);
    assert.equal(text, "message 1");
  });
});

Deno.test("a node that joins after messages were published receives them through anti-entropy", async () => {
  await withNodes(async (nodes) => {
    const seed = new KithNode({ config: fast({ minPeers: 2 }) });
    await seed.start();
    nodes.push(seed);
    for (let i = 0; i < 3; i++) {
      const node = new KithNode({ config: fast({ minPeers: 2, bootstrap: [seed.address] }) });
      await node.start();
      nodes.push(node);
    }
    await waitFor(() => nodes.every((n) => n.peers().some((p) => p.state === "active")), "the first nodes to connect");
    const ids = nodes.flatMap((node, n) => Array.from({ length: 10 }, (_, i) => node.broadcast(`early ${n}.${i}`)));
    await new Promise((r) => setTimeout(r, 300));
    const late = new KithNode({ config: fast({ minPeers: 2, bootstrap: [nodes[2].address] }) });
    const box = inbox(late);
    await late.start();
    nodes.push(late);
    await waitFor(() => box.length >= ids.length, `all ${ids.length} earlier messages at the late node`);
    assert.deepEqual(box.map((m) => m.id).sort(), [...ids].sort());
    assert.ok(late.stats().gossip.requested >= ids.length, "they came by repair (want), not by chance");
  });
});

Deno.test("with TTL 2 on a line topology, propagation stops two hops out", async () => {
  await withNodes(async (nodes) => {
    for (let i = 0; i < 5; i++) {
      const node = new KithNode({ config: fast({ minPeers: 0, outboundSlots: 0 }) });
      await node.start();
      nodes.push(node);
    }
    for (let i = 0; i < 4; i++) await nodes[i].connect(nodes[i + 1].address); // A - B - C - D - E
    await waitFor(() => nodes[4].peers().some((p) => p.state === "active"), "the line to form");
    const boxes = nodes.map(inbox);
    const short = nodes[0].broadcast("two hops", { ttl: 2 });
    const long = nodes[0].broadcast("four hops", { ttl: 4 });
    await waitFor(() => boxes[4].some((m) => m.id === long), "the TTL 4 message to reach E");
    await new Promise((r) => setTimeout(r, 500)); // five repair rounds
    const has = (n: number, id: string) => boxes[n].some((m) => m.id === id);
    assert.deepEqual([1, 2, 3, 4].map((n) => has(n, short)), [true, true, false, false]);
    assert.deepEqual([1, 2, 3, 4].map((n) => has(n, long)), [true, true, true, true]);
  });
});

Deno.test("subscriptions filter by topic and work as async iterators", async () => {
  await withNodes(async (nodes) => {
    const a = new KithNode({ config: fast({ minPeers: 1 }) });
    await a.start();
    const b = new KithNode({ config: fast({ minPeers: 1, bootstrap: [a.address] }) });
    await b.start();
    nodes.push(a, b);
    await waitFor(() => a.peers().some((p) => p.state === "active"), "a link");
    const news = a.subscribe("news");
    const sport = a.subscribe("sport");
    b.broadcast("headline", { topic: "news" });
    b.broadcast("score", { topic: "sport" });
    for await (const message of news) {
      assert.equal(new TextDecoder().decode(message.data), "headline");
      assert.equal(message.origin, b.nodeId);
      break;
    }
    for await (const message of sport) {
      assert.equal(message.topic, "sport");
      break;
    }
  });
});

Deno.test("stop is idempotent, closes everything, and a stopped node refuses to broadcast", async () => {
  const a = new KithNode({ config: fast() });
  await a.start();
  const b = new KithNode({ config: fast({ bootstrap: [a.address], minPeers: 1 }) });
  await b.start();
  await waitFor(() => a.peers().some((p) => p.state === "active"), "a link");
  await Promise.all([b.stop(), b.stop()]);
  await b.stop();
  assert.throws(() => b.broadcast("late"), KithError);
  await a.stop();
  assert.equal(a.running, false);
});

Deno.test("a node with a data directory keeps its identity and peers across restarts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withNodes(async (nodes) => {
      const seed = new KithNode({ config: fast({ minPeers: 1 }) });
      await seed.start();
      nodes.push(seed);
      const first = new KithNode({ dataDir: `${dir}/node`, config: fast({ minPeers: 1, bootstrap: [seed.address] }) });
      await first.start();
      const id = first.nodeId;
      await waitFor(() => first.peers().some((p) => p.state === "active"), "the first run to connect");
      await first.stop();
      const second = new KithNode({ dataDir: `${dir}/node`, config: fast({ minPeers: 1 }) });
      await second.start();
      nodes.push(second);
      assert.equal(second.nodeId, id);
      await waitFor(() => second.peers().some((p) => p.state === "active" && p.nodeId === seed.nodeId), "rejoin");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
