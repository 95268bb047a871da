/**
 * Single-node ingest benchmark: one real `KithNode` in its own OS process, fed over loopback by load-generator
 * processes that are kith peers (a `TcpTransport` each: a real handshake and encrypted session) sending
 * CUSTOM_DATA envelopes they signed, and sealed into records, before the timed phase. It finds the highest rate the node delivers with
 * delivery 1.000 while keeping up, then measures at half and at 90% of that rate: processing delay (p50, p99),
 * the node process's CPU per delivery, deliveries per second, against the Ed25519 verify ceiling of one core.
 *
 *   deno task bench:ingest                                  (search, then 50% and 90%; verifyThreads 0, then the default)
 *   deno task bench:ingest -- --verify-threads 0            (one setting only; "default" is the node's default, 1 helper)
 *   deno task bench:ingest -- --rate 2000 --duration 3      (one fixed-rate phase, no search)
 *   deno task bench:ingest -- --storage sqlite ...          (the node's seen ids and topic log in SQLite, not memory)
 *   deno task bench:ingest -- --profile /tmp/prof ...       (the node runs with --cpu-prof into that folder, and writes
 *                                                           its last step's window beside it for scripts/bench/cpuprofile.ts)
 *
 * Processing delay is measured from the moment the generator was due to send a message (the offset in its
 * signed data from the step's start time, which the parent chose and told the node) to the node's subscriber
 * callback. It includes the generator's own lateness (reported apart), the loopback hop, and
 * everything the node does: reading, opening records, parsing, checks, the signature, dedup, keeping,
 * forwarding and delivery. Signing and the generators' sealing are outside it: both are done before the step starts
 * (a generator drains what the node forwards to it without opening it).
 *
 * A rate passes when every message is delivered (the step ends when all are, or --drain-ms after the last
 * send), none was refused by a generator's connection, and the p99 delay stays under --max-p99-ms (default
 * 100): a node behind its load delivers everything in a short step but late, its delay growing through it.
 *
 * Settings of the node under test that differ from the defaults, and why: peerRateLimit 1,000,000 (burst
 * 2,000,000), because each generator is one peer sending thousands of messages a second, far past the default
 * 1,000/s that protects a node from one flooding peer; maxPeersPerIp, maxPeersPerSubnet and maxConnectionsPerIp
 * 64, because every generator dials from 127.0.0.1; minPeers 0 and outboundSlots 0, so the node dials no one.
 * The per-origin limit (originRateLimit 200/s) stays: each generator signs with enough origins (--origins, by
 * default enough for at most 100 messages/s per origin at --max-rate) that it never binds. With two or more
 * generators the node forwards each message to the other generators (TTL --ttl, default 16), about the one
 * copy per delivery of the network benchmark; --ttl 1 measures delivery without keeping or forwarding.
 *
 * Prints one JSON line per setting. Loopback only (127.66.0.0/16); every loop is bounded in count and time,
 * and a hard timeout (--timeout seconds) kills the children, prints an error line and exits 1.
 *
 * @module
 */
import { cpus } from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import { Identity } from "../lib/identity.ts";
import { KithNode } from "../lib/node.ts";
import { createLinkMessage, createMessage, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { type Connection, TcpTransport } from "../lib/transport/mod.ts";

const args = parseArgs({
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    role: { type: "string", default: "parent" },
    index: { type: "string", default: "0" },
    node: { type: "string", default: "" },
    generators: { type: "string", default: "2" },
    origins: { type: "string" },
    size: { type: "string", default: "256" },
    ttl: { type: "string", default: "16" },
    "verify-threads": { type: "string", default: "0,default" },
    rate: { type: "string" },
    duration: { type: "string", default: "3" },
    "start-rate": { type: "string", default: "2000" },
    "max-rate": { type: "string", default: "64000" },
    step: { type: "string", default: "4" },
    measure: { type: "string", default: "5" },
    "max-p99-ms": { type: "string", default: "100" },
    precision: { type: "string", default: "0.05" },
    "drain-ms": { type: "string", default: "15000" },
    timeout: { type: "string", default: "900" },
    profile: { type: "string" },
    storage: { type: "string", default: "memory" },
    "data-dir": { type: "string" },
    verbose: { type: "boolean", default: false },
  },
}).values;

function num(name: keyof typeof args, min = 0): number {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value < min) {
    console.error(`bench-ingest: --${name} must be a number of at least ${min}`);
    Deno.exit(2);
  }
  return value;
}

/** Wall-clock time in ms with sub-ms precision, comparable across processes on one machine. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const TOPIC = "ingest";
/** Signed data: step (u32), sequence number in the step (u32), due offset from the step's start in ms (f64). */
const HEADER_BYTES = 16;
/** The verify ceiling of one core: node:crypto Ed25519 verify with a cached KeyObject (shared/platform). */
const VERIFY_CEILING_PER_S = 21_600;
/** Messages/s at which the warm-up introduces the origins: under the new origins' shared 200/s and burst 400. */
const WARMUP_RATE = 250;

function percentiles(values: Float64Array): Record<string, number> {
  const sorted = values.slice().sort();
  const at = (p: number) =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return {
    min: round(sorted[0] ?? NaN, 2),
    p50: round(at(0.5), 2),
    p90: round(at(0.9), 2),
    p99: round(at(0.99), 2),
    max: round(sorted.at(-1) ?? NaN, 2),
  };
}

/**
 * CPU seconds used by the whole machine so far (every process, every core; node:os, `--allow-sys=cpus`), or
 * NaN without the permission: the share other processes took during a step says how far a figure measured on
 * a shared machine is its own.
 */
function machineCpuS(): number {
  try {
    return cpus().reduce((n, { times }) => n + times.user + times.nice + times.sys + times.irq, 0) / 1000;
  } catch {
    return NaN;
  }
}

/** Writes one JSON line on stdout, whole (a child's replies). */
function out(value: unknown): void {
  const bytes = new TextEncoder().encode(JSON.stringify(value) + "\n");
  for (let offset = 0; offset < bytes.length;) offset += Deno.stdout.writeSync(bytes.subarray(offset));
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

/** Ends a child on its own if the parent is gone without closing its stdin (a hard kill of the parent). */
function childDeadline(): void {
  const timer = setTimeout(() => Deno.exit(1), (num("timeout") + 30) * 1000);
  Deno.unrefTimer(timer);
}

// ---------------------------------------------------------------------------------------------------------
// The node under test (--role node).

interface StepState {
  id: number;
  startAt: number;
  delays: Float64Array;
  count: number;
  extra: number;
  lastAt: number;
  openedAt: number;
  cpuBefore: ReturnType<typeof process.cpuUsage>;
  before: ReturnType<typeof counters>;
}

function counters(node: KithNode) {
  const stats = node.stats();
  return {
    rateLimited: stats.gossip.rateLimited,
    originLimited: stats.gossip.originLimited,
    droppedUnderCheck: stats.gossip.droppedUnderCheck,
    invalid: stats.gossip.invalid,
    duplicates: stats.gossip.duplicates,
    forwarded: stats.gossip.forwarded,
    recordsOut: stats.transport.recordsOut,
    inline: stats.signatureChecks.inline,
    offloaded: stats.signatureChecks.offloaded,
  };
}

async function runNode(): Promise<void> {
  const threads = args["verify-threads"];
  // With --storage sqlite the node keeps its seen ids and topic log in SQLite in a folder of its own, removed
  // at the end, as a node with a data directory does.
  const dataDir = args["data-dir"];
  if (dataDir !== undefined) await Deno.mkdir(dataDir);
  const node = new KithNode({
    ...(dataDir !== undefined ? { dataDir } : {}),
    config: {
      listenHost: "127.66.0.1",
      listenPort: 0,
      minPeers: 0,
      outboundSlots: 0,
      maxPeersPerIp: 64,
      maxPeersPerSubnet: 64,
      maxConnectionsPerIp: 64,
      peerRateLimit: 1_000_000,
      ...(threads === "default" ? {} : { verifyThreads: Number(threads) }),
    },
  });
  let step: StepState | undefined;
  let stray = 0;
  // The last step's window (performance.now()), written beside the CPU profile with --profile.
  let window: [number, number] | undefined;
  node.subscribe(TOPIC, (message) => {
    const at = now();
    const data = message.data;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (step === undefined || data.length < HEADER_BYTES || view.getUint32(0) !== step.id) {
      stray++;
      return;
    }
    if (step.count >= step.delays.length) {
      step.extra++;
      return;
    }
    step.delays[step.count++] = at - (step.startAt + view.getFloat64(8));
    step.lastAt = at;
  });
  await node.start();
  let peakRss = 0;
  const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 500);
  try {
    for await (const line of lines(Deno.stdin.readable)) {
      const request = JSON.parse(line);
      if (request.op === "start") out({ address: node.address });
      else if (request.op === "peers") {
        await node.waitForPeers(request.count, { timeout: 10_000 });
        out({ ok: true });
      } else if (request.op === "step") {
        stray = 0;
        step = {
          id: request.step,
          startAt: request.startAt,
          delays: new Float64Array(request.expected),
          count: 0,
          extra: 0,
          lastAt: NaN,
          openedAt: now(),
          cpuBefore: process.cpuUsage(),
          before: counters(node),
        };
        out({ ok: true });
      } else if (request.op === "end") {
        const current = step!;
        const deadline = now() + request.waitMs;
        while (current.count < current.delays.length && now() < deadline) await sleep(5);
        window = [current.openedAt - performance.timeOrigin, performance.now()];
        const cpu = process.cpuUsage(current.cpuBefore);
        const wallMs = now() - current.openedAt;
        const after = counters(node);
        const diff = Object.fromEntries(
          Object.entries(after).map(([key, value]) => [key, value - current.before[key as keyof typeof after]]),
        );
        peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
        out({
          delivered: current.count,
          extra: current.extra,
          stray,
          delays: percentiles(current.delays.subarray(0, current.count)),
          lastAfterStartMs: current.lastAt - current.startAt,
          cpuUs: cpu.user + cpu.system,
          systemUs: cpu.system,
          wallMs,
          rssMb: peakRss / 1048576,
          ...diff,
        });
        step = undefined;
      } else if (request.op === "stop") break;
    }
  } finally {
    clearInterval(sampler);
    await node.stop();
    if (dataDir !== undefined) await Deno.remove(dataDir, { recursive: true });
  }
  if (args.profile && window) {
    // The profile ends as the process exits, just after this: the window is given back from then, ms
    // (scripts/bench/cpuprofile.ts then counts only the last step's samples).
    const end = performance.now();
    await Deno.writeTextFile(
      `${args.profile}/window-${Deno.pid}-node.json`,
      JSON.stringify({ fromBeforeEndMs: end - window[0], toBeforeEndMs: end - window[1] }) + "\n",
    );
  }
  out({ ok: true });
}

// ---------------------------------------------------------------------------------------------------------
// A load generator (--role generator): a kith peer with pre-signed envelopes.

/**
 * The generator's socket to the node, under its `TcpTransport` (`openOver`): the handshake passes through as
 * it is. After it, with `capture` on, the records the connection seals go to a list instead of the socket
 * (a step's records are sealed before the step, in the order their counter gives them, and written raw when
 * due); and reads drain what the node forwards without opening or parsing it (a generator needs none of it,
 * and a record counter that never advances harms nobody: nothing after those bytes is read). The node sees the
 * same sealed records, envelopes and session as when the connection sealed and read them at the time.
 */
class PresealingConn {
  readonly #conn: Deno.TcpConn;
  readonly #drain = new Uint8Array(64 * 1024);
  /** Set once the handshake is done: reads drain and discard. */
  discard = false;
  /** Records sealed while set are kept here, not written. */
  captured: Uint8Array[] | undefined;
  // Writes in order: a record the connection seals after a step's (its DISCONNECT) follows them on the socket.
  #writing: Promise<unknown> = Promise.resolve();

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (!this.discard) return await this.#conn.read(buffer);
    // Bounded by the socket: each read waits for bytes, and the loop ends when the node closes it.
    for (;;) {
      let n: number | null;
      try {
        n = await this.#conn.read(this.#drain);
      } catch {
        return null;
      }
      if (n === null) return null;
    }
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.captured !== undefined && this.discard) {
      this.captured.push(bytes.slice());
      return Promise.resolve(bytes.length);
    }
    return this.writeAll(bytes).then(() => bytes.length);
  }

  /** Writes all of `bytes` after every write before it. */
  writeAll(bytes: Uint8Array): Promise<void> {
    const next = this.#writing.then(async () => {
      for (let offset = 0; offset < bytes.length;) offset += await this.#conn.write(bytes.subarray(offset));
    });
    this.#writing = next.catch(() => {});
    return next;
  }

  close(): void {
    this.#conn.close();
  }

  setNoDelay(noDelay?: boolean): void {
    this.#conn.setNoDelay(noDelay);
  }
}

/** A step's records, sealed before it: `records[i]` is due at `dueMs[i]` (ms from the step's start). */
interface Prepared {
  step: number;
  records: Uint8Array[];
  dueMs: Float64Array;
  /** Envelopes in each record. */
  counts: Int32Array;
}

/** Envelopes due in the same slot (ms) share a record, as those a generator sent at one wake-up did. */
const SLOT_MS = 1;

async function runGenerator(): Promise<void> {
  const index = num("index");
  const generators = num("generators", 1);
  const codec = new MessageCodec();
  const origins = Array.from({ length: num("origins", 1) }, () => Identity.generate());
  const size = Math.max(HEADER_BYTES, num("size"));
  const ttl = num("ttl", 1);
  const identity = Identity.generate();
  const transport = new TcpTransport({
    identity,
    // Its own queue never refuses (a slow node shows as delay, not as the generator's own drops).
    config: { listenHost: `127.66.${index + 1}.1`, listenPort: 0, maxSendQueueBytes: 1 << 30 },
    log: (level, message) => level === "error" && console.error(`generator ${index}: ${message}`),
  });
  let connection: Connection | undefined;
  let socket: PresealingConn | undefined;
  let prepared: Prepared | undefined;
  try {
    for await (const line of lines(Deno.stdin.readable)) {
      const request = JSON.parse(line);
      if (request.op === "start") {
        const [host, port] = [args.node!.slice(0, args.node!.lastIndexOf(":")), args.node!.split(":").at(-1)];
        socket = new PresealingConn(await Deno.connect({ hostname: host, port: Number(port), transport: "tcp" }));
        connection = await transport.openOver(socket, {
          role: "initiator",
          remoteAddress: args.node!,
          linkKind: "direct",
        });
        socket.discard = true;
        // It relays many origins' messages of the topic, so it says it is in the topic, as a member would (the
        // node refuses a topic's messages relayed by a peer that is not).
        connection.send(
          createLinkMessage(identity, MessageType.TOPIC_SUBSCRIPTIONS, {
            full: true,
            all: false,
            join: [TOPIC],
            leave: [],
          }),
        );
        await flushed(connection);
        out({ nodeId: transport.nodeId });
      } else if (request.op === "prepare") {
        // This generator's share of the step: messages index, index + G, ... of the step's sequence.
        const started = now();
        const total = Math.floor(request.rate * request.durationS);
        prepared = undefined; // the previous step's records can go
        const records: Uint8Array[] = [];
        const due: number[] = [];
        const counts: number[] = [];
        let messages = 0;
        // The envelopes of the slot being filled, its number, and the due offset of its last envelope.
        let slot: Uint8Array[] = [], slotNumber = -1, slotDue = 0;
        const sealSlot = async () => {
          if (slot.length === 0) return;
          const captured: Uint8Array[] = socket!.captured = [];
          for (const envelope of slot) connection!.sendEncoded(envelope);
          await flushed(connection!);
          socket!.captured = undefined;
          // Usually one record; a slot past maxRecordBytes is several, its envelopes counted with the first.
          captured.forEach((record, k) => {
            records.push(record);
            due.push(slotDue);
            counts.push(k === 0 ? slot.length : 0);
          });
          slot = [];
        };
        for (let seq = index; seq < total; seq += generators) {
          const data = new Uint8Array(size);
          const view = new DataView(data.buffer);
          const offset = (seq * 1000) / request.rate;
          view.setUint32(0, request.step);
          view.setUint32(4, seq);
          view.setFloat64(8, offset);
          const origin = origins[messages % origins.length];
          const message = createMessage(origin, MessageType.CUSTOM_DATA, { topic: TOPIC, data }, {
            ttl,
            timestamp: Date.now(),
          });
          const number = Math.floor(offset / SLOT_MS);
          if (number !== slotNumber) {
            await sealSlot();
            slotNumber = number;
          }
          // A record goes when its last envelope is due: none is sent before its time.
          slotDue = offset;
          slot.push(codec.encode(message));
          messages++;
        }
        await sealSlot();
        prepared = { step: request.step, records, dueMs: Float64Array.from(due), counts: Int32Array.from(counts) };
        out({ count: messages, records: records.length, signMs: round(now() - started) });
      } else if (request.op === "go") {
        out(await send(connection!, socket!, prepared!, request.startAt));
        prepared = undefined;
      } else if (request.op === "stop") break;
    }
  } finally {
    await transport.close();
  }
  out({ ok: true });
}

/** Resolves once the connection's queue is sealed and handed to its socket (bounded: a few microtask turns). */
async function flushed(connection: Connection): Promise<void> {
  for (let turns = 0; connection.bufferedBytes > 0 && connection.isOpen && turns < 100_000; turns++) {
    await Promise.resolve();
  }
  if (connection.bufferedBytes > 0) throw new Error("the connection did not seal its queue");
}

/** Writes each pre-sealed record when it is due (startAt + its offset), all that are due at each wake-up. */
async function send(
  connection: Connection,
  socket: PresealingConn,
  prepared: Prepared,
  startAt: number,
): Promise<Record<string, unknown>> {
  const { records, dueMs, counts } = prepared;
  const late = new Float64Array(records.length);
  const cpuBefore = process.cpuUsage();
  const hardEnd = startAt + (dueMs.at(-1) ?? 0) + 30_000;
  let i = 0, sent = 0, refused = 0;
  const writes: Promise<void>[] = [];
  while (now() < startAt) await sleep(Math.max(0, Math.min(10, startAt - now() - 1)));
  while (i < records.length && now() < hardEnd && connection.isOpen) {
    const elapsed = now() - startAt;
    const from = i;
    for (; i < records.length && dueMs[i] <= elapsed; i++) {
      late[i] = elapsed - dueMs[i];
      sent += counts[i];
    }
    if (i > from) {
      // The due records in one write, as the transport wrote what one wake-up queued.
      const batch = i - from === 1 ? records[from] : concat(records, from, i);
      writes.push(socket.writeAll(batch).catch(() => void refused++));
    }
    // To the next record's time, at least a timer's 1 ms: no spinning on zero-delay timers.
    if (i < records.length) await sleep(Math.max(1, Math.floor(dueMs[i] - (now() - startAt))));
  }
  // Written to the socket, not only queued (bounded: past 30 s the link is closed and the step fails).
  let timer: ReturnType<typeof setTimeout> | undefined;
  const written = await Promise.race([
    Promise.all(writes).then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 30_000)),
  ]);
  clearTimeout(timer);
  if (!written) {
    refused++;
    socket.close();
  }
  const cpu = process.cpuUsage(cpuBefore);
  return {
    sent,
    refused: refused + (i === records.length ? 0 : 1),
    open: connection.isOpen,
    late: percentiles(late.subarray(0, i)),
    cpuUs: cpu.user + cpu.system,
  };
}

function concat(parts: Uint8Array[], from: number, to: number): Uint8Array {
  let n = 0;
  for (let k = from; k < to; k++) n += parts[k].length;
  const out = new Uint8Array(n);
  for (let k = from, o = 0; k < to; o += parts[k].length, k++) out.set(parts[k], o);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The parent: children, steps, the search.

/** A child process driven by JSON lines; replies come in request order. */
class Child {
  readonly #process: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #replies: ((reply: Record<string, unknown>) => void)[] = [];
  readonly #reader: Promise<void>;

  constructor(role: string, extra: string[], runtimeFlags: string[] = []) {
    this.#process = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.0/8",
        ...runtimeFlags,
        new URL(import.meta.url).pathname,
        "--role",
        role,
        "--timeout",
        String(num("timeout")),
        ...extra,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#process.stdin.getWriter();
    const stdout = this.#process.stdout;
    this.#reader = (async () => {
      for await (const line of lines(stdout)) this.#replies.shift()?.(JSON.parse(line));
      for (const reply of this.#replies.splice(0)) reply({ error: `${role} process exited` });
    })();
  }

  async call(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const reply = new Promise<Record<string, unknown>>((resolve) => this.#replies.push(resolve));
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    const result = await reply;
    if (result.error) throw new Error(String(result.error));
    return result;
  }

  kill(): void {
    try {
      this.#process.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  async stop(): Promise<void> {
    await this.call({ op: "stop" }).catch(() => {});
    await this.#writer.close().catch(() => {});
    await this.#process.status;
    await this.#reader.catch(() => {});
  }
}

const children = new Set<Child>();

interface Phase {
  rate: number;
  passed: boolean;
  result: Record<string, unknown>;
}

let stepId = 0;

/** One timed step at `rate` messages/s in all for `durationS` seconds. */
async function runStep(node: Child, generators: Child[], rate: number, durationS: number): Promise<Phase> {
  const step = ++stepId;
  const expected = Math.floor(rate * durationS);
  const prepared = await Promise.all(generators.map((g) => g.call({ op: "prepare", step, rate, durationS })));
  const startAt = now() + 250;
  await node.call({ op: "step", step, startAt, expected });
  const machineBefore = machineCpuS(), wallBefore = now();
  const sent = await Promise.all(generators.map((g) => g.call({ op: "go", startAt })));
  const report = await node.call({ op: "end", waitMs: num("drain-ms") });
  const machineS = machineCpuS() - machineBefore, wallS = (now() - wallBefore) / 1000;
  const delivered = report.delivered as number;
  const delays = report.delays as Record<string, number>;
  const refused = sent.reduce((n, s) => n + (s.refused as number) + (s.open ? 0 : 1), 0);
  const late = sent.map((s) => s.late as Record<string, number>);
  const passed = delivered === expected && refused === 0 && delays.p99 <= num("max-p99-ms");
  const cpuUs = report.cpuUs as number;
  const generatorCpuUs = sent.reduce((n, s) => n + (s.cpuUs as number), 0);
  const spanS = (report.lastAfterStartMs as number) / 1000;
  const result = {
    rate,
    messages: expected,
    delivery_ratio: round(delivered / expected, 4),
    delay_ms: delays,
    deliveries_per_s: round(delivered / Math.max(spanS, durationS * 1e-3)),
    cpu_us_per_delivery: round(cpuUs / Math.max(1, delivered)),
    // Of it, in the kernel (socket reads and writes; on loopback a write runs the receiver's TCP path too).
    system_us_per_delivery: round((report.systemUs as number) / Math.max(1, delivered)),
    // Cores used from the step's start to its last delivery (the node idles before and after).
    node_cpu_cores: round(cpuUs / 1000 / Math.max(1, report.lastAfterStartMs as number), 2),
    forwarded_per_delivery: round((report.forwarded as number) / Math.max(1, delivered), 2),
    // Sealed records (one socket write each) the node sent per delivery: how well the forwarded copies batch.
    records_out_per_delivery: round((report.recordsOut as number) / Math.max(1, delivered), 3),
    checks_offloaded: round(
      (report.offloaded as number) / Math.max(1, (report.offloaded as number) + (report.inline as number)),
      3,
    ),
    dropped: {
      rate_limited: report.rateLimited,
      origin_limited: report.originLimited,
      under_check: report.droppedUnderCheck,
      invalid: report.invalid,
      refused_by_generators: refused,
    },
    // Over the step's wall time, from before the generators start to the node's report: the whole
    // machine (2 cores here), the generators together, and every other process (other work on the machine).
    machine_cores: {
      busy: round(machineS / wallS, 2),
      generators: round(generatorCpuUs / 1e6 / wallS, 2),
      others: round((machineS - (cpuUs + generatorCpuUs) / 1e6) / wallS, 2),
    },
    generator_late_ms: { p99: Math.max(...late.map((l) => l.p99)), max: Math.max(...late.map((l) => l.max)) },
    sign_ms: Math.max(...prepared.map((p) => p.signMs as number)),
    node_rss_mb: round(report.rssMb as number),
  };
  console.error(
    `bench-ingest: ${rate}/s ${passed ? "pass" : "FAIL"}: delivery ${result.delivery_ratio}, p99 ${delays.p99} ms, ` +
      `${result.cpu_us_per_delivery} µs/delivery, ${result.node_cpu_cores} cores, others ${result.machine_cores.others}`,
  );
  if (args.verbose) console.error(JSON.stringify({ ...result, report, sent }));
  return { rate, passed, result };
}

/** One setting of verifyThreads: a fresh node and generators, then the search or the fixed rate. */
async function runSetting(verifyThreads: string): Promise<Record<string, unknown>> {
  const count = num("generators", 1);
  const maxRate = num("max-rate", 1);
  const origins = args.origins !== undefined ? num("origins", 1) : Math.max(1, Math.ceil(maxRate / count / 100));
  if (args.storage !== "memory" && args.storage !== "sqlite") {
    console.error("bench-ingest: --storage must be memory or sqlite");
    Deno.exit(2);
  }
  // With --storage sqlite, a fresh folder for the node's database, made and removed by the node.
  const dataDir = args.storage === "sqlite"
    ? `/tmp/kith-bench-ingest-${Deno.pid}-${Math.random().toString(36).slice(2)}`
    : undefined;
  // With --profile the node writes its last step's window beside its profile.
  const writable = [args.profile, dataDir].filter((dir) => dir !== undefined);
  const node = new Child("node", [
    "--verify-threads",
    verifyThreads,
    ...(args.profile ? ["--profile", args.profile] : []),
    ...(dataDir !== undefined ? ["--data-dir", dataDir] : []),
  ], [
    ...(args.profile ? ["--cpu-prof", `--cpu-prof-dir=${args.profile}`] : []),
    ...(writable.length > 0 ? [`--allow-write=${writable.join(",")}`] : []),
    ...(dataDir !== undefined ? [`--allow-read=${dataDir}`] : []),
  ]);
  children.add(node);
  const generators: Child[] = [];
  const started = now();
  try {
    const address = (await node.call({ op: "start" })).address as string;
    for (let i = 0; i < count; i++) {
      const generator = new Child("generator", [
        "--index",
        String(i),
        "--generators",
        String(count),
        "--origins",
        String(origins),
        "--node",
        address,
        "--size",
        String(num("size")),
        "--ttl",
        String(num("ttl", 1)),
      ]);
      children.add(generator);
      generators.push(generator);
      await generator.call({ op: "start" });
    }
    await node.call({ op: "peers", count });
    // Warm-up, not timed: one message from each origin. The node gives all origins it has not seen before
    // one origin's rate and burst together (lib/gossip/origins.ts), so they are introduced at 250/s, as
    // origins in a running network are known before their traffic peaks.
    const warmup = await runStep(node, generators, WARMUP_RATE, (origins * count) / WARMUP_RATE);
    if (warmup.result.delivery_ratio !== 1) {
      throw new Error(`the warm-up lost messages: ${JSON.stringify(warmup.result)}`);
    }
    const base = {
      verify_threads: verifyThreads,
      storage: args.storage,
      generators: count,
      origins_per_generator: origins,
      size: num("size"),
      ttl: num("ttl", 1),
      max_p99_ms: num("max-p99-ms"),
      verify_ceiling_per_s: VERIFY_CEILING_PER_S,
    };
    if (args.rate !== undefined) {
      const phase = await runStep(node, generators, num("rate", 1), num("duration", 0.1));
      return {
        mode: "fixed",
        ...base,
        passed: phase.passed,
        at_rate: phase.result,
        wall_s: round((now() - started) / 1000),
      };
    }
    // Doubling until a rate fails (or --max-rate passes), then bisection to --precision; at most 20 steps.
    // A step that failed while other processes took more than a quarter of a core is run once more (at most
    // 4 times in a search): the figure is the node's, not the shared machine's.
    const stepS = num("step", 0.5);
    const steps: [number, boolean, number][] = [];
    let pass = 0, fail = Infinity, rate = Math.min(num("start-rate", 1), maxRate), retries = 0;
    for (let n = 0; n < 20; n++) {
      let phase = await runStep(node, generators, rate, stepS);
      steps.push([rate, phase.passed, (phase.result.delay_ms as Record<string, number>).p99]);
      const others = (phase.result.machine_cores as Record<string, number>).others;
      if (!phase.passed && others > 0.25 && retries < 4) {
        retries++;
        phase = await runStep(node, generators, rate, stepS);
        steps.push([rate, phase.passed, (phase.result.delay_ms as Record<string, number>).p99]);
      }
      if (phase.passed) pass = rate;
      else fail = rate;
      if (pass >= maxRate || (fail !== Infinity && fail <= pass * (1 + num("precision")))) break;
      if (fail === Infinity) rate = Math.min(maxRate, rate * 2);
      else if (pass === 0) rate = Math.max(1, Math.floor(fail / 2));
      else rate = Math.round((pass + fail) / 2 / 10) * 10;
    }
    const measured: Record<string, unknown> = {};
    if (pass > 0) {
      for (const share of [0.5, 0.9]) {
        measured[`at_${share * 100}`] = (await runStep(node, generators, Math.round(pass * share), num("measure", 0.5)))
          .result;
      }
    }
    return {
      mode: "search",
      ...base,
      step_s: stepS,
      measure_s: num("measure"),
      max_rate: pass,
      ceiling_ratio: round(pass / VERIFY_CEILING_PER_S, 3),
      steps,
      ...measured,
      wall_s: round((now() - started) / 1000),
    };
  } finally {
    for (const generator of generators) {
      await generator.stop();
      children.delete(generator);
    }
    await node.stop();
    children.delete(node);
  }
}

if (import.meta.main) {
  if (args.role === "node") {
    childDeadline();
    await runNode();
  } else if (args.role === "generator") {
    childDeadline();
    await runGenerator();
  } else {
    const hardTimeout = setTimeout(() => {
      for (const child of children) child.kill();
      console.log(JSON.stringify({ error: "hard timeout", timeout_s: num("timeout") }));
      Deno.exit(1);
    }, num("timeout") * 1000);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        for (const child of children) child.kill();
        Deno.exit(1);
      });
    }
    for (const setting of args["verify-threads"]!.split(",")) {
      if (setting !== "default" && !(Number.isInteger(Number(setting)) && Number(setting) >= 0)) {
        console.error(`bench-ingest: --verify-threads takes counts or "default", got ${setting}`);
        Deno.exit(2);
      }
      console.log(JSON.stringify(await runSetting(setting)));
    }
    clearTimeout(hardTimeout);
  }
}
