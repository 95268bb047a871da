/**
 * Honest relays framed as flooders: two attacker identities from one
 * address, connected to A only, publish valid messages from many fresh
 * origin identities; A forwards them to X, and X to Y (a line A-X-Y). Reports
 * the honest relays' trust (A at X, X at Y) before and after, whether they
 * were dropped, the attackers' trust at A, the process's CPU share, and how many of the messages an honest
 * publisher H linked to A published during the attack (two a second) reached Y. Loopback only; bounded in
 * count and time.
 *
 * @module
 */
import { Identity } from "../../lib/identity.ts";
import type { KithNode } from "../../lib/node.ts";
import { fixedLinksNode } from "./nodes.ts";
import { createMessage, MessageCodec, MessageType } from "../../lib/protocol/mod.ts";
import { TcpTransport } from "../../lib/transport/mod.ts";

const codec = new MessageCodec();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the relay scenario measured. */
export interface RelayResult {
  attempted_per_s: number;
  /** Every node's per-peer rate limit, envelopes per second. */
  peer_rate_limit: number;
  origins: number;
  duration_s: number;
  /** Messages the attackers sent. */
  sent: number;
  /** X's trust at Y before and after the attack, and whether Y dropped X. */
  x_trust_at_y_before: number;
  x_trust_at_y_after: number;
  y_dropped_x: boolean;
  /** A's trust at X before and after the attack (A is the first honest relay), and whether X dropped A. */
  a_trust_at_x_before: number;
  a_trust_at_x_after: number;
  x_dropped_a: boolean;
  /** The attackers' trust at A after the attack, and whether A dropped them. */
  attacker_trust_after: number[];
  attackers_disconnected: number;
  /** Envelopes X and Y dropped over a peer's rate, and messages over an origin's (or the new origins') rate. */
  x_rate_limited: number;
  y_rate_limited: number;
  x_origin_limited: number;
  y_origin_limited: number;
  /** User + system CPU seconds per wall second of this process (A, X, Y and the attackers together). */
  process_cpu_share: number;
  /** Messages the honest publisher H (linked to A only) published during the attack, and how many reached Y. */
  honest_published: number;
  honest_delivered_to_y: number;
  /** Whether any of H's messages reached Y. */
  honest_reached_y: boolean;
  /** Whether Y was linked to anyone but X (the line must hold for the figures to mean anything). */
  y_only_linked_to_x: boolean;
}

function node(bootstrap: string[], peerRateLimit: number): Promise<KithNode> {
  // No dials beyond minPeers, and no discovery during the run: the line A-X-Y must hold.
  return fixedLinksNode(67, bootstrap, { config: { peerRateLimit } });
}

const active = (n: KithNode, nodeId: string) => n.peers().some((p) => p.state === "active" && p.nodeId === nodeId);

/**
 * The relay attack: `rate` valid messages per second in all, from `origins` fresh origins, for
 * `durationS` seconds, sent by two attacker identities from one address to A. Every node's per-peer
 * rate is `peerRate` (default 600): each attacker's half stays under it, the relay's sum does not.
 */
export async function relay(
  options: { rate: number; durationS: number; origins: number; peerRate?: number },
): Promise<RelayResult> {
  const peerRate = options.peerRate ?? 600;
  const a = await node([], peerRate);
  const x = await node([a.address], peerRate);
  const y = await node([x.address], peerRate);
  const h = await node([a.address], peerRate);
  const attackers = [0, 1].map(() =>
    new TcpTransport({ identity: Identity.generate(), config: { listenHost: "127.67.255.1", listenPort: 0 } })
  );
  try {
    // Generous bounds on set-up and the drain: they are waits for an event, not measurements, and a loaded
    // machine can take seconds to form three links or to repair a dropped message.
    const deadline = Date.now() + 30_000;
    while (!(active(a, x.nodeId) && active(y, x.nodeId) && active(a, h.nodeId))) {
      if (Date.now() > deadline) throw new Error("the line A-X-Y never formed");
      await sleep(20);
    }
    const connections = await Promise.all(attackers.map((t) => t.dial(a.address)));
    while (!attackers.every((t) => active(a, t.nodeId))) {
      if (Date.now() > deadline) throw new Error("the attackers' links never became active");
      await sleep(20);
    }
    const origins = Array.from({ length: options.origins }, () => Identity.generate());
    // Honest messages ride the same links as the attack, so X's per-peer rate drops each with the share of A's
    // stream it drops (by design it cannot tell them apart): one message reaching Y is chance, one of many is not.
    // They come from H, not A: a message A originates and X drops over the rate is A's own excess, charged.
    const honest = new Set<string>();
    let honestReached = 0;
    y.subscribe("", (m) => {
      if (honest.has(m.id)) honestReached++;
    });
    const xAtY = y.components.trust.trust(x.nodeId), aAtX = x.components.trust.trust(a.nodeId);
    const yBefore = y.stats().gossip, xBefore = x.stats().gossip;
    const cpuBefore = process.cpuUsage();
    const start = Date.now();
    const end = start + options.durationS * 1000;
    // The pace follows the wall clock, not a count of 10 ms slices: on a loaded machine a slice's timers fire
    // late, and a count of slices sent a fraction of the rate (and the honest message never, when it was due at
    // a slice that did not come). A late slice catches up, at most four slices' worth at once, and the attack
    // lasts until all `rate` x `durationS` messages are out (within four times the duration).
    const perSlice = Math.ceil(options.rate / 100);
    const total = Math.round(options.rate * options.durationS);
    const hardEnd = start + 4 * options.durationS * 1000;
    let sent = 0, paced = 0;
    while ((Date.now() < end || paced < total) && Date.now() < hardEnd) {
      const now = Date.now();
      const due = Math.min(Math.ceil(((now - start) / 1000) * options.rate), paced + 4 * perSlice, total);
      for (; paced < due; paced++) {
        const origin = origins[paced % origins.length];
        const connection = connections[paced % connections.length];
        if (!connection.isOpen) continue;
        connection.sendEncoded(codec.encode(
          createMessage(origin, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(64) }, {
            timestamp: Date.now(),
          }),
        ));
        sent++;
      }
      while (honest.size < Math.floor((now - start) / 500)) {
        honest.add(h.broadcast(`honest ${honest.size}`, { topic: "" }));
      }
      await sleep(10);
    }
    const drain = Date.now() + 30_000;
    while (honestReached === 0 && Date.now() < drain) await sleep(50);
    const wall = (Date.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const yAfter = y.stats().gossip, xAfter = x.stats().gossip;
    return {
      attempted_per_s: options.rate,
      peer_rate_limit: peerRate,
      origins: options.origins,
      duration_s: options.durationS,
      sent,
      x_trust_at_y_before: Number(xAtY.toFixed(3)),
      x_trust_at_y_after: Number(y.components.trust.trust(x.nodeId).toFixed(3)),
      y_dropped_x: !active(y, x.nodeId),
      a_trust_at_x_before: Number(aAtX.toFixed(3)),
      a_trust_at_x_after: Number(x.components.trust.trust(a.nodeId).toFixed(3)),
      x_dropped_a: !active(x, a.nodeId),
      attacker_trust_after: attackers.map((t) => Number(a.components.trust.trust(t.nodeId).toFixed(3))),
      attackers_disconnected: connections.filter((c) => !c.isOpen).length,
      x_rate_limited: xAfter.rateLimited - xBefore.rateLimited,
      y_rate_limited: yAfter.rateLimited - yBefore.rateLimited,
      x_origin_limited: xAfter.originLimited - xBefore.originLimited,
      y_origin_limited: yAfter.originLimited - yBefore.originLimited,
      process_cpu_share: Number(((cpu.user + cpu.system) / 1e6 / wall).toFixed(3)),
      honest_published: honest.size,
      honest_delivered_to_y: honestReached,
      honest_reached_y: honestReached > 0,
      y_only_linked_to_x: y.peers().filter((p) => p.state === "active").every((p) => p.nodeId === x.nodeId),
    };
  } finally {
    for (const t of attackers) await t.close();
    await h.stop();
    await y.stop();
    await x.stop();
    await a.stop();
  }
}
