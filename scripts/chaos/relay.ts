/**
 * Honest relays framed as flooders: two attacker identities from one
 * address, connected to A only, publish valid messages from many fresh
 * origin identities; A forwards them to X, and X to Y (a line A-X-Y). Reports
 * the honest relays' trust (A at X, X at Y) before and after, whether they
 * were dropped, the attackers' trust at A, the process's CPU share, and whether an honest message A published
 * during the attack reached Y. Loopback only; bounded in count and time.
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
  /** Whether the honest message A published during the attack reached Y. */
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
  const attackers = [0, 1].map(() =>
    new TcpTransport({ identity: Identity.generate(), config: { listenHost: "127.67.255.1", listenPort: 0 } })
  );
  try {
    const deadline = Date.now() + 10_000;
    while (!(active(a, x.nodeId) && active(y, x.nodeId))) {
      if (Date.now() > deadline) throw new Error("the line A-X-Y never formed");
      await sleep(20);
    }
    const connections = await Promise.all(attackers.map((t) => t.dial(a.address)));
    while (!attackers.every((t) => active(a, t.nodeId))) {
      if (Date.now() > deadline) throw new Error("the attackers' links never became active");
      await sleep(20);
    }
    const origins = Array.from({ length: options.origins }, () => Identity.generate());
    let honestId = "";
    let honestReached = false;
    y.subscribe("", (m) => {
      if (m.id === honestId) honestReached = true;
    });
    const xAtY = y.components.trust.trust(x.nodeId), aAtX = x.components.trust.trust(a.nodeId);
    const yBefore = y.stats().gossip, xBefore = x.stats().gossip;
    const cpuBefore = process.cpuUsage();
    const start = Date.now();
    const end = start + options.durationS * 1000;
    let sent = 0, slice = 0;
    while (Date.now() < end) {
      const sliceEnd = Date.now() + 10;
      const quota = Math.ceil(options.rate / 100);
      for (let i = 0; i < quota; i++) {
        const origin = origins[sent % origins.length];
        const connection = connections[sent % connections.length];
        if (!connection.isOpen) continue;
        connection.sendEncoded(codec.encode(
          createMessage(origin, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(64) }, {
            timestamp: Date.now(),
          }),
        ));
        sent++;
      }
      if (++slice === Math.floor(options.durationS * 50)) {
        honestId = a.broadcast("honest, mid-attack", { topic: "" });
      }
      while (Date.now() < sliceEnd) await sleep(1);
    }
    const drain = Date.now() + 5_000;
    while (!honestReached && Date.now() < drain) await sleep(50);
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
      honest_reached_y: honestReached,
      y_only_linked_to_x: y.peers().filter((p) => p.state === "active").every((p) => p.nodeId === x.nodeId),
    };
  } finally {
    for (const t of attackers) await t.close();
    await y.stop();
    await x.stop();
    await a.stop();
  }
}
