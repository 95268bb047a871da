/**
 * Attacks on topics: a victim in topic T with honest members of T, two of them dialed by the victim
 * (outbound) and the rest dialing it, and four kinds of attacker linked to the victim:
 * - flooders push messages of a topic the victim is not in (their own, as a fanout publish would be), and
 *   digests of it;
 * - relayers, in no topic the victim is in, relay messages of T (signed by other identities);
 * - churners change their subscriptions far faster than the allowance;
 * - Sybils join T, all from one /24, and then never push: they take what the victim pushes them (they
 *   connect before the honest members, to take its eager links in T first).
 * The honest members publish to T throughout. Reports honest delivery in T (at the victim and at every
 * member), when each attacker's link was cut (ms after its first misbehaviour; null if never), how many
 * Sybils were admitted, the victim's eager links in T over the run (at least min(2, fanout) of them to
 * peers it dialed, while it has such peers in T), the trust of honest peers before and after, and honest
 * peers the victim disconnected. Real TCP on loopback; bounded in count and time.
 *
 * @module
 */
import { Identity } from "../../lib/identity.ts";
import type { KithNode } from "../../lib/node.ts";
import {
  createLinkMessage,
  createMessage,
  type Envelope,
  type GossipDigestPayload,
  MessageType,
  type TopicSubscriptionsPayload,
} from "../../lib/protocol/mod.ts";
import { type Connection, TcpTransport } from "../../lib/transport/mod.ts";
import { fixedLinksNode } from "./nodes.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const T = "victim-topic";
const ELSEWHERE = "not-the-victims";
const PREFIX = 81;
/** Digests each digest flooder sends per honest message: at 20 a second, twice the default per-peer rate. */
const DIGESTS_PER_TICK = 100;
/** Digests each digest flooder sends at once when it starts, at this honest message (half a second in). */
const DIGEST_BURST = 3_000;
const DIGEST_START_TICK = 10;

/** What the topics scenario measured. */
export interface TopicsResult {
  duration_s: number;
  honest_members: number;
  published: number;
  /** Share of the honest members' messages delivered at the victim, and the lowest share at any member. */
  delivery_at_victim: number;
  delivery_min_honest: number;
  /** Per attacker kind: links made, links the victim cut, ms from the first misbehaviour to the last cut. */
  flooders: AttackerFigures & { messages_sent: number; digests_sent: number };
  relayers: AttackerFigures & { relayed_sent: number };
  churners: AttackerFigures & { changes_sent: number };
  /**
   * Digests only, of a topic the victim is not in: dropped unread, free within the per-peer rate, over it
   * RATE_LIMITED once a second; the highest trust the victim has in one at the end.
   */
  digest_flooders: AttackerFigures & { digests_sent: number; trust_max_after: number };
  sybils: {
    count: number;
    /** Sybils the victim took as peers (the others were refused by the per-subnet bound). */
    admitted: number;
    /**
     * The victim's eager links in T the Sybils held before any honest member joined, the most they held at
     * once during the attack, and the full copies the victim pushed into them.
     */
    eager_before_honest: number;
    eager_max: number;
    copies_received: number;
  };
  /** The victim's eager links in T: its fanout, and the fewest of them to peers it dialed at any sample. */
  victim_topic_fanout: number;
  victim_eager_outbound_min: number;
  victim_outbound_topic_peers: number;
  /** The victim's topic counters at the end. */
  victim_wrong_topic: number;
  victim_digests_dropped: number;
  victim_subscriptions_refused: number;
  /** Signature checks the victim made over the run, against the honest messages it delivered. */
  victim_signature_checks: number;
  /** The lowest trust the victim had in an honest member before the attack and after it. */
  honest_trust_min_before: number;
  honest_trust_min_after: number;
  honest_wrongly_disconnected: number;
}

/** Figures of one kind of attacker. */
export interface AttackerFigures {
  count: number;
  linked: number;
  cut: number;
  /** Ms from the kind's first misbehaviour until the victim had cut the last of its links; null if not all. */
  all_cut_after_ms: number | null;
}

interface Attacker {
  transport: TcpTransport;
  connection?: Connection;
  closedAt?: number;
  timestamp: number;
}

function attacker(subnet: number, host = 1): Attacker {
  const transport = new TcpTransport({
    identity: Identity.generate(),
    config: { listenHost: `127.${PREFIX}.${subnet}.${host}`, listenPort: 0 },
  });
  return { transport, timestamp: 0 };
}

async function link(a: Attacker, address: string): Promise<void> {
  try {
    // Listening gives it a listen address to announce: on loopback, the victim groups it by that host.
    await a.transport.listen();
    const connection = a.connection = await a.transport.dial(address);
    connection.closed.then(() => a.closedAt = Date.now());
  } catch { /* refused: counted as not linked */ }
}

/** Sends a TOPIC_SUBSCRIPTIONS (or, with `digest`, a GOSSIP_MESSAGE) link message; false when the link is gone. */
function sendLink(a: Attacker, subscriptions: TopicSubscriptionsPayload | undefined, digest?: GossipDigestPayload) {
  if (!a.connection?.isOpen) return false;
  const identity = a.transport.identity;
  const timestamp = a.timestamp = Math.max(a.timestamp + 1, Date.now());
  return a.connection.send(
    subscriptions
      ? createLinkMessage(identity, MessageType.TOPIC_SUBSCRIPTIONS, subscriptions, { timestamp })
      : createLinkMessage(identity, MessageType.GOSSIP_MESSAGE, digest!, { timestamp }),
  );
}

function figures(kind: Attacker[], firstAt: number | undefined): AttackerFigures {
  const linked = kind.filter((a) => a.connection !== undefined);
  const cut = linked.filter((a) => a.closedAt !== undefined);
  const last = Math.max(...cut.map((a) => a.closedAt!));
  return {
    count: kind.length,
    linked: linked.length,
    cut: cut.length,
    all_cut_after_ms: linked.length > 0 && cut.length === linked.length && firstAt !== undefined
      ? last - firstAt
      : null,
  };
}

const isActive = (n: KithNode, nodeId: string) => n.peers().some((p) => p.state === "active" && p.nodeId === nodeId);

/**
 * The topic attacks for `durationS` seconds with `honest` members (at least 3; two are dialed by the
 * victim), `rate` honest messages a second, and `attackers` of each kind but Sybils (`sybils` of those).
 */
export async function topics(
  options: { durationS: number; honest?: number; rate?: number; attackers?: number; sybils?: number },
): Promise<TopicsResult> {
  const honestCount = Math.max(3, options.honest ?? 4);
  const rate = options.rate ?? 20;
  const perKind = options.attackers ?? 2;
  // Distinct hosts on loopback are modelled by listen addresses: the transport's per-IP bound counts sockets.
  const config = { maxConnectionsPerIp: 1_000, maxPeers: 40 };
  const victim = await fixedLinksNode(PREFIX, [], { config });
  const disconnected: string[] = [];
  victim.events.addEventListener("peer-disconnected", (e) => disconnected.push((e as CustomEvent).detail?.nodeId));
  const honest: KithNode[] = [];
  const flooders = Array.from({ length: perKind }, () => attacker(250));
  const relayers = Array.from({ length: perKind }, () => attacker(251));
  const churners = Array.from({ length: perKind }, () => attacker(252));
  const digesters = Array.from({ length: perKind }, () => attacker(249));
  // Sybils on hosts of their own in two /24s: the per-subnet bound (4) holds them, not the per-IP one.
  const sybils = Array.from({ length: options.sybils ?? 12 }, (_, i) => attacker(253 + (i % 2), 1 + (i >> 1)));
  const all = [...flooders, ...digesters, ...relayers, ...churners, ...sybils];
  try {
    const deadline = Date.now() + 15_000;
    const got = new Map<string, Set<string>>();
    const track = (n: KithNode) => {
      const set = new Set<string>();
      got.set(n.nodeId, set);
      n.subscribe(T, (m) => set.add(m.id));
    };
    track(victim);
    // The Sybils first: they join T, so they hold the victim's eager links in T before any honest member.
    let copies = 0;
    for (const s of sybils) {
      await link(s, victim.address);
      if (s.connection) {
        s.connection.onEnvelope = (e: Envelope) => {
          if (e.type === MessageType.CUSTOM_DATA) copies++;
        };
      }
      sendLink(s, { full: true, all: false, join: [T], leave: [] });
    }
    const sybilsIn = () =>
      sybils.filter((s) => s.connection?.isOpen).every((s) =>
        !isActive(victim, s.transport.nodeId) || victim.topicPeers(T).includes(s.transport.nodeId)
      );
    await sleep(200); // the victim admits or refuses each
    while (!sybilsIn()) {
      if (Date.now() > deadline) throw new Error("the Sybils never joined the victim's topic");
      await sleep(20);
    }
    const sybilEager = () =>
      sybils.filter((s) => victim.components.topics.gossipOf(T)!.peerStats(s.transport.nodeId)?.eager).length;
    const sybilEagerBeforeHonest = sybilEager();
    // Honest members: two the victim dials, the rest dial it.
    for (let i = 0; i < honestCount; i++) {
      const n = await fixedLinksNode(PREFIX, i < 2 ? [] : [victim.address], { config });
      track(n);
      honest.push(n);
      if (i < 2) await victim.connect(n.address, { timeout: 10_000 });
    }
    while (!honest.every((n) => victim.topicPeers(T).includes(n.nodeId) && n.topicPeers(T).includes(victim.nodeId))) {
      if (Date.now() > deadline) throw new Error("the honest members never joined the victim's topic");
      await sleep(20);
    }
    for (const a of [...flooders, ...digesters, ...relayers, ...churners]) await link(a, victim.address);
    for (const r of relayers) {
      sendLink(r, { full: true, all: false, join: ["decoy"], leave: [] });
    }
    await sleep(200);
    const trust = () => honest.map((n) => victim.components.trust.trust(n.nodeId));
    const trustBefore = trust();
    const checksBefore = victim.stats().signatureChecks.inline + victim.stats().signatureChecks.offloaded;
    const overlay = victim.components.topics.gossipOf(T)!;
    const fanout = overlay.config.fanout;
    const direction = () => new Map(victim.peers().map((p) => [p.nodeId, p.direction]));
    const sybilIds = new Set(sybils.map((s) => s.transport.nodeId));
    let eagerOutboundMin = Infinity, sybilEagerMax = 0, outboundTopicPeers = 0;
    const sample = () => {
      const dirs = direction();
      let outbound = 0, eagerOutbound = 0, eagerSybil = 0;
      for (const id of victim.topicPeers(T)) {
        const eager = overlay.peerStats(id)?.eager ?? false;
        if (dirs.get(id) === "outbound") {
          outbound++;
          if (eager) eagerOutbound++;
        }
        if (eager && sybilIds.has(id)) eagerSybil++;
      }
      outboundTopicPeers = Math.max(outboundTopicPeers, outbound);
      if (outbound > 0) eagerOutboundMin = Math.min(eagerOutboundMin, eagerOutbound);
      sybilEagerMax = Math.max(sybilEagerMax, eagerSybil);
    };
    const forgers = Array.from({ length: 4 }, () => Identity.generate());
    let floodSent = 0, digestsSent = 0, digestOnlySent = 0, relayedSent = 0, changesSent = 0, tick = 0;
    const published: string[] = [];
    const attackStart = Date.now();
    let digestStart: number | undefined;
    const end = attackStart + options.durationS * 1000;
    const interval = 1000 / rate;
    while (Date.now() < end) {
      const origin = honest[published.length % honest.length];
      const id = origin.broadcast(`honest ${published.length}`, { topic: T });
      got.get(origin.nodeId)!.add(id);
      published.push(id);
      for (const f of flooders) {
        if (!f.connection?.isOpen) continue;
        const message = createMessage(f.transport.identity, MessageType.CUSTOM_DATA, {
          topic: ELSEWHERE,
          data: new Uint8Array(32),
        });
        if (f.connection.send(message)) floodSent++;
        if (sendLink(f, undefined, { have: [message.id], want: [], topic: ELSEWHERE })) digestsSent++;
      }
      // The digest flooders start once the others are cut (their figures stay apart): a first burst over the
      // per-peer burst (2,000 by default), then twice the rate.
      if (tick === DIGEST_START_TICK) digestStart = Date.now();
      for (const d of tick >= DIGEST_START_TICK ? digesters : []) {
        for (let k = 0; k < (tick === DIGEST_START_TICK ? DIGEST_BURST : DIGESTS_PER_TICK); k++) {
          const have = [crypto.getRandomValues(new Uint8Array(32))];
          if (sendLink(d, undefined, { have, want: [], topic: ELSEWHERE })) digestOnlySent++;
        }
      }
      for (const r of relayers) {
        if (!r.connection?.isOpen) continue;
        const message = createMessage(forgers[tick % forgers.length], MessageType.CUSTOM_DATA, {
          topic: T,
          data: new Uint8Array(32),
        });
        if (r.connection.send(message)) relayedSent++;
      }
      for (const c of churners) {
        const names = Array.from({ length: 32 }, (_, i) => `churn-${i}`);
        const payload = tick % 2 === 0
          ? { full: false, all: false, join: names, leave: [] }
          : { full: false, all: false, join: [], leave: names };
        if (sendLink(c, payload)) changesSent += 32;
      }
      tick++;
      sample();
      await sleep(interval);
    }
    const drain = Date.now() + 5_000;
    const complete = () => [...got.values()].every((set) => published.every((id) => set.has(id)));
    while (!complete() && Date.now() < drain) await sleep(50);
    const share = (set: Set<string>) => published.filter((id) => set.has(id)).length / published.length;
    const honestIds = new Set(honest.map((n) => n.nodeId));
    const stats = victim.stats();
    return {
      duration_s: options.durationS,
      honest_members: honestCount,
      published: published.length,
      delivery_at_victim: Number(share(got.get(victim.nodeId)!).toFixed(3)),
      delivery_min_honest: Number(Math.min(...honest.map((n) => share(got.get(n.nodeId)!))).toFixed(3)),
      flooders: { ...figures(flooders, attackStart), messages_sent: floodSent, digests_sent: digestsSent },
      digest_flooders: {
        ...figures(digesters, digestStart),
        digests_sent: digestOnlySent,
        trust_max_after: Number(
          Math.max(...digesters.map((d) => victim.components.trust.trust(d.transport.nodeId))).toFixed(3),
        ),
      },
      relayers: { ...figures(relayers, attackStart), relayed_sent: relayedSent },
      churners: { ...figures(churners, attackStart), changes_sent: changesSent },
      sybils: {
        count: sybils.length,
        admitted: sybils.filter((s) => s.connection !== undefined && s.closedAt === undefined).length,
        eager_before_honest: sybilEagerBeforeHonest,
        eager_max: sybilEagerMax,
        copies_received: copies,
      },
      victim_topic_fanout: fanout,
      victim_eager_outbound_min: eagerOutboundMin === Infinity ? 0 : eagerOutboundMin,
      victim_outbound_topic_peers: outboundTopicPeers,
      victim_wrong_topic: stats.topics.wrongTopic,
      victim_digests_dropped: stats.topics.digestsDropped,
      victim_subscriptions_refused: stats.topics.subscriptionsRefused,
      victim_signature_checks: stats.signatureChecks.inline + stats.signatureChecks.offloaded - checksBefore,
      honest_trust_min_before: Number(Math.min(...trustBefore).toFixed(3)),
      honest_trust_min_after: Number(Math.min(...trust()).toFixed(3)),
      honest_wrongly_disconnected: disconnected.filter((id) => honestIds.has(id)).length,
    };
  } finally {
    for (const a of all) await a.transport.close();
    for (const n of honest.reverse()) await n.stop();
    await victim.stop();
  }
}
