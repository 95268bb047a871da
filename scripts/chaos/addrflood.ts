/**
 * Address flood (issue 21, item 1): one authenticated attacker peer sends a
 * victim PEER_ANNOUNCEMENTs of `records` made-up peers each, at loopback
 * addresses spread over many 127.x.y /24s where nothing listens, as fast as
 * `messages` over `durationS` allows, and answers the victim's own
 * PEER_DISCOVERY with more of them. Reports the process's CPU share, how
 * much of the victim's address book the attacker holds, the victim's
 * peers/addresses row counts and database size, and whether an honest
 * message published during the attack arrived. Loopback only; bounded in
 * count and time.
 *
 * @module
 */
import { Identity } from "../../lib/identity.ts";
import { createLinkMessage, MessageType, type PeerRecord } from "../../lib/protocol/mod.ts";
import { TcpTransport } from "../../lib/transport/mod.ts";
import { loopbackNode } from "./nodes.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the address-flood scenario measured. */
export interface AddrfloodResult {
  /** Announcements (and answers) the attacker sent, records in them, over how long. */
  sent_announcements: number;
  sent_records: number;
  duration_s: number;
  /** User + system CPU seconds per wall second of this process (victim, two honest nodes and the attacker). */
  process_cpu_share: number;
  /** The victim's book: entries held, the most it can hold, and how many of them are the attacker's. */
  book_entries: number;
  book_capacity: number;
  attacker_entries: number;
  /** Attacker entries over the book's capacity (the bound a flood can reach), and over the entries held. */
  attacker_share_of_capacity: number;
  attacker_share_of_entries: number;
  /** Attacker entries the victim marks tried (reached by its own outbound connection): must be 0. */
  attacker_tried: number;
  /** Whether the victim still knows both honest peers. */
  honest_kept: boolean;
  /** Rows in the victim's peers (trust) table and addresses table, and its database files' size, bytes. */
  peers_rows: number;
  address_rows: number;
  db_bytes: number;
  /** Announcements the victim dropped unread (no budget), and records it dropped over the rate. */
  announcements_dropped: number;
  records_dropped: number;
  /** Whether an honest message published during the attack reached the victim. */
  honest_arrived: boolean;
}

const node = (dataDir: string | undefined, bootstrap: string[]) => loopbackNode(68, dataDir, bootstrap);

async function dbBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith("kith.db")) total += (await Deno.stat(`${dir}/${entry.name}`)).size;
  }
  return total;
}

/**
 * The address flood: `messages` announcements of `records` fake loopback peers each (at most 64), sent by one
 * authenticated attacker over `durationS` seconds, plus full answers to every PEER_DISCOVERY the victim sends it.
 */
export async function addrflood(
  options: { messages: number; records: number; durationS: number },
): Promise<AddrfloodResult> {
  const records = Math.min(64, options.records);
  const dir = await Deno.makeTempDir();
  const victim = await node(dir, []);
  const honest = [await node(undefined, [victim.address]), await node(undefined, [victim.address])];
  const attacker = new TcpTransport({
    identity: Identity.generate(),
    config: { listenHost: "127.68.255.1", listenPort: 0 },
  });
  const identity = attacker.identity;
  try {
    const active = (id: string) => victim.peers().some((p) => p.state === "active" && p.nodeId === id);
    const deadline = Date.now() + 10_000;
    while (!honest.every((h) => active(h.nodeId))) {
      if (Date.now() > deadline) throw new Error("the honest peers never connected");
      await sleep(20);
    }
    const connection = await attacker.dial(victim.address);
    while (!active(attacker.nodeId)) {
      if (Date.now() > deadline) throw new Error("the attacker's link never became active");
      await sleep(20);
    }
    const fakes = new Set<string>();
    let serial = 0;
    const fakeRecords = (): PeerRecord[] =>
      Array.from({ length: records }, () => {
        const n = serial++;
        const nodeId = crypto.getRandomValues(new Uint8Array(32));
        fakes.add(Array.from(nodeId, (b) => b.toString(16).padStart(2, "0")).join(""));
        // Many /24s in many 127.x ranges; port 9, where nothing listens.
        const address = `127.${100 + (n % 100)}.${Math.floor(n / 100) % 250}.${1 + (Math.floor(n / 25_000) % 250)}:9`;
        return { nodeId, address, lastSeen: Date.now() };
      });
    let sent = 0;
    const announce = () => {
      if (!connection.isOpen) return;
      connection.send(createLinkMessage(identity, MessageType.PEER_ANNOUNCEMENT, { peers: fakeRecords() }, {
        timestamp: Date.now(),
      }));
      sent++;
    };
    // Every request the victim makes is answered with a full list of fakes.
    connection.onEnvelope = (envelope) => {
      if (envelope.type === MessageType.PEER_DISCOVERY) announce();
    };
    let honestId = "";
    let honestArrived = false;
    victim.subscribe("", (m) => {
      if (m.id === honestId) honestArrived = true;
    });
    const statsBefore = victim.components.peers.stats;
    const cpuBefore = process.cpuUsage();
    const start = Date.now();
    const end = start + options.durationS * 1000;
    const slices = Math.max(1, Math.floor(options.durationS * 100));
    for (let slice = 0; slice < slices && Date.now() < end; slice++) {
      const sliceEnd = start + ((slice + 1) * options.durationS * 1000) / slices;
      const quota = Math.round(((slice + 1) * options.messages) / slices) -
        Math.round((slice * options.messages) / slices);
      for (let i = 0; i < quota; i++) announce();
      if (slice === Math.floor(slices / 2)) honestId = honest[0].broadcast("honest, mid-attack", { topic: "" });
      while (Date.now() < sliceEnd) await sleep(1);
    }
    const drain = Date.now() + 5_000;
    while (!honestArrived && Date.now() < drain) await sleep(50);
    const wall = (Date.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const peers = victim.components.peers as unknown as {
      addressBook?: () => { size: number; capacity: number; intake: { dropped: number } };
      stats: { announcementsDropped?: number };
    };
    const all = victim.peers();
    const attackerEntries = all.filter((p) => fakes.has(p.nodeId));
    // Main's book held every peer it listed, up to maxKnownPeers (1,000).
    const bookSize = peers.addressBook?.().size ?? all.length;
    const capacity = peers.addressBook?.().capacity ?? 1_000;
    const storage = victim.components.storage as unknown as {
      countPeers(): number;
      countAddresses?: () => number;
      flush(): void;
    };
    storage.flush();
    return {
      sent_announcements: sent,
      sent_records: sent * records,
      duration_s: options.durationS,
      process_cpu_share: Number(((cpu.user + cpu.system) / 1e6 / wall).toFixed(3)),
      book_entries: bookSize,
      book_capacity: capacity,
      attacker_entries: attackerEntries.length,
      attacker_share_of_capacity: Number((attackerEntries.length / capacity).toFixed(3)),
      attacker_share_of_entries: Number((attackerEntries.length / Math.max(1, bookSize)).toFixed(3)),
      attacker_tried: attackerEntries.filter((p) => (p as { tried?: boolean }).tried === true).length,
      honest_kept: honest.every((h) => all.some((p) => p.nodeId === h.nodeId)),
      peers_rows: storage.countPeers(),
      address_rows: storage.countAddresses?.() ?? 0,
      db_bytes: await dbBytes(dir),
      announcements_dropped: (peers.stats.announcementsDropped ?? 0) -
        ((statsBefore as { announcementsDropped?: number }).announcementsDropped ?? 0),
      records_dropped: peers.addressBook?.().intake.dropped ?? 0,
      honest_arrived: honestArrived,
    };
  } finally {
    await attacker.close();
    await Promise.all([victim, ...honest].map((n) => n.stop()));
    await Deno.remove(dir, { recursive: true });
  }
}
