import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { KithError } from "../lib/errors.ts";
import { KithNode } from "../lib/node.ts";
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
