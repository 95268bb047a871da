/**
 * The DHT in the node (issue 24): nodes announce `dht/1`, answer each other's DHT queries over their links and
 * over transient links to contacts they are not connected to, never send DHT messages to a peer without
 * `dht/1`, keep transient links bounded and close them, and serve as the topic finder's second source. On the
 * simulator's virtual clock; tests/dht_loopback_test.ts runs the same over TCP with a restart from SQLite.
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { fromHex } from "../lib/bytes.ts";
import { topicKey } from "../lib/dht/mod.ts";
import { KithNode } from "../lib/node.ts";
import { MemoryStorage, SqliteStorage } from "../lib/storage/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { simAddress, type SimNode } from "../lib/sim/node.ts";
import { announces, DHT_CAPABILITY } from "../lib/version.ts";
import { SimLab } from "./_sim_lab.ts";

/** Each node keeps one link (to its bootstrap), so the rest of the network is reached only through the DHT. */
const BASE: Partial<NetworkConfig> = {
  minPeers: 1,
  outboundSlots: 1,
  topicSlots: 0,
  peerMaintenanceIntervalMs: 100,
  discoveryIntervalMs: 3_600_000,
  feelerIntervalMs: 3_600_000,
  heartbeatIntervalMs: 1_000,
  trustExchangeIntervalMs: 3_600_000,
};

class Lab extends SimLab {
  constructor(seed: number) {
    super({ networkSeed: seed, random: seededRandom(seed + 77), base: BASE, stepMs: 5 });
  }
}

const activeIds = (node: KithNode) => node.peers().filter((p) => p.state === "active").map((p) => p.nodeId);

/** A hub (node 0) and `count` nodes whose only link is to it, each with a table of at least the hub. */
async function star(lab: Lab, count: number, config: Partial<NetworkConfig> = {}): Promise<SimNode[]> {
  const hub = await lab.startNode({ minPeers: 0, outboundSlots: 0, ...config });
  const nodes = [hub];
  for (let i = 0; i < count; i++) nodes.push(await lab.startNode({ bootstrap: [simAddress(0)], ...config }));
  await lab.runUntil(() => nodes.slice(1).every((n) => activeIds(n.node).length === 1), "every node linked to the hub");
  await lab.run(3_000); // the join lookups settle
  return nodes;
}

/** Resolves `promise` while stepping virtual time. */
async function settle<T>(lab: Lab, promise: Promise<T>, limitMs = 30_000): Promise<T> {
  let done = false, value: T | undefined, failure: unknown;
  promise.then((v) => value = v, (e) => failure = e).finally(() => done = true);
  await lab.runUntil(() => done, "the DHT operation", limitMs);
  if (failure !== undefined) throw failure;
  return value as T;
}

Deno.test("a record put at one node is got at every other, each of which is linked to the hub only: transient links reach the rest", async () => {
  const lab = new Lab(1);
  try {
    const nodes = await star(lab, 10);
    assert.ok(announces(nodes[1].node.peers().length ? nodes[0].transport.agent : "", DHT_CAPABILITY));
    const writer = nodes[3].node;
    const put = await settle(lab, writer.dht.put("profile", "hello from 3"));
    assert.ok(put.stored >= 2, `stored at ${put.stored} nodes`);
    for (const reader of nodes) {
      const got = await settle(lab, reader.node.dht.get(put.key));
      assert.equal(got && new TextDecoder().decode(got.value), "hello from 3", `node ${reader.index} got it`);
      assert.equal(got!.owner, writer.nodeId);
    }
    const transient = nodes.reduce((sum, n) => sum + n.node.dht.stats.transient.dials, 0);
    assert.ok(transient > 0, "queries went over transient links");
    // A transient link is no peer of the node that dialed it: every node but the hub still has its one outbound
    // peer (at the other end it was an inbound link, under the same admission bounds as any).
    for (const n of nodes.slice(1)) {
      const outbound = n.node.peers().filter((p) => p.state === "active" && p.direction === "outbound");
      assert.deepEqual(outbound.map((p) => p.nodeId), [nodes[0].node.nodeId], `node ${n.index} has one outbound peer`);
    }
    // A node found by id: its address, from the nodes around the id.
    const found = await settle(lab, nodes[9].node.dht.findPeer(nodes[5].node.nodeId));
    assert.equal(found, nodes[5].address);
  } finally {
    await lab.stop();
  }
});

Deno.test("transient links are bounded by dhtTransientLinks while a lookup runs, never peers or anchors, and all closed when it ends", async () => {
  const lab = new Lab(2);
  try {
    const nodes = await star(lab, 12, { dhtTransientLinks: 2 });
    const asker = nodes[7].node;
    const peersBefore = activeIds(asker);
    let most = 0;
    const lookup = asker.dht.get(topicKey("nobody-put-this"));
    let done = false;
    lookup.finally(() => done = true);
    while (!done) {
      most = Math.max(most, asker.dht.transient.size);
      await lab.run(1);
    }
    await lookup;
    assert.ok(most >= 1 && most <= 2, `at most 2 open at once, saw ${most}`);
    const { waited, dials } = asker.dht.stats.transient;
    assert.ok(waited > 0 || dials > 2, "dials beyond the bound waited for a link or took an idle one's place");
    assert.equal(asker.dht.transient.size, 0, "closed when the lookup ended");
    assert.deepEqual(activeIds(asker), peersBefore, "no transient link became a peer");
    const anchors = asker.components.storage.getState("anchors") ?? "";
    for (const id of asker.dht.transient.nodeIds()) assert.ok(!anchors.includes(id));
    assert.equal(asker.components.peers.topicLinks().length, 0);
  } finally {
    await lab.stop();
  }
});

Deno.test("a peer without dht/1 is never sent a DHT message, even when it is in the routing table", async () => {
  const lab = new Lab(3);
  try {
    const old = await lab.startNode({ minPeers: 0, outboundSlots: 0, dhtEnabled: false });
    const a = await lab.startNode({ bootstrap: [simAddress(0)] });
    await lab.runUntil(() => activeIds(a.node).length === 1, "a linked to the old node");
    assert.ok(!announces(old.transport.agent, DHT_CAPABILITY), "the old node does not announce dht/1");
    assert.equal(a.node.dht.service.table.size, 0, "a link without dht/1 does not enter the table");
    // Even put there by hand (as an answer could name it), it is not asked over its link.
    a.node.dht.service.table.add(old.identity.nodeId, old.address, lab.clock.now());
    const before = old.trust.trust(a.identity.nodeId);
    await settle(lab, a.node.dht.findPeer("ab".repeat(32)));
    await lab.run(500);
    assert.equal(a.node.dht.stats.queriesSent > 0, true, "the lookup tried");
    assert.ok(old.trust.trust(a.identity.nodeId) >= before, "the old node never counted an unknown type against a");
    assert.equal(activeIds(a.node).length, 1, "the link stays");
    assert.throws(() => old.node.dht, /DHT is off/);
  } finally {
    await lab.stop();
  }
});

Deno.test("the DHT finds a topic's peers when peer exchange knows none: members provide the topic's key, a newcomer dials them", async () => {
  const lab = new Lab(4);
  try {
    // Hub in no topic; two members linked to the hub only: the hub knows their topics but they are not linked
    // to X's only peer Q (which is in no topic and knows no member), so peer exchange finds nothing for X.
    await lab.startNode({ minPeers: 0, outboundSlots: 0 }); // the hub
    const members: SimNode[] = [];
    for (let i = 0; i < 2; i++) {
      const member = await lab.startNode({ bootstrap: [simAddress(0)], minTopicPeers: 0 });
      member.node.subscribe("t");
      members.push(member);
    }
    const q = await lab.startNode({ bootstrap: [simAddress(0)] });
    await lab.runUntil(() => [...members, q].every((n) => activeIds(n.node).length === 1), "links to the hub");
    await lab.run(3_000); // members' provider records stored
    const stored = lab.nodes.reduce((sum, n) => sum + n.node.dht.stats.store.providers, 0);
    assert.ok(stored >= 2, `provider records stored: ${stored}`);
    const x = await lab.startNode({ bootstrap: [q.address], topicSlots: 2 });
    await lab.runUntil(() => activeIds(x.node).length >= 1, "x linked to q");
    x.node.subscribe("t");
    await lab.runUntil(() => x.node.topicPeers("t").length >= 1, "a member of t at x", 20_000);
    assert.ok(x.node.stats().topicFinder.dials >= 1, "found by the finder, dialed into a topic slot");
  } finally {
    await lab.stop();
  }
});

Deno.test("DHT settings are validated naming the key, and the presets carry theirs", () => {
  assert.throws(() => new KithNode({ config: { dhtK: 33 } }), /dhtK must be an integer in 1\.\.32/);
  assert.throws(() => new KithNode({ config: { dhtAlpha: 0 } }), /dhtAlpha/);
  assert.throws(() => new KithNode({ config: { dhtEnabled: "yes" as never } }), /dhtEnabled must be true or false/);
  assert.throws(
    () => new KithNode({ config: { dhtQueryTimeoutMs: 5_000, dhtLookupTimeoutMs: 1_000 } }),
    /dhtLookupTimeoutMs \(1000\) must be at least dhtQueryTimeoutMs/,
  );
  assert.throws(() => new KithNode({ config: { dhtProviderRepublishMs: 86_400_000 } }), /below the provider lifetime/);
  assert.equal(new KithNode({ preset: "high-security" }).config.dhtPaths, 3);
  assert.equal(new KithNode({ preset: "low-resource" }).config.dhtMaxRecords, 512);
  assert.equal(new KithNode().config.dhtEnabled, true);
});

Deno.test("the routing table's rows: SQLite and memory storage replace the whole table and list it most recent first", async () => {
  const dir = await Deno.makeTempDir();
  const sqlite = new SqliteStorage(`${dir}/kith.db`, { pruneIntervalMs: 0 });
  try {
    for (const storage of [sqlite, new MemoryStorage({ pruneIntervalMs: 0 })]) {
      storage.saveDhtContacts([
        { nodeId: "aa".repeat(32), address: "127.0.0.1:1", lastSeen: 1 },
        { nodeId: "bb".repeat(32), address: "127.0.0.2:1", lastSeen: 2 },
      ]);
      storage.saveDhtContacts([
        { nodeId: "bb".repeat(32), address: "127.0.0.2:2", lastSeen: 3 },
        { nodeId: "cc".repeat(32), address: "127.0.0.3:1", lastSeen: 4 },
      ]);
      assert.deepEqual(storage.listDhtContacts().map((c) => [c.nodeId.slice(0, 2), c.address, c.lastSeen]), [
        ["cc", "127.0.0.3:1", 4],
        ["bb", "127.0.0.2:2", 3],
      ]);
    }
    sqlite.close();
    const reopened = new SqliteStorage(`${dir}/kith.db`, { pruneIntervalMs: 0 });
    assert.equal(reopened.listDhtContacts().length, 2, "kept in the file");
    reopened.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("own records and provider records are announced again on their timers, and stale buckets refreshed, on the node's clock", async () => {
  const lab = new Lab(5);
  try {
    const timers = { dhtRecordRepublishMs: 5_000, dhtProviderRepublishMs: 5_000, dhtRefreshIntervalMs: 5_000 };
    const nodes = await star(lab, 6, timers);
    const owner = nodes[2].node;
    const put = await settle(lab, owner.dht.put("status", "v1"));
    await settle(lab, owner.dht.provide("ef".repeat(32)));
    const holder = nodes.find((n) =>
      n.node !== owner && n.node.dht.service.store.get(fromHex(put.key)!, lab.clock.now())
    )!;
    assert.ok(holder, "a node keeps the record");
    const providerExpiry = () =>
      Math.max(
        ...nodes.map((n) =>
          n.node.dht.service.store.providers(fromHex("ef".repeat(32))!, lab.clock.now(), 20)
            .find((p) => p.nodeId === owner.nodeId)?.expiresAt ?? 0
        ),
      );
    const expiryBefore = providerExpiry();
    const lookupsBefore = nodes[4].node.dht.stats.lookups;
    await lab.run(12_000); // past two rounds of each timer
    const kept = holder.node.dht.service.store.get(fromHex(put.key)!, lab.clock.now())!;
    assert.ok(kept.seq > put.seq, `signed again with a higher sequence number: ${kept.seq} > ${put.seq}`);
    assert.equal(new TextDecoder().decode(kept.value), "v1");
    assert.ok(providerExpiry() > expiryBefore, "the provider record was announced again");
    assert.ok(nodes[4].node.dht.stats.lookups > lookupsBefore, "an idle node refreshed its stale buckets");
  } finally {
    await lab.stop();
  }
});

Deno.test("hearsay addresses in DHT answers go through the dial policy: findPeer and findProviders never return one it refuses", async () => {
  const lab = new Lab(5);
  try {
    const hub = await lab.startNode({ minPeers: 0, outboundSlots: 0 });
    // The asker's dial policy refuses one loopback range; the hub's answers name a node and a provider there.
    const asker = await lab.startNode({ bootstrap: [simAddress(0)], dialDeny: ["127.0.200.0/24"] });
    await lab.runUntil(() => activeIds(asker.node).length === 1, "the asker linked to the hub");
    await lab.run(1_000); // the join lookup settles
    const refused = "127.0.200.1:7400", target = "cd".repeat(32);
    hub.node.dht.service.table.add(target, refused, lab.clock.now());
    const key = topicKey("aimed");
    const provider = { nodeId: target, address: refused, expiresAt: lab.clock.now() + 60_000 };
    assert.ok(hub.node.dht.service.store.addProvider(key, provider, "v4:127.0.0", lab.clock.now()));
    assert.equal(await settle(lab, asker.node.dht.findPeer(target)), undefined, "no address it may not dial");
    assert.deepEqual(await settle(lab, asker.node.dht.findProviders(key)), []);
    assert.ok(asker.node.dht.stats.hearsayRefused >= 2, `refused ${asker.node.dht.stats.hearsayRefused}`);
    assert.equal(asker.node.dht.service.table.has(target), false);
  } finally {
    await lab.stop();
  }
});
