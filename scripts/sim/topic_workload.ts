/**
 * The simulator's topic workload: which topics each node is in, which extra links give each node peers in its
 * topics, which topic each message goes to and who publishes it, and the per-node report.
 *
 * Popularity is Zipf with exponent `zipf` over topic ranks (topic `t0` the most popular), for both what nodes
 * join (each node draws `topicsPerNode` distinct topics with probability proportional to 1 / (rank + 1)^zipf)
 * and what messages are published to (each message draws its topic the same way, redrawn while the topic has
 * fewer than two honest members, so every message has someone to reach). A message's publisher is a random
 * honest member of its topic or, with probability `outsidePublishers`, a random honest node outside it that has
 * a connected peer in it (a fanout publish; a member when no such node turns up in 64 draws).
 *
 * Topology: topic discovery is not in the node yet, so the simulator builds topic-aware links itself: after the
 * ring and random links every run has, each node dials `topicDials` random members of each of its topics
 * through the node's own connect API. The figures depend on that topology.
 *
 * Everything here draws from its own seeded stream, so the scoped run and the single-overlay run of the same
 * arguments have the same members, links, publishers and messages.
 *
 * @module
 */
import { decode } from "@msgpack/msgpack";
import { MessageType } from "../../lib/protocol/mod.ts";
import type { RandomSource } from "../../lib/random.ts";
import type { SimNetwork } from "../../lib/sim/network.ts";

/** The topic workload's arguments. */
export interface TopicWorkload {
  /** Number of topics (named `t0` ... `t{N-1}`, most popular first). */
  topics: number;
  /** Topics each node is in. */
  topicsPerNode: number;
  /** Zipf exponent of topic popularity, for membership and for messages (0: uniform). */
  zipf: number;
  /** Share of messages published from outside their topic (by fanout). */
  outsidePublishers: number;
  /** Random members of each of its topics each node dials (the stand-in for topic discovery). */
  topicDials: number;
  /**
   * Publish every message in the network-wide topic `""` instead (today's single overlay) with the same
   * members, links and publishers, and join no topic: the run to compare the scoped one against.
   */
  singleOverlay: boolean;
}

/** One planned message. */
export interface PlannedMessage {
  /** Topic rank. */
  topic: number;
  /** Publishing node. */
  origin: number;
  /** Whether the origin is outside the topic (a fanout publish). */
  outside: boolean;
}

/** The name of the topic of rank `rank`. */
export function topicName(rank: number): string {
  return `t${rank}`;
}

/** Cumulative Zipf weights of `n` ranks with exponent `s`, normalised to end at 1. */
export function zipfCumulative(n: number, s: number): number[] {
  const weights = Array.from({ length: n }, (_, r) => 1 / Math.pow(r + 1, s));
  const total = weights.reduce((a, b) => a + b, 0);
  let sum = 0;
  return weights.map((w) => (sum += w / total));
}

function drawRank(cumulative: number[], random: RandomSource): number {
  const x = random();
  let lo = 0, hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Each node's topics (ranks), `topicsPerNode` distinct ones drawn by popularity. */
export function drawMemberships(nodes: number, workload: TopicWorkload, random: RandomSource): number[][] {
  const cumulative = zipfCumulative(workload.topics, workload.zipf);
  const k = Math.min(workload.topicsPerNode, workload.topics);
  return Array.from({ length: nodes }, () => {
    const mine = new Set<number>();
    for (let tries = 0; mine.size < k && tries < 1_000 * k; tries++) mine.add(drawRank(cumulative, random));
    // Only reached with extreme exponents: fill with the most popular topics not drawn.
    for (let rank = 0; mine.size < k; rank++) mine.add(rank);
    return [...mine];
  });
}

/** Topic rank -> its member nodes, in node order. */
export function membersOf(memberships: number[][], topics: number): number[][] {
  const members: number[][] = Array.from({ length: topics }, () => []);
  memberships.forEach((mine, node) => {
    for (const topic of mine) members[topic].push(node);
  });
  return members;
}

/** The extra links: each node to `topicDials` random other members of each of its topics (dialer first). */
export function topicLinks(memberships: number[][], members: number[][], dials: number, random: RandomSource) {
  const links: [number, number][] = [];
  memberships.forEach((mine, node) => {
    for (const topic of mine) {
      const others = members[topic].length - 1;
      const chosen = new Set<number>();
      for (let tries = 0; chosen.size < Math.min(dials, others) && tries < 20 * dials; tries++) {
        const peer = members[topic][Math.floor(random() * members[topic].length)];
        if (peer !== node) chosen.add(peer);
      }
      for (const peer of chosen) links.push([node, peer]);
    }
  });
  return links;
}

/**
 * Plans `count` messages: topic by popularity among topics with at least two honest members, publisher a
 * random honest member, or an honest outsider with a connected peer in the topic (see the module docs).
 */
export function planMessages(
  count: number,
  workload: TopicWorkload,
  memberships: number[][],
  members: number[][],
  honest: (node: number) => boolean,
  neighbours: (node: number) => readonly number[],
  random: RandomSource,
): PlannedMessage[] {
  const cumulative = zipfCumulative(workload.topics, workload.zipf);
  const honestMembers = members.map((list) => list.filter(honest));
  const eligible = honestMembers.map((list) => list.length >= 2);
  if (!eligible.some(Boolean)) throw new RangeError("simulate: no topic has two honest members; add nodes");
  const nodes = memberships.length;
  const sets = memberships.map((mine) => new Set(mine));
  const plan: PlannedMessage[] = [];
  for (let seq = 0; seq < count; seq++) {
    let topic = drawRank(cumulative, random);
    for (let tries = 0; !eligible[topic] && tries < 1_000; tries++) topic = drawRank(cumulative, random);
    if (!eligible[topic]) topic = eligible.indexOf(true);
    let origin = -1;
    if (random() < workload.outsidePublishers) {
      for (let tries = 0; tries < 64 && origin < 0; tries++) {
        const candidate = Math.floor(random() * nodes);
        if (!honest(candidate) || sets[candidate].has(topic)) continue;
        if (neighbours(candidate).some((peer) => sets[peer].has(topic))) origin = candidate;
      }
    }
    const outside = origin >= 0;
    if (!outside) origin = honestMembers[topic][Math.floor(random() * honestMembers[topic].length)];
    plan.push({ topic, origin, outside });
  }
  return plan;
}

const round = (x: number, d = 2) => Number(x.toFixed(d));
const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;

/** What one node received during the publishing phase. */
export interface NodeCost {
  /** Bytes received on the wire. */
  bytesIn: number;
  /** Envelopes received. */
  envelopesIn: number;
  /** Signature checks the node made (the dominant CPU cost per message). */
  signatureChecks: number;
}

/** One group of nodes by their topics' traffic. */
export interface TrafficBin {
  /** Share of all messages published to the nodes' topics (mean over the group). */
  traffic_share: number;
  /** Means per node of the group. */
  bytes_in: number;
  envelopes_in: number;
  signature_checks: number;
}

/**
 * Per-node cost against its topics' traffic (messages published to topics it is in): the nodes in five
 * equal groups by traffic, and a least-squares line of bytes received against traffic.
 */
export function costByTraffic(traffic: number[], costs: NodeCost[], totalMessages: number) {
  const order = traffic.map((_, i) => i).sort((a, b) => traffic[a] - traffic[b] || a - b);
  const bins: TrafficBin[] = [];
  const groups = 5;
  for (let g = 0; g < groups; g++) {
    const group = order.slice(Math.floor((g * order.length) / groups), Math.floor(((g + 1) * order.length) / groups));
    const mean = (f: (i: number) => number) => group.reduce((n, i) => n + f(i), 0) / Math.max(1, group.length);
    bins.push({
      traffic_share: round(mean((i) => traffic[i]) / totalMessages, 3),
      bytes_in: Math.round(mean((i) => costs[i].bytesIn)),
      envelopes_in: Math.round(mean((i) => costs[i].envelopesIn)),
      signature_checks: Math.round(mean((i) => costs[i].signatureChecks)),
    });
  }
  // bytes_in = intercept + slope * traffic
  const n = traffic.length;
  const mx = traffic.reduce((a, b) => a + b, 0) / n;
  const my = costs.reduce((a, c) => a + c.bytesIn, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (traffic[i] - mx) * (costs[i].bytesIn - my);
    sxx += (traffic[i] - mx) ** 2;
    syy += (costs[i].bytesIn - my) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return {
    bins,
    bytes_in_fit: {
      per_message_of_own_topics: Math.round(slope),
      intercept: Math.round(my - slope * mx),
      r2: sxx > 0 && syy > 0 ? round((sxy * sxy) / (sxx * syy), 3) : null,
    },
  };
}

/** What a topic workload run adds to its simulation result. */
export interface TopicRunResult {
  topics: number;
  topics_per_node: number;
  zipf: number;
  outside_publishers: number;
  topic_dials: number;
  single_overlay: boolean;
  /** Members per topic (all nodes, Byzantine ones included). */
  topic_size: { min: number; median: number; max: number };
  /** Share of a topic's members that are Byzantine, over topics with at least 3 members. */
  byzantine_share_of_members: { median: number; max: number } | null;
  /** Messages published from outside their topic (fanout), and publishes that failed. */
  published_outside: number;
  publish_failures: number;
  /** Workload messages that reached nodes outside their topic (any copy; a fanout origin's own message aside). */
  non_member: {
    messages: number;
    share_of_deliveries: number;
    /** Of them, first copies delivered to the application (refused before delivery when topics scope). */
    delivered: number;
    /** Repair digests naming a topic, received by a node outside it; those at the topic's fanout publishers apart. */
    digests: number;
    digests_at_fanout_publishers: number;
    /** Copies of its own message a fanout origin received back. */
    back_to_fanout_origin: number;
  };
  /** Hops by topic size (members), against log base fanout of the size. */
  hops_by_topic_size: { size: string; deliveries: number; mean: number; p99: number; log_fanout_size: number }[];
  /** Honest nodes' cost during publishing against their topics' traffic (signature checks: the CPU proxy). */
  per_node: ReturnType<typeof costByTraffic>;
  /** Topic routing counters summed over honest nodes (TopicStats). */
  routing: Record<string, number>;
}

/** What {@link topicRunResult} is made from. */
export interface TopicRunInput {
  workload: TopicWorkload;
  memberships: number[][];
  members: number[][];
  plan: PlannedMessage[];
  byzantine: ReadonlySet<number>;
  /** Per message, the hops of its deliveries to members. */
  hopsBySeq: number[][];
  /** Eager links per node (hops are compared with log base fanout of the topic's size). */
  fanout: number;
  /** First copies delivered to members (origins aside). */
  deliveries: number;
  /** What reached non-members (see {@link TopicRunResult}'s non_member), and publishes that threw. */
  leaks: {
    messages: number;
    delivered: number;
    digests: number;
    digestsAtFanout: number;
    backToOrigin: number;
    publishFailures: number;
  };
  /** Each honest node's cost over the measuring window. */
  costs: (NodeCost & { node: number })[];
  /** Each honest node's topic routing counters. */
  routing: object[];
}

/** The topic workload's part of a run's result. */
export function topicRunResult(input: TopicRunInput): TopicRunResult {
  const { workload, members, memberships, plan, byzantine, hopsBySeq, fanout, leaks } = input;
  const perTopic = members.map(() => 0);
  for (const { topic } of plan) perTopic[topic]++;
  const traffic = input.costs.map(({ node }) => memberships[node].reduce((n, topic) => n + perTopic[topic], 0));
  const sizes = members.map((list) => list.length).sort((a, b) => a - b);
  const byzantineShares = members.filter((list) => list.length >= 3)
    .map((list) => list.filter((i) => byzantine.has(i)).length / list.length).sort((a, b) => a - b);
  const routing: Record<string, number> = {};
  for (const stats of input.routing) {
    for (const [key, value] of Object.entries(stats)) routing[key] = (routing[key] ?? 0) + Number(value);
  }
  const buckets = [[2, 9], [10, 99], [100, 999], [1_000, Infinity]];
  return {
    topics: workload.topics,
    topics_per_node: workload.topicsPerNode,
    zipf: workload.zipf,
    outside_publishers: workload.outsidePublishers,
    topic_dials: workload.topicDials,
    single_overlay: workload.singleOverlay,
    topic_size: { min: sizes[0], median: percentile(sizes, 50), max: sizes.at(-1)! },
    byzantine_share_of_members: byzantine.size === 0 || byzantineShares.length === 0
      ? null
      : { median: round(percentile(byzantineShares, 50), 3), max: round(byzantineShares.at(-1)!, 3) },
    published_outside: plan.filter((m) => m.outside).length,
    publish_failures: leaks.publishFailures,
    non_member: {
      messages: leaks.messages,
      share_of_deliveries: round(leaks.messages / Math.max(1, input.deliveries), 4),
      delivered: leaks.delivered,
      digests: leaks.digests,
      digests_at_fanout_publishers: leaks.digestsAtFanout,
      back_to_fanout_origin: leaks.backToOrigin,
    },
    hops_by_topic_size: buckets.map(([low, high]) => {
      const hops: number[] = [];
      let logSum = 0;
      hopsBySeq.forEach((list, seq) => {
        const size = members[plan[seq].topic].length;
        if (size < low || size > high) return;
        for (const hop of list) hops.push(hop);
        logSum += list.length * Math.log(size);
      });
      hops.sort((a, b) => a - b);
      return {
        size: high === Infinity ? `${low}+` : `${low}-${high}`,
        deliveries: hops.length,
        mean: round(hops.reduce((a, b) => a + b, 0) / Math.max(1, hops.length)),
        p99: hops.length ? percentile(hops, 99) : 0,
        log_fanout_size: round(logSum / Math.max(1, hops.length) / Math.log(fanout)),
      };
    }).filter((bucket) => bucket.deliveries > 0),
    per_node: costByTraffic(traffic, input.costs, plan.length),
    routing,
  };
}

/**
 * Counts, on the simulated wire, what each node receives from now on: envelopes, and the workload's messages and
 * digests that reach nodes outside their topic (node `i` listens at `addresses[i]`; workload messages are the
 * `messageBytes`-long ones, their sequence number first). Clear `network.onReceive` to stop.
 */
export function watchReceptions(
  network: SimNetwork,
  addresses: readonly string[],
  plan: readonly PlannedMessage[],
  memberSets: readonly ReadonlySet<number>[],
  scoped: boolean,
  messageBytes: number,
) {
  const envelopesIn = new Array<number>(addresses.length).fill(0);
  const leaks = { messages: 0, digests: 0, digestsAtFanout: 0, backToOrigin: 0 };
  const fanoutPublisherOf = memberSets.map(() => new Set<number>());
  for (const { topic, origin, outside } of plan) if (outside) fanoutPublisherOf[origin].add(topic);
  const indexByAddress = new Map(addresses.map((address, i) => [address, i]));
  network.onReceive = (to, _from, envelope) => {
    const i = indexByAddress.get(to)!;
    envelopesIn[i]++;
    if (envelope.type === MessageType.CUSTOM_DATA) {
      const value = decode(envelope.payloadBytes);
      const data = Array.isArray(value) ? value[1] : undefined;
      if (!(data instanceof Uint8Array) || data.length !== messageBytes) return; // not the workload's
      const seq = new DataView(data.buffer, data.byteOffset).getUint32(0);
      if (seq >= plan.length || memberSets[i].has(plan[seq].topic)) return;
      if (plan[seq].origin === i) leaks.backToOrigin++;
      else leaks.messages++;
    } else if (envelope.type === MessageType.GOSSIP_MESSAGE && scoped) {
      const topic = network.codec.peekTopic(envelope);
      if (!topic || !/^t[0-9]+$/.test(topic)) return;
      const rank = Number(topic.slice(1));
      if (memberSets[i].has(rank)) return;
      if (fanoutPublisherOf[i].has(rank)) leaks.digestsAtFanout++;
      else leaks.digests++;
    }
  };
  return { envelopesIn, leaks };
}

/**
 * A topic workload's scoped run against its single-overlay run (same members, links and messages): per group of
 * nodes by their topics' traffic, what the scoped run cost them as a share of what the single overlay did.
 */
export function compareRuns(nodes: number, scopedRun: TopicRunResult, single: TopicRunResult) {
  const a = scopedRun.per_node.bins, b = single.per_node.bins;
  return {
    nodes,
    by_traffic: a.map((bin, g) => ({
      traffic_share: bin.traffic_share,
      bytes_in: round(bin.bytes_in / b[g].bytes_in, 3),
      envelopes_in: round(bin.envelopes_in / b[g].envelopes_in, 3),
      signature_checks: round(bin.signature_checks / b[g].signature_checks, 3),
    })),
    // Over all honest nodes (the groups are equal in size).
    all: Object.fromEntries((["bytes_in", "envelopes_in", "signature_checks"] as const).map((key) => {
      const sum = (bins: TrafficBin[]) => bins.reduce((n, bin) => n + bin[key], 0);
      return [key, round(sum(a) / sum(b), 3)];
    })),
  };
}
