/**
 * Catch-up on the simulator (issue 25): KithNodes, the node that ships, on an in-memory network with a virtual
 * clock (10-80 ms links of 1 MB/s), real Ed25519 signatures throughout.
 *
 *   deno task catchup:sim [--seed 1] [--scenario all|offline|table|partition]
 *
 * - offline: 10 nodes in topic "t"; one goes offline (its links closed) for 60 s while the others publish 1,000
 *   messages; it links again to 3 of them. Prints how long until it holds and delivered all 1,000, whether its
 *   application got them in causal order (each after every predecessor it names that the node got; how many
 *   came with `missing`), and the bytes of reconciliation against the bodies it lacked; with gossip's own repair (240 s) and with it cut to 5 s, so
 *   that catch-up alone does the work.
 * - table: two nodes whose logs share n messages, one lacking d more; they link. Reconciliation bytes (both ways)
 *   against the d missing bodies' bytes, for n in 1,000..100,000 and d in 1..1,000.
 * - partition: 20 nodes in two halves of 10 apart for a minute, each half publishing 500; the halves link again.
 *   Prints how long until every node holds the same 1,000.
 *
 * - churn (`--nodes 1000`): nodes each dialing 4 others at random, then keeping their outbound slots filled; 300 messages published over 60 s from live
 *   nodes while 30% of the nodes crash, each at a random time, and restart 10 s later with the same identity and
 *   storage (their topic log, in memory until the SQLite log, starts empty) and dial 4 live nodes. Prints the
 *   share of (live node, message) pairs held 30 s after the last publish.
 *
 * Prints one JSON line per run; `result` is a pure function of the arguments and seed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bytesKey } from "../lib/bytes.ts";
import { DEFAULT_TOPIC_RETENTION, type TopicRetention } from "../lib/catchup/mod.ts";
import type { NetworkConfig } from "../lib/config.ts";
import { Identity } from "../lib/identity.ts";
import { createMessage, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { randomBytes, type RandomSource, seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimNetwork } from "../lib/sim/network.ts";
import { causalOrder, predecessorsInLog } from "../lib/sim/causal_order.ts";
import { type SimNode, startSimNode } from "../lib/sim/node.ts";
import type { ReceivedMessage } from "../lib/subscriptions.ts";

const TOPIC = "t";
const codec = new MessageCodec();

/** Links only where the run makes them; no discovery or trust exchange during a run. */
const FIXED: Partial<NetworkConfig> = {
  minPeers: 0,
  outboundSlots: 0,
  // No topic slots either: a node whose links were closed would find its topic's peers and dial them.
  topicSlots: 0,
  discoveryIntervalMs: 3_600_000,
  trustExchangeIntervalMs: 3_600_000,
  peerMaintenanceIntervalMs: 1_000,
};

/** A simulated network of KithNodes and the stepping of its clock. */
class Lab {
  readonly clock = new VirtualClock(1_700_000_000_000);
  readonly network: SimNetwork;
  readonly random: RandomSource;
  readonly nodes: SimNode[] = [];
  readonly #repairWindowMs: number;
  readonly #config: Partial<NetworkConfig>;

  constructor(
    seed: number,
    repairWindowMs: number,
    retention: Readonly<TopicRetention> = DEFAULT_TOPIC_RETENTION,
    config: Partial<NetworkConfig> = FIXED,
  ) {
    // The topic log's retention through the node's config, as an operator would set it.
    this.#config = {
      ...config,
      topicLogMaxMessages: retention.maxMessages,
      topicLogMaxBytes: retention.maxBytes,
      topicLogMaxAgeMs: retention.maxAgeMs,
    };
    this.network = new SimNetwork(this.clock, seededRandom(seed), {
      minLatencyMs: 10,
      maxLatencyMs: 80,
      bandwidthBytesPerSecond: 1_000_000,
    });
    this.random = seededRandom(seed + 1);
    this.#repairWindowMs = repairWindowMs;
  }

  async add(): Promise<SimNode> {
    const node = await this.start(this.nodes.length);
    this.nodes.push(node);
    return node;
  }

  /** Starts node `index` (again, from `restart`'s identity and storage), subscribed to the topic. */
  async start(index: number, restart?: SimNode): Promise<SimNode> {
    const node = await startSimNode(
      this.network,
      index,
      this.random,
      this.#config,
      "default",
      { repairWindowMs: this.#repairWindowMs },
      // A restarted node keeps its log, as one on SQLite storage does.
      restart && { identity: restart.identity, storage: restart.storage, topicLog: restart.topicLog },
    );
    node.node.subscribe(TOPIC);
    return node;
  }

  async run(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    while (this.clock.now() < until) {
      this.clock.runUntil(Math.min(until, this.clock.now() + 10));
      for (let i = 0; i < 4; i++) await Promise.resolve();
    }
  }

  async runUntil(condition: () => boolean, limitMs: number): Promise<boolean> {
    const deadline = this.clock.now() + limitMs;
    while (!condition()) {
      if (this.clock.now() >= deadline) return false;
      await this.run(10);
    }
    return true;
  }

  linked(a: SimNode, b: SimNode): boolean {
    return a.peers.activePeer(b.identity.nodeId) !== undefined && b.peers.activePeer(a.identity.nodeId) !== undefined;
  }

  async link(a: SimNode, b: SimNode): Promise<void> {
    if (this.linked(a, b)) return;
    void a.node.connect(b.address).catch(() => {});
    await this.runUntil(() => this.linked(a, b), 10_000);
  }

  async unlink(a: SimNode, b: SimNode): Promise<void> {
    void a.peers.activePeer(b.identity.nodeId)?.connection.close();
    await this.runUntil(() => !this.linked(a, b), 10_000);
  }

  async stop(): Promise<void> {
    let stopped = false;
    const stopping = Promise.all(this.nodes.map((n) => n.stop())).finally(() => stopped = true);
    for (let i = 0; i < 1_000 && !stopped; i++) await this.run(10);
    await stopping;
  }
}

function holds(node: SimNode, keys: Iterable<string>): number {
  const log = node.node.components.topicLog;
  let n = 0;
  for (const key of keys) if (log.has(Uint8Array.from(key, (c) => c.charCodeAt(0)))) n++;
  return n;
}

function logKeys(node: SimNode): Set<string> {
  return new Set(node.node.components.topicLog.items(TOPIC, 0).map((item) => bytesKey(item.id)));
}

function catchupBytes(node: SimNode) {
  const s = node.node.stats().catchup;
  return {
    reconcile: s.reconcileBytesSent + s.reconcileBytesReceived,
    fetch: s.bodyBytesSent + s.bodyBytesReceived,
    rounds: s.rounds,
    sessions: s.sessionsStarted + s.sessionsAnswered,
    fetched: s.fetched,
  };
}

/** One node offline for 60 s while 1,000 messages are published; it links again to 3 peers. */
async function offline(seed: number, repairWindowMs: number) {
  const lab = new Lab(seed, repairWindowMs);
  for (let i = 0; i < 10; i++) await lab.add();
  const nodes = lab.nodes;
  for (let i = 0; i < 10; i++) {
    await lab.link(nodes[i], nodes[(i + 1) % 10]);
    await lab.link(nodes[i], nodes[(i + 3) % 10]);
  }
  await lab.run(2_000);
  const away = nodes[0];
  for (const peer of nodes.slice(1)) if (lab.linked(away, peer)) await lab.unlink(away, peer);
  const inbox: ReceivedMessage[] = [];
  away.node.subscribe(undefined, (m) => inbox.push(m));
  const published: string[] = [];
  const start = lab.clock.now();
  for (let i = 0; i < 1_000; i++) {
    const publisher = nodes[1 + (i % 9)];
    const id = publisher.node.broadcast(`message ${i}`, { topic: TOPIC });
    published.push(id);
    await lab.run(60);
  }
  await lab.run(Math.max(0, start + 60_000 - lab.clock.now()));
  const missing = new Set(published.map((hex) => bytesKey(Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16)))));
  const bodyBytes = [...missing].reduce(
    (n, key) =>
      n + (nodes[1].node.components.topicLog.get(Uint8Array.from(key, (c) => c.charCodeAt(0)))?.envelope.length ?? 0),
    0,
  );
  const before = catchupBytes(away);
  const heldAtRejoin = holds(away, missing);
  const rejoinAt = lab.clock.now();
  for (const peer of [nodes[1], nodes[4], nodes[7]]) void away.node.connect(peer.address).catch(() => {});
  const all = await lab.runUntil(() => holds(away, missing) === missing.size && inbox.length >= 1_000, 60_000);
  const elapsed = lab.clock.now() - rejoinAt;
  await lab.run(5_000);
  const after = catchupBytes(away);
  const reconcile = after.reconcile - before.reconcile;
  // Every publisher is in the topic, so each message names the heads its publisher had seen.
  const order = causalOrder(inbox, predecessorsInLog(away.node.components.topicLog, codec, TOPIC));
  const result = {
    scenario: "offline",
    gossipRepairWindowMs: repairWindowMs,
    published: missing.size,
    heldAtRejoin,
    held: holds(away, missing),
    deliveredOnce: new Set(inbox.map((m) => m.id)).size === inbox.length,
    delivered: inbox.length,
    inCausalOrder: order.inCausalOrder,
    namingPredecessors: order.naming,
    predecessorsChecked: order.checked,
    outOfOrder: order.outOfOrder,
    deliveredWithMissing: order.deliveredWithMissing,
    lateAfterMissing: order.lateAfterMissing,
    waitedForPredecessors: away.node.stats().topicDelivery.waited,
    releasedEarlyByBounds: away.node.stats().topicDelivery.releasedEarly,
    allWithinMs: all ? elapsed : null,
    byCatchup: after.fetched - before.fetched,
    missingBodyBytes: bodyBytes,
    reconcileBytes: reconcile,
    reconcileToBodies: Number((reconcile / bodyBytes).toFixed(3)),
    fetchBytes: after.fetch - before.fetch,
    sessions: after.sessions - before.sessions,
    rounds: after.rounds - before.rounds,
  };
  await lab.stop();
  return result;
}

/**
 * Two nodes sharing `shared` messages, one lacking `missing` more (the newest, as after an outage, or spread
 * over the whole window, as random losses would be); they link.
 */
async function pair(seed: number, shared: number, missing: number, spread: boolean) {
  const retention = { ...DEFAULT_TOPIC_RETENTION, maxMessages: 1_000_000, maxBytes: 1 << 30 };
  const lab = new Lab(seed, 5_000, retention);
  const [a, b] = [await lab.add(), await lab.add()];
  const random = seededRandom(seed + 7);
  const origins = Array.from({ length: 16 }, () => Identity.fromSecretKey(randomBytes(random, 32)));
  const now = lab.clock.now();
  let bodyBytes = 0;
  for (let i = 0; i < shared + missing; i++) {
    const timestamp = now - 3_600_000 + Math.floor((i * 3_000_000) / (shared + missing));
    const message = createMessage(origins[i % 16], MessageType.CUSTOM_DATA, {
      topic: TOPIC,
      data: randomBytes(random, 100),
    }, { timestamp, ttl: 0 });
    const entry = {
      id: message.id,
      topic: TOPIC,
      timestamp,
      origin: origins[i % 16].nodeId,
      envelope: codec.encode(message),
    };
    a.node.components.topicLog.append(entry, now);
    const lacked = spread
      ? i % Math.floor((shared + missing) / missing) === 0 && bodyBytes < missing * entry.envelope.length - 1
      : i >= shared;
    if (lacked) {
      bodyBytes += entry.envelope.length;
    } else b.node.components.topicLog.append(entry, now);
  }
  const lacking = a.node.components.topicLog.summary(TOPIC).count - b.node.components.topicLog.summary(TOPIC).count;
  const start = lab.clock.now();
  await lab.link(a, b);
  const done = await lab.runUntil(
    () => b.node.components.topicLog.summary(TOPIC).count === a.node.components.topicLog.summary(TOPIC).count,
    30_000,
  );
  const elapsed = lab.clock.now() - start;
  await lab.run(2_000);
  const stats = catchupBytes(b);
  const result = {
    scenario: "table",
    missingAre: spread ? "spread" : "newest",
    shared: a.node.components.topicLog.summary(TOPIC).count - lacking,
    missing: lacking,
    converged: done,
    withinMs: elapsed,
    missingBodyBytes: bodyBytes,
    reconcileBytes: stats.reconcile,
    reconcileToBodies: Number((stats.reconcile / bodyBytes).toFixed(3)),
    fetchBytes: stats.fetch,
    rounds: stats.rounds,
  };
  await lab.stop();
  return result;
}

/** Two halves of 10 apart for a minute, each publishing 500; then 3 links between them. */
async function partition(seed: number) {
  const lab = new Lab(seed, 240_000);
  for (let i = 0; i < 20; i++) await lab.add();
  const half = [lab.nodes.slice(0, 10), lab.nodes.slice(10)];
  for (const side of half) {
    for (let i = 0; i < 10; i++) {
      await lab.link(side[i], side[(i + 1) % 10]);
      await lab.link(side[i], side[(i + 3) % 10]);
    }
  }
  await lab.run(2_000);
  for (let i = 0; i < 500; i++) {
    half[0][i % 10].node.broadcast(`left ${i}`, { topic: TOPIC });
    half[1][i % 10].node.broadcast(`right ${i}`, { topic: TOPIC });
    await lab.run(120);
  }
  await lab.run(2_000);
  const apart = half.map((side) => logKeys(side[0]).size);
  const healAt = lab.clock.now();
  for (let i = 0; i < 3; i++) void half[0][i * 3].node.connect(half[1][i * 3].address).catch(() => {});
  const same = () => {
    const reference = logKeys(lab.nodes[0]);
    return reference.size === 1_000 &&
      lab.nodes.every((node) => {
        const keys = logKeys(node);
        return keys.size === reference.size && [...keys].every((k) => reference.has(k));
      });
  };
  const converged = await lab.runUntil(same, 120_000);
  const result = {
    scenario: "partition",
    nodes: 20,
    heldPerHalfBeforeHeal: apart,
    converged,
    withinMs: lab.clock.now() - healAt,
    fetchedByCatchup: lab.nodes.reduce((n, node) => n + node.node.stats().catchup.fetched, 0),
  };
  await lab.stop();
  return result;
}

/** `nodes` nodes, 30% of them crashing and restarting while 300 messages are published. */
async function churn(seed: number, count: number) {
  // Nodes keep their outbound slots filled from their address books, as they would: a node whose peers crashed
  // dials others, and a restarted one rejoins.
  const lab = new Lab(seed, 240_000, DEFAULT_TOPIC_RETENTION, { trustExchangeIntervalMs: 3_600_000 });
  const random = seededRandom(seed + 11);
  const pick = (n: number) => Math.floor(random() * n);
  for (let i = 0; i < count; i++) await lab.add();
  const nodes = lab.nodes;
  for (const node of nodes) {
    for (let k = 0; k < 4; k++) {
      const other = nodes[pick(count)];
      if (other !== node) void node.node.connect(other.address).catch(() => {});
    }
  }
  await lab.run(5_000);
  const down = new Set<number>();
  const victims = new Set<number>();
  while (victims.size < Math.floor(0.3 * count)) victims.add(pick(count));
  for (const index of victims) {
    lab.clock.setTimeout(() => {
      nodes[index].crash();
      down.add(index);
      lab.clock.setTimeout(() => {
        void lab.start(index, nodes[index]).then((node) => {
          nodes[index] = node;
          down.delete(index);
          for (let k = 0; k < 4; k++) {
            const other = nodes[pick(count)];
            if (other !== node && !down.has(other.index)) void node.node.connect(other.address).catch(() => {});
          }
        });
      }, 10_000);
    }, 5_000 + pick(45_000));
  }
  const published: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    const live = nodes.filter((_, index) => !down.has(index));
    const origin = live[pick(live.length)];
    const hex = origin.node.broadcast(`message ${i}`, { topic: TOPIC });
    published.push(Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16)));
    await lab.run(200);
  }
  const settle = () => {
    const live = nodes.filter((_, index) => !down.has(index));
    let held = 0;
    for (const node of live) for (const id of published) if (node.node.components.topicLog.has(id)) held++;
    return { live: live.length, ratio: Number((held / (live.length * published.length)).toFixed(4)) };
  };
  await lab.run(10_000);
  const at10 = settle();
  await lab.run(20_000);
  const at30 = settle();
  const restarted = [...victims].map((index) => nodes[index]);
  const result = {
    scenario: "churn",
    nodes: count,
    churned: victims.size,
    published: published.length,
    liveAtEnd: at30.live,
    heldAfter10s: at10.ratio,
    heldAfter30s: at30.ratio,
    fetchedByRestarted: restarted.reduce((n, node) => n + node.node.stats().catchup.fetched, 0),
  };
  await lab.stop();
  return result;
}

if (import.meta.main) {
  const { values } = parseArgs({
    // `deno task catchup:sim -- --scenario churn` passes the `--` on.
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      seed: { type: "string", default: "1" },
      scenario: { type: "string", default: "all" },
      nodes: { type: "string", default: "1000" },
    },
  });
  const seed = Number(values.seed);
  const scenario = values.scenario;
  const print = (result: unknown, startedAt: number) =>
    console.log(JSON.stringify({ result, cost: { wallMs: Math.round(performance.now() - startedAt) } }));
  if (scenario === "all" || scenario === "offline") {
    for (const repair of [240_000, 5_000]) {
      const t = performance.now();
      print(await offline(seed, repair), t);
    }
  }
  if (scenario === "all" || scenario === "table") {
    for (const spread of [false, true]) {
      for (const shared of [1_000, 10_000, 100_000]) {
        for (const missing of [1, 10, 100, 1_000]) {
          const t = performance.now();
          print(await pair(seed, shared, missing, spread), t);
        }
      }
    }
  }
  if (scenario === "all" || scenario === "partition") {
    const t = performance.now();
    print(await partition(seed), t);
  }
  if (scenario === "churn") {
    const t = performance.now();
    print(await churn(seed, Number(values.nodes)), t);
  }
}
