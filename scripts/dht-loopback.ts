/**
 * The DHT on loopback, as a user runs it (issue 24's loopback proof): N kith processes (`main.ts start`, with
 * the permission flags `kith` asks for) on 127.0.0.x, each bootstrapped to the first, driven only through the
 * CLI (`main.ts dht ...`) and the control API. It checks, and prints as JSON:
 *
 * - a record put at one node is got at every other;
 * - a topic's provider (`provide topic:NAME` at a few nodes) is found from another;
 * - a node stopped and restarted from its data directory, without bootstrap or outbound peers, has its
 *   routing table back from SQLite and answers a get through it (transient links only).
 *
 * Bounded: every wait has a deadline, the whole run `--timeout` seconds; every process is stopped at the end
 * (SIGTERM, then SIGKILL after 5 s), the data directories removed.
 *
 *   deno task dht:loopback [-- --nodes 20 --timeout 240]
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: { nodes: { type: "string", default: "20" }, timeout: { type: "string", default: "240" } },
});
const NODES = Number(values.nodes);
const DEADLINE = Date.now() + Number(values.timeout) * 1000;
if (!(Number.isInteger(NODES) && NODES >= 3 && NODES <= 200)) throw new RangeError("--nodes must be 3..200");

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const root = await Deno.makeTempDir({ prefix: "kith-dht-loopback-" });

/** Every node on its own 127.0.0.x (one /24: the bounds per subnet are raised so that all may link). */
const CONFIG = {
  maxPeersPerSubnet: 64,
  dhtInboundTransientPerSubnet: 64,
  maxConnectionsPerIp: 64,
  minPeers: 3,
  verifyThreads: 0,
};

interface Proc {
  index: number;
  dir: string;
  host: string;
  api: string;
  child: Deno.ChildProcess;
}

const hostOf = (i: number) => `127.0.0.${10 + i}`;

function remaining(): number {
  const left = DEADLINE - Date.now();
  if (left <= 0) throw new Error("the run's --timeout passed");
  return left;
}

async function start(index: number, extra: Record<string, unknown> = {}, bootstrap = index > 0): Promise<Proc> {
  const dir = `${root}/n${index}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...CONFIG, ...extra }));
  const host = hostOf(index);
  const args = [
    "run",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    "--allow-env=KITH_DATA_DIR",
    "--allow-net",
    MAIN,
    "start",
    "--data-dir",
    dir,
    "--listen",
    `${host}:7400`,
    "--api",
    `${host}:7401`,
    "--config",
    `${dir}/config.json`,
    "--log-level",
    "error",
    ...(bootstrap ? ["--bootstrap", `${hostOf(0)}:7400`] : []),
  ];
  const child = new Deno.Command(Deno.execPath(), { args, stdin: "null", stdout: "null", stderr: "inherit" }).spawn();
  return { index, dir, host, api: `${host}:7401`, child };
}

/** The node's control API, once it answers (the token is written at start). */
async function api(proc: Proc, path: string): Promise<Response> {
  const token = (await Deno.readTextFile(`${proc.dir}/api.token`)).trim();
  return await fetch(`http://${proc.api}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const end = Math.min(Date.now() + limitMs, DEADLINE);
  while (Date.now() < end) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // Not up yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `kith dht ARGS --json` through node `proc`'s control API; the parsed answer, or undefined on exit 1. */
async function kithDht(
  proc: Proc,
  ...args: string[]
): Promise<{ body: Record<string, unknown>; ms: number } | undefined> {
  remaining();
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=${proc.dir}`,
      "--allow-env=KITH_DATA_DIR",
      `--allow-net=${proc.api}`,
      MAIN,
      "dht",
      ...args,
      "--data-dir",
      proc.dir,
      "--api",
      proc.api,
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(Math.min(60_000, remaining())),
  }).output();
  const ms = performance.now() - started;
  if (output.code !== 0) return undefined;
  return { body: JSON.parse(new TextDecoder().decode(output.stdout)), ms };
}

async function stop(proc: Proc): Promise<void> {
  try {
    proc.child.kill("SIGTERM");
  } catch {
    return; // already gone
  }
  const killer = setTimeout(() => {
    try {
      proc.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 5_000);
  await proc.child.status;
  clearTimeout(killer);
}

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const procs: Proc[] = [];
const result: Record<string, unknown> = { nodes: NODES, date: new Date().toISOString() };
try {
  procs.push(await start(0));
  await until("node 0's API", async () => (await api(procs[0], "/v1/status")).ok || undefined);
  for (let i = 1; i < NODES; i++) procs.push(await start(i));
  await Promise.all(
    procs.map((p) => until(`node ${p.index}'s API`, async () => (await api(p, "/v1/status")).ok || undefined, 60_000)),
  );
  // Each node has joined the DHT (its own lookup done) once its table holds a few contacts.
  await Promise.all(procs.map((p) =>
    until(`node ${p.index}'s table`, async () => {
      const dht = await (await api(p, "/v1/dht")).json();
      return dht.stats.tableSize >= 3 || undefined;
    }, 60_000)
  ));

  // 1. A record put at one node, got at every other.
  const writer = procs[3 % NODES];
  const put = await kithDht(writer, "put", "loopback-greeting", `hello from node ${writer.index}`);
  if (!put) throw new Error("put failed");
  const key = put.body.key as string;
  const gets: number[] = [];
  let got = 0;
  for (const reader of procs) {
    if (reader === writer) continue;
    const answer = await kithDht(reader, "get", key);
    if (answer?.body.value === `hello from node ${writer.index}`) got++;
    if (answer) gets.push(answer.ms);
  }
  result.put = { key, storedAt: put.body.stored, ms: Math.round(put.ms) };
  result.get = { got, of: NODES - 1, p50Ms: Math.round(quantile(gets, 0.5)), p90Ms: Math.round(quantile(gets, 0.9)) };

  // 2. A topic's providers, found from a node that is not one.
  const providers = [...new Set([5, 11, 17].map((i) => procs[i % NODES]))].filter((p) => p.index !== 8 % NODES);
  for (const p of providers) await kithDht(p, "provide", "topic:loopback-chat");
  const found = await kithDht(procs[8 % NODES], "providers", "topic:loopback-chat");
  const foundIds = new Set(((found?.body.providers ?? []) as { nodeId: string }[]).map((p) => p.nodeId));
  const providerIds = await Promise.all(providers.map(async (p) => (await (await api(p, "/v1/status")).json()).nodeId));
  result.providers = {
    provided: new Set(providerIds).size,
    found: providerIds.filter((id) => foundIds.has(id)).length,
    ms: Math.round(found?.ms ?? -1),
  };

  // 3. A node restarted from its data directory, with no bootstrap and no outbound peer: its table is the stored one.
  const victim = procs[7 % NODES];
  const before = (await (await api(victim, "/v1/dht")).json()).table.length;
  await stop(victim);
  const restarted = await start(victim.index, { minPeers: 0, outboundSlots: 0, anchors: 0 }, false);
  procs[victim.index] = restarted;
  await until("the restarted node's API", async () => (await api(restarted, "/v1/status")).ok || undefined);
  const after = (await (await api(restarted, "/v1/dht")).json()).table.length;
  const again = await kithDht(restarted, "get", key);
  const status = await (await api(restarted, "/v1/dht")).json();
  result.restart = {
    tableBefore: before,
    tableAfterRestart: after,
    got: again?.body.value === `hello from node ${writer.index}`,
    transientDials: status.stats.transient.dials,
    ms: Math.round(again?.ms ?? -1),
  };

  // Lookup figures from every node's counters.
  const stats = await Promise.all(procs.map(async (p) => (await (await api(p, "/v1/dht")).json()).stats));
  const lookups = stats.reduce((s, x) => s + x.lookupsAnswered, 0);
  result.lookups = {
    answered: lookups,
    meanHops: Number((stats.reduce((s, x) => s + x.hops, 0) / Math.max(1, lookups)).toFixed(2)),
    meanTable: Number((stats.reduce((s, x) => s + x.tableSize, 0) / stats.length).toFixed(1)),
  };
  result.ok = got === NODES - 1 && (result.providers as { found: number }).found >= 1 &&
    after > 0 && (result.restart as { got: boolean }).got;
} catch (error) {
  result.ok = false;
  result.error = error instanceof Error ? error.message : String(error);
} finally {
  await Promise.all(procs.map(stop));
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
console.log(JSON.stringify(result, null, 2));
if (!result.ok) Deno.exit(1);
