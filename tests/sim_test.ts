import assert from "node:assert/strict";
import { simulate, type SimulationOptions } from "../scripts/simulate.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimNetwork } from "../lib/sim/network.ts";
import { startSimNode } from "../lib/sim/node.ts";
import { seededRandom } from "../lib/random.ts";
import { MessageType } from "../lib/protocol/mod.ts";

const base: SimulationOptions = {
  nodes: 200,
  degree: 8,
  messages: 20,
  seed: 3,
  loss: 0,
  ttl: 8,
  rate: 10,
  minLatencyMs: 10,
  maxLatencyMs: 80,
  profile: "default",
};

Deno.test("the simulator is deterministic: the same seed gives byte-identical results at 200 nodes", async () => {
  const first = JSON.stringify(await simulate(base));
  const second = JSON.stringify(await simulate(base));
  assert.equal(first, second);
  const other = JSON.stringify(await simulate({ ...base, seed: 4 }));
  assert.notEqual(first, other, "a different seed gives a different run");
});

Deno.test("the virtual clock fires timers in time order, ties in insertion order", () => {
  const clock = new VirtualClock(0);
  const order: string[] = [];
  clock.setTimeout(() => order.push("b"), 20);
  clock.setTimeout(() => order.push("a"), 10);
  clock.setTimeout(() => order.push("c"), 20);
  const cancelled = clock.setTimeout(() => order.push("x"), 15);
  clock.clearTimeout(cancelled);
  clock.runUntil(19);
  assert.deepEqual(order, ["a"]);
  clock.runUntil(100);
  assert.deepEqual(order, ["a", "b", "c"]);
  assert.equal(clock.now(), 100);
  assert.equal(clock.pending, 0);
});

Deno.test("1,000 simulated nodes running the real gossip code deliver every message in about log(n) hops", async () => {
  const result = await simulate({ ...base, nodes: 1_000, messages: 20, seed: 1 });
  assert.equal(result.delivery_ratio, 1);
  assert.ok(result.hops.mean <= 1.5 * result.hops.log_fanout_n, JSON.stringify(result.hops));
  assert.equal(result.honest_peers_disconnected, 0);
});

Deno.test("simulated line topology: TTL 2 stops two hops out, as on real TCP", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, seededRandom(9), { minLatencyMs: 5, maxLatencyMs: 5 });
  const random = seededRandom(10);
  const config = { minPeers: 0, outboundSlots: 0, gossipIntervalMs: 100 };
  const nodes = await Promise.all(Array.from({ length: 5 }, (_, i) => startSimNode(network, i, random, config)));
  const got = nodes.map(() => [] as string[]);
  nodes.forEach((node, i) =>
    node.gossip.registerHandler(MessageType.CUSTOM_DATA, (m) => {
      if (m.type === MessageType.CUSTOM_DATA) got[i].push(new TextDecoder().decode(m.payload.data));
    })
  );
  const links = [0, 1, 2, 3].map((i) => nodes[i].peers.connect(nodes[i + 1].address));
  clock.runUntil(clock.now() + 100);
  await Promise.all(links);
  const data = (label: string) => new TextEncoder().encode(label);
  nodes[0].gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: data("two") }, { ttl: 2 });
  nodes[0].gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: data("four") }, { ttl: 4 });
  clock.runUntil(clock.now() + 2_000); // twenty repair rounds
  assert.deepEqual(got.slice(1).map((topics) => topics.includes("two")), [true, true, false, false]);
  assert.deepEqual(got.slice(1).map((topics) => topics.includes("four")), [true, true, true, true]);
  await Promise.all(nodes.map((n) => n.stop()));
  clock.runUntil(clock.now() + 100);
});

Deno.test("with 30% of nodes crashed and restarted mid-run, live nodes still receive every message once repaired", async () => {
  const result = await simulate({ ...base, nodes: 200, messages: 20, churn: 0.3, ttl: 12 });
  assert.equal(result.churned, 60);
  assert.ok(result.delivery_ratio >= 0.99, JSON.stringify(result));
  assert.ok((result.delivery_ratio_churned ?? 0) >= 0.99, "the restarted nodes caught up");
});

Deno.test("a network split in two and healed converges through anti-entropy", async () => {
  const result = await simulate({ ...base, nodes: 200, messages: 20, partitionAtMs: 500, healAtMs: 4_000, ttl: 16 });
  assert.equal(result.partitioned, true);
  assert.equal(result.delivery_ratio, 1, JSON.stringify(result));
  // The split was real: messages from the first two seconds could not reach the other half before the heal at 4 s.
  assert.ok(result.coverage_ms.max >= 2_000, JSON.stringify(result.coverage_ms));
});

Deno.test("with a third of the nodes Byzantine, honest nodes still get every message and cut only Byzantine links", async () => {
  const result = await simulate({ ...base, nodes: 150, messages: 15, byzantine: 0.33 });
  assert.equal(result.byzantine, 49);
  assert.ok(result.delivery_ratio >= 0.99, JSON.stringify(result));
  assert.equal(result.honest_peers_disconnected, 0);
  assert.ok(result.malicious_links_cut.count > 0, "Byzantine links were cut for low trust");
});

Deno.test("link bandwidth and per-message processing time slow the spread, as modelled", async () => {
  const plain = await simulate({ ...base, messages: 10 });
  const narrow = await simulate({ ...base, messages: 10, bandwidthBytesPerSecond: 20_000 });
  const busy = await simulate({ ...base, messages: 10, processingMs: 5 });
  for (const slow of [narrow, busy]) {
    assert.equal(slow.delivery_ratio, 1);
    assert.ok(slow.coverage_ms.p50 > plain.coverage_ms.p50, `${slow.coverage_ms.p50} vs ${plain.coverage_ms.p50}`);
  }
});

Deno.test("simulated nodes run the shipped node's trust exchange: a peer's request is answered", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, seededRandom(3), { minLatencyMs: 5, maxLatencyMs: 5 });
  const random = seededRandom(4);
  const config = { minPeers: 0, outboundSlots: 0, trustExchangeIntervalMs: 1_000 };
  const [a, b] = await Promise.all([0, 1].map((i) => startSimNode(network, i, random, config)));
  const link = a.peers.connect(b.address);
  clock.runUntil(clock.now() + 20);
  await link;
  clock.runUntil(clock.now() + 1_500);
  const asked = (n: typeof a, type: string) => n.node.stats().byType[type]?.received ?? 0;
  assert.ok(asked(a, "TRUSTED_PEERS_REQUEST") + asked(b, "TRUSTED_PEERS_REQUEST") >= 2, "both asked once a second");
  assert.ok(asked(a, "TRUSTED_PEERS_RESPONSE") >= 1 && asked(b, "TRUSTED_PEERS_RESPONSE") >= 1, "both answered");
  await Promise.all([a.stop(), b.stop()]);
  clock.runUntil(clock.now() + 100);
});
