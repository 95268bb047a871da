/**
 * The `kith` binary's answers to bad input, as a user sees them: a subprocess per case, one line on stderr,
 * the exit code, and JSON when --json asked for it.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function kith(args: string[], dir?: string) {
  const grants = dir ? [`--allow-read=${dir}`, `--allow-write=${dir}`] : [];
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...grants, "--allow-net=127.0.0.0/8", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return { code, out: new TextDecoder().decode(stdout).trim(), err: new TextDecoder().decode(stderr).trim() };
}

Deno.test("an unknown option names the command's --help in one clean line (no node:util quoting)", async () => {
  const result = await kith(["peers", "--nope"]);
  assert.equal(result.code, 2);
  assert.equal(result.err, "kith: unknown option --nope for kith peers; see kith peers --help");
  const missing = await kith(["start", "--listen"]);
  assert.equal(missing.code, 2);
  assert.equal(missing.err, "kith: --listen needs a value; see kith start --help");
});

Deno.test("--listen with a port above 65535 says the port is out of range", async () => {
  const result = await kith(["start", "--listen", "127.0.0.1:99999", "--api", "off"]);
  assert.equal(result.code, 2);
  assert.equal(result.err.split("\n").length, 1, result.err);
  assert.match(result.err, /--listen port 99999 is out of range \(1\.\.65535, or 0 for any free port\)/);
});

Deno.test("status --json with no node running prints its error as one JSON line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/api.token`, "0".repeat(64));
    // A loopback port nothing listens on (the API is refused at once).
    const result = await kith(["status", "--json", "--data-dir", dir, "--api", "127.0.0.1:1"], dir);
    assert.equal(result.code, 1);
    assert.equal(result.out, "");
    const error = JSON.parse(result.err);
    assert.equal(error.error.code, "API");
    assert.match(error.error.message, /cannot reach the control API at 127\.0\.0\.1:1/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kith topics --peers without a topic names the command's --help; its help names the per-topic settings' home", async () => {
  const result = await kith(["topics", "--peers"]);
  assert.equal(result.code, 2);
  assert.equal(result.err, "kith: --peers needs a value; see kith topics --help");
  const help = await kith(["start", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /--relay-all-topics/);
  assert.match(help.out, /Per-topic settings .* are set in the --config file only/s);
});
