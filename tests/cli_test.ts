import assert from "node:assert/strict";
import { runCli } from "../lib/cli/mod.ts";
import { loadIdentity } from "../lib/identity.ts";
import { VERSION } from "../lib/version.ts";

function capture() {
  const out: string[] = [], err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

Deno.test("the version in lib/version.ts matches deno.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(config.version, VERSION);
});

Deno.test("kith --version and --help succeed; no command is a usage error", async () => {
  const a = capture();
  assert.equal(await runCli(["--version"], a.io), 0);
  assert.match(a.out[0], new RegExp(`^kith ${VERSION.replaceAll(".", "\\.")}`));
  const b = capture();
  assert.equal(await runCli(["--help"], b.io), 0);
  assert.match(b.out[0], /Usage: kith <command>/);
  const c = capture();
  assert.equal(await runCli(["init", "--help"], c.io), 0);
  assert.match(c.out[0], /Usage: kith init/);
  const d = capture();
  assert.equal(await runCli([], d.io), 2);
});

Deno.test("unknown commands and flags exit 2 with one line", async () => {
  for (const args of [["frobnicate"], ["id", "--nope"], ["id", "extra"], ["id", "--data-dir="]]) {
    const c = capture();
    assert.equal(await runCli(args, c.io), 2, args.join(" "));
    assert.equal(c.err.length, 1);
    assert.match(c.err[0], /^kith: /);
  }
});

Deno.test("kith init creates the identity and prints its node id; kith id prints the same", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const init = capture();
    assert.equal(await runCli(["init", "--data-dir", `${dir}/node`], init.io), 0);
    const identity = await loadIdentity(`${dir}/node/identity.key`);
    assert.deepEqual(init.out, [identity.nodeId]);
    const id = capture();
    assert.equal(await runCli(["id", "--data-dir", `${dir}/node`, "--json"], id.io), 0);
    assert.equal(JSON.parse(id.out[0]).nodeId, identity.nodeId);
    const again = capture();
    assert.equal(await runCli(["init", "--data-dir", `${dir}/node`], again.io), 0);
    assert.deepEqual(again.out, [identity.nodeId]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kith id on an empty directory says to run kith init, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = capture();
    assert.equal(await runCli(["id", "--data-dir", dir], c.io), 1);
    assert.equal(c.err.length, 1);
    assert.match(c.err[0], /kith init/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("under permissions scoped to one directory, a data dir outside gives one clear line, no stack trace", async () => {
  const allowed = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    const run = (dataDir: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          `--allow-read=${allowed}`,
          `--allow-write=${allowed}`,
          new URL("../main.ts", import.meta.url).pathname,
          "init",
          "--data-dir",
          dataDir,
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
    const ok = await run(`${allowed}/node`);
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    const denied = await run(`${outside}/node`);
    const stderr = new TextDecoder().decode(denied.stderr).trim();
    assert.equal(denied.code, 1);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, new RegExp(`^kith: .*${outside}/node.*--allow-write=${outside}/node`));
  } finally {
    await Deno.remove(allowed, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("kith start runs a node until SIGTERM, then exits 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        "--allow-net=127.0.0.0/8",
        new URL("../main.ts", import.meta.url).pathname,
        "start",
        "--data-dir",
        `${dir}/node`,
        "--listen",
        "127.0.0.1:0",
        "--api",
        "127.0.0.1:0",
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const info = JSON.parse(text.split("\n")[0]);
    assert.match(info.address, /^127\.0\.0\.1:\d+$/);
    const identity = await loadIdentity(`${dir}/node/identity.key`);
    assert.equal(info.nodeId, identity.nodeId);
    // A peer can connect to it.
    const { KithNode } = await import("../lib/node.ts");
    const peer = new KithNode({
      config: { listenHost: "127.0.0.1", listenPort: 0, bootstrap: [info.address], minPeers: 1 },
    });
    await peer.start();
    try {
      const start = Date.now();
      while (!peer.peers().some((p) => p.state === "active" && p.nodeId === info.nodeId)) {
        if (Date.now() - start > 10_000) assert.fail("could not connect to the CLI node");
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await peer.stop();
    }
    child.kill("SIGTERM");
    // Drain both pipes so no resource is left open.
    const [status, , stderr] = await Promise.all([child.status, child.stdout.text(), child.stderr.text()]);
    assert.equal(status.code, 0, stderr);
    // Its database was flushed and closed cleanly.
    const { SqliteStorage } = await import("../lib/storage/mod.ts");
    const storage = new SqliteStorage(`${dir}/node/kith.db`, { pruneIntervalMs: 0 });
    assert.equal(storage.integrityCheck(), "ok");
    assert.ok(storage.countAddresses() >= 1, "its address book (the peer that connected) was written");
    storage.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kith start's address, feeler, anchor and topic-finding flags set their settings, over the config file's", async () => {
  const { parseCliArgs } = await import("../lib/cli/args.ts");
  const { startConfig } = await import("../lib/cli/commands/node.ts");
  const { values } = parseCliArgs([
    "start",
    "--address-interval-ms",
    "2500",
    "--address-burst",
    "77",
    "--address-cache-ms",
    "45000",
    "--feeler-interval-ms",
    "9000",
    "--anchors",
    "0",
    "--min-topic-peers",
    "3",
    "--topic-slots",
    "0",
  ]);
  assert.deepEqual(startConfig(values, { anchors: 4, addressBurst: 5, maxPeers: 20, topicSlots: 4 }), {
    addressIntervalMs: 2_500,
    addressBurst: 77,
    addressCacheMs: 45_000,
    feelerIntervalMs: 9_000,
    anchors: 0,
    minTopicPeers: 3,
    topicSlots: 0,
    maxPeers: 20,
  });
  assert.deepEqual(startConfig(parseCliArgs(["start"]).values, { anchors: 4 }), { anchors: 4 });
});

Deno.test("kith start --advertise sets the address announced to peers, apart from --listen; a malformed one is refused naming the flag", async () => {
  const { parseCliArgs, UsageError } = await import("../lib/cli/args.ts");
  const { startConfig } = await import("../lib/cli/commands/node.ts");
  const config = startConfig(
    parseCliArgs(["start", "--listen", "0.0.0.0:7400", "--advertise", "node1.example.org:17400"]).values,
  );
  assert.equal(config.advertisedAddress, "node1.example.org:17400");
  assert.equal(config.listenHost, "0.0.0.0");
  for (const bad of ["nohost", "127.0.0.1:0", "127.0.0.1:99999"]) {
    assert.throws(
      () => startConfig(parseCliArgs(["start", "--advertise", bad]).values),
      (e) => e instanceof UsageError && e.message.includes("--advertise"),
      bad,
    );
  }
});

Deno.test("kith start refuses an address, feeler, anchor or topic-finding flag that is not a whole number, or out of its setting's range, exit 2 naming it", async () => {
  const dir = await Deno.makeTempDir();
  // A file where the data directory should be: were a value accepted, the node would fail to start (exit 1)
  // instead of running until a signal.
  const dataDir = `${dir}/file`;
  await Deno.writeTextFile(dataDir, "");
  try {
    const cases: [string[], RegExp][] = [
      [["--anchors", "two"], /^kith: --anchors must be a whole number, got "two"$/],
      [["--address-burst=-3"], /^kith: --address-burst must be a whole number, got "-3"$/],
      [["--address-interval-ms", "1.5"], /^kith: --address-interval-ms must be a whole number/],
      [["--address-interval-ms", "0"], /^kith: addressIntervalMs must be an integer in 1\.\./],
      [["--address-cache-ms", "0"], /^kith: addressCacheMs must be an integer in 1\.\./],
      [["--feeler-interval-ms", "10"], /^kith: feelerIntervalMs must be an integer in 1000\.\./],
      [["--topic-slots", "x"], /^kith: --topic-slots must be a whole number, got "x"$/],
      [["--topic-slots", "65"], /^kith: topicSlots must be an integer in 0\.\.64/],
      [["--min-topic-peers", "65"], /^kith: minTopicPeers must be an integer in 0\.\.64/],
    ];
    for (const [flags, expected] of cases) {
      const c = capture();
      const code = await runCli(["start", "--data-dir", dataDir, "--listen", "127.0.0.1:0", ...flags], c.io);
      assert.equal(code, 2, flags.join(" "));
      assert.equal(c.err.length, 1, c.err.join("\n"));
      assert.match(c.err[0], expected);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kith start's topic flags set maxTopics, topicFanoutPeers and relayAllTopics over the config file's", async () => {
  const { parseCliArgs } = await import("../lib/cli/args.ts");
  const { startConfig } = await import("../lib/cli/commands/node.ts");
  const flags = parseCliArgs(["start", "--max-topics", "200", "--topic-fanout-peers", "3", "--relay-all-topics"]);
  const topicSettings = { chat: { fanout: 4 } };
  assert.deepEqual(startConfig(flags.values, { maxTopics: 10, relayAllTopics: false, topicSettings }), {
    maxTopics: 200,
    topicFanoutPeers: 3,
    relayAllTopics: true,
    topicSettings,
  });
  // Without the switch, the file's choice stands.
  assert.deepEqual(startConfig(parseCliArgs(["start"]).values, { relayAllTopics: true }), { relayAllTopics: true });
});

Deno.test("kith start refuses a topic flag that is not a whole number or out of its setting's range, exit 2 naming it", async () => {
  const dir = await Deno.makeTempDir();
  const dataDir = `${dir}/file`; // a file: a start that got past the settings would fail with exit 1
  await Deno.writeTextFile(dataDir, "");
  try {
    const cases: [string[], RegExp][] = [
      [["--max-topics", "many"], /^kith: --max-topics must be a whole number, got "many"$/],
      [["--max-topics", "0"], /^kith: maxTopics must be an integer in 1\.\.4096, got 0$/],
      [["--max-topics", "65"], /^kith: maxTopics must be at most 64 unless relayAllTopics is on$/],
      [["--topic-fanout-peers", "0"], /^kith: topicFanoutPeers must be an integer in 1\.\./],
      [["--relay-all-topics=yes"], /^kith: --relay-all-topics takes no value/],
    ];
    for (const [flags, expected] of cases) {
      const c = capture();
      const code = await runCli(["start", "--data-dir", dataDir, "--listen", "127.0.0.1:0", ...flags], c.io);
      assert.equal(code, 2, flags.join(" "));
      assert.equal(c.err.length, 1, c.err.join("\n"));
      assert.match(c.err[0], expected);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kith topics lists the node's topics and, with --peers T, its connected peers in T", async () => {
  const { ControlApi, loadOrCreateApiToken } = await import("../lib/api.ts");
  const { KithNode } = await import("../lib/node.ts");
  const dir = await Deno.makeTempDir();
  const a = new KithNode({ config: { listenHost: "127.0.44.1", listenPort: 0, minPeers: 1 } });
  const b = new KithNode({ config: { listenHost: "127.0.45.1", listenPort: 0, minPeers: 1 } });
  let api: InstanceType<typeof ControlApi> | undefined;
  try {
    await a.start();
    await b.start();
    await b.connect(a.address);
    api = new ControlApi({ node: a, token: await loadOrCreateApiToken(dir), port: 0 });
    const address = await api.start();
    const kith = async (...args: string[]) => {
      const c = capture();
      assert.equal(await runCli([...args, "--data-dir", dir, "--api", address], c.io), 0, c.err.join("\n"));
      return c.out.join("\n");
    };
    assert.equal(await kith("topics"), "in no topic (besides the network-wide one)");
    // A name with a terminal escape in it: printed escaped, never raw.
    const odd = "news\u001b[2J";
    a.subscribe(odd);
    b.subscribe(odd);
    b.subscribe("sports");
    await a.waitForTopicPeers(odd, 1, { timeout: 10_000 });
    await a.waitForTopicPeers("sports", 1, { timeout: 10_000 });
    const lines = (await kith("topics")).split("\n");
    assert.match(lines[0], /^TOPIC\s+IN\s+PEERS\s+EAGER\s+DELIVERED\s+LOGGED$/);
    assert.match(lines[1], /^news\\u001b\[2J\s+subscribed\s+1\s+\d\s+0\s+0 \(0\.0 KiB\)$/);
    assert.ok(!lines.join("\n").includes("\u001b"), "no raw control character reaches the terminal");
    assert.equal(lines.length, 2, "a is not in sports: only its own topics are listed");
    const json = JSON.parse(await kith("topics", "--json"));
    assert.deepEqual(json.topics.map((t: { topic: string }) => t.topic), [odd]);
    const peers = (await kith("topics", "--peers", "sports")).split("\n");
    assert.match(peers[0], /^NODE\s+ADDRESS\s+TRUST\s+RELAYS ALL$/);
    assert.match(
      peers[1],
      new RegExp(`^${b.nodeId.slice(0, 16)}\\s+${b.address.replaceAll(".", "\\.")}\\s+0\\.\\d+\\s+no$`),
    );
    assert.equal(await kith("topics", "--peers", "quiet"), "no connected peer is in topic quiet");
    assert.deepEqual(JSON.parse(await kith("topics", "--peers", "sports", "--json")).peers[0].nodeId, b.nodeId);
  } finally {
    await api?.stop();
    await b.stop();
    await a.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
