/**
 * The DHT over real TCP on loopback, at CI size (the 20-process run is `deno task dht:loopback`): a record put
 * at one node is got at the others and a topic's provider found, and a node restarted from its data directory,
 * with no bootstrap, no anchors and no peers, answers from the routing table it saved in SQLite.
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { topicKey } from "../lib/dht/mod.ts";
import { KithNode } from "../lib/node.ts";
import { waitFor } from "./_support.ts";

/** Each node on its own 127.0.6x.1: distinct /24s, so the routing table's diversity bound keeps every contact. */
const CONFIG: Partial<NetworkConfig> = {
  listenPort: 0,
  verifyThreads: 0,
  minPeers: 1,
  anchors: 0,
  peerMaintenanceIntervalMs: 100,
};
let hosts = 60;
const host = () => ({ listenHost: `127.0.${++hosts}.1` });

Deno.test("over TCP: a record put at one node is got at the others, a topic's provider is found, and a restarted node answers from its stored table", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kith-dht-" });
  const a = new KithNode({ config: { ...CONFIG, ...host(), minPeers: 0 } });
  await a.start();
  const nodes: KithNode[] = [a];
  let restarted: KithNode | undefined;
  try {
    for (let i = 0; i < 3; i++) {
      const node = new KithNode({ config: { ...CONFIG, ...host(), bootstrap: [a.address] } });
      await node.start();
      nodes.push(node);
    }
    const dHost = host();
    const d = new KithNode({ config: { ...CONFIG, ...dHost, bootstrap: [a.address] }, dataDir });
    await d.start();
    nodes.push(d);
    await waitFor(() => nodes.slice(1).every((n) => n.dht.service.table.size >= 1), "every node's table", 10_000);
    const [, b, c] = nodes;
    const put = await b.dht.put("greeting", "hi over tcp");
    assert.ok(put.stored >= 1, `stored at ${put.stored}`);
    for (const reader of nodes) {
      const got = await reader.dht.get(put.key);
      assert.equal(got && new TextDecoder().decode(got.value), "hi over tcp");
    }
    assert.ok(await c.dht.provide(topicKey("chat")) >= 1, "a provider record stored");
    const providers = await d.dht.findProviders(topicKey("chat"));
    assert.deepEqual(providers.map((p) => p.nodeId), [c.nodeId]);
    await waitFor(() => d.dht.service.table.size >= 3, "d's table of the others", 10_000);
    const saved = new Set(d.dht.table().map((entry) => entry.nodeId));
    await d.stop();
    nodes.pop();

    // No bootstrap, no anchors, no outbound peer wanted (its address book is not dialed): what it knows of the
    // DHT comes from kith.db's routing table alone.
    restarted = new KithNode({ config: { ...CONFIG, ...dHost, minPeers: 0, outboundSlots: 0 }, dataDir });
    await restarted.start();
    const loaded = restarted.dht.table().map((entry) => entry.nodeId);
    assert.ok(loaded.length >= 3, `the table came back from SQLite: ${loaded.length} contacts`);
    assert.ok(loaded.every((id) => saved.has(id)));
    const again = await restarted.dht.get(put.key);
    assert.equal(
      restarted.peers().filter((p) => p.state === "active" && p.direction === "outbound").length,
      0,
      "no outbound peer: only transient links",
    );
    assert.equal(again && new TextDecoder().decode(again.value), "hi over tcp", "answered through the stored table");
    assert.ok(restarted.dht.stats.transient.dials >= 1);
  } finally {
    await restarted?.stop();
    for (const node of nodes.reverse()) await node.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
