/**
 * DHT simulator: N nodes running the shipped DHT code (lib/dht/) on a model network with 10-80 ms links and
 * a virtual clock (lib/sim/dht.ts). Nodes join one after another through a bootstrap node and look up their
 * own ids; then random lookups of live nodes' ids measure success, hops and latency, and a record put at one
 * node is got from others.
 *
 *   deno task dht:sim -- --nodes 10000 [--lookups 500] [--seed 1] [--churn 0.2] [--adversarial 0.3 [--mix mixed] --paths 3]
 *
 * Prints one JSON line: `result` is a pure function of the arguments (the same seed gives the same output);
 * `cost` has wall time and memory.
 */
import { parseArgs } from "node:util";
import { Identity } from "../lib/identity.ts";
import { recordKey, signRecord } from "../lib/dht/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimDhtNetwork, type SimDhtNode } from "../lib/sim/dht.ts";

/** Arguments of one DHT simulation. */
export interface DhtSimulationOptions {
  nodes: number;
  lookups: number;
  seed: number;
  /** Share of nodes taken offline after the network formed (they stay in others' tables until found dead). */
  churn: number;
  /** Share of nodes that answer every query with adversarial nodes only (after the network formed). */
  adversarial: number;
  /**
   * What the adversarial nodes do: `lie` (default: answer with each other, store nothing) or `mixed` (a third
   * each drop every query, answer with each other, or answer with made-up ids close to the key; none stores).
   */
  mix?: "lie" | "mixed";
  /** Disjoint paths for lookups and record gets. */
  paths: number;
  /** Records put, each got from `gets` other nodes. */
  records: number;
  gets: number;
}

/** The deterministic part of a DHT simulation's output. */
export interface DhtSimulationResult {
  nodes: number;
  churn: number;
  adversarial: number;
  mix: "lie" | "mixed";
  paths: number;
  lookups: number;
  /** Lookups of a live honest node's id that reached it (it answered). */
  success: number;
  hops: { mean: number; p99: number; log2_n: number };
  latency_ms: { p50: number; p90: number; p99: number };
  queries_per_lookup: number;
  /** Records got back (the highest sequence number, verified) of those asked for. */
  record_gets: { asked: number; found: number };
  table_size: { mean: number; min: number };
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Steps virtual time, letting promise continuations (a put's second stage) run between steps. */
async function runFor(clock: VirtualClock, ms: number, until?: () => boolean): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end && !(until?.() ?? false)) {
    clock.runUntil(Math.min(end, clock.now() + 20));
    for (let i = 0; i < 3; i++) await Promise.resolve();
  }
}

/** Runs one DHT simulation. */
export async function runDhtSimulation(options: DhtSimulationOptions): Promise<DhtSimulationResult> {
  const clock = new VirtualClock(1_700_000_000_000);
  const random = seededRandom(options.seed);
  const network = new SimDhtNetwork(clock, seededRandom(options.seed + 1));
  const config = { paths: options.paths };
  const nodes: SimDhtNode[] = [];
  for (let i = 0; i < options.nodes; i++) nodes.push(network.add(config));
  // Joining: each node knows the bootstrap node (and it them, from their links) and looks up its own id,
  // 10 joins per virtual 100 ms.
  const joins: Promise<unknown>[] = [];
  for (let i = 1; i < nodes.length; i++) {
    nodes[i].dht.noteAlive(nodes[0].nodeId, nodes[0].address);
    nodes[0].dht.noteAlive(nodes[i].nodeId, nodes[i].address);
    joins.push(nodes[i].dht.lookup(nodes[i].id));
    if (i % 10 === 0) await runFor(clock, 100);
  }
  let joined = 0;
  for (const join of joins) void join.then(() => joined++);
  await runFor(clock, 60_000, () => joined === joins.length);
  // A refresh: every node looks up a random id, as its periodic bucket refresh would.
  const refreshes = nodes.map((n) => n.dht.lookup(Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256))));
  let refreshed = 0;
  for (const r of refreshes) void r.then(() => refreshed++);
  await runFor(clock, 60_000, () => refreshed === refreshes.length);

  for (const node of nodes.slice(1)) {
    if (random() < options.churn) node.online = false;
    else if (random() < options.adversarial) {
      node.adversary = options.mix === "mixed" ? (["drop", "lie", "fake"] as const)[Math.floor(random() * 3)] : "lie";
    }
  }
  const honest = nodes.filter((n) => n.online && n.adversary === undefined);
  const pick = () => honest[Math.floor(random() * honest.length)];

  // Records: put by honest owners before the lookups.
  const puts: { key: Uint8Array; seq: number }[] = [];
  for (let r = 0; r < options.records; r++) {
    const owner = Identity.fromSecretKey(Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)));
    const record = signRecord(owner, `record-${r}`, new TextEncoder().encode(`value ${r}`), 1, clock.now(), 3_600_000);
    void pick().dht.put(record);
    puts.push({ key: recordKey(owner.publicKey, record.name), seq: 1 });
  }
  await runFor(clock, 20_000);

  const results: { ok: boolean; hops: number; ms: number; queries: number }[] = [];
  const pending: Promise<void>[] = [];
  for (let l = 0; l < options.lookups; l++) {
    const from = pick();
    let to = pick();
    while (to === from && honest.length > 1) to = pick();
    // As findPeer: the lookup ends once the target itself has answered (its address is then proven).
    const stopWhen = (contact: { nodeId: string }) => contact.nodeId === to.nodeId;
    pending.push(
      from.dht.lookup(to.id, { paths: options.paths, stopWhen }).then((outcome) => {
        const hit = outcome.closest.find((c) => c.nodeId === to.nodeId);
        results.push({ ok: hit !== undefined, hops: hit?.hops ?? 0, ms: outcome.elapsedMs, queries: outcome.queries });
      }),
    );
    await runFor(clock, 50);
  }
  const gets: Promise<boolean>[] = [];
  for (const put of puts) {
    for (let g = 0; g < options.gets; g++) gets.push(pick().dht.get(put.key).then((rec) => rec?.seq === put.seq));
  }
  let settled = 0;
  const all = [...pending, ...gets];
  for (const p of all) void p.then(() => settled++);
  await runFor(clock, 120_000, () => settled === all.length);
  const found = (await Promise.all(gets)).filter(Boolean).length;

  const ok = results.filter((r) => r.ok);
  const sizes = nodes.map((n) => n.dht.table.size);
  return {
    nodes: options.nodes,
    churn: options.churn,
    adversarial: options.adversarial,
    mix: options.mix ?? "lie",
    paths: options.paths,
    lookups: results.length,
    success: round(ok.length / Math.max(1, results.length)),
    hops: {
      mean: round(ok.reduce((n, r) => n + r.hops, 0) / Math.max(1, ok.length), 2),
      p99: quantile(ok.map((r) => r.hops), 0.99),
      log2_n: round(Math.log2(options.nodes), 2),
    },
    latency_ms: {
      p50: Math.round(quantile(ok.map((r) => r.ms), 0.5)),
      p90: Math.round(quantile(ok.map((r) => r.ms), 0.9)),
      p99: Math.round(quantile(ok.map((r) => r.ms), 0.99)),
    },
    queries_per_lookup: round(results.reduce((n, r) => n + r.queries, 0) / Math.max(1, results.length), 1),
    record_gets: { asked: gets.length, found },
    table_size: { mean: round(sizes.reduce((a, b) => a + b, 0) / sizes.length, 1), min: Math.min(...sizes) },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      nodes: { type: "string", default: "1000" },
      lookups: { type: "string", default: "300" },
      seed: { type: "string", default: "1" },
      churn: { type: "string", default: "0" },
      adversarial: { type: "string", default: "0" },
      mix: { type: "string", default: "lie" },
      paths: { type: "string", default: "1" },
      records: { type: "string", default: "20" },
      gets: { type: "string", default: "5" },
    },
  });
  if (values.mix !== "lie" && values.mix !== "mixed") {
    console.error(`dht-sim: --mix must be lie or mixed, got ${values.mix}`);
    Deno.exit(2);
  }
  const started = performance.now();
  const result = await runDhtSimulation({
    nodes: Number(values.nodes),
    lookups: Number(values.lookups),
    seed: Number(values.seed),
    churn: Number(values.churn),
    adversarial: Number(values.adversarial),
    mix: values.mix === "mixed" ? "mixed" : "lie",
    paths: Number(values.paths),
    records: Number(values.records),
    gets: Number(values.gets),
  });
  const cost = {
    wall_s: round((performance.now() - started) / 1000, 1),
    rss_mb: Math.round(Deno.memoryUsage().rss / 1024 / 1024),
  };
  console.log(JSON.stringify({ result, cost }));
}
