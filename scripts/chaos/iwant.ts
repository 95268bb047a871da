/**
 * IWANT amplification: an authenticated peer asks a victim for the same
 * large kept message again and again (GOSSIP_MESSAGE `want`), as fast as the
 * victim's per-peer rate limit allows, for a bounded time. Without a
 * retransmission limit each small ask is answered with the full message.
 * Reports bytes out over bytes in on the attacker's link, the process's CPU
 * share, how often the message was sent, and whether honest messages
 * published during the attack arrived. Loopback only; bounded in count and
 * time.
 *
 * @module
 */
import { fromHex } from "../../lib/bytes.ts";
import { Identity } from "../../lib/identity.ts";
import { KithNode } from "../../lib/node.ts";
import { createLinkMessage, MessageCodec, MessageType } from "../../lib/protocol/mod.ts";
import { TcpTransport } from "../../lib/transport/mod.ts";

const codec = new MessageCodec();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the IWANT amplification scenario measured. */
export interface IwantResult {
  /** Want envelopes the attacker tried to send per second. */
  attempted_per_s: number;
  /** Copies of the id in each want. */
  ids_per_want: number;
  duration_s: number;
  /** Want envelopes sent. */
  wants_sent: number;
  /** Bytes of the large message's envelope. */
  message_bytes: number;
  /** Bytes the victim sent the attacker during the attack (and its drain), and bytes it got from it. */
  bytes_out: number;
  bytes_in: number;
  /** bytes_out / bytes_in. */
  amplification: number;
  /** Full copies of the large message the attacker received during the attack. */
  copies_served: number;
  /** The victim's gossip counters over the attack. */
  victim_served: number;
  victim_wants_dropped: number;
  /** User + system CPU seconds per wall second of this process (victim, friend and attacker together). */
  process_cpu_share: number;
  attacker_trust_after: number;
  attacker_disconnected: boolean;
  honest_published_during_attack: number;
  honest_delivered_during_attack: number;
}

let subnet = 0;
async function node(bootstrap: string[]): Promise<KithNode> {
  const n = new KithNode({
    config: {
      listenHost: `127.66.${++subnet % 250}.1`,
      listenPort: 0,
      bootstrap,
      minPeers: 1,
      maxConnectionsPerIp: 10_000,
      peerMaintenanceIntervalMs: 100,
      gossipIntervalMs: 500,
      discoveryIntervalMs: 1_000,
    },
  });
  await n.start();
  return n;
}

/**
 * IWANT amplification: a victim keeps a 60 KiB message; an attacker asks for it with `rate` wants per
 * second (each naming it `idsPerWant` times) for `durationS` seconds, while the victim publishes small
 * honest messages to a friend.
 */
export async function iwant(
  options: { rate: number; durationS: number; idsPerWant?: number },
): Promise<IwantResult> {
  const idsPerWant = options.idsPerWant ?? 1;
  const victim = await node([]);
  const friend = await node([victim.address]);
  const attacker = new TcpTransport({
    identity: Identity.generate(),
    config: { listenHost: "127.66.255.1", listenPort: 0 },
  });
  try {
    const deadline = Date.now() + 10_000;
    while (!victim.peers().some((p) => p.state === "active") && Date.now() < deadline) await sleep(20);
    const connection = await attacker.dial(victim.address);
    while (!victim.peers().some((p) => p.state === "active" && p.nodeId === attacker.nodeId)) {
      if (Date.now() > deadline) throw new Error("the attacker's link never became active");
      await sleep(20);
    }
    const idHex = victim.broadcast(new Uint8Array(60 * 1024).fill(7), { topic: "" });
    const id = fromHex(idHex)!;
    let copies = 0, messageBytes = 0;
    connection.onEnvelope = (envelope) => {
      if (envelope.type === MessageType.CUSTOM_DATA && fromHexEq(envelope.id, id)) {
        copies++;
        messageBytes = codec.encode(envelope).length;
      }
    };
    while (copies === 0 && Date.now() < deadline) await sleep(20);
    await sleep(200);
    const got = new Set<string>();
    friend.subscribe("", (m) => got.add(m.id));
    const before = { ...connection.stats };
    const statsBefore = victim.stats().gossip;
    const cpuBefore = process.cpuUsage();
    copies = 0;
    const start = Date.now();
    const end = start + options.durationS * 1000;
    // Link messages are unsigned; distinct timestamps give distinct ids (no dedup of the asks themselves).
    let timestamp = start - 60_000, sent = 0, published = 0;
    const want = Array.from({ length: idsPerWant }, () => id);
    while (Date.now() < end && connection.isOpen) {
      const sliceEnd = Date.now() + 10;
      const quota = Math.ceil(options.rate / 100);
      for (let i = 0; i < quota && connection.isOpen; i++) {
        connection.send(
          createLinkMessage(attacker.identity, MessageType.GOSSIP_MESSAGE, { have: [], want }, {
            timestamp: timestamp++,
          }),
        );
        sent++;
      }
      if (published < options.durationS * 10 && Date.now() - start >= published * 100) {
        victim.broadcast(`during iwant ${published++}`, { topic: "" });
      }
      while (Date.now() < sliceEnd) await sleep(1);
    }
    // Let queued answers drain, then measure.
    await sleep(1_000);
    const wall = (Date.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const after = connection.stats;
    const statsAfter = victim.stats().gossip;
    const bytesOut = after.bytesIn - before.bytesIn, bytesIn = after.bytesOut - before.bytesOut;
    return {
      attempted_per_s: options.rate,
      ids_per_want: idsPerWant,
      duration_s: options.durationS,
      wants_sent: sent,
      message_bytes: messageBytes,
      bytes_out: bytesOut,
      bytes_in: bytesIn,
      amplification: Number((bytesOut / Math.max(1, bytesIn)).toFixed(2)),
      copies_served: copies,
      victim_served: statsAfter.served - statsBefore.served,
      victim_wants_dropped: wantsDropped(statsAfter) - wantsDropped(statsBefore),
      process_cpu_share: Number(((cpu.user + cpu.system) / 1e6 / wall).toFixed(3)),
      attacker_trust_after: Number(victim.components.trust.trust(attacker.nodeId).toFixed(3)),
      attacker_disconnected: !connection.isOpen,
      honest_published_during_attack: published,
      honest_delivered_during_attack: got.size,
    };
  } finally {
    await attacker.close();
    await friend.stop();
    await victim.stop();
  }
}

function fromHexEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// The counter the fix adds; absent (0) on code without it.
function wantsDropped(stats: object): number {
  return (stats as { wantsDropped?: number }).wantsDropped ?? 0;
}
