/**
 * IHAVE floods: an authenticated peer sends a victim GOSSIP_MESSAGE
 * announcements (`have`) of random ids as fast as the victim's per-peer rate
 * allows, and never serves any of them, for a bounded time, while an honest
 * friend publishes through the victim. The attacker is a process of its own
 * (scripts/chaos/ihave_attacker.ts), so this process's CPU is the victim's
 * (and the friend's, which is light). The victim keeps its dedup ids in
 * SQLite, as a node with a data directory does; its database lookups of
 * seen ids are counted by wrapping the storage. Reports the victim's CPU
 * share, lookups per second, what gossip counted, whether the attacker was
 * penalised or disconnected, and whether the honest messages arrived.
 * Loopback only; bounded in count and time.
 *
 * @module
 */
import process from "node:process";
import { KithNode } from "../../lib/node.ts";
import { SqliteStorage } from "../../lib/storage/mod.ts";
import type { IhaveOrder, IhaveReport } from "./ihave_attacker.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** SQLite storage that counts the seen-id lookups that reach it. */
class CountingStorage extends SqliteStorage {
  lookups = 0;
  override hasSeen(messageId: Uint8Array): boolean {
    this.lookups++;
    return super.hasSeen(messageId);
  }
}

/** What the IHAVE scenario measured. */
export interface IhaveResult {
  attempted_per_s: number;
  ids_per_announcement: number;
  duration_s: number;
  /** What the attacker sent and was asked for (its own report). */
  attacker: Omit<IhaveReport, "nodeId">;
  /** User + system CPU seconds per wall second of this process (victim and friend; the attacker runs apart). */
  victim_cpu_share: number;
  /** Seen-id lookups that reached the victim's database, per second of the attack. */
  db_lookups_per_s: number;
  /** Announced ids the victim's gossip looked at (after its caps), per second; absent on code without the counter. */
  ids_examined_per_s: number | null;
  /** Announcements (and their ids) the victim dropped over its caps; null on code without the counter. */
  announcements_dropped: number | null;
  /** Promises (asks) the attacker broke, as the victim counted them; null on code without the counter. */
  promises_broken: number | null;
  attacker_trust_after: number;
  attacker_disconnected: boolean;
  honest_published_during_attack: number;
  honest_delivered_during_attack: number;
}

// A counter the fix adds; null on code without it.
function counter(stats: object, name: string): number | null {
  const value = (stats as Record<string, unknown>)[name];
  return typeof value === "number" ? value : null;
}

/** Runs the attacker as a process of its own and returns its report. */
async function runAttacker(order: IhaveOrder): Promise<IhaveReport> {
  const script = new URL("./ihave_attacker.ts", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.0/8", script, JSON.stringify(order)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`the attacker failed (exit ${output.code})`);
  return JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
}

/**
 * The IHAVE flood: `rate` announcements per second of `ids` random ids each (default 256, the wire's bound),
 * for `durationS` seconds, from one authenticated attacker that never serves what it announces; the friend
 * publishes ten honest messages a second meanwhile. `victimConfig` and `victimGossip` override the victim's
 * settings and gossip parameters.
 */
export async function ihave(
  options: {
    rate: number;
    durationS: number;
    ids?: number;
    victimConfig?: Record<string, unknown>;
    victimGossip?: Record<string, unknown>;
  },
): Promise<IhaveResult> {
  const ids = options.ids ?? 256;
  const dir = await Deno.makeTempDir({ prefix: "kith-ihave-" });
  const storage = new CountingStorage(`${dir}/kith.db`);
  const victim = new KithNode({
    storage,
    config: {
      listenHost: "127.71.0.1",
      listenPort: 0,
      minPeers: 1,
      maxConnectionsPerIp: 10_000,
      peerMaintenanceIntervalMs: 100,
      gossipIntervalMs: 500,
      ...options.victimConfig,
    },
    gossip: options.victimGossip,
    log: () => {},
  });
  await victim.start();
  const friend = new KithNode({
    config: { listenHost: "127.71.1.1", listenPort: 0, minPeers: 1, bootstrap: [victim.address] },
    log: () => {},
  });
  try {
    await friend.start();
    const deadline = Date.now() + 10_000;
    while (!victim.peers().some((p) => p.state === "active") && Date.now() < deadline) await sleep(20);
    const got = new Set<string>();
    victim.subscribe("", (m) => got.add(m.id));
    // Some honest history first, so the victim's dedup table is not empty.
    for (let i = 0; i < 20; i++) friend.broadcast(`before ${i}`, { topic: "" });
    await sleep(500);
    const statsBefore = victim.stats().gossip;
    const lookupsBefore = storage.lookups;
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const report = runAttacker({
      address: victim.address,
      rate: options.rate,
      ids,
      durationMs: options.durationS * 1000,
      listenHost: "127.71.2.1",
    });
    let finished = false;
    report.finally(() => finished = true).catch(() => {});
    const published: string[] = [];
    const publishEnd = Date.now() + options.durationS * 1000 + 5_000;
    while (!finished && Date.now() < publishEnd) {
      published.push(friend.broadcast(`during ihave ${published.length}`, { topic: "" }));
      await sleep(100);
    }
    const attacker = await report;
    const wall = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const lookups = storage.lookups - lookupsBefore;
    const statsAfter = victim.stats().gossip;
    const arrival = Date.now() + 3_000;
    while (published.some((id) => !got.has(id)) && Date.now() < arrival) await sleep(20);
    const delta = (name: string) => {
      const [after, before] = [counter(statsAfter, name), counter(statsBefore, name)];
      return after === null || before === null ? null : after - before;
    };
    const examined = delta("announcedIdsExamined");
    const { nodeId, ...attackerReport } = attacker;
    return {
      attempted_per_s: options.rate,
      ids_per_announcement: ids,
      duration_s: options.durationS,
      attacker: attackerReport,
      victim_cpu_share: Number(((cpu.user + cpu.system) / 1e6 / wall).toFixed(3)),
      db_lookups_per_s: Math.round(lookups / wall),
      ids_examined_per_s: examined === null ? null : Math.round(examined / wall),
      announcements_dropped: delta("announcementsDropped"),
      promises_broken: delta("promisesBroken"),
      attacker_trust_after: Number(victim.components.trust.trust(nodeId).toFixed(3)),
      attacker_disconnected: attacker.disconnected,
      honest_published_during_attack: published.length,
      honest_delivered_during_attack: published.filter((id) => got.has(id)).length,
    };
  } finally {
    await friend.stop();
    await victim.stop();
    storage.close();
    await Deno.remove(dir, { recursive: true });
  }
}
