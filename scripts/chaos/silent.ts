/**
 * A silent eager peer: an attacker connects to the victim first, so that
 * the victim makes it eager (pushes every message to it in full), pushes one
 * message to earn its place among the peers the victim counts on to push,
 * and from then on never pushes again: it announces (IHAVE) the ids of what
 * it gets from the publisher instead, and serves whatever the victim asks
 * for, so it breaks no promise and sends nothing invalid. Honest nodes (the
 * publisher and two others) connect after it. Reports the victim's eager
 * links and whether it counts on the attacker before and after, when the
 * attacker was demoted (null if never), how many full copies the victim
 * pushed into the attacker in the run's last deficit window, the attacker's
 * trust, honest peers demoted, and delivery of the publisher's messages at
 * the victim. Real TCP on loopback; bounded in count and time.
 *
 * @module
 */
import { Identity } from "../../lib/identity.ts";
import type { KithNode } from "../../lib/node.ts";
import { fixedLinksNode } from "./nodes.ts";
import { createLinkMessage, type Envelope, MessageCodec, MessageType } from "../../lib/protocol/mod.ts";
import { TcpTransport } from "../../lib/transport/mod.ts";

const codec = new MessageCodec();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
/** Messages the attacker keeps to serve asks from. */
const MAX_KEPT = 4_096;

/** What the silent-peer scenario measured. */
export interface SilentResult {
  duration_s: number;
  /** The victim's deficit window, ms (the default 10,000 unless overridden). */
  window_ms: number;
  published: number;
  /** Share of the publisher's messages the victim delivered. */
  delivery_at_victim: number;
  /** The victim's eager peers (by role) once the attacker had pushed its one message, and at the end. */
  eager_before: string[];
  eager_after: string[];
  /** Whether the victim counted on the attacker to push, then and at the end. */
  attacker_pushing_before: boolean;
  attacker_pushing_after: boolean;
  /** Ms from the attacker's last push until the victim stopped counting on it; null if it never did. */
  demoted_after_ms: number | null;
  /** What the attacker sent: announced ids, asks it served. */
  attacker_announced: number;
  attacker_served: number;
  /** Full copies the victim pushed into the attacker per second in the run's last window. */
  copies_into_attacker_per_s_last_window: number;
  attacker_trust_before: number;
  attacker_trust_after: number;
  attacker_disconnected: boolean;
  /** Demotions the victim counted in all (null on code without the counter), and honest peers it stopped counting on. */
  victim_deficit_demotions: number | null;
  honest_pushers_demoted: number;
}

function node(bootstrap: string[], gossip: Record<string, unknown> = {}): Promise<KithNode> {
  // No dials beyond the bootstrap, no discovery: the victim's links are the ones the scenario makes.
  return fixedLinksNode(73, bootstrap, { gossip });
}

const isActive = (n: KithNode, nodeId: string) => n.peers().some((p) => p.state === "active" && p.nodeId === nodeId);

/**
 * The silent peer for `durationS` seconds, the publisher sending `rate` messages a second (default 10);
 * `victimGossip` overrides the victim's gossip parameters (a shorter deficit window for CI).
 */
export async function silent(
  options: { durationS: number; rate?: number; victimGossip?: Record<string, unknown> },
): Promise<SilentResult> {
  const rate = options.rate ?? 10;
  const victim = await node([], options.victimGossip);
  const windowMs = (victim.components.gossip.config as unknown as Record<string, number>).deliveryDeficitWindowMs ??
    10_000;
  const attacker = new TcpTransport({
    identity: Identity.generate(),
    config: { listenHost: "127.73.255.1", listenPort: 0 },
  });
  const honest: KithNode[] = [];
  const roles = new Map<string, string>([[attacker.nodeId, "silent"]]);
  try {
    const deadline = Date.now() + 10_000;
    // The attacker first, so the victim makes it eager.
    const toVictim = await attacker.dial(victim.address);
    while (!isActive(victim, attacker.nodeId)) {
      if (Date.now() > deadline) throw new Error("the attacker's link never became active");
      await sleep(20);
    }
    const publisher = await node([victim.address]);
    honest.push(publisher, await node([victim.address]), await node([victim.address]));
    honest.forEach((n, i) => roles.set(n.nodeId, i === 0 ? "publisher" : `honest${i}`));
    const toPublisher = await attacker.dial(publisher.address);
    while (!honest.every((n) => isActive(victim, n.nodeId)) || !isActive(publisher, attacker.nodeId)) {
      if (Date.now() > deadline) throw new Error("the honest links never became active");
      await sleep(20);
    }
    const gossip = victim.components.gossip;
    const eager = () => [...roles].filter(([nodeId]) => gossip.peerStats(nodeId)?.eager).map(([, role]) => role).sort();
    const pushing = () => gossip.peerStats(attacker.nodeId)?.pushing ?? false;

    // The attacker: keeps what it gets, pushes the first message to the victim, then only announces.
    const kept = new Map<string, Envelope>();
    let pushedOne = false, lastPushAt = 0, announced = 0, served = 0, copiesFromVictim = 0, countFrom = Infinity;
    const pendingHave: Uint8Array[] = [];
    toPublisher.onEnvelope = (envelope) => {
      if (envelope.type !== MessageType.CUSTOM_DATA) return;
      const key = hex(envelope.id);
      if (kept.has(key)) return;
      kept.set(key, envelope);
      if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value!);
      if (!pushedOne) {
        pushedOne = true;
        lastPushAt = Date.now();
        toVictim.send(envelope);
      } else pendingHave.push(envelope.id);
    };
    toVictim.onEnvelope = (envelope) => {
      if (envelope.type === MessageType.CUSTOM_DATA) {
        if (Date.now() >= countFrom && Date.now() < countFrom + windowMs) copiesFromVictim++;
        if (!kept.has(hex(envelope.id))) kept.set(hex(envelope.id), envelope);
        return;
      }
      if (envelope.type !== MessageType.GOSSIP_MESSAGE) return;
      try {
        const message = codec.verifyAllButSignature(envelope, Date.now(), { linkPeer: toVictim.remoteNodeId });
        if (message.type !== MessageType.GOSSIP_MESSAGE) return;
        for (const id of message.payload.want) {
          const copy = kept.get(hex(id));
          if (copy && toVictim.isOpen) {
            toVictim.send(copy);
            served++;
          }
        }
      } catch { /* not a link message it can read */ }
    };
    let linkTimestamp = Date.now();
    const announceTimer = setInterval(() => {
      if (pendingHave.length === 0 || !toVictim.isOpen) return;
      const have = pendingHave.splice(0, 256);
      toVictim.send(
        createLinkMessage(attacker.identity, MessageType.GOSSIP_MESSAGE, { have, want: [] }, {
          timestamp: Math.max(++linkTimestamp, Date.now()),
        }),
      );
      announced += have.length;
    }, 100);

    const got = new Set<string>();
    victim.subscribe("", (m) => got.add(m.id));
    const published: string[] = [];
    const trustBefore = victim.components.trust.trust(attacker.nodeId);
    const demotionsBefore = (gossip.stats as unknown as Record<string, number>).deficitDemotions;
    let eagerBefore: string[] | undefined, pushingBefore = false, demotedAt: number | null = null;
    const start = Date.now();
    const end = start + options.durationS * 1000;
    countFrom = end - windowMs;
    try {
      while (Date.now() < end) {
        published.push(publisher.broadcast(`silent ${published.length}`, { topic: "" }));
        await sleep(1000 / rate);
        if (eagerBefore === undefined && pushedOne && Date.now() - lastPushAt > 500) {
          eagerBefore = eager();
          pushingBefore = pushing();
        }
        if (eagerBefore !== undefined && pushingBefore && demotedAt === null && !pushing()) demotedAt = Date.now();
      }
      const drain = Date.now() + 3_000;
      while (published.some((id) => !got.has(id)) && Date.now() < drain) await sleep(20);
    } finally {
      clearInterval(announceTimer);
    }
    const demotionsAfter = (gossip.stats as unknown as Record<string, number>).deficitDemotions;
    const honestDemoted = honest.filter((n) => {
      const stats = gossip.peerStats(n.nodeId);
      return stats !== undefined && stats.firsts + stats.duplicates > 0 && !stats.pushing;
    }).length;
    return {
      duration_s: options.durationS,
      window_ms: windowMs,
      published: published.length,
      delivery_at_victim: Number((published.filter((id) => got.has(id)).length / published.length).toFixed(3)),
      eager_before: eagerBefore ?? [],
      eager_after: eager(),
      attacker_pushing_before: pushingBefore,
      attacker_pushing_after: pushing(),
      demoted_after_ms: demotedAt === null ? null : demotedAt - lastPushAt,
      attacker_announced: announced,
      attacker_served: served,
      copies_into_attacker_per_s_last_window: Number((copiesFromVictim / (windowMs / 1000)).toFixed(2)),
      attacker_trust_before: Number(trustBefore.toFixed(3)),
      attacker_trust_after: Number(victim.components.trust.trust(attacker.nodeId).toFixed(3)),
      attacker_disconnected: !toVictim.isOpen,
      victim_deficit_demotions: typeof demotionsAfter === "number" ? demotionsAfter - demotionsBefore : null,
      honest_pushers_demoted: honestDemoted,
    };
  } finally {
    await attacker.close();
    for (const n of honest.reverse()) await n.stop();
    await victim.stop();
  }
}
