/**
 * Claimed listen addresses (issue 21, item 4): a victim that dialed two
 * honest peers is connected to by `identities` throwaway identities, one
 * after another (paced over `durationS`), each claiming a listen address where nothing listens
 * (loopback, in `groups` /24s: the attacker's hosts, since on loopback a
 * peer is grouped by the address it claims). Reports how many fakes became
 * tried (verified), what a fresh prober gets in its HANDSHAKE_ACK and as
 * answers to two PEER_DISCOVERY requests, the attacker's share of the book,
 * the process's CPU share, whether an honest message published during the
 * attack arrived, and, after a restart from the data directory with no
 * bootstrap list, how many dials failed before both honest peers were back.
 * Loopback only; bounded in count and time.
 *
 * @module
 */
import { toHex } from "../../lib/bytes.ts";
import { Identity } from "../../lib/identity.ts";
import type { KithNode } from "../../lib/node.ts";
import { createLinkMessage, type Envelope, MessageCodec, MessageType } from "../../lib/protocol/mod.ts";
import { TcpTransport } from "../../lib/transport/mod.ts";
import { loopbackNode } from "./nodes.ts";

const codec = new MessageCodec();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the claimed-address scenario measured. */
export interface AddrclaimResult {
  identities: number;
  groups: number;
  /** Throwaway identities the victim admitted, and how long the attack took, s. */
  admitted: number;
  attack_s: number;
  /** User + system CPU seconds per wall second of this process during the attack (victim, honest peers, attacker). */
  process_cpu_share: number;
  /** Fake addresses in the victim's book, and how many of them are tried (verified): must be 0. */
  fake_entries: number;
  fake_tried: number;
  /** Fakes over the book's capacity and over the entries held. */
  attacker_share_of_capacity: number;
  attacker_share_of_entries: number;
  /** Records in a fresh prober's HANDSHAKE_ACK, and how many were fakes. */
  prober_ack_peers: number;
  prober_ack_fakes: number;
  /** Records and fakes in the answers two authenticated probers got to PEER_DISCOVERY, and whether they were the same list. */
  prober_answer_peers: number;
  prober_answer_fakes: number;
  prober_answers_identical: boolean;
  /** Whether an honest message published during the attack reached the victim. */
  honest_arrived: boolean;
  /** After a restart with no bootstrap list: dials that failed before both honest peers were active again. */
  restart_failed_dials_before_honest: number;
  restart_reconnect_ms: number;
  /** Anchors the restarted victim dialed (0 on a node without anchors). */
  restart_anchor_dials: number;
}

const node = (dataDir: string | undefined, bootstrap: string[]) => loopbackNode(69, dataDir, bootstrap);

/** Dials `address` as a fresh identity; returns the ACK's list and the answers to one PEER_DISCOVERY. */
async function probe(address: string): Promise<{ ack: string[]; answer: string[] | undefined }> {
  const prober = new TcpTransport({
    identity: Identity.generate(),
    config: { listenHost: "127.69.254.1", listenPort: 0 },
  });
  try {
    const connection = await prober.dial(address);
    const ack = connection.initialPeers.map((r) => toHex(r.nodeId));
    let answer: string[] | undefined;
    connection.onEnvelope = (envelope: Envelope) => {
      if (envelope.type !== MessageType.PEER_ANNOUNCEMENT || answer) return;
      const message = codec.verify(envelope, Date.now(), { linkPeer: connection.remoteNodeId });
      if (message.type === MessageType.PEER_ANNOUNCEMENT) answer = message.payload.peers.map((r) => toHex(r.nodeId));
    };
    await sleep(300); // let the victim admit it
    connection.send(
      createLinkMessage(prober.identity, MessageType.PEER_DISCOVERY, { limit: 64 }, { timestamp: Date.now() }),
    );
    const deadline = Date.now() + 3_000;
    while (!answer && Date.now() < deadline) await sleep(20);
    return { ack, answer };
  } finally {
    await prober.close();
  }
}

/** The claimed-address attack: `identities` throwaway identities claiming addresses in `groups` loopback /24s. */
export async function addrclaim(
  options: { identities: number; groups: number; durationS?: number },
): Promise<AddrclaimResult> {
  // Paced over the attack's duration (the review's run: 300 identities in 7.6 s); handshake cost is item 5's.
  const spacingMs = ((options.durationS ?? 7.6) * 1000) / Math.max(1, options.identities);
  const groups = Math.max(1, Math.min(50, options.groups));
  const dir = await Deno.makeTempDir();
  const honest = [await node(undefined, []), await node(undefined, [])];
  let victim = await node(dir, honest.map((h) => h.address));
  try {
    const active = (n: KithNode, id: string) => n.peers().some((p) => p.state === "active" && p.nodeId === id);
    let deadline = Date.now() + 10_000;
    while (!honest.every((h) => active(victim, h.nodeId))) {
      if (Date.now() > deadline) throw new Error("the victim never reached its honest peers");
      await sleep(20);
    }
    await sleep(500); // anchors saved, first discovery done
    const fakes = new Set<string>();
    let honestId = "";
    let honestArrived = false;
    victim.subscribe("", (m) => {
      if (m.id === honestId) honestArrived = true;
    });
    let admitted = 0;
    const cpuBefore = process.cpuUsage();
    const start = Date.now();
    const concurrency = 4;
    let next = 0;
    const worker = async () => {
      while (next < options.identities && Date.now() - start < 120_000) {
        const i = next++;
        while (Date.now() < start + i * spacingMs) await sleep(2);
        if (i === Math.floor(options.identities / 2)) {
          honestId = honest[0].broadcast("honest, mid-attack", { topic: "" });
        }
        const g = i % groups;
        // Claimed: 127.201+g.x.y:9 where nothing listens; x.y vary per identity.
        const claimed = `127.${201 + g}.${Math.floor(i / groups / 250) % 250}.${1 + (Math.floor(i / groups) % 250)}:9`;
        const t = new TcpTransport({
          identity: Identity.generate(),
          config: { listenHost: "127.69.253.1", listenPort: 0, advertisedAddress: claimed },
        });
        fakes.add(t.nodeId);
        try {
          await t.dial(victim.address);
          const until = Date.now() + 1_000;
          while (!active(victim, t.nodeId) && Date.now() < until) await sleep(5);
          if (active(victim, t.nodeId)) admitted++;
        } catch {
          // refused: counted by not being admitted
        } finally {
          await t.close();
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const attackS = (Date.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const drain = Date.now() + 5_000;
    while (!honestArrived && Date.now() < drain) await sleep(50);
    await sleep(500);
    const all = victim.peers();
    const fakeEntries = all.filter((p) => fakes.has(p.nodeId));
    const storage = victim.components.storage;
    // Tried: this node's own outbound connection reached it. Main's equivalent was "verified" (a stored public key).
    const tried = (p: { nodeId: string; tried?: boolean }) =>
      p.tried ?? (storage.getPeer(p.nodeId)?.publicKey !== null && storage.getPeer(p.nodeId) !== undefined);
    // Main's book held every peer it listed, up to maxKnownPeers (1,000).
    const book = (victim.components.peers as unknown as { addressBook?: () => { size: number; capacity: number } })
      .addressBook?.() ?? { size: all.length, capacity: 1_000 };
    const capacity = book.capacity;
    const fakeTried = fakeEntries.filter(tried).length;
    const first = await probe(victim.address);
    const second = await probe(victim.address);
    const answer = first.answer ?? [];
    const identical = first.answer !== undefined && second.answer !== undefined &&
      JSON.stringify([...first.answer].sort()) === JSON.stringify([...second.answer].sort());
    // Restart from the data directory, no bootstrap list: whom does it reach first?
    await victim.stop();
    const restartAt = Date.now();
    victim = await node(dir, []);
    deadline = Date.now() + 30_000;
    while (!honest.every((h) => active(victim, h.nodeId)) && Date.now() < deadline) await sleep(20);
    const reconnectMs = Date.now() - restartAt;
    const stats = victim.components.peers.stats as { dialFailures: number; anchorDials?: number };
    return {
      identities: options.identities,
      groups,
      admitted,
      attack_s: Number(attackS.toFixed(2)),
      process_cpu_share: Number(((cpu.user + cpu.system) / 1e6 / attackS).toFixed(3)),
      fake_entries: fakeEntries.length,
      fake_tried: fakeTried,
      attacker_share_of_capacity: Number((fakeEntries.length / capacity).toFixed(3)),
      attacker_share_of_entries: Number((fakeEntries.length / Math.max(1, book.size)).toFixed(3)),
      prober_ack_peers: first.ack.length,
      prober_ack_fakes: first.ack.filter((id) => fakes.has(id)).length,
      prober_answer_peers: answer.length,
      prober_answer_fakes: answer.filter((id) => fakes.has(id)).length,
      prober_answers_identical: identical,
      honest_arrived: honestArrived,
      restart_failed_dials_before_honest: honest.every((h) => active(victim, h.nodeId)) ? stats.dialFailures : -1,
      restart_reconnect_ms: reconnectMs,
      restart_anchor_dials: stats.anchorDials ?? 0,
    };
  } finally {
    await Promise.all([victim, ...honest].map((n) => n.stop()));
    await Deno.remove(dir, { recursive: true });
  }
}
