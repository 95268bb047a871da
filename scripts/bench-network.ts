/**
 * Network benchmark: N real nodes on loopback (TCP, handshakes, encryption,
 * signatures, gossip), a seeded topology, a paced stream of broadcasts, and
 * what it costs: delivery ratio, latency, coverage time, copies and bytes
 * per delivery, CPU per delivery, memory.
 *
 *   deno task bench:network -- --nodes 20 --degree 4 --messages 1000 --rate 100 --size 256 [--seed 1]
 *   deno task bench:network -- --nodes 20 --max-throughput --duration 10
 *   deno task bench:network -- --nodes 20 --procs            (one OS process per node)
 *   deno task bench:network -- ... --window 128 --fanout 2   (messages in flight with --max-throughput; eager links)
 *   deno task bench:network -- ... --no-origin-prune          (the plain eager mesh, without per-origin trees)
 *   deno task bench:network -- --scaling 10,20,50,100        (writes docs/scaling.svg)
 *   deno task bench:network -- --procs --topics 10 --topics-per-node 2 [--single-topic]
 *       (topics: each node in K of N topics, each node also linked to the other members of its topics, each
 *        message to a uniformly drawn topic from one of its members; --single-topic sends the same messages
 *        from the same publishers over the same links in one topic every node is in, today's traffic shape;
 *        reports each node's CPU per second with --procs)
 *   deno task bench:network -- ... --warmup 500              (messages published first and not measured)
 *   deno task bench:network -- --procs ... --profile DIR     (each child writes a V8 CPU profile to DIR, and
 *       the measured window beside it; `deno run scripts/bench/cpuprofile.ts DIR` sums self time by function)
 *
 * Prints one JSON line per run. Loopback only (127.20.x.1 per node); every
 * loop is bounded and a hard timeout prints what it has and exits 1.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { KithNode } from "../lib/node.ts";
import { seededRandom } from "../lib/random.ts";
import { KithError } from "../lib/errors.ts";
import { DisconnectReason } from "../lib/protocol/mod.ts";

const args = parseArgs({
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    nodes: { type: "string", default: "20" },
    degree: { type: "string", default: "4" },
    messages: { type: "string", default: "1000" },
    rate: { type: "string", default: "100" },
    size: { type: "string", default: "256" },
    seed: { type: "string", default: "1" },
    procs: { type: "boolean", default: false },
    "max-throughput": { type: "boolean", default: false },
    duration: { type: "string", default: "10" },
    window: { type: "string", default: "64" },
    fanout: { type: "string" },
    "no-origin-prune": { type: "boolean", default: false },
    "verify-threads": { type: "string" },
    timeout: { type: "string", default: "300" },
    scaling: { type: "string" },
    svg: { type: "string", default: "docs/scaling.svg" },
    child: { type: "string" },
    topics: { type: "string", default: "0" },
    "topics-per-node": { type: "string", default: "2" },
    "single-topic": { type: "boolean", default: false },
    "child-topics": { type: "string", default: "bench" },
    "report-ms": { type: "string", default: "5" },
    warmup: { type: "string", default: "0" },
    profile: { type: "string" },
  },
}).values;

const num = (name: keyof typeof args) => {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`bench-network: --${name} must be a non-negative number`);
    Deno.exit(2);
  }
  return value;
};

/** Wall-clock time in ms with sub-ms precision, comparable across processes on one machine. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function nodeConfig(index: number) {
  return {
    listenHost: `127.20.${index}.1`,
    listenPort: 0,
    // The benchmark owns the topology: no automatic dialing.
    minPeers: 0,
    outboundSlots: 0,
    maxPeers: 200,
    maxInbound: 256,
    maxConnectionsPerIp: 10_000,
    maxPeersPerIp: 1_000,
    maxPeersPerSubnet: 1_000,
    ...(args.fanout ? { gossipFanout: Number(args.fanout) } : {}),
    ...(args["no-origin-prune"] ? { gossipOriginPrune: false } : {}),
    ...(args["verify-threads"] !== undefined ? { verifyThreads: Number(args["verify-threads"]) } : {}),
  };
}

function payload(seq: number, size: number): Uint8Array {
  const data = new Uint8Array(Math.max(12, size));
  const view = new DataView(data.buffer);
  view.setFloat64(0, now());
  view.setUint32(8, seq);
  return data;
}

function readPayload(data: Uint8Array): { sentAt: number; seq: number } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { sentAt: view.getFloat64(0), seq: view.getUint32(8) };
}

/** One node, in this process or in a child process. */
interface NodeHandle {
  address: string;
  nodeId: string;
  connect(address: string): Promise<void>;
  /** The node ids of its active peers. */
  activePeers(): Promise<string[]>;
  /** Waits (at most `timeoutMs`) until each peer of `want[topic]` is among its peers in that topic; those missing. */
  settle(want: Record<string, string[]>, timeoutMs: number): Promise<Record<string, string[]>>;
  /** Closes its link to the peer `nodeId`, if it has one. */
  drop(nodeId: string): Promise<void>;
  publish(seq: number, size: number, topic: string): void;
  /** Deliveries so far: [seq, latency ms, delivered-at] triples (drained on read in procs mode). */
  drainDeliveries(): Promise<[number, number, number][]>;
  counters(): Promise<Counters>;
  stop(): Promise<void>;
}

class LocalNode implements NodeHandle {
  readonly node: KithNode;
  readonly deliveries: [number, number, number][] = [];
  /** Dials that ended with no peer (REFUSED_BY_LIMITS) and were made again. */
  connectRetries = 0;
  /** Called after each delivery (the child process schedules its report). */
  onDelivery: (() => void) | undefined;
  address = "";
  nodeId = "";
  readonly #topics: readonly string[];
  constructor(index: number, topics: readonly string[]) {
    this.node = new KithNode({ config: nodeConfig(index) });
    this.#topics = topics;
  }
  async start() {
    await this.node.start();
    this.address = this.node.address;
    this.nodeId = this.node.nodeId;
    for (const topic of this.#topics) {
      this.node.subscribe(topic, (message) => {
        const at = now();
        const { sentAt, seq } = readPayload(message.data);
        this.deliveries.push([seq, at - sentAt, at]);
        this.onDelivery?.();
      });
    }
  }
  /**
   * Dials `address` until it is an active peer. A dial that meets this node's own DHT query to the same node
   * (a transient link being dialed: the transport shares the one dial, and the DHT's transient links claim
   * it) ends as REFUSED_BY_LIMITS with no peer; the transient link then holds the node's one link, and a
   * new dial replaces it with a peer link. A handshake the other end closes (it kept another link to this
   * node, or ran out of time on the loaded machine) is dialed again too. Such retries are counted and
   * reported, not hidden.
   */
  async connect(address: string) {
    for (let attempt = 0;; attempt++) {
      try {
        await this.node.connect(address);
        return;
      } catch (error) {
        const collided = error instanceof KithError &&
          ["REFUSED_BY_LIMITS", "HANDSHAKE_FAILED", "HANDSHAKE_TIMEOUT", "CONNECT_FAILED"].includes(error.code);
        if (!collided || attempt >= CONNECT_RETRIES) throw error;
        this.connectRetries++;
        console.error(`bench-network: ${this.address} to ${address}: ${error.message}; dialing again`);
        await sleep(50);
      }
    }
  }
  activePeers() {
    return Promise.resolve(this.node.peers().filter((peer) => peer.state === "active").map((peer) => peer.nodeId));
  }
  async settle(want: Record<string, string[]>, timeoutMs: number) {
    const missing = () =>
      Object.fromEntries(
        Object.entries(want).map(([topic, ids]) => {
          const have = new Set(this.node.topicPeers(topic));
          return [topic, ids.filter((id) => !have.has(id))];
        }),
      );
    const until = now() + timeoutMs;
    while (Object.values(missing()).some((ids) => ids.length > 0) && now() < until) await sleep(20);
    return missing();
  }
  async drop(nodeId: string) {
    await this.node.components.peers.activePeer(nodeId)?.connection.close(DisconnectReason.SHUTDOWN, "bench relink");
  }
  publish(seq: number, size: number, topic: string) {
    this.node.broadcast(payload(seq, size), { topic });
  }
  drainDeliveries() {
    return Promise.resolve(this.deliveries.splice(0));
  }
  counters() {
    const stats = this.node.stats();
    return Promise.resolve({
      received: stats.gossip.delivered + stats.gossip.duplicates,
      bytesOut: stats.transport.bytesOut,
      recordsOut: stats.transport.recordsOut,
      cpuUs: 0,
      rssMb: 0,
      tree: {
        requested: stats.gossip.requested,
        prunes: stats.gossip.prunes,
        originPrunes: stats.gossip.originPrunes,
        grafts: stats.gossip.grafts,
        announced: stats.gossip.announced,
      },
      checksOffloaded: stats.signatureChecks.offloaded,
      checks: stats.signatureChecks.offloaded + stats.signatureChecks.inline,
      latenessMs: stats.gossip.latenessMs,
      connectRetries: this.connectRetries,
      catchupFetched: stats.catchup.fetched,
      causalWaited: stats.topicDelivery.waited,
    });
  }
  stop() {
    return this.node.stop();
  }
}

/** What a node has counted so far; the run reports the differences. */
interface Counters {
  received: number;
  bytesOut: number;
  /** Sealed records written: socket writes on established links. */
  recordsOut: number;
  cpuUs: number;
  rssMb: number;
  /** Lazy-push counters: the paths messages took. */
  tree: { requested: number; prunes: number; originPrunes: number; grafts: number; announced: number };
  /** Signature checks done by helper threads, and in all. */
  checksOffloaded: number;
  checks: number;
  /** The node's lateness estimate (GossipStats.latenessMs) when read. */
  latenessMs: number;
  /** Set-up dials made again after one ended with no peer (see LocalNode.connect). */
  connectRetries: number;
  /** Topic messages fetched by catch-up (they did not come by gossip), and those held for a predecessor. */
  catchupFetched: number;
  causalWaited: number;
}

/**
 * A node in its own process, driven by JSON lines on stdin/stdout. Publishes are one-way, and the child
 * reports its deliveries on its own within `--report-ms` (one line for all of them), so the harness never
 * wakes a busy child to ask: 20 children answering a drain request every few milliseconds cost more CPU
 * than their nodes did. The report's delay is 5 ms with --max-throughput (the window waits on it) and
 * 100 ms for a paced run, where a latency is measured in the child as the message is delivered and nothing
 * waits on the report: a quiet node then writes one line per few deliveries, not one per delivery (whose
 * cost, counted in the node's CPU, is the harness's, not the node's).
 */
class ChildNode implements NodeHandle {
  address = "";
  nodeId = "";
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #replies: ((reply: Record<string, unknown>) => void)[] = [];
  readonly #deliveries: [number, number, number][] = [];
  readonly #reader: Promise<void>;
  #writes: Promise<unknown> = Promise.resolve();
  #exited = false;

  constructor(index: number, topics: readonly string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.0/8",
        // A CPU profile of the child (V8's sampler, 1 ms), written when it exits, with its measured window.
        ...(args.profile ? ["--cpu-prof", `--cpu-prof-dir=${args.profile}`, `--allow-write=${args.profile}`] : []),
        new URL(import.meta.url).pathname,
        "--child",
        String(index),
        "--child-topics",
        topics.join(","),
        // The node settings the children need too.
        ...(args.fanout ? ["--fanout", args.fanout] : []),
        ...(args["no-origin-prune"] ? ["--no-origin-prune"] : []),
        ...(args["verify-threads"] !== undefined ? ["--verify-threads", args["verify-threads"]] : []),
        ...(args.profile ? ["--profile", args.profile] : []),
        "--report-ms",
        args["max-throughput"] ? "5" : "100",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = this.#read();
  }
  async #read() {
    for await (const line of lines(this.#child.stdout)) {
      const message = JSON.parse(line);
      if (message.deliveries) {
        const flat = message.deliveries as number[];
        for (let i = 0; i + 2 < flat.length; i += 3) this.#deliveries.push([flat[i], flat[i + 1], flat[i + 2]]);
      } else this.#replies.shift()?.(message);
    }
    this.#exited = true;
    for (const reply of this.#replies.splice(0)) reply({ error: "child exited" });
  }
  #send(request: Record<string, unknown>): Promise<unknown> {
    const bytes = new TextEncoder().encode(JSON.stringify(request) + "\n");
    this.#writes = this.#writes.then(() => this.#writer.write(bytes)).catch(() => {});
    return this.#writes;
  }
  /** Sends a request that has a reply; replies come in request order. */
  async #call(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#exited) throw new Error("child exited");
    const reply = new Promise<Record<string, unknown>>((resolve) => this.#replies.push(resolve));
    await this.#send(request);
    const result = await reply;
    if (result.error) throw new Error(String(result.error));
    return result;
  }
  async start() {
    const started = await this.#call({ op: "start" });
    [this.address, this.nodeId] = [started.address as string, started.nodeId as string];
  }
  async connect(address: string) {
    await this.#call({ op: "connect", address });
  }
  async activePeers() {
    return (await this.#call({ op: "peers" })).peers as string[];
  }
  async settle(want: Record<string, string[]>, timeoutMs: number) {
    return (await this.#call({ op: "settle", want, timeoutMs })).missing as Record<string, string[]>;
  }
  async drop(nodeId: string) {
    await this.#call({ op: "drop", nodeId });
  }
  publish(seq: number, size: number, topic: string) {
    void this.#send({ op: "publish", seq, size, topic });
  }
  drainDeliveries() {
    return Promise.resolve(this.#deliveries.splice(0));
  }
  async counters() {
    // Flushes the child's pending deliveries first (they come before the reply), so counts and deliveries agree.
    return (await this.#call({ op: "counters" })) as unknown as Counters;
  }
  async stop() {
    await this.#call({ op: "stop" }).catch(() => {});
    await this.#writer.close().catch(() => {});
    await this.#child.status;
    await this.#reader.catch(() => {});
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncIterable<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
}

/**
 * The lines of this process's stdin, read straight into one buffer: through a stream pipeline (a
 * TextDecoderStream and its reader's promises) each command line cost the child several times as much CPU
 * (BENCHMARKS.md, "Loopback CPU per node"), the harness's cost, yet counted in the node's CPU figure.
 */
async function* stdinLines(): AsyncIterable<string> {
  const buffer = new Uint8Array(64 * 1024);
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const read = await Deno.stdin.read(buffer);
    if (read === null) return;
    buffered += decoder.decode(buffer.subarray(0, read), { stream: true });
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
}

/** The child side of --procs: one node, commands on stdin, replies and delivery reports on stdout. */
async function runChild(index: number, topics: readonly string[]) {
  const local = new LocalNode(index, topics);
  const out = (value: unknown) => {
    const bytes = new TextEncoder().encode(JSON.stringify(value) + "\n");
    for (let offset = 0; offset < bytes.length;) offset += Deno.stdout.writeSync(bytes.subarray(offset));
  };
  let reportTimer: ReturnType<typeof setTimeout> | undefined;
  // When the harness read the counters (the measured window is between the last two reads).
  const counterReads: number[] = [];
  const report = () => {
    if (reportTimer !== undefined) clearTimeout(reportTimer);
    reportTimer = undefined;
    const deliveries = local.deliveries.splice(0);
    if (deliveries.length > 0) out({ deliveries: deliveries.flat() });
  };
  const reportMs = Number(args["report-ms"]);
  local.onDelivery = () => reportTimer ??= setTimeout(report, reportMs);
  try {
    for await (const line of stdinLines()) {
      const request = JSON.parse(line);
      switch (request.op) {
        case "start":
          await local.start();
          out({ address: local.address, nodeId: local.nodeId });
          break;
        case "connect":
          await local.connect(request.address);
          out({ ok: true });
          break;
        case "peers":
          out({ peers: await local.activePeers() });
          break;
        case "settle":
          out({ missing: await local.settle(request.want, request.timeoutMs) });
          break;
        case "drop":
          await local.drop(request.nodeId);
          out({ ok: true });
          break;
        case "publish":
          local.publish(request.seq, request.size, request.topic);
          break;
        case "counters": {
          counterReads.push(performance.now());
          report();
          const base = await local.counters();
          const cpu = process.cpuUsage();
          // The kernel's peak resident size of this process (getrusage, KiB): no timer samples it, so the
          // harness adds no wake-ups to the node's CPU (a 200 ms sampler was 3% of an idle child's busy time).
          out({ ...base, cpuUs: cpu.user + cpu.system, rssMb: process.resourceUsage().maxRSS / 1024 });
          break;
        }
        case "stop":
          report();
          await local.stop();
          if (args.profile) {
            // The profile ends as the process exits, just after this: the window is given back from then, ms.
            const end = performance.now();
            const [from, to] = counterReads.slice(-2).map((at) => end - at);
            await Deno.mkdir(args.profile, { recursive: true });
            await Deno.writeTextFile(
              `${args.profile}/window-${Deno.pid}-node${index}.json`,
              JSON.stringify({ node: index, topics, fromBeforeEndMs: from, toBeforeEndMs: to }) + "\n",
            );
          }
          out({ ok: true });
          return;
      }
    }
  } finally {
    if (reportTimer !== undefined) clearTimeout(reportTimer);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

interface RunOptions {
  nodes: number;
  degree: number;
  messages: number;
  rate: number;
  size: number;
  seed: number;
  procs: boolean;
  maxThroughput: boolean;
  durationS: number;
  window: number;
  /** Topics (0: every node in the one topic "bench"), topics per node, and whether to send all in one topic. */
  topics: number;
  topicsPerNode: number;
  singleTopic: boolean;
  /** Messages published (at the same rate) before anything is measured; they are not counted. */
  warmup: number;
}

/** How many times a set-up dial that ended with no peer is made again. */
const CONNECT_RETRIES = 3;

/** Sequence numbers of warm-up messages start here, so a late one is never taken for a measured one. */
const WARMUP_SEQ = 0x7000_0000;

/**
 * Node `i`'s topics: `t(i)`, `t(i + step)`, ... modulo `topics`, the step growing with each round of `topics`
 * nodes, so the topics have equal numbers of members when `nodes` is a multiple of `topics`.
 */
function topicsOf(i: number, topics: number, perNode: number): number[] {
  const mine: number[] = [];
  const step = 1 + Math.floor(i / topics);
  for (let j = 0; mine.length < Math.min(perNode, topics); j++) {
    const topic = (i + j * step) % topics;
    if (!mine.includes(topic)) mine.push(topic);
    else if (j > topics) mine.push([...Array(topics).keys()].find((t) => !mine.includes(t))!);
  }
  return mine;
}

async function run(options: RunOptions): Promise<Record<string, unknown>> {
  const random = seededRandom(options.seed);
  const handles: NodeHandle[] = [];
  let peakRss = 0;
  const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 100);
  try {
    const memberships = Array.from(
      { length: options.nodes },
      (_, i) => options.topics > 0 ? topicsOf(i, options.topics, options.topicsPerNode) : [],
    );
    const scoped = options.topics > 0 && !options.singleTopic;
    const topicsOfNode = (i: number) => scoped ? memberships[i].map((t) => `t${t}`) : ["bench"];
    for (let i = 0; i < options.nodes; i++) {
      const topics = topicsOfNode(i);
      const handle = options.procs ? new ChildNode(i, topics) : new LocalNode(i, topics);
      await handle.start();
      handles.push(handle);
    }
    // Topology: a ring, then each node dials degree-1 more random nodes.
    const linked = new Set<string>();
    const link = async (a: number, b: number) => {
      const key = a < b ? `${a}-${b}` : `${b}-${a}`;
      if (a === b || linked.has(key)) return false;
      linked.add(key);
      await handles[a].connect(handles[b].address);
      return true;
    };
    for (let i = 0; i < options.nodes; i++) await link(i, (i + 1) % options.nodes);
    for (let i = 0; i < options.nodes; i++) {
      let extra = 0;
      for (let tries = 0; extra < options.degree - 1 && tries < 100; tries++) {
        if (await link(i, Math.floor(random() * options.nodes))) extra++;
      }
    }
    // With topics, each node is also linked to the other members of its topics (kith has no topic discovery
    // yet); the single-topic run keeps the same links.
    const members = Array.from(
      { length: options.topics },
      (_, t) => memberships.flatMap((m, i) => m.includes(t) ? [i] : []),
    );
    for (let i = 0; i < options.nodes; i++) {
      for (const topic of memberships[i]) for (const peer of members[topic]) await link(i, peer);
    }
    // Each message's topic (uniform) and publisher (a member of it), the same in both modes.
    const plan = (count: number) =>
      Array.from({ length: count }, () => {
        if (options.topics === 0) {
          return { topic: "bench", origin: Math.floor(random() * options.nodes), expected: options.nodes - 1 };
        }
        const topic = Math.floor(random() * options.topics);
        const origin = members[topic][Math.floor(random() * members[topic].length)];
        return scoped
          ? { topic: `t${topic}`, origin, expected: members[topic].length - 1 }
          : { topic: "bench", origin, expected: options.nodes - 1 };
      });
    // Check each link at both ends, and that each end knows the other's topics, before anything is sent.
    // kith loses links and subscriptions when a set-up dial meets a DHT query's dial between the same two
    // nodes (the transport keeps one link per node; see LocalNode.connect): b's DHT can hold as a transient
    // link the one link a holds as a peer link, and a link that replaced another can carry no TOPIC_SUBSCRIPTIONS
    // (each end sent its set on the link that lost). A link missing at one end is dialed again by that end (its
    // dial replaces the transient link); a pair missing a peer's topics is closed and dialed again. Counted and
    // reported, so a run shows how often kith needed it.
    const repairs = { linksRedialed: 0, linksReopened: 0 };
    const linkedTo = (i: number, j: number) => linked.has(i < j ? `${i}-${j}` : `${j}-${i}`);
    for (let round = 0; round < 4; round++) {
      const active = (await Promise.all(handles.map((h) => h.activePeers()))).map((ids) => new Set(ids));
      const lacking: [number, number][] = [];
      for (const key of linked) {
        const [a, b] = key.split("-").map(Number);
        if (!active[a].has(handles[b].nodeId)) lacking.push([a, b]);
        else if (!active[b].has(handles[a].nodeId)) lacking.push([b, a]);
      }
      for (const [a, b] of lacking) {
        repairs.linksRedialed++;
        console.error(`bench-network: ${handles[a].address} has no peer link to ${handles[b].address}; dialing again`);
        await handles[a].connect(handles[b].address);
      }
      if (lacking.length > 0) {
        await sleep(200);
        continue;
      }
      const missing = await Promise.all(handles.map((handle, i) => {
        const want: Record<string, string[]> = {};
        for (const topic of topicsOfNode(i)) {
          want[topic] = handles.flatMap((h, j) => linkedTo(i, j) && topicsOfNode(j).includes(topic) ? [h.nodeId] : []);
        }
        return handle.settle(want, 3_000);
      }));
      const reopen = new Set<string>();
      missing.forEach((byTopic, i) => {
        for (const ids of Object.values(byTopic)) {
          for (const id of ids) {
            const j = handles.findIndex((h) => h.nodeId === id);
            reopen.add(i < j ? `${i}-${j}` : `${j}-${i}`);
          }
        }
      });
      if (reopen.size === 0) break;
      for (const key of reopen) {
        const [a, b] = key.split("-").map(Number);
        repairs.linksReopened++;
        console.error(
          `bench-network: ${handles[a].address} and ${handles[b].address} lack each other's topics; reopening the link`,
        );
        await handles[a].drop(handles[b].nodeId);
        await sleep(100);
        await handles[a].connect(handles[b].address);
      }
      await sleep(200);
    }
    if (options.warmup > 0) {
      // Messages before the measurement, so fresh processes have compiled the message path and grown their
      // heaps before their CPU is counted (in a 10 s run that start-up cost is a large share of a quiet node's).
      const warm = plan(options.warmup);
      const warmStart = now();
      for (let k = 0; k < warm.length; k++) {
        const due = warmStart + (k * 1000) / options.rate;
        while (now() < due) await sleep(Math.max(0, Math.min(10, due - now())));
        handles[warm[k].origin].publish(WARMUP_SEQ + k, options.size, warm[k].topic);
      }
      await sleep(1_000);
      for (const handle of handles) await handle.drainDeliveries();
    }
    const before = await Promise.all(handles.map((h) => h.counters()));
    const cpuBefore = process.cpuUsage();
    const latencies: number[] = [];
    const perMessage = new Map<number, { sentAt: number; count: number; lastAt: number; expected: number }>();
    let expectedDeliveries = 0;
    let incomplete = 0; // published messages not yet delivered to all `expected` others
    const collect = async () => {
      for (const handle of handles) {
        for (const [seq, latency, at] of await handle.drainDeliveries()) {
          const entry = perMessage.get(seq);
          if (entry) {
            latencies.push(latency);
            if (++entry.count === entry.expected) incomplete--;
            entry.lastAt = Math.max(entry.lastAt, at);
          }
        }
      }
    };
    const started = now();
    let published = 0;
    if (options.maxThroughput) {
      const end = started + options.durationS * 1000;
      while (now() < end) {
        if (incomplete < options.window) {
          const [{ topic, origin, expected }] = plan(1);
          perMessage.set(published, { sentAt: now(), count: 0, lastAt: 0, expected });
          expectedDeliveries += expected;
          incomplete++;
          handles[origin].publish(published++, options.size, topic);
          // In one process the nodes run between batches of 8; child processes run on their own, so the
          // window is filled at once (a parent starved by 20 busy children wakes late from its sleep).
          if (options.procs || published % 8 !== 0) continue;
        }
        await sleep(options.procs ? 2 : 0);
        await collect();
      }
    } else {
      const messages = plan(options.messages);
      for (let seq = 0; seq < options.messages; seq++) {
        const due = started + (seq * 1000) / options.rate;
        while (now() < due) await sleep(Math.max(0, Math.min(10, due - now())));
        const { topic, origin, expected } = messages[seq];
        perMessage.set(seq, { sentAt: now(), count: 0, lastAt: 0, expected });
        expectedDeliveries += expected;
        incomplete++;
        handles[origin].publish(seq, options.size, topic);
        published++;
        if (seq % 16 === 0) await collect();
      }
    }
    const publishEnded = now();
    // Wait for the stragglers (repair included), at most 10 s after the last publish.
    const drainUntil = publishEnded + 10_000;
    for (;;) {
      await collect();
      if (incomplete === 0 || now() > drainUntil) break;
      await sleep(20);
    }
    const wallS = (now() - started) / 1000;
    if (Deno.env.get("KITH_BENCH_MEMORY")) {
      (globalThis as { gc?: () => void }).gc?.();
      const m = Deno.memoryUsage();
      console.error(
        JSON.stringify({
          rss: m.rss >> 20,
          heapUsed: m.heapUsed >> 20,
          heapTotal: m.heapTotal >> 20,
          external: m.external >> 20,
        }),
      );
    }
    const cpu = process.cpuUsage(cpuBefore);
    const after = await Promise.all(handles.map((h) => h.counters()));
    const deliveries = latencies.length;
    const received = after.reduce((n, c, i) => n + c.received - before[i].received, 0);
    const bytesOut = after.reduce((n, c, i) => n + c.bytesOut - before[i].bytesOut, 0);
    const recordsOut = after.reduce((n, c, i) => n + c.recordsOut - before[i].recordsOut, 0);
    const childCpuUs = after.reduce((n, c, i) => n + c.cpuUs - before[i].cpuUs, 0);
    const cpuUs = options.procs ? childCpuUs : cpu.user + cpu.system;
    latencies.sort((a, b) => a - b);
    const coverage = [...perMessage.values()].filter((m) => m.count >= m.expected).map((m) => m.lastAt - m.sentAt)
      .sort((a, b) => a - b);
    const fullyDelivered = coverage.length;
    const result: Record<string, unknown> = {
      nodes: options.nodes,
      degree: options.degree,
      messages: published,
      rate: options.maxThroughput ? "max" : options.rate,
      size: options.size,
      procs: options.procs,
      delivery_ratio: round(deliveries / expectedDeliveries, 4),
      latency_ms: {
        p50: round(percentile(latencies, 50)),
        p90: round(percentile(latencies, 90)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? NaN),
      },
      full_coverage_ms: { p50: round(percentile(coverage, 50)), p99: round(percentile(coverage, 99)) },
      publish_rate_achieved: round(published / ((publishEnded - started) / 1000)),
      receptions_per_delivery: round(received / deliveries, 2),
      wire_bytes_per_delivery: Math.round(bytesOut / deliveries),
      records_per_delivery: round(recordsOut / deliveries, 2),
      cpu_us_per_delivery: Math.round(cpuUs / deliveries),
      // How deliveries came: asked for after an announcement (the lazy path) vs pushed on the tree.
      tree: Object.fromEntries(
        (["requested", "prunes", "originPrunes", "grafts", "announced"] as const).map((key) => [
          key,
          after.reduce((n, c, i) => n + c.tree[key] - before[i].tree[key], 0),
        ]),
      ),
      // Share of signature checks done on helper threads (verifyThreads; 0 when every check was inline).
      checks_offloaded: round(
        after.reduce((n, c, i) => n + c.checksOffloaded - before[i].checksOffloaded, 0) /
          Math.max(1, after.reduce((n, c, i) => n + c.checks - before[i].checks, 0)),
        3,
      ),
      // How late the last messages came, beyond their origins' quickest (GossipStats.latenessMs), over nodes.
      lateness_ms_at_end: {
        p50: round(percentile(after.map((c) => c.latenessMs).sort((a, b) => a - b), 50)),
        max: round(Math.max(...after.map((c) => c.latenessMs))),
      },
      // Set-up dials made again (LocalNode.connect): they met the node's own DHT dial to the same peer, or the
      // other end closed the handshake.
      connect_retries: after.reduce((n, c) => n + c.connectRetries, 0),
      // Messages that reached their subscribers only by catch-up, not gossip (all nodes, the measured window),
      // and messages held in the causal buffer for a predecessor that had not come yet: where tails come from.
      catchup_fetched: after.reduce((n, c, i) => n + c.catchupFetched - before[i].catchupFetched, 0),
      causal_waited: after.reduce((n, c, i) => n + c.causalWaited - before[i].causalWaited, 0),
      // Set-up links lost at one end (held by the other's DHT as a transient link) and dialed again, and links
      // closed and dialed again because an end lacked the other's topics (see the set-up check).
      links_redialed: repairs.linksRedialed,
      links_reopened: repairs.linksReopened,
      cpu_user_s: round(cpu.user / 1e6, 2),
      cpu_sys_s: round(cpu.system / 1e6, 2),
      wall_s: round(wallS, 2),
      rss_mb: options.procs
        ? { max_per_process: round(Math.max(...after.map((c) => c.rssMb))), parent: round(peakRss / 1048576) }
        : round(peakRss / 1048576),
    };
    if (options.warmup > 0) result.warmup = options.warmup;
    if (options.topics > 0) {
      result.topics = options.topics;
      result.topics_per_node = options.topicsPerNode;
      result.single_topic = options.singleTopic;
    }
    if (options.procs) {
      // Each node's CPU per second of the run, as a share of one core (the children's own counters).
      const perNode = after.map((c, i) => (c.cpuUs - before[i].cpuUs) / 1e6 / wallS).sort((a, b) => a - b);
      result.cpu_per_node_per_s = {
        median: round(percentile(perNode, 50), 4),
        min: round(perNode[0], 4),
        max: round(perNode.at(-1)!, 4),
      };
    }
    if (options.maxThroughput) {
      result.duration_s = options.durationS;
      result.full_msgs_per_s = round(fullyDelivered / options.durationS);
    }
    return result;
  } finally {
    clearInterval(sampler);
    await Promise.all(handles.map((h) => h.stop()));
  }
}

function scalingSvg(points: { nodes: number; p99: number; cpu: number }[]): string {
  const width = 640, height = 320, pad = 50;
  const maxN = Math.max(...points.map((p) => p.nodes));
  const maxP99 = Math.max(1, ...points.map((p) => p.p99)) * 1.2;
  const maxCpu = Math.max(1, ...points.map((p) => p.cpu)) * 1.2;
  const x = (n: number) => pad + (n / maxN) * (width - 2 * pad);
  const y = (v: number, max: number) => height - pad - (v / max) * (height - 2 * pad);
  const line = (key: "p99" | "cpu", max: number) => points.map((p) => `${x(p.nodes)},${y(p[key], max)}`).join(" ");
  const dots = (key: "p99" | "cpu", max: number, color: string) =>
    points.map((p) =>
      `<circle cx="${x(p.nodes)}" cy="${y(p[key], max)}" r="3" fill="${color}"/><text x="${x(p.nodes) + 4}" y="${
        y(p[key], max) - 6
      }" font-size="10" fill="${color}">${p[key]}</text>`
    ).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad}" y="20" font-size="13">kith on loopback: latency p99 (ms, blue) and CPU per delivery (µs, orange) against nodes</text>
<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="black"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="black"/>
${points.map((p) => `<text x="${x(p.nodes) - 8}" y="${height - pad + 16}" font-size="11">${p.nodes}</text>`).join("")}
<text x="${width / 2 - 20}" y="${height - 10}" font-size="11">nodes</text>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${line("p99", maxP99)}"/>
<polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="${line("cpu", maxCpu)}"/>
${dots("p99", maxP99, "#1f77b4")}${dots("cpu", maxCpu, "#ff7f0e")}
</svg>
`;
}

if (import.meta.main) {
  if (args.child !== undefined) {
    await runChild(Number(args.child), args["child-topics"]!.split(","));
    Deno.exit(0);
  }
  const hardTimeout = setTimeout(() => {
    console.log(JSON.stringify({ error: "hard timeout", timeout_s: num("timeout") }));
    Deno.exit(1);
  }, num("timeout") * 1000);
  const base: RunOptions = {
    nodes: num("nodes"),
    degree: num("degree"),
    messages: num("messages"),
    rate: num("rate"),
    size: num("size"),
    seed: num("seed"),
    procs: args.procs ?? false,
    maxThroughput: args["max-throughput"] ?? false,
    durationS: num("duration"),
    window: num("window"),
    topics: num("topics"),
    topicsPerNode: num("topics-per-node"),
    singleTopic: args["single-topic"] ?? false,
    warmup: num("warmup"),
  };
  if (base.topics > 0 && !(base.topicsPerNode >= 1 && base.topicsPerNode <= base.topics)) {
    console.error("bench-network: --topics-per-node must be between 1 and --topics");
    Deno.exit(2);
  }
  if (args.profile !== undefined && !base.procs) {
    console.error("bench-network: --profile needs --procs (each node's process writes its own profile)");
    Deno.exit(2);
  }
  if (base.nodes < 2 || base.nodes > 250) {
    console.error("bench-network: --nodes must be between 2 and 250");
    Deno.exit(2);
  }
  if (args.scaling) {
    const points = [];
    for (const n of args.scaling.split(",").map(Number)) {
      const result = await run({ ...base, nodes: n });
      console.log(JSON.stringify(result));
      const latency = result.latency_ms as { p99: number };
      points.push({ nodes: n, p99: latency.p99, cpu: result.cpu_us_per_delivery as number });
    }
    await Deno.writeTextFile(args.svg!, scalingSvg(points));
    // Formatted as `deno task check` expects, so a redrawn figure can be committed as it is.
    const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", args.svg!], stderr: "inherit" })
      .output();
    if (!fmt.success) console.error(`bench-network: deno fmt ${args.svg} failed; run it before committing`);
    console.error(`bench-network: wrote ${args.svg}`);
  } else {
    console.log(JSON.stringify(await run(base)));
  }
  clearTimeout(hardTimeout);
}
