/**
 * Catch-up under liars: a victim that missed a topic's messages links to honest members that hold them and to
 * attackers that claim thousands of ids they never serve (CATCHUP_RECONCILE lists of made-up ids) and answer no
 * fetch. Reports how long the victim took to hold every message, when each attacker was cut off and how many
 * ids the victim asked of it first, and whether any honest member was disconnected or lost trust. Real TCP on
 * loopback; bounded in count and time.
 *
 * @module
 */
import { Identity } from "../../lib/identity.ts";
import type { KithNode } from "../../lib/node.ts";
import {
  type CatchupRangeFields,
  createLinkMessage,
  type Envelope,
  MessageCodec,
  MessageType,
} from "../../lib/protocol/mod.ts";
import { TcpTransport } from "../../lib/transport/mod.ts";
import { fixedLinksNode } from "./nodes.ts";

const TOPIC = "chat";
const codec = new MessageCodec();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the catch-up scenario measured. */
export interface CatchupChaosResult {
  published: number;
  attackers: number;
  /** Ms from the victim's links opening until it held every message; null if it never did. */
  all_held_after_ms: number | null;
  held: number;
  /** Ms from the attack until each attacker's link was closed (null: still open at the end). */
  attackers_cut_after_ms: (number | null)[];
  /** Ids the victim asked of each attacker. */
  ids_asked_of_attackers: number[];
  ids_claimed_per_attacker: number;
  honest_disconnected: number;
  honest_trust_min: number;
  victim_catchup: Record<string, number>;
}

function isActive(node: KithNode, nodeId: string): boolean {
  return node.peers().some((p) => p.state === "active" && p.nodeId === nodeId);
}

/** Ranges that list `ids` as the sender's, 64 a range, the last reaching the end of the order. */
function idRanges(ids: Uint8Array[]): CatchupRangeFields[] {
  const ranges: CatchupRangeFields[] = [];
  for (let i = 0; i < ids.length; i += 64) {
    const last = i + 64 >= ids.length;
    ranges.push({ timestamp: last ? 0 : 2, id: new Uint8Array(0), mode: 2, value: ids.slice(i, i + 64) });
  }
  return ranges;
}

/** Runs the scenario: `messages` published before the victim links, `attackers` liars. */
export async function catchup(options: { messages: number; attackers: number }): Promise<CatchupChaosResult> {
  const publisher = await fixedLinksNode(74, []);
  const honest = [
    publisher,
    await fixedLinksNode(74, [publisher.address]),
    await fixedLinksNode(74, [publisher.address]),
  ];
  const victim = await fixedLinksNode(74, []);
  const liars = Array.from({ length: options.attackers }, (_, i) => {
    const identity = Identity.generate();
    return {
      identity,
      transport: new TcpTransport({ identity, config: { listenHost: `127.74.${240 + i}.1`, listenPort: 0 } }),
    };
  });
  try {
    for (const node of [...honest, victim]) node.subscribe(TOPIC);
    const deadline = Date.now() + 30_000;
    while (!honest.slice(1).every((n) => isActive(publisher, n.nodeId))) {
      if (Date.now() > deadline) throw new Error("the honest links never became active");
      await sleep(20);
    }
    await sleep(300);
    for (let i = 0; i < options.messages; i++) {
      publisher.broadcast(`message ${i}`, { topic: TOPIC });
      if (i % 50 === 49) await sleep(20);
    }
    const ids = () => publisher.components.topicLog.items(TOPIC, 0).map((item) => item.id);
    while (honest.some((n) => n.components.topicLog.summary(TOPIC).count < options.messages)) {
      if (Date.now() > deadline) throw new Error("the honest members never held every message");
      await sleep(50);
    }
    // The liars link first and claim what they do not have.
    const asked = liars.map(() => 0);
    const claimed = 4_096;
    const attackStart = Date.now();
    const cutAt: (number | null)[] = liars.map(() => null);
    await Promise.all(liars.map(async ({ identity, transport }, i) => {
      const connection = await transport.dial(victim.address);
      connection.onEnvelope = (envelope: Envelope) => {
        if (envelope.type !== MessageType.CATCHUP_FETCH) return;
        const message = codec.decode(codec.encode(envelope), Date.now(), { linkPeer: victim.nodeId });
        if (message.type === MessageType.CATCHUP_FETCH) asked[i] += message.payload.ids.length;
      };
      void connection.closed.then(() => cutAt[i] = Date.now() - attackStart);
      const link = <T extends MessageType>(type: T, payload: Parameters<typeof createLinkMessage<T>>[2]) =>
        connection.send(createLinkMessage(identity, type, payload, { timestamp: Date.now() }));
      link(MessageType.TOPIC_SUBSCRIPTIONS, { full: true, all: false, join: [TOPIC], leave: [] });
      await sleep(100);
      const fake = Array.from({ length: claimed }, () => crypto.getRandomValues(new Uint8Array(32)));
      link(MessageType.CATCHUP_RECONCILE, {
        topic: TOPIC,
        session: 1,
        reply: false,
        since: 0,
        ranges: idRanges(fake),
        have: [],
      });
    }));
    await sleep(200);
    const linkedAt = Date.now();
    for (const node of honest) void victim.connect(node.address).catch(() => {});
    const want = ids();
    let allAt: number | null = null;
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      if (allAt === null && want.every((id) => victim.components.topicLog.has(id))) allAt = Date.now() - linkedAt;
      if (allAt !== null && cutAt.every((t) => t !== null)) break;
      await sleep(50);
    }
    const trust = honest.map((n) => victim.trust.trust(n.nodeId));
    return {
      published: options.messages,
      attackers: options.attackers,
      all_held_after_ms: allAt,
      held: want.filter((id) => victim.components.topicLog.has(id)).length,
      attackers_cut_after_ms: cutAt,
      ids_asked_of_attackers: asked,
      ids_claimed_per_attacker: claimed,
      honest_disconnected: honest.filter((n) => !isActive(victim, n.nodeId)).length,
      honest_trust_min: Number(Math.min(...trust).toFixed(3)),
      victim_catchup: { ...victim.stats().catchup },
    };
  } finally {
    for (const { transport } of liars) await transport.close();
    await Promise.all([...honest, victim].map((n) => n.stop()));
  }
}
