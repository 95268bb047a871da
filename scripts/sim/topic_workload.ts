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
import type { RandomSource } from "../../lib/random.ts";

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
