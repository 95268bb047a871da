/**
 * A missing permission is reported once with every permission the command needs: the whole `deno run`
 * line, which then runs. Subprocesses started with no permissions at all, on loopback, bounded.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

async function deno(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const { code, stdout, stderr } = await child.output().finally(() => clearTimeout(guard));
  return { code, out: decoder.decode(stdout).trim(), err: decoder.decode(stderr).trim() };
}

/** The `deno run ...` line at the end of a permission error, as arguments (temp paths need no quoting). */
function suggested(err: string): string[] {
  const match = /; run: deno (run .*)$/.exec(err);
  assert.ok(match, `a deno run line in: ${err}`);
  return match[1].split(" ");
}

Deno.test("start without permissions names them all in one deno run line, and that line starts the node", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const args = ["start", "--data-dir", `${dir}/n`, "--listen", "127.0.26.21:0", "--api", "off", "--json"];
    const denied = await deno(["run", MAIN, ...args]);
    assert.equal(denied.code, 1);
    assert.equal(denied.err.split("\n").length, 1, denied.err);
    const error = JSON.parse(denied.err).error.message as string;
    const line = suggested(error);
    for (
      const flag of [`--allow-read=${dir}/n`, `--allow-write=${dir}/n`, "--allow-env=KITH_DATA_DIR", "--allow-net"]
    ) {
      assert.ok(line.includes(flag), `${flag} in ${line.join(" ")}`);
    }
    // The suggested line is complete: the node starts with it.
    const child = new Deno.Command(Deno.execPath(), { args: line, stdout: "piped", stderr: "null", stdin: "null" })
      .spawn();
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    reader.releaseLock();
    child.kill("SIGTERM");
    const [status] = await Promise.all([child.status, child.stdout.cancel()]);
    assert.match(text, /"address":"127\.0\.26\.21:\d+"/, "started with the suggested permissions");
    assert.equal(status.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a client command without permissions names its read and net grants; with them it gets past permissions", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/api.token`, "0".repeat(64));
    const args = ["status", "--data-dir", dir, "--api", "127.0.0.1:1"];
    const denied = await deno(["run", MAIN, ...args]);
    assert.equal(denied.code, 1);
    assert.equal(denied.err.split("\n").length, 1, denied.err);
    const line = suggested(denied.err);
    assert.ok(line.includes(`--allow-read=${dir}`) && line.includes("--allow-net=127.0.0.1:1"), line.join(" "));
    const allowed = await deno(line);
    assert.match(allowed.err, /cannot reach the control API at 127\.0\.0\.1:1: is `kith start` running/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task kith works with a data directory other than ./.kith", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = new URL("../deno.json", import.meta.url).pathname;
    const init = await deno(["task", "--quiet", "--config", config, "kith", "init", "--data-dir", `${dir}/n1`]);
    assert.equal(init.code, 0, init.err);
    assert.match(init.out, /^[0-9a-f]{64}$/);
    const id = await deno(["task", "--quiet", "--config", config, "kith", "id", "--json", "--data-dir", `${dir}/n1`]);
    assert.equal(id.code, 0, id.err);
    assert.equal(JSON.parse(id.out).nodeId, init.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
