/**
 * The ingest benchmark (scripts/bench-ingest.ts) at a tiny size: its node and generator processes start, talk
 * over loopback, and it reports every message delivered with sane fields. No timing is asserted.
 */
import assert from "node:assert/strict";

const script = new URL("../scripts/bench-ingest.ts", import.meta.url).pathname;

Deno.test("the ingest benchmark delivers every pre-signed message of a small fixed-rate run and reports it", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.0/8",
      "--allow-run",
      "--allow-read",
      "--allow-sys=cpus",
      script,
      "--generators",
      "1",
      "--origins",
      "4",
      "--rate",
      "200",
      "--duration",
      "1",
      "--verify-threads",
      "0",
      "--timeout",
      "60",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  assert.equal(lines.length, 1, `one JSON line per setting: ${lines.join("\n")}`);
  const run = JSON.parse(lines[0]);
  assert.equal(run.mode, "fixed");
  assert.equal(run.verify_threads, "0");
  assert.equal(run.generators, 1);
  assert.equal(run.origins_per_generator, 4);
  const phase = run.at_rate;
  assert.equal(phase.rate, 200);
  assert.equal(phase.messages, 200);
  assert.equal(phase.delivery_ratio, 1);
  assert.deepEqual(phase.dropped, {
    rate_limited: 0,
    origin_limited: 0,
    under_check: 0,
    invalid: 0,
    refused_by_generators: 0,
  });
  // One generator: the node has no other peer to forward to; every check on the node's thread.
  assert.equal(phase.forwarded_per_delivery, 0);
  assert.equal(phase.checks_offloaded, 0);
  const delay = phase.delay_ms;
  for (const key of ["min", "p50", "p90", "p99", "max"]) assert.ok(Number.isFinite(delay[key]), `delay ${key}`);
  assert.ok(delay.min <= delay.p50 && delay.p50 <= delay.p99 && delay.p99 <= delay.max, JSON.stringify(delay));
  assert.ok(phase.cpu_us_per_delivery > 0, "the node's CPU per delivery is measured");
  assert.ok(phase.deliveries_per_s > 0);
  assert.ok(Number.isFinite(phase.machine_cores.busy), "the machine's CPU is read");
});
