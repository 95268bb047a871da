/**
 * `kith start` as a user runs it: a node without a control API, an unreachable bootstrap that is reported
 * (log and plain status), and a TTL above the node's maximum refused. Subprocesses on loopback, bounded.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

function kith(dir: string, args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", `--allow-read=${dir}`, `--allow-write=${dir}`, "--allow-net=127.0.0.0/8", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  });
}

/** Runs a command to its end; one that would run on (a node that should have been refused) is killed after 30 s. */
async function run(dir: string, args: string[]) {
  const child = kith(dir, args).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const { code, stdout, stderr } = await child.output().finally(() => clearTimeout(guard));
  return { code, out: decoder.decode(stdout).trim(), err: decoder.decode(stderr).trim() };
}

/** Spawns `kith start`, returns its first stdout line, its process, and collects its stderr as it comes. */
async function start(dir: string, args: string[]) {
  const child = kith(dir, ["start", ...args]).spawn();
  let stderr = "";
  const draining = (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk);
  })();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await draining;
      throw new Error(`kith start exited early: ${stderr}`);
    }
    text += decoder.decode(value);
  }
  reader.releaseLock();
  const stop = async () => {
    child.kill("SIGTERM");
    const [status] = await Promise.all([child.status, child.stdout.cancel(), draining]);
    return status.code;
  };
  const kill = async () => {
    child.kill("SIGKILL");
    await Promise.all([child.status, child.stdout.cancel(), draining]);
  };
  return { first: text.split("\n")[0], pid: child.pid, stderr: () => stderr, stop, kill };
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

Deno.test("start --api off runs a node without a control API, and stops cleanly on SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const node = await start(dir, ["--data-dir", `${dir}/n`, "--listen", "127.0.26.11:0", "--api", "off"]);
    assert.match(node.first, /listening on 127\.0\.26\.11:\d+, no control API/);
    assert.equal(await node.stop(), 0);
    const json = await start(dir, ["--data-dir", `${dir}/n`, "--listen", "127.0.26.11:0", "--api", "off", "--json"]);
    assert.equal(JSON.parse(json.first).api, null);
    assert.equal(await json.stop(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreachable bootstrap is logged at warn with the reason and next retry, and counted in plain status; a TTL above the maximum is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const node = await start(dir, [
      "--data-dir",
      `${dir}/n`,
      "--listen",
      "127.0.26.12:0",
      "--api",
      "127.0.0.1:0",
      "--json",
      "--bootstrap",
      "127.0.0.1:1", // nothing listens on port 1: the dial is refused at once
    ]);
    const { api } = JSON.parse(node.first);
    try {
      await waitFor(() => /WARN\s+bootstrap dial failed/.test(node.stderr()), "the bootstrap warning");
      const warning = node.stderr().split("\n").find((line) => line.includes("bootstrap dial failed"))!;
      assert.match(warning, /address=127\.0\.0\.1:1 /);
      assert.match(warning, /error=\S+/);
      assert.match(warning, /retryInMs=\d+/);
      assert.match(warning, /nextRetry=\d{4}-\d\d-\d\dT/);
      const status = await run(dir, ["status", "--data-dir", `${dir}/n`, "--api", api]);
      assert.equal(status.code, 0, status.err);
      const dials = status.out.split("\n").find((line) => line.startsWith("dials"));
      assert.match(dials ?? "", /^dials\s+\d+ attempted, [1-9]\d* failed/, status.out);
      const ttl = await run(dir, ["publish", "--ttl", "99", "--data-dir", `${dir}/n`, "--api", api, "hello"]);
      assert.equal(ttl.code, 1);
      assert.equal(ttl.err.split("\n").length, 1, ttl.err);
      assert.match(ttl.err, /ttl 99 is above this node's maximum of 16/);
    } finally {
      assert.equal(await node.stop(), 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second node on a running node's data directory is refused naming its PID and address; a killed node leaves no stuck lock", async () => {
  const dir = await Deno.makeTempDir();
  const args = ["--data-dir", `${dir}/n`, "--api", "off", "--json"];
  try {
    const first = await start(dir, [...args, "--listen", "127.0.26.13:0"]);
    const { address } = JSON.parse(first.first);
    const second = await run(dir, ["start", ...args, "--listen", "127.0.26.14:0"]);
    assert.equal(second.code, 1);
    const error = JSON.parse(second.err).error;
    assert.equal(error.code, "DATA_DIR_IN_USE");
    assert.match(error.message, new RegExp(`in use by a running node \\(pid ${first.pid}, listening on ${address}\\)`));
    const plain = await run(dir, ["start", "--data-dir", `${dir}/n`, "--api", "off", "--listen", "127.0.26.14:0"]);
    assert.equal(plain.err.split("\n").length, 1, plain.err);
    // The operating system drops the lock with the process, however it ends.
    await first.kill();
    const again = await start(dir, [...args, "--listen", "127.0.26.13:0"]);
    assert.equal(await again.stop(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
