/**
 * Announced addresses the dial policy refuses: an attacker peer hands a victim addresses in a range the
 * victim's policy refuses, through every path hearsay takes (its HANDSHAKE_ACK list when the victim
 * dials it, answers to the victim's PEER_DISCOVERY, and unsolicited PEER_ANNOUNCEMENTs). To stay on
 * loopback even if the policy were broken, the refused range is part of loopback: the victim allows
 * 127.0.0.0/8 but refuses 127.99.0.0/16 (so does the honest peer), and a listener at each announced 127.99.x.1 address counts the
 * connections it accepts. Reports those (0 when the policy holds), the victim's refusal counters, and
 * whether a message an honest peer published during the attack arrived. Loopback only; bounded in count
 * and time.
 *
 * @module
 */
import { fromHex } from "../../lib/bytes.ts";
import { Identity } from "../../lib/identity.ts";
import { KithNode } from "../../lib/node.ts";
import { createLinkMessage, MessageType, type PeerRecord } from "../../lib/protocol/mod.ts";
import { type Connection, TcpTransport } from "../../lib/transport/mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the dial-policy scenario measured. */
export interface DialPolicyResult {
  /** Addresses the attacker announced, each in the refused range with a listener behind it. */
  announced_refused: number;
  duration_s: number;
  /** Connections the listeners at refused addresses accepted: dials the victim made there. */
  refused_range_connections: number;
  /** Distinct refused addresses the victim connected to. */
  refused_addresses_dialed: number;
  /** The victim's count of distinct announced addresses its policy refused (peer manager). */
  victim_refused_by_policy: number;
  /** Dials the victim's transport refused (the last line of defence; 0 when nothing got past the manager). */
  victim_dials_refused: number;
  /** Announced refused addresses the victim's address book holds. */
  refused_in_book: number;
  /** Peer announcements the attacker sent (unsolicited and in answer to PEER_DISCOVERY). */
  announcements_sent: number;
  /** Whether the victim dialed the attacker and stayed linked (the hearsay was delivered). */
  attacker_linked: boolean;
  /** Whether a message the honest peer published during the attack reached the victim. */
  honest_delivered: boolean;
}

/** The refused range: part of loopback, so a broken policy still dials only loopback. */
const REFUSED_RANGE = "127.99.0.0/16";

/**
 * Runs the attack for `durationS` seconds with `targets` announced addresses (at most 250), each at
 * 127.99.i.1 on a port a counting listener holds.
 */
export async function dialpolicy(options: { targets: number; durationS: number }): Promise<DialPolicyResult> {
  const targets = Math.min(250, Math.max(1, options.targets));
  // Listeners at the announced addresses: each accepted connection is a dial the policy should have refused.
  const accepted = new Map<string, number>();
  const listeners = Array.from({ length: targets }, (_, i) => {
    const listener = Deno.listen({ hostname: `127.99.${i + 1}.1`, port: 0, transport: "tcp" });
    const address = `127.99.${i + 1}.1:${(listener.addr as Deno.NetAddr).port}`;
    const loop = (async () => {
      for (;;) {
        let conn: Deno.TcpConn;
        try {
          conn = await listener.accept();
        } catch {
          return; // closed
        }
        accepted.set(address, (accepted.get(address) ?? 0) + 1);
        conn.close();
      }
    })();
    return { listener, address, loop };
  });
  // Node ids no one holds: the victim learns each as the node at a refused address.
  const fakeNodeIds = listeners.map(() => fromHex(Identity.generate().nodeId)!);
  const records = (): PeerRecord[] =>
    listeners.map(({ address }, i) => ({ nodeId: fakeNodeIds[i], address, lastSeen: Date.now() }));
  const attacker = new TcpTransport({
    identity: Identity.generate(),
    config: { listenHost: "127.98.0.1", listenPort: 0, maxConnectionsPerIp: 1_000 },
    initialPeers: () => records().slice(0, 64),
  });
  let announcements = 0;
  const links = new Set<Connection>();
  const announce = (connection: Connection) => {
    if (!connection.isOpen) return;
    const list = records();
    for (let i = 0; i < list.length; i += 64) {
      connection.send(createLinkMessage(attacker.identity, MessageType.PEER_ANNOUNCEMENT, {
        peers: list.slice(i, i + 64),
      }, { timestamp: Date.now() }));
      announcements++;
    }
  };
  attacker.onConnection = (connection) => {
    links.add(connection);
    connection.onEnvelope = (envelope) => {
      if (envelope.type === MessageType.PEER_DISCOVERY) announce(connection);
    };
  };
  // The honest peer runs the same policy: it learns the attacker's address from the victim, and would
  // otherwise dial the announced addresses itself (they are loopback, so its own policy allows them).
  const honest = new KithNode({
    config: { listenHost: "127.98.1.1", listenPort: 0, minPeers: 1, dialPolicy: "loopback", dialDeny: [REFUSED_RANGE] },
  });
  let victim: KithNode | undefined;
  try {
    const attackerAddress = await attacker.listen();
    await honest.start();
    victim = new KithNode({
      config: {
        listenHost: "127.98.2.1",
        listenPort: 0,
        bootstrap: [attackerAddress, honest.address],
        // Loopback-only, minus the range the attacker announces (loopback too, so nothing leaves the host).
        dialPolicy: "loopback",
        dialDeny: [REFUSED_RANGE],
        minPeers: 8,
        maxConnectionsPerIp: 1_000,
        peerMaintenanceIntervalMs: 100,
        discoveryIntervalMs: 500,
        gossipIntervalMs: 500,
      },
    });
    await victim.start();
    const v = victim;
    const deadline = Date.now() + 10_000;
    const activeIds = () => new Set(v.peers().filter((p) => p.state === "active").map((p) => p.nodeId));
    while (!(activeIds().has(attacker.nodeId) && activeIds().has(honest.nodeId))) {
      if (Date.now() > deadline) throw new Error("the victim never linked to the attacker and the honest peer");
      await sleep(20);
    }
    let honestId = "";
    let honestDelivered = false;
    v.subscribe("", (message) => {
      if (message.id === honestId) honestDelivered = true;
    });
    const end = Date.now() + options.durationS * 1000;
    let round = 0;
    while (Date.now() < end) {
      for (const connection of links) announce(connection);
      if (++round === Math.max(1, Math.floor(options.durationS * 2))) {
        honestId = honest.broadcast("honest, mid-attack", { topic: "" });
      }
      await sleep(250);
    }
    if (!honestId) honestId = honest.broadcast("honest, mid-attack", { topic: "" });
    const drain = Date.now() + 5_000;
    while (!honestDelivered && Date.now() < drain) await sleep(50);
    const refusedAddresses = new Set(listeners.map((l) => l.address));
    const stats = v.stats();
    return {
      announced_refused: targets,
      duration_s: options.durationS,
      refused_range_connections: [...accepted.values()].reduce((a, b) => a + b, 0),
      refused_addresses_dialed: accepted.size,
      victim_refused_by_policy: (stats.peers as { refusedByPolicy?: number }).refusedByPolicy ?? 0,
      victim_dials_refused: (stats.transport as { dialsRefused?: number }).dialsRefused ?? 0,
      refused_in_book: v.peers().filter((p) => refusedAddresses.has(p.address)).length,
      announcements_sent: announcements,
      attacker_linked: activeIds().has(attacker.nodeId),
      honest_delivered: honestDelivered,
    };
  } finally {
    await victim?.stop();
    await honest.stop();
    await attacker.close();
    for (const { listener } of listeners) listener.close();
    await Promise.all(listeners.map((l) => l.loop));
  }
}
