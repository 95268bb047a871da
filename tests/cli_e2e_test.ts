/**
 * The binary end to end: three `kith start` processes, the CLI clients
 * talking to them through the control API, and the error paths.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function kith(dir: string, args: string[], extra: string[] = []) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", `--allow-read=${dir}`, `--allow-write=${dir}`, "--allow-net=127.0.0.0/8", ...extra, MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  });
}

async function run(dir: string, args: string[]) {
  const { code, stdout, stderr } = await kith(dir, args).output();
  return { code, out: new TextDecoder().decode(stdout).trim(), err: new TextDecoder().decode(stderr).trim() };
}

/** Starts `kith start`, returns its first JSON line and the process. */
async function start(dir: string, name: string, listen: string, bootstrap?: string) {
  const child = kith(dir, [
    "start",
    "--data-dir",
    `${dir}/${name}`,
    "--listen",
    listen,
    "--api",
    "127.0.0.1:0",
    "--json",
    ...(bootstrap ? ["--bootstrap", bootstrap] : []),
  ]).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`kith start ${name} exited early: ${await child.stderr.text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const info = JSON.parse(text.split("\n")[0]) as { nodeId: string; address: string; api: string };
  return { ...info, child, dataDir: `${dir}/${name}` };
}

Deno.test("three kith processes: publish at one, subscribe at another, status and peers, clean SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  const nodes: Awaited<ReturnType<typeof start>>[] = [];
  try {
    for (const name of ["a", "b", "c"]) {
      assert.equal((await run(dir, ["init", "--data-dir", `${dir}/${name}`])).code, 0);
    }
    nodes.push(await start(dir, "a", "127.0.31.1:0"));
    nodes.push(await start(dir, "b", "127.0.32.1:0", nodes[0].address));
    nodes.push(await start(dir, "c", "127.0.33.1:0", nodes[0].address));
    const [a, b, c] = nodes;
    // Wait until A sees both others (bounded).
    let peers: { nodeId: string; state: string }[] = [];
    for (let i = 0; i < 100; i++) {
      const result = await run(dir, ["peers", "--json", "--data-dir", a.dataDir, "--api", a.api]);
      assert.equal(result.code, 0, result.err);
      peers = JSON.parse(result.out);
      if ([b, c].every((n) => peers.some((p) => p.nodeId === n.nodeId && p.state === "active"))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok([b.nodeId, c.nodeId].every((id) => peers.some((p) => p.nodeId === id && p.state === "active")));
    const status = await run(dir, ["status", "--json", "--data-dir", a.dataDir, "--api", a.api]);
    assert.equal(status.code, 0, status.err);
    assert.equal(JSON.parse(status.out).nodeId, a.nodeId);
    assert.ok(JSON.parse(status.out).peers.active >= 2);
    const table = await run(dir, ["peers", "--data-dir", a.dataDir, "--api", a.api]);
    assert.match(table.out, /^NODE\s+STATE\s+DIR\s+LINK/);
    assert.match(table.out, /\bactive\s+\S+\s+direct\b/);
    // On loopback all peers share one subnet: no observed address is agreed on, so nothing is checked.
    const text = await run(dir, ["status", "--data-dir", a.dataDir, "--api", a.api]);
    assert.match(text.out, /^reachability\s+unknown$/m);
    assert.match(text.out, /^observed\s+- \(\d+ reports, no agreement\)$/m);
    assert.match(text.out, new RegExp(`^advertised\\s+${a.address.replace(/\./g, "\\.")}$`, "m"));
    // Subscribe at C, publish at A until C's subscriber has one message (publishing again covers the
    // moment before the subscription is open, and before A has heard that C is in the topic: until then A,
    // which is not in it, has no peer to send it to).
    const subscriber = kith(dir, [
      "subscribe",
      "--topic",
      "t",
      "--count",
      "1",
      "--json",
      "--data-dir",
      c.dataDir,
      "--api",
      c.api,
    ])
      .spawn();
    let done = false;
    const finished = subscriber.output().then((o) => {
      done = true;
      return o;
    });
    for (let i = 0; i < 50 && !done; i++) {
      const published = await run(dir, [
        "publish",
        "--topic",
        "t",
        "--data-dir",
        a.dataDir,
        "--api",
        a.api,
        "hello from a",
      ]);
      if (published.code !== 0) assert.match(published.err, /no connected peer is in topic "t"/);
      else assert.match(published.out, /^[0-9a-f]{64}$/);
      await new Promise((r) => setTimeout(r, 200));
    }
    const output = await finished;
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const message = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n")[0]);
    assert.equal(message.data, "hello from a");
    assert.equal(message.origin, a.nodeId);
    assert.equal(message.topic, "t");
    // Metrics and trust answer too.
    const trust = await run(dir, ["trust", "--json", "--data-dir", a.dataDir, "--api", a.api]);
    assert.equal(trust.code, 0, trust.err);
    assert.ok(JSON.parse(trust.out).length >= 2);
  } finally {
    for (const node of nodes) node.child.kill("SIGTERM");
    for (const node of nodes) {
      const [status, , stderr] = await Promise.all([
        node.child.status,
        node.child.stdout.cancel(),
        node.child.stderr.text(),
      ]);
      assert.equal(status.code, 0, stderr);
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a wrong API token gets 401 and a one-line error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const node = await start(dir, "a", "127.0.34.1:0");
    try {
      await Deno.mkdir(`${dir}/bogus`);
      await Deno.writeTextFile(`${dir}/bogus/api.token`, "0".repeat(64), { mode: 0o600 });
      const result = await run(dir, ["status", "--data-dir", `${dir}/bogus`, "--api", node.api]);
      assert.equal(result.code, 1);
      assert.match(result.err, /^kith: .*\(401\)$/);
      const raw = await fetch(`http://${node.api}/metrics`);
      assert.equal(raw.status, 401);
      await raw.body?.cancel();
      const token = (await Deno.readTextFile(`${node.dataDir}/api.token`)).trim();
      const metrics = await fetch(`http://${node.api}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /kith_peers\{state="active"\} 0/);
      const bad = await fetch(`http://${node.api}/v1/publish`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: "not json",
      });
      assert.equal(bad.status, 400);
      assert.equal((await bad.json()).error.code, "BAD_JSON");
    } finally {
      node.child.kill("SIGTERM");
      await Promise.all([node.child.status, node.child.stdout.cancel(), node.child.stderr.cancel()]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a malformed config file exits 2 naming the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ gossipFanout: 0 }));
    const result = await run(dir, [
      "start",
      "--data-dir",
      `${dir}/a`,
      "--config",
      `${dir}/config.json`,
      "--api",
      "127.0.0.1:0",
    ]);
    assert.equal(result.code, 2);
    assert.equal(result.err.split("\n").length, 1);
    assert.match(result.err, /gossipFanout/);
    await Deno.writeTextFile(`${dir}/config.json`, "{ not json");
    const broken = await run(dir, ["start", "--data-dir", `${dir}/a`, "--config", `${dir}/config.json`]);
    assert.equal(broken.code, 2);
    assert.match(broken.err, /not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("starting with a data directory outside the granted ones prints the flag to add", async () => {
  const dir = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    const result = await run(dir, ["start", "--data-dir", `${outside}/node`, "--api", "127.0.0.1:0"]);
    assert.equal(result.code, 1);
    assert.equal(result.err.split("\n").length, 1, result.err);
    assert.match(result.err, /--allow-write=/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("a node SIGKILLed while writing restarts with its identity, peers and trust intact", async () => {
  const dir = await Deno.makeTempDir();
  const { KithNode } = await import("../lib/node.ts");
  const peer = new KithNode({ config: { listenHost: "127.0.35.1", listenPort: 0, minPeers: 1 } });
  await peer.start();
  try {
    const first = await start(dir, "a", "127.0.36.1:0", peer.address);
    const token = (await Deno.readTextFile(`${first.dataDir}/api.token`)).trim();
    const get = async (api: string, path: string) =>
      await (await fetch(`http://${api}${path}`, { headers: { authorization: `Bearer ${token}` } })).json();
    // Traffic from the peer earns it trust at the node, written to the database as it goes.
    for (let i = 0; i < 50; i++) {
      peer.broadcast(`m${i}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    let trustBefore = 0;
    for (let i = 0; i < 100 && trustBefore <= 0.5; i++) {
      const trust = await get(first.api, "/v1/trust") as { nodeId: string; trust: number }[];
      trustBefore = trust.find((t) => t.nodeId === peer.nodeId)?.trust ?? 0;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(trustBefore > 0.5, `the peer earned trust: ${trustBefore}`);
    await new Promise((r) => setTimeout(r, 300)); // past the 100 ms flush interval
    for (let i = 0; i < 20; i++) peer.broadcast(`during the kill ${i}`); // writes in flight
    first.child.kill("SIGKILL");
    await Promise.all([first.child.status, first.child.stdout.cancel(), first.child.stderr.cancel()]);
    // Restart without a bootstrap list: identity, address book and trust come from the data directory.
    const second = await start(dir, "a", "127.0.36.1:0");
    try {
      assert.equal(second.nodeId, first.nodeId);
      let peers: { nodeId: string; state: string; trust: number }[] = [];
      for (let i = 0; i < 100; i++) {
        peers = await get(second.api, "/v1/peers");
        if (peers.some((p) => p.nodeId === peer.nodeId && p.state === "active")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const restored = peers.find((p) => p.nodeId === peer.nodeId);
      assert.equal(restored?.state, "active", "it reconnected to its stored peer");
      assert.ok(restored!.trust >= trustBefore - 1e-9, `trust kept: ${restored!.trust} >= ${trustBefore}`);
    } finally {
      second.child.kill("SIGTERM");
      await Promise.all([second.child.status, second.child.stdout.cancel(), second.child.stderr.cancel()]);
    }
  } finally {
    await peer.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kith devnet serves its page at the printed one-time address and exits after --duration", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = kith(dir, ["devnet", "--nodes", "3", "--traffic", "0", "--duration", "3", "--json"]).spawn();
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const info = JSON.parse(text.split("\n")[0]) as { devnet: { nodeId: string }[]; page: string };
    assert.equal(info.devnet.length, 3);
    const url = new URL(info.page);
    assert.equal(url.hostname, "127.0.0.1");
    assert.equal(url.pathname, "/devnet");
    const code = /code=([0-9a-f]+)/.exec(url.hash)![1];
    const session = await fetch(`${url.origin}/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code }),
    });
    assert.equal(session.status, 200);
    const cookie = session.headers.get("set-cookie")!.split(";")[0];
    await session.body?.cancel();
    const state = await (await fetch(`${url.origin}/v1/devnet`, { headers: { cookie } })).json();
    assert.deepEqual(state.nodes.map((n: { nodeId: string }) => n.nodeId), info.devnet.map((n) => n.nodeId));
    const anonymous = await fetch(`${url.origin}/v1/devnet`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    await child.stdout.cancel();
    await child.stderr.cancel();
    assert.equal((await child.status).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
