/**
 * The DHT through the control API and the CLI (`kith dht ...`), over real TCP on loopback: two nodes, the
 * API on the first; each subcommand's answer, the routing table and counters at GET /v1/dht, the metrics.
 */
import assert from "node:assert/strict";
import { ControlApi, loadOrCreateApiToken } from "../lib/api.ts";
import { runCli } from "../lib/cli/mod.ts";
import { KithNode } from "../lib/node.ts";

Deno.test("kith dht put, get, provide, providers and find-peer answer through the control API; /v1/dht shows the table; /metrics the DHT", async () => {
  const dir = await Deno.makeTempDir();
  const a = new KithNode({ config: { listenHost: "127.0.43.1", listenPort: 0, minPeers: 1, verifyThreads: 0 } });
  const b = new KithNode({ config: { listenHost: "127.0.44.1", listenPort: 0, minPeers: 1, verifyThreads: 0 } });
  let api: ControlApi | undefined;
  try {
    await a.start();
    await b.start();
    await b.connect(a.address);
    const token = await loadOrCreateApiToken(dir);
    api = new ControlApi({ node: a, token, port: 0 });
    const address = await api.start();
    const kith = async (...args: string[]) => {
      const out: string[] = [], err: string[] = [];
      const code = await runCli(["dht", ...args, "--data-dir", dir, "--api", address], {
        out: (line) => out.push(line),
        err: (line) => err.push(line),
      });
      return { code, out: out.join("\n"), err: err.join("\n") };
    };
    const deadline = Date.now() + 10_000;
    while (a.dht.service.table.size === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

    const put = await kith("put", "motd", "hello via the cli");
    assert.equal(put.code, 0, put.err);
    const key = /^([0-9a-f]{64}) \(seq \d+, stored at [1-9]\d* nodes\)$/.exec(put.out)?.[1];
    assert.ok(key, put.out);
    const fromB = await b.dht.get(key);
    assert.equal(fromB && new TextDecoder().decode(fromB.value), "hello via the cli", "stored at the other node");
    assert.deepEqual(await kith("get", key), { code: 0, out: "hello via the cli", err: "" });

    await b.dht.provide("ab".repeat(32));
    const providers = await kith("providers", "ab".repeat(32), "--json");
    assert.equal(providers.code, 0, providers.err);
    assert.deepEqual(JSON.parse(providers.out).providers.map((p: { nodeId: string }) => p.nodeId), [b.nodeId]);
    const provide = await kith("provide", "topic:chat");
    assert.match(provide.out, /^provided [0-9a-f]{64} at [1-9]\d* nodes$/);
    assert.deepEqual(await kith("find-peer", b.nodeId), { code: 0, out: b.address, err: "" });

    const missing = await kith("get", "cd".repeat(32));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /404: no node keeps a record/);
    const bad = await kith("get", "not-a-key");
    assert.equal(bad.code, 1);
    assert.match(bad.err, /400: a key is 64 hex digits/);
    assert.equal((await kith("frobnicate", "x")).code, 2);

    const call = (path: string) => fetch(`http://${address}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const dht = await (await call("/v1/dht")).json();
    assert.deepEqual(dht.table.map((c: { nodeId: string }) => c.nodeId), [b.nodeId]);
    assert.ok(dht.stats.lookups >= 1);
    const metrics = await (await call("/metrics")).text();
    assert.match(metrics, /^kith_dht_table_contacts 1$/m);
    assert.match(metrics, /^kith_dht_lookups_total\{outcome="run"\} [1-9]/m);
    assert.match(metrics, /^kith_dht_operation_seconds_count [1-9]/m);
  } finally {
    await api?.stop();
    await b.stop();
    await a.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
