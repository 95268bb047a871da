/**
 * Simulator runner: N nodes running the real peer, trust and gossip code on
 * an in-memory network with a discrete-event virtual clock.
 *
 *   deno task sim -- --nodes 1000 --degree 8 --messages 100 [--seed 1] [--loss 0.01] [--ttl 16]
 *                    [--rate 10] [--latency 10-80] [--profile default] [--svg coverage.svg]
 *   deno task sim -- --nodes 1000 --topics 100 [--topics-per-node 3] [--zipf 1] [--outside-publishers 0.1]
 *                    [--topic-dials 4] [--single-overlay | --compare] [--byzantine 0.33 [--byzantine-silent]
 *                    [--byzantine-spam-rounds K]] [--dht] [--progress] [--memo-signatures]
 *
 * With --topics, nodes join topics and messages go to them (scripts/sim/topic_workload.ts says how they are
 * drawn, and that each node dials --topic-dials members of each of its topics, as topic discovery is not in
 * the node yet); --single-overlay sends the same messages in the network-wide topic instead, --compare runs
 * both and prints a third line with the per-node cost of the first as a share of the second's.
 *
 * --byzantine F makes a share F of the nodes attackers that forward nothing and every 500 virtual ms send each
 * peer a new valid spam message of their topic (20 copies), a forgery and the adversary harness's bad envelopes;
 * --byzantine-silent makes them only forward nothing; --byzantine-spam-rounds K sends the valid spam in their
 * first K rounds only (default: every round), the rest still every round. --memo-signatures shares one memo
 * of valid signature checks between the nodes (lib/sim/signature_memo.ts): the same result, less CPU.
 *
 * Prints one JSON line: `result` is a pure function of the arguments (the
 * same seed gives byte-identical output); `cost` has wall time, memory and
 * event rate. Real Ed25519 signatures throughout.
 */
import { parseArgs } from "node:util";
import type { PresetName } from "../lib/config.ts";
import type { GossipConfig } from "../lib/gossip/mod.ts";
import { createMessage, DisconnectReason, type Message, MessageType } from "../lib/protocol/mod.ts";
import { byzantineEnvelopes } from "./chaos.ts";
import { randomBytes, seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimNetwork } from "../lib/sim/network.ts";
import { type SimNode, startSimNode } from "../lib/sim/node.ts";
import { signatureMemo } from "../lib/sim/signature_memo.ts";
import {
  compareRuns,
  drawMemberships,
  membersOf,
  planMessages,
  type PlannedMessage,
  topicLinks,
  topicName,
  type TopicRunResult,
  topicRunResult,
  type TopicWorkload,
  watchReceptions,
} from "./sim/topic_workload.ts";
import { topicDiscovery, type TopicDiscoveryResult } from "./sim/topic_graphs.ts";

/** Arguments of one simulation. */
export interface SimulationOptions {
  nodes: number;
  degree: number;
  messages: number;
  seed: number;
  loss: number;
  ttl: number;
  rate: number;
  minLatencyMs: number;
  maxLatencyMs: number;
  /** Per-link bandwidth, bytes/s (0: unlimited). */
  bandwidthBytesPerSecond?: number;
  /** Processing time per received envelope, ms. */
  processingMs?: number;
  profile: PresetName;
  /** Virtual ms to keep running after the last publish, for repair. Default 30,000. */
  settleMs?: number;
  /** Gossip settings beyond NetworkConfig's (e.g. repairFanout), for design experiments. */
  gossip?: Partial<GossipConfig>;
  /** Fraction of nodes crashed during publishing and restarted (same identity and storage) 5 s later. */
  churn?: number;
  /** Virtual ms after the first publish at which the network splits in two halves. */
  partitionAtMs?: number;
  /** Virtual ms after the first publish at which the halves are joined again. */
  healAtMs?: number;
  /**
   * Fraction of nodes that are Byzantine: they forward nothing and, every 500 ms, send each peer the
   * adversary harness's bad envelopes (forgeries, bad timestamps, garbage, lies) and a burst of spam.
   */
  byzantine?: number;
  /** Byzantine nodes only forward nothing: silent members of every overlay they are in, never cut for bad input. */
  byzantineSilent?: boolean;
  /**
   * Byzantine nodes send their valid spam message only in their first this many rounds (default: every round).
   * Forgeries, bad envelopes and lies still go on every link every round, so links are still cut (rightly or
   * wrongly) as before. Each round's spam is one new valid message every honest member of the attacker's topic
   * takes, so its deliveries grow as the square of the network: this bounds the simulator's load, not a node's.
   */
  byzantineSpamRounds?: number;
  /**
   * The nodes share one memo of valid signature checks (lib/sim/signature_memo.ts): the same result, each
   * repeated check answered from memory, so a large run costs the process less CPU. Default off.
   */
  memoSignatures?: boolean;
  /**
   * Print a line to stderr after set-up and every virtual second of the run (its clock, events, memory, links
   * cut, messages the honest nodes keep), for long runs. Changes nothing in the result.
   */
  progress?: boolean;
  /**
   * A topic workload (scripts/sim/topic_workload.ts): nodes in topics of Zipf popularity, messages to topics.
   * Absent: every node publishes and receives every message in the network-wide topic `""`.
   */
  topicWorkload?: TopicWorkload;
  /** Run the node's DHT (its topic rendezvous is then the topic finder's second source). Default off. */
  dht?: boolean;
}

/** The deterministic part of a simulation's output. */
export interface SimulationResult {
  nodes: number;
  degree: number;
  messages: number;
  ttl: number;
  loss: number;
  delivery_ratio: number;
  hops: { mean: number; p99: number; max: number; log_fanout_n: number };
  /**
   * Virtual time until 50% and 99% of the honest nodes have a message (medians over messages), and until all of them
   * have it (the slowest message).
   */
  coverage_ms: { p50: number; p99: number; max: number };
  receptions_per_delivery: number;
  /**
   * Lazy-push counters summed over all nodes (whole run): ids asked for, whole-link and per-origin prunes,
   * grafts, ids announced, peers demoted for their delivery deficit.
   */
  tree: Record<string, number>;
  bytes_per_delivery: number;
  honest_peers_disconnected: number;
  byzantine: number;
  /** Links to Byzantine nodes that honest nodes cut for low trust, and when (virtual ms after the attack began). */
  malicious_links_cut: { count: number; p50_ms: number | null; max_ms: number | null };
  churned: number;
  /** Delivery ratio at the nodes that were crashed and restarted (null without churn). */
  delivery_ratio_churned: number | null;
  partitioned: boolean;
  events: number;
  curve: [number, number][];
  /** The topic workload's figures (only with {@link SimulationOptions.topicWorkload}). */
  topics?: TopicRunResult;
  /** With a topic workload: the topic overlays at the end, and what finding their peers cost. */
  topic_discovery?: TopicDiscoveryResult;
  /**
   * With a topic workload and attackers that send: the attackers' valid spam delivered to honest subscribers,
   * in all and by the attack round it was made in (the first round is 0).
   */
  malicious_spam?: { deliveries: number; by_round: number[] };
}

const round = (x: number, d = 2) => Number(x.toFixed(d));
const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;

/** Runs one simulation; returns its deterministic result. */
export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const random = seededRandom(options.seed);
  const workload = options.topicWorkload;
  if (workload && (options.churn || options.partitionAtMs !== undefined)) {
    throw new RangeError("simulate: the topic workload runs without churn or partitions");
  }
  // The topic workload draws members, links, attackers and publishers from a stream of its own, so its scoped
  // and single-overlay runs share them; without it, everything comes from `random` as it always has.
  const planRandom = workload ? seededRandom(options.seed * 7_919 + 104_729) : random;
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, random, {
    minLatencyMs: options.minLatencyMs,
    maxLatencyMs: options.maxLatencyMs,
    loss: options.loss,
    bandwidthBytesPerSecond: options.bandwidthBytesPerSecond ?? 0,
    processingMs: options.processingMs ?? 0,
  });
  const config = {
    outboundSlots: 0,
    maxPeers: Math.max(64, options.degree * 4),
    maxPeersPerIp: 1_000,
    maxPeersPerSubnet: 1_000,
    messageTtl: options.ttl,
    maxTtl: Math.max(16, options.ttl),
    peerTimeoutMs: 120_000,
    // Below this a node redials from its address book (a restarted node rejoins this way).
    minPeers: Math.min(4, options.degree),
    // Gossip alone unless --dht, as in the figures so far: the DHT has its own simulator (lib/sim/dht.ts).
    dhtEnabled: options.dht ?? false,
  };
  const memo = options.memoSignatures ? signatureMemo() : undefined;
  const extra = memo ? { checkSignature: memo.check } : {};
  const nodes: SimNode[] = [];
  const byzantine = new Set<number>();
  while (byzantine.size < Math.floor((options.byzantine ?? 0) * options.nodes)) {
    byzantine.add(Math.floor(planRandom() * options.nodes));
  }
  const memberships = workload ? drawMemberships(options.nodes, workload, planRandom) : [];
  const memberSets = memberships.map((mine) => new Set(mine));
  const members = workload ? membersOf(memberships, workload.topics) : [];
  const scoped = workload !== undefined && !workload.singleOverlay;
  let plan: PlannedMessage[] = [];
  const indexById = new Map<string, number>();
  let honestWronglyCut = 0;
  const maliciousCutAt: number[] = [];
  let attackStart = 0;
  // deliveries[message][node] = virtual time of first delivery (with a topic workload: members of its topic only)
  const firstAt: Map<number, number>[] = Array.from({ length: options.messages }, () => new Map());
  const publishedAt: number[] = [];
  const hops: number[] = [];
  const hopsBySeq: number[][] = workload ? Array.from({ length: options.messages }, () => []) : [];
  let nonMemberDelivered = 0;
  const MESSAGE_BYTES = 256;
  const [SPAM_BYTES, BYZANTINE_ROUND_MS] = [8, 500];
  const spamByRound: number[] = [];
  const seqOf = (data: Uint8Array) =>
    data.length === MESSAGE_BYTES ? new DataView(data.buffer, data.byteOffset).getUint32(0) : -1;
  const handlers = (node: SimNode, i: number) =>
    node.gossip.registerHandler(MessageType.CUSTOM_DATA, (message) => {
      if (message.type !== MessageType.CUSTOM_DATA) return;
      const seq = new DataView(message.payload.data.buffer, message.payload.data.byteOffset).getUint32(0);
      if (!firstAt[seq].has(i)) {
        firstAt[seq].set(i, clock.now());
        hops.push(options.ttl - message.ttl + 1);
      }
    });
  // The topic workload's nodes join their topics through the node's API and count what their subscriptions get.
  const joinTopics = (node: SimNode, i: number) => {
    const deliver = (data: Uint8Array, timestamp: number) => {
      const seq = seqOf(data);
      if (seq < 0 || seq >= plan.length) {
        // An attacker's message: its spam (8 bytes, made at the start of its round) is counted by round.
        if (data.length === SPAM_BYTES) {
          const round = Math.round((timestamp - attackStart) / BYZANTINE_ROUND_MS);
          spamByRound[round] = (spamByRound[round] ?? 0) + 1;
        }
        return;
      }
      if (!memberSets[i].has(plan[seq].topic)) nonMemberDelivered++;
      else if (!firstAt[seq].has(i)) firstAt[seq].set(i, clock.now());
    };
    const hop = (message: Message) => {
      if (message.type !== MessageType.CUSTOM_DATA) return;
      const seq = seqOf(message.payload.data);
      if (seq >= 0 && seq < plan.length && memberSets[i].has(plan[seq].topic)) {
        hopsBySeq[seq].push(options.ttl - message.ttl + 1);
      }
    };
    if (!scoped) {
      node.node.subscribe(undefined, (message) => deliver(message.data, message.timestamp));
      node.gossip.registerHandler(MessageType.CUSTOM_DATA, hop);
      return;
    }
    for (const rank of memberships[i]) {
      node.node.subscribe(topicName(rank), (message) => deliver(message.data, message.timestamp));
      node.node.components.topics.gossipOf(topicName(rank))!.registerHandler(MessageType.CUSTOM_DATA, hop);
    }
  };
  for (let i = 0; i < options.nodes; i++) {
    const node = await startSimNode(network, i, random, config, options.profile, options.gossip, undefined, {}, extra);
    if (!workload) handlers(node, i);
    nodes.push(node);
    indexById.set(node.identity.nodeId, i);
    if (byzantine.has(i)) {
      node.peers.onEnvelope = () => {}; // forwards nothing, delivers nothing
      let rounds = 0;
      const misbehave = () => {
        const now = clock.now();
        const spams = rounds++ < (options.byzantineSpamRounds ?? Infinity);
        // With topics, the spam is of a topic the attacker is in, so its members take it and relay it.
        const spamTopic = scoped ? topicName(memberships[i][0]) : "spam";
        // One spam message a round, sent 20 times on every link: signing is deterministic, so 20 signings of it
        // gave these same bytes, at the cost of 20 signatures and buffers per link.
        const spamBytes = spams && network.codec.encode(
          createMessage(
            node.identity,
            MessageType.CUSTOM_DATA,
            { topic: spamTopic, data: new Uint8Array(SPAM_BYTES) },
            {
              timestamp: now,
            },
          ),
        );
        for (const connection of node.transport.connections()) {
          const spam = () => {
            if (!spamBytes) return;
            for (let s = 0; s < 20; s++) connection.sendEncoded(spamBytes);
          };
          // With topics, the spam and a forgery in the attacker's topic go first, so peers outside the topic see
          // them before the other forgeries cut the link.
          if (scoped) {
            spam();
            const forged = createMessage(node.identity, MessageType.CUSTOM_DATA, {
              topic: spamTopic,
              data: new Uint8Array(64),
            }, { timestamp: now });
            connection.send({ ...forged, signature: randomBytes(random, 64) });
          }
          for (const bytes of byzantineEnvelopes(node.identity, random, undefined, now)) connection.sendEncoded(bytes);
          if (!scoped) spam();
        }
        clock.setTimeout(misbehave, BYZANTINE_ROUND_MS);
      };
      clock.setTimeout(() => {
        attackStart = clock.now();
        if (!options.byzantineSilent) misbehave();
      }, 2 * options.maxLatencyMs + 200);
    } else {
      const previous = node.peers.onPeerDisconnected;
      node.peers.onPeerDisconnected = (peer, info) => {
        previous?.(peer, info);
        if (info.reason !== DisconnectReason.LOW_TRUST || info.by !== "local") return;
        if (byzantine.has(indexById.get(peer.nodeId) ?? -1)) maliciousCutAt.push(clock.now() - attackStart);
        else honestWronglyCut++;
      };
    }
  }
  const setUpAt = performance.now();
  const setUpProgress = (phase: string) => {
    if (!options.progress) return;
    const wall_s = round((performance.now() - setUpAt) / 1000, 1);
    console.error(JSON.stringify({ progress: phase, wall_s, rss_mb: Math.round(Deno.memoryUsage().rss / 1048576) }));
  };
  setUpProgress("nodes started");
  // After every node has started, so both runs of a topic workload give the nodes the same identities.
  if (workload) nodes.forEach(joinTopics);
  // Topology: a ring, then each node dials degree - 1 more random nodes (links are undirected).
  const linked = new Set<string>();
  const dials: Promise<unknown>[] = [];
  const link = (a: number, b: number) => {
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (a === b || linked.has(key)) return false;
    linked.add(key);
    dials.push(nodes[a].peers.connect(nodes[b].address).catch(() => {}));
    return true;
  };
  for (let i = 0; i < options.nodes; i++) link(i, (i + 1) % options.nodes);
  for (let i = 0; i < options.nodes; i++) {
    let extra = 0;
    for (let tries = 0; extra < options.degree - 1 && tries < 100; tries++) {
      if (link(i, Math.floor(planRandom() * options.nodes))) extra++;
    }
  }
  // The stand-in for topic discovery: each node dials a few members of each of its topics.
  if (workload) { for (const [a, b] of topicLinks(memberships, members, workload.topicDials, planRandom)) link(a, b); }
  const step = async (until: number) => {
    // Run in 10 ms slices so promise continuations (dial results) settle between them, the same way every run.
    while (clock.now() < until) {
      clock.runUntil(Math.min(until, clock.now() + 10));
      await Promise.resolve();
      await Promise.resolve();
    }
  };
  await step(clock.now() + 2 * options.maxLatencyMs + 100);
  await Promise.all(dials);
  setUpProgress("linked");
  if (workload) {
    // Subscriptions cross each new link after it opens: let them land before the first publish.
    await step(clock.now() + 2 * options.maxLatencyMs + 100);
    const neighbours = nodes.map((node) =>
      // Peers only: the DHT's transient links (--dht) carry no topic.
      node.transport.connections().filter((c) => !c.transient).map((c) => indexById.get(c.remoteNodeId)!)
    );
    plan = planMessages(
      options.messages,
      workload,
      memberships,
      members,
      (i) => !byzantine.has(i),
      (i) => neighbours[i],
      planRandom,
    );
  }
  // What each node receives while messages are published (the topic workload's per-node figures).
  const receptions = workload
    ? watchReceptions(network, nodes.map((node) => node.address), plan, memberSets, scoped, MESSAGE_BYTES)
    : undefined;
  const costAt = (node: SimNode) => {
    const checks = node.node.stats().signatureChecks;
    return { bytesIn: node.transport.counters.bytesIn, signatureChecks: checks.inline + checks.offloaded };
  };
  const costBefore = workload ? nodes.map(costAt) : [];
  const gossipStats = (node: SimNode) => workload ? node.node.stats().gossip : node.gossip.stats;
  const startedAt = clock.now();
  const receivedBefore = nodes.reduce((n, node) => n + gossipStats(node).delivered + gossipStats(node).duplicates, 0);
  const bytesBefore = network.bytesSent;
  const down = new Set<number>(); // crashed, not yet restarted
  let publishFailures = 0;
  for (let seq = 0; seq < options.messages; seq++) {
    clock.setTimeout(() => {
      const data = new Uint8Array(MESSAGE_BYTES);
      new DataView(data.buffer).setUint32(0, seq);
      publishedAt[seq] = clock.now();
      if (workload) {
        const { topic, origin, outside } = plan[seq];
        if (!outside) firstAt[seq].set(origin, clock.now()); // the origin has it
        try {
          nodes[origin].node.broadcast(data, { topic: scoped ? topicName(topic) : "" });
        } catch {
          publishFailures++;
        }
        return;
      }
      // Only a running, honest node publishes.
      const live = nodes.filter((_, i) => !down.has(i) && !byzantine.has(i));
      const origin = live[Math.floor(random() * live.length)];
      firstAt[seq].set(origin.index, clock.now()); // the origin has it
      origin.gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data });
    }, (seq * 1000) / options.rate);
  }
  const lastPublish = startedAt + ((options.messages - 1) * 1000) / options.rate;
  // Faults.
  let churned = 0;
  const victims = new Set<number>();
  if (options.churn && options.churn > 0) {
    while (victims.size < Math.floor(options.churn * options.nodes)) victims.add(Math.floor(random() * options.nodes));
    churned = victims.size;
    clock.setTimeout(() => {
      for (const index of victims) {
        nodes[index].crash();
        down.add(index);
      }
      clock.setTimeout(() => {
        for (const index of victims) {
          const old = nodes[index];
          // The node is up once its start settles (at the end of this 10 ms step).
          void startSimNode(
            network,
            index,
            random,
            config,
            options.profile,
            options.gossip,
            {
              identity: old.identity,
              storage: old.storage,
              topicLog: old.topicLog,
            },
            {},
            extra,
          ).then((node) => {
            handlers(node, index);
            nodes[index] = node;
            down.delete(index);
          });
        }
      }, 5_000);
    }, (lastPublish - startedAt) / 5);
  }
  if (options.partitionAtMs !== undefined) {
    // simAddress(i) is 127.(i >> 8).(i & 255).1:7400
    const half = (address: string) => {
      const [, b, c] = address.split(".");
      return (Number(b) << 8) + Number(c) < options.nodes / 2;
    };
    clock.setTimeout(() => network.blocked = (a, b) => half(a) !== half(b), options.partitionAtMs);
    clock.setTimeout(() => network.heal(), options.healAtMs ?? options.partitionAtMs + 10_000);
  }
  // The topic workload's per-node costs cover a fixed window, the same in its scoped and single-overlay runs.
  const COST_WINDOW_MS = 5_000;
  let costAfter: { bytesIn: number; signatureChecks: number }[] = [];
  let envelopesAfter: number[] = [];
  if (workload) {
    clock.setTimeout(() => {
      costAfter = nodes.map(costAt);
      envelopesAfter = receptions!.envelopesIn.slice();
    }, lastPublish + COST_WINDOW_MS - clock.now());
  }
  const settle = options.settleMs ?? 30_000;
  // Run until every message reached every node, or the settle time after the last publish.
  const faultsOverAt = Math.max(
    lastPublish,
    startedAt + (options.healAtMs ?? 0),
    options.churn ? lastPublish + 5_000 : 0,
    workload ? lastPublish + COST_WINDOW_MS : 0,
  );
  const honestCount = options.nodes - byzantine.size;
  // Per message: the honest nodes that should have it (the origin included when it is one of them).
  const targets = workload
    ? plan.map(({ topic }) => members[topic].filter((i) => !byzantine.has(i)).length)
    : firstAt.map(() => honestCount);
  const originCounted = workload ? plan.map(({ outside }) => !outside) : firstAt.map(() => true);
  const wallStart = performance.now();
  const progress = (phase: string) => {
    if (!options.progress) return;
    const memory = Deno.memoryUsage();
    // What honest nodes keep per message: their gossip stores' and topic logs' entries, summed over nodes.
    let stored = 0, logged = 0;
    for (let i = 0; i < nodes.length; i++) {
      if (byzantine.has(i)) continue;
      const node = nodes[i];
      stored += node.gossip.cacheSizes.stored;
      if (scoped) {
        for (const rank of memberships[i]) {
          stored += node.node.components.topics.gossipOf(topicName(rank))?.cacheSizes.stored ?? 0;
        }
      }
      for (const topic of node.topicLog.topics()) logged += node.topicLog.summary(topic).count;
    }
    console.error(JSON.stringify({
      progress: phase,
      virtual_ms: clock.now() - startedAt,
      wall_s: round((performance.now() - wallStart) / 1000, 1),
      events: clock.eventsRun,
      timers: clock.pending,
      rss_mb: Math.round(memory.rss / 1048576),
      heap_mb: Math.round(memory.heapUsed / 1048576),
      malicious_links_cut: maliciousCutAt.length,
      honest_peers_disconnected: honestWronglyCut,
      honest_kept: { stored, logged },
    }));
  };
  progress("publishing");
  while (clock.now() < faultsOverAt + settle) {
    await step(clock.now() + 500);
    if ((clock.now() - startedAt) % 1000 < 500) progress("running");
    if (clock.now() > faultsOverAt && firstAt.every((m, seq) => m.size === targets[seq])) break;
  }
  const deliveries = firstAt.reduce((n, m, seq) => n + m.size - (originCounted[seq] ? 1 : 0), 0);
  const expected = targets.reduce((n, t, seq) => n + t - (originCounted[seq] ? 1 : 0), 0);
  const finalStats = nodes.map(gossipStats);
  const received = finalStats.reduce((n, stats) => n + stats.delivered + stats.duplicates, 0) - receivedBefore;
  // Per message: virtual time until 50%, 99% and 100% of the honest nodes have it (Infinity if never).
  const reachTime = (m: Map<number, number>, seq: number, share: number) => {
    const times = [...m.values()].map((t) => t - publishedAt[seq]).sort((a, b) => a - b);
    const needed = Math.ceil(share * targets[seq]);
    return times.length >= needed ? times[needed - 1] : Infinity;
  };
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const t50 = median(firstAt.map((m, seq) => reachTime(m, seq, 0.5)));
  const t99 = median(firstAt.map((m, seq) => reachTime(m, seq, 0.99)));
  const t100 = Math.max(...firstAt.map((m, seq) => reachTime(m, seq, 1)));
  // Coverage curve: share of (message, node) pairs reached by virtual time since publish.
  const delays = firstAt.flatMap((m, seq) => [...m.values()].map((t) => t - publishedAt[seq])).sort((a, b) => a - b);
  const pairs = targets.reduce((a, b) => a + b, 0);
  const curve: [number, number][] = [];
  for (const ms of [0, 25, 50, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 3000, 5000, 10000]) {
    let reached = 0;
    while (reached < delays.length && delays[reached] <= ms) reached++;
    curve.push([ms, round(reached / pairs, 4)]);
  }
  // (One at a time: a spread of millions of hops would overflow the stack.)
  if (workload) { for (const list of hopsBySeq) for (const hop of list) hops.push(hop); }
  hops.sort((a, b) => a - b);
  maliciousCutAt.sort((a, b) => a - b);
  const fanout = nodes[0].gossip.config.fanout;
  // The overlay each message spreads in: its topic's members, or every node.
  const overlaySize = (seq: number) => scoped ? members[plan[seq].topic].length : options.nodes;
  const result: SimulationResult = {
    nodes: options.nodes,
    degree: options.degree,
    messages: options.messages,
    ttl: options.ttl,
    loss: options.loss,
    delivery_ratio: round(deliveries / expected, 4),
    hops: {
      mean: round(hops.reduce((a, b) => a + b, 0) / Math.max(1, hops.length)),
      p99: percentile(hops, 99),
      max: hops.at(-1) ?? 0,
      // With topics: over deliveries, of the size of the overlay each message spread in.
      log_fanout_n: workload
        ? round(
          hopsBySeq.reduce((n, list, seq) => n + list.length * Math.log(overlaySize(seq)), 0) /
            Math.max(1, hops.length) / Math.log(fanout),
        )
        : round(Math.log(options.nodes) / Math.log(fanout)),
    },
    coverage_ms: { p50: round(t50, 1), p99: round(t99, 1), max: round(t100, 1) },
    receptions_per_delivery: round(received / Math.max(1, deliveries)),
    tree: Object.fromEntries(
      (["requested", "prunes", "originPrunes", "grafts", "announced", "deficitDemotions"] as const).map((key) => [
        key,
        finalStats.reduce((n, stats) => n + stats[key], 0),
      ]),
    ),
    bytes_per_delivery: Math.round((network.bytesSent - bytesBefore) / Math.max(1, deliveries)),
    honest_peers_disconnected: honestWronglyCut,
    byzantine: byzantine.size,
    malicious_links_cut: {
      count: maliciousCutAt.length,
      p50_ms: maliciousCutAt.length ? percentile(maliciousCutAt, 50) : null,
      max_ms: maliciousCutAt.at(-1) ?? null,
    },
    churned,
    delivery_ratio_churned: churned === 0 ? null : round(
      firstAt.reduce((n, m) => n + [...victims].filter((v) => m.has(v)).length, 0) / (options.messages * churned),
      4,
    ),
    partitioned: options.partitionAtMs !== undefined,
    events: clock.eventsRun,
    curve,
  };
  if (workload) {
    network.onReceive = undefined;
    const honest = nodes.map((_, i) => i).filter((i) => !byzantine.has(i));
    result.topics = topicRunResult({
      workload,
      memberships,
      members,
      plan,
      byzantine,
      hopsBySeq,
      fanout,
      deliveries,
      leaks: { ...receptions!.leaks, delivered: nonMemberDelivered, publishFailures },
      costs: honest.map((i) => ({
        node: i,
        bytesIn: costAfter[i].bytesIn - costBefore[i].bytesIn,
        envelopesIn: envelopesAfter[i],
        signatureChecks: costAfter[i].signatureChecks - costBefore[i].signatureChecks,
      })),
      routing: honest.map((i) => nodes[i].node.stats().topics),
    });
    result.topic_discovery = topicDiscovery(nodes, members, (i) => byzantine.has(i), network.bytesSent);
    if (byzantine.size > 0 && !options.byzantineSilent) {
      const byRound = Array.from(spamByRound, (n) => n ?? 0);
      result.malicious_spam = { deliveries: byRound.reduce((a, b) => a + b, 0), by_round: byRound };
    }
  }
  // A node's stop waits for its dials in flight (attackers below their peer count keep dialing), which end on
  // the virtual clock: it runs on while they stop, or the run would wait for a clock nothing advances.
  let stopped = false;
  const stopping = Promise.all(nodes.map((n) => n.stop())).then(() => stopped = true);
  for (const until = clock.now() + 60_000; !stopped && clock.now() < until;) await step(clock.now() + 10);
  if (stopped) await stopping;
  else console.error("simulate: some nodes had not stopped after 60 s of virtual time");
  clock.runUntil(clock.now() + 10 * options.maxLatencyMs); // let the close notices land
  return result;
}

/** An SVG of coverage (share of honest node-message pairs reached) over virtual time, one line per run. */
export function coverageSvg(runs: { label: string; curve: [number, number][] }[]): string {
  const width = 640, height = 340, pad = 50;
  const maxMs = Math.max(...runs.flatMap((r) => r.curve.map(([ms]) => ms)));
  // A log-like scale keeps the first hundreds of milliseconds readable.
  const x = (ms: number) => pad + (Math.log10(1 + ms) / Math.log10(1 + maxMs)) * (width - 2 * pad);
  const y = (share: number) => height - pad - share * (height - 2 * pad);
  const colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];
  const ticks = [0, 10, 100, 1000, 10000].filter((ms) => ms <= maxMs);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad}" y="22" font-size="13">Coverage over virtual time after publishing (kith simulator)</text>
<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="black"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="black"/>
${ticks.map((ms) => `<text x="${x(ms) - 10}" y="${height - pad + 16}" font-size="11">${ms} ms</text>`).join("")}
${[0, 0.5, 1].map((v) => `<text x="${pad - 34}" y="${y(v) + 4}" font-size="11">${v * 100}%</text>`).join("")}
${
    runs.map((r, i) =>
      `<polyline fill="none" stroke="${colours[i % colours.length]}" stroke-width="2" points="${
        r.curve.map(([ms, share]) => `${x(ms)},${y(share)}`).join(" ")
      }"/><text x="${width - pad - 120}" y="${pad + 16 * i}" font-size="12" fill="${
        colours[i % colours.length]
      }">${r.label}</text>`
    ).join("\n")
  }
</svg>
`;
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      nodes: { type: "string", default: "200" },
      degree: { type: "string", default: "8" },
      messages: { type: "string", default: "100" },
      seed: { type: "string", default: "1" },
      loss: { type: "string", default: "0" },
      ttl: { type: "string", default: "16" },
      rate: { type: "string", default: "10" },
      latency: { type: "string", default: "10-80" },
      profile: { type: "string", default: "default" },
      gossip: { type: "string", default: "{}" },
      churn: { type: "string", default: "0" },
      byzantine: { type: "string", default: "0" },
      "byzantine-silent": { type: "boolean", default: false },
      "byzantine-spam-rounds": { type: "string" },
      progress: { type: "boolean", default: false },
      "memo-signatures": { type: "boolean", default: false },
      svg: { type: "string" },
      bandwidth: { type: "string", default: "0" },
      "processing-ms": { type: "string", default: "0" },
      sizes: { type: "string" },
      "partition-at": { type: "string" },
      "heal-at": { type: "string" },
      topics: { type: "string", default: "0" },
      "topics-per-node": { type: "string", default: "3" },
      zipf: { type: "string", default: "1" },
      "outside-publishers": { type: "string", default: "0" },
      "topic-dials": { type: "string", default: "4" },
      "single-overlay": { type: "boolean", default: false },
      compare: { type: "boolean", default: false },
      dht: { type: "boolean", default: false },
    },
  }).values;
  const [minLatencyMs, maxLatencyMs] = args.latency!.split("-").map(Number);
  const options: SimulationOptions = {
    nodes: Number(args.nodes),
    degree: Number(args.degree),
    messages: Number(args.messages),
    seed: Number(args.seed),
    loss: Number(args.loss),
    ttl: Number(args.ttl),
    rate: Number(args.rate),
    minLatencyMs,
    maxLatencyMs,
    profile: args.profile as PresetName,
    gossip: JSON.parse(args.gossip!),
    churn: Number(args.churn),
    byzantine: Number(args.byzantine),
    byzantineSilent: args["byzantine-silent"] ?? false,
    byzantineSpamRounds: args["byzantine-spam-rounds"] !== undefined
      ? Number(args["byzantine-spam-rounds"])
      : undefined,
    progress: args.progress ?? false,
    memoSignatures: args["memo-signatures"] ?? false,
    bandwidthBytesPerSecond: Number(args.bandwidth),
    processingMs: Number(args["processing-ms"]),
    partitionAtMs: args["partition-at"] !== undefined ? Number(args["partition-at"]) : undefined,
    healAtMs: args["heal-at"] !== undefined ? Number(args["heal-at"]) : undefined,
    topicWorkload: Number(args.topics) > 0
      ? {
        topics: Number(args.topics),
        topicsPerNode: Number(args["topics-per-node"]),
        zipf: Number(args.zipf),
        outsidePublishers: Number(args["outside-publishers"]),
        topicDials: Number(args["topic-dials"]),
        singleOverlay: args["single-overlay"] ?? false,
      }
      : undefined,
    dht: args.dht ?? false,
  };
  const topics = options.topicWorkload;
  if (
    topics && !(Number.isInteger(topics.topics) && topics.topics <= 10_000 && Number.isInteger(topics.topicsPerNode) &&
      topics.topicsPerNode >= 1 && topics.topicsPerNode <= Math.min(64, topics.topics) && topics.zipf >= 0 &&
      topics.outsidePublishers >= 0 && topics.outsidePublishers <= 1 && Number.isInteger(topics.topicDials) &&
      topics.topicDials >= 0 && !options.churn && options.partitionAtMs === undefined)
  ) {
    console.error(
      "simulate: check --topics (1..10000), --topics-per-node (1..min(64, topics)), --zipf (>= 0), " +
        "--outside-publishers (0..1), --topic-dials (>= 0); topics run without --churn or --partition-at",
    );
    Deno.exit(2);
  }
  const spamRounds = options.byzantineSpamRounds;
  if (spamRounds !== undefined && !(Number.isInteger(spamRounds) && spamRounds >= 0)) {
    console.error("simulate: --byzantine-spam-rounds is a count of rounds (an integer >= 0)");
    Deno.exit(2);
  }
  if (args.compare && !topics) {
    console.error("simulate: --compare runs a topic workload scoped and in one overlay; give --topics N");
    Deno.exit(2);
  }
  if (
    !(options.nodes >= 2 && options.degree >= 1 && options.messages >= 1 && options.loss >= 0 && options.loss < 1 &&
      options.ttl >= 1 && options.ttl <= 255 && options.rate > 0 && minLatencyMs >= 0 && maxLatencyMs >= minLatencyMs)
  ) {
    console.error(
      "simulate: check --nodes (>= 2), --degree, --messages, --loss (0..1), --ttl (1..255), --rate, --latency MIN-MAX",
    );
    Deno.exit(2);
  }
  const runs: { label: string; curve: [number, number][] }[] = [];
  const variants = args.compare
    ? [false, true].map((singleOverlay) => ({ ...options, topicWorkload: { ...topics!, singleOverlay } }))
    : [options];
  for (const nodes of args.sizes ? args.sizes.split(",").map(Number) : [options.nodes]) {
    const pair: SimulationResult[] = [];
    for (const variant of variants) {
      const started = performance.now();
      const result = await simulate({ ...variant, nodes });
      const wallS = (performance.now() - started) / 1000;
      pair.push(result);
      runs.push({ label: `N = ${nodes}`, curve: result.curve });
      console.log(JSON.stringify({
        result,
        cost: {
          wall_s: round(wallS),
          rss_mb: Math.round(Deno.memoryUsage().rss / 1048576),
          events_per_s: Math.round(result.events / wallS),
        },
      }));
    }
    if (args.compare) {
      console.log(JSON.stringify({ comparison: compareRuns(pair[0].nodes, pair[0].topics!, pair[1].topics!) }));
    }
  }
  if (args.svg) {
    await Deno.writeTextFile(args.svg, coverageSvg(runs));
    console.error(`simulate: wrote ${args.svg}`);
  }
}
