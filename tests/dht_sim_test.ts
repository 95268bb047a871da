/**
 * The DHT on the simulator at CI size: the shipped DHT code (lib/dht/) on virtual time, 10-80 ms links.
 * Figures at 10,000 nodes are in BENCHMARKS.md (`deno task dht:sim`).
 */
import assert from "node:assert/strict";
import { runDhtSimulation } from "../scripts/dht-sim.ts";

const base = { nodes: 200, lookups: 100, seed: 7, churn: 0, adversarial: 0, paths: 1, records: 10, gets: 3 };

Deno.test("200 simulated DHT nodes: every lookup of a live node reaches it, every record put is got back, the same seed gives the same run", async () => {
  const first = await runDhtSimulation(base);
  assert.equal(first.success, 1);
  assert.deepEqual(first.record_gets, { asked: 30, found: 30 });
  assert.ok(first.hops.mean <= first.hops.log2_n, JSON.stringify(first.hops));
  assert.ok(first.table_size.min > 0);
  assert.deepEqual(await runDhtSimulation(base), first);
});

Deno.test("with 20% of the nodes gone without a word, lookups still reach every live node", async () => {
  const result = await runDhtSimulation({ ...base, churn: 0.2 });
  assert.equal(result.success, 1);
  assert.equal(result.record_gets.found, result.record_gets.asked);
});

Deno.test("with 30% of the nodes answering only with each other, 3 disjoint paths reach every target one path misses some of", async () => {
  const single = await runDhtSimulation({ ...base, adversarial: 0.3, paths: 1 });
  const disjoint = await runDhtSimulation({ ...base, adversarial: 0.3, paths: 3 });
  assert.equal(disjoint.success, 1, JSON.stringify(disjoint));
  assert.ok(single.success < disjoint.success, `one path ${single.success}, three ${disjoint.success}`);
  assert.equal(disjoint.record_gets.found, disjoint.record_gets.asked);
});

Deno.test("with 30% of the nodes dropping, lying or answering with made-up ids, 3 disjoint paths still reach every target and get every record", async () => {
  const mixed = { ...base, adversarial: 0.3, mix: "mixed" as const };
  const single = await runDhtSimulation({ ...mixed, paths: 1 });
  const disjoint = await runDhtSimulation({ ...mixed, paths: 3 });
  assert.equal(disjoint.success, 1, JSON.stringify(disjoint));
  assert.equal(disjoint.record_gets.found, disjoint.record_gets.asked);
  // Made-up contacts cost a query timeout each: one path waits them out more often than three.
  assert.ok(
    single.latency_ms.p90 > disjoint.latency_ms.p90,
    `p90 one path ${single.latency_ms.p90}, three ${disjoint.latency_ms.p90}`,
  );
});
