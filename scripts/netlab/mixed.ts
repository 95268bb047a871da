/**
 * A mixed network on the lab (issue 23): `hosts` hosts, half of them behind NATs of mixed kinds (port-preserving,
 * symmetric, firewall, in turn), the rest public, the first few public ones relays (`--relay-service`). Each runs
 * a kith process (`main.ts start` with the permissions of `deno task kith`), driven through its control API with
 * curl inside its host. The run checks, each within the time left of `limitMs`:
 * - every node's reachability verdict: public for public hosts, private behind a NAT or firewall;
 * - every private node reserves at relays and advertises a relayed address (the verdict drives it: no flag);
 * - every node connected, and one message published by each node (NATed and public) delivered to every other.
 * Run from the CLI as `deno task netlab -- mixed --hosts 20`, and by tests/netlab_mixed_test.ts with fewer hosts.
 * Everything (processes, namespaces) is removed at the end, on failure too. Traffic stays inside the lab.
 *
 * @module
 */
import { type HostSpec, type NatKind, NetLab } from "./lab.ts";

/** What to build. */
export interface MixedSpec {
  /** Hosts in all (4..40). */
  hosts: number;
  /** Public hosts that serve as relays (1..publics; default min(3, publics)). */
  relays?: number;
  /** The whole run's bound, ms (default 300 s). */
  limitMs?: number;
  /** Ends the run early (Ctrl-C): the checks stop and everything is removed. */
  signal?: AbortSignal;
  /** Called with each phase's one-line progress (default: nothing). */
  progress?: (line: string) => void;
}

/** One node's end state. */
export interface MixedNode {
  /** Host name. */
  name: string;
  /** Its router's kind. */
  nat: NatKind;
  /** Whether it serves as a relay. */
  relay: boolean;
  /** Its verdict. */
  reachability: string;
  /** The verdict it should have. */
  expected: string;
  /** What it advertises at the end. */
  advertised: string;
  /** Active peers at the end. */
  peers: number;
  /** Reservations it holds at relays at the end. */
  reservations: number;
  /** Its links by kind (direct, relayed, hole-punched). */
  linkKinds: Record<string, number>;
  /** Messages of others delivered to it. */
  delivered: number;
}

/** The figures of a run. */
export interface MixedRun {
  /** Each node. */
  nodes: MixedNode[];
  /** Nodes whose verdict matched. */
  classifiedCorrectly: number;
  /** Private nodes advertising a relayed address. */
  relayedAdvertised: number;
  /** Private nodes in all. */
  privateNodes: number;
  /** Nodes with at least one active peer at the end. */
  connectedNodes: number;
  /** Deliveries seen over deliveries expected (each message at every node but its publisher). */
  deliveryRatio: number;
  /** Time from start to every verdict, ms. */
  verdictMs: number;
  /** Time from the first publish to the last delivery, ms (-1 when not all arrived). */
  deliveryMs: number;
  /** The whole run, ms. */
  totalMs: number;
  /** Why the run stopped short, or "". */
  error: string;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const KINDS: NatKind[] = ["port-preserving", "symmetric", "firewall"];
const PORT = 7400;
const API = "127.0.0.1:7401";

/** The hosts of a mixed lab of `hosts`: `r1..` relays, `p1..` other public hosts, `n1..` behind NATs. */
export function mixedHosts(hosts: number, relays: number): HostSpec[] {
  const nated = Math.floor(hosts / 2);
  const publics = hosts - nated;
  const specs: HostSpec[] = [];
  for (let i = 1; i <= relays; i++) specs.push({ name: `r${i}` });
  for (let i = 1; i <= publics - relays; i++) specs.push({ name: `p${i}` });
  for (let i = 0; i < nated; i++) specs.push({ name: `n${i + 1}`, nat: KINDS[i % KINDS.length] });
  return specs;
}

/** Builds the lab, runs the checks, removes everything; throws only when the lab cannot be built. */
export async function runMixedLab(spec: MixedSpec): Promise<MixedRun> {
  if (!Number.isInteger(spec.hosts) || spec.hosts < 4 || spec.hosts > 40) throw new Error("netlab: hosts must be 4-40");
  const publics = spec.hosts - Math.floor(spec.hosts / 2);
  const relays = spec.relays ?? Math.min(3, publics);
  if (!Number.isInteger(relays) || relays < 1 || relays > publics) {
    throw new Error(`netlab: relays must be 1-${publics}`);
  }
  const limitMs = spec.limitMs ?? 300_000;
  const progress = spec.progress ?? (() => {});
  const specs = mixedHosts(spec.hosts, relays);
  const deno = Deno.execPath();
  // Under the lab's own directory, the one place `deno task netlab` may write.
  await Deno.mkdir("/tmp/kithlab", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "/tmp/kithlab", prefix: "mixed-" });
  await Deno.writeTextFile(`${dir}/lab.json`, JSON.stringify({ dialBackAskerIntervalMs: 10_000 }));
  const started = Date.now();
  const deadline = started + limitMs;
  const lab = await NetLab.create(specs, { tag: "mx" });
  const drains: Promise<void>[] = [];
  const run: MixedRun = {
    nodes: [],
    classifiedCorrectly: 0,
    relayedAdvertised: 0,
    privateNodes: 0,
    connectedNodes: 0,
    deliveryRatio: 0,
    verdictMs: -1,
    deliveryMs: -1,
    totalMs: 0,
    error: "",
  };
  try {
    progress(`built ${specs.length} hosts in ${Date.now() - started} ms`);
    const relayAddresses = specs.slice(0, relays).map((s) => `${lab.host(s.name).address}:${PORT}`);
    for (const [i, host] of specs.entries()) {
      const isRelay = i < relays;
      const child = lab.spawn(host.name, deno, [
        "run",
        // The permissions `deno task kith` ships with.
        "--allow-read",
        "--allow-write",
        "--allow-env=KITH_DATA_DIR",
        "--allow-net",
        MAIN,
        "start",
        "--data-dir",
        `${dir}/${host.name}`,
        "--listen",
        `${lab.host(host.name).address}:${PORT}`,
        "--api",
        API,
        "--dial-allow",
        "198.18.0.0/16",
        "--log-level",
        "warn",
        // As tests/netlab_reach_test.ts: the machine is loaded while 20 processes start.
        "--reachability-timeout-ms",
        "12000",
        "--reachability-retry-ms",
        "2000",
        "--config",
        `${dir}/lab.json`,
        ...(isRelay ? ["--relay-service"] : []),
        ...(i === 0 ? [] : relayAddresses.filter((_, j) => j !== i).flatMap((a) => ["--bootstrap", a])),
      ], { stdout: "null" });
      const file = Deno.openSync(`${dir}/${host.name}.log`, { create: true, write: true, truncate: true });
      drains.push(child.stderr.pipeTo(file.writable).catch(() => {}));
      // The first relay is everyone's way in: the others start once it answers.
      if (i === 0) {
        await until(deadline, spec.signal, async () => (await api(lab, dir, host.name, "/v1/status")) !== undefined);
      }
    }
    progress(`started ${specs.length} kith processes`);
    const expected = (nat: NatKind | undefined) => (nat ?? "none") === "none" ? "public" : "private";
    const status = new Map<string, Status>();
    const poll = async () => {
      await Promise.all(specs.map(async (s) => {
        const st = await api(lab, dir, s.name, "/v1/status") as Status | undefined;
        if (st) status.set(s.name, st);
      }));
    };
    const verdict = (name: string) => status.get(name)?.stats?.nat?.reachability ?? "unknown";
    const ok = await until(deadline, spec.signal, async () => {
      await poll();
      return specs.every((s) => verdict(s.name) !== "unknown");
    });
    if (!ok) run.error = "not every node reached a verdict in time";
    else run.verdictMs = Date.now() - started;
    progress(`verdicts: ${specs.map((s) => `${s.name}=${verdict(s.name)}`).join(" ")}`);
    // Every private node: reservations at relays and a relayed address (waits for those whose verdict is right).
    const privates = specs.filter((s) => expected(s.nat) === "private");
    const relayed = (name: string) => (status.get(name)?.stats?.nat?.advertisedAddress ?? "").includes("/relay/");
    if (!run.error) {
      const all = await until(deadline, spec.signal, async () => {
        await poll();
        return privates.every((s) => verdict(s.name) !== "private" || relayed(s.name));
      });
      if (!all) run.error = "not every private node advertised a relayed address in time";
    }
    // One message from each node; each must reach every other node.
    const base = new Map(specs.map((s) => [s.name, status.get(s.name)?.stats?.deliveredToApplication ?? 0]));
    const publishedAt = Date.now();
    const published = new Set<string>();
    if (!run.error) {
      await Promise.all(specs.map(async (s) => {
        const answer = await api(lab, dir, s.name, "/v1/publish", { data: `from ${s.name}` });
        if (answer?.id) published.add(s.name);
      }));
      if (published.size < specs.length) run.error = `${specs.length - published.size} publishes refused`;
    }
    const want = (name: string) => published.size - (published.has(name) ? 1 : 0);
    const got = (name: string) =>
      Math.min(want(name), (status.get(name)?.stats?.deliveredToApplication ?? 0) - (base.get(name) ?? 0));
    if (published.size > 0) {
      const all = await until(deadline, spec.signal, async () => {
        await poll();
        return specs.every((s) => got(s.name) >= want(s.name));
      });
      if (all) run.deliveryMs = Date.now() - publishedAt;
      else run.error ||= "not every message reached every node in time";
    }
    const peers = await Promise.all(specs.map((s) => api(lab, dir, s.name, "/v1/peers")));
    let wanted = 0, seen = 0;
    for (const [i, s] of specs.entries()) {
      const st = status.get(s.name);
      const list = ((peers[i]?.peers ?? peers[i] ?? []) as { state?: string; linkKind?: string }[])
        .filter((p) => p.state === undefined || p.state === "active");
      const linkKinds: Record<string, number> = {};
      for (const p of list) linkKinds[p.linkKind ?? "?"] = (linkKinds[p.linkKind ?? "?"] ?? 0) + 1;
      wanted += want(s.name);
      seen += Math.max(0, got(s.name));
      run.nodes.push({
        name: s.name,
        nat: s.nat ?? "none",
        relay: s.name.startsWith("r"),
        reachability: verdict(s.name),
        expected: expected(s.nat),
        advertised: st?.stats?.nat?.advertisedAddress ?? "",
        peers: st?.peers?.active ?? 0,
        reservations: st?.stats?.relay?.client?.reservations ?? 0,
        linkKinds,
        delivered: Math.max(0, got(s.name)),
      });
    }
    run.classifiedCorrectly = run.nodes.filter((n) => n.reachability === n.expected).length;
    run.privateNodes = privates.length;
    run.connectedNodes = run.nodes.filter((n) => n.peers > 0).length;
    run.relayedAdvertised = run.nodes.filter((n) =>
      n.expected === "private" && n.advertised.includes("/relay/")
    ).length;
    run.deliveryRatio = wanted === 0 ? 0 : seen / wanted;
  } catch (error) {
    run.error = (error as Error).message;
  } finally {
    if (spec.signal?.aborted) run.error = `interrupted; ${run.error}`;
    await lab.close();
    await Promise.all(drains);
    run.totalMs = Date.now() - started;
    if (run.error) {
      const tails = specs.map((s) => {
        try {
          return `${s.name}: ${Deno.readTextFileSync(`${dir}/${s.name}.log`).trim().split("\n").slice(-2).join(" | ")}`;
        } catch {
          return "";
        }
      }).filter((t) => !t.endsWith(": "));
      if (tails.length) run.error += `; logs: ${tails.join("; ").slice(0, 2000)}`;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return run;
}

interface Status {
  peers?: { active?: number };
  stats?: {
    deliveredToApplication?: number;
    nat?: { reachability?: string; advertisedAddress?: string };
    relay?: { client?: { reservations?: number } };
  };
}

/** Polls `check` every 500 ms until it holds (true), or `deadline` passes or `signal` aborts (false). */
async function until(
  deadline: number,
  signal: AbortSignal | undefined,
  check: () => Promise<boolean>,
): Promise<boolean> {
  while (!(await check())) {
    if (Date.now() > deadline || signal?.aborted) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
  return true;
}

/**
 * A control-API call to the node on `host` (curl inside its namespace, with the node's token), bounded to
 * 5 s: the parsed JSON body, or undefined when the node does not answer or refuses.
 */
// deno-lint-ignore no-explicit-any
async function api(lab: NetLab, dir: string, host: string, path: string, body?: unknown): Promise<any> {
  let token: string;
  try {
    token = (await Deno.readTextFile(`${dir}/${host}/api.token`)).trim();
  } catch {
    return undefined;
  }
  const args = ["-sf", "--max-time", "5", "-H", `authorization: Bearer ${token}`];
  if (body !== undefined) args.push("-H", "content-type: application/json", "--data", JSON.stringify(body));
  try {
    return JSON.parse(await lab.exec(host, "curl", [...args, `http://${API}${path}`], 8_000));
  } catch {
    return undefined;
  }
}
