/**
 * The adversary harness: honest kith nodes on loopback under attack, with
 * figures. Each scenario is a function the tests call at small sizes; this
 * script runs them at full size.
 *
 *   deno task chaos -- --scenario byzantine [--honest 20] [--byzantine 10] [--messages 200]
 *   deno task chaos -- --scenario flood [--rate 50000] [--duration 10]
 *   deno task chaos -- --scenario hostile [--idle 1000]
 *   deno task chaos -- --scenario eclipse [--attackers 50]
 *   deno task chaos -- --scenario iwant [--rate 900] [--duration 6] [--ids 1]
 *   deno task chaos -- --scenario handshake [--duration 10] [--concurrency 16]
 *   deno task chaos -- --scenario sse [--clients 20] [--messages 400] [--rate 20]
 *   deno task chaos -- --scenario relay [--rate 950] [--duration 10] [--origins 25] [--peer-rate 600]
 *   deno task chaos -- --scenario addrflood [--messages 3000] [--records 64] [--duration 12]
 *   deno task chaos -- --scenario addrclaim [--identities 300] [--groups 2] [--duration 7.6]
 *   deno task chaos -- --scenario cipher [--max-frame 1048576]
 *   deno task chaos -- --scenario trustchain [--honest 12] [--chain 4] [--fresh 1000] [--newcomers 8] [--duration 60]
 *   deno task chaos -- --scenario dialpolicy [--targets 100] [--duration 10]
 *   deno task chaos -- --scenario ihave [--rate 900] [--duration 10] [--ids 256]
 *   deno task chaos -- --scenario silent [--duration 40] [--rate 10]
 *   deno task chaos -- --scenario topics [--duration 20] [--honest 6] [--rate 20] [--attackers 2] [--sybils 12]
 *   deno task chaos -- --scenario catchup [--messages 500] [--attackers 2]
 *
 * Prints one JSON line per scenario. Loopback only; every loop is bounded in
 * count and time.
 */
import { parseArgs } from "node:util";
import { encodeFrame } from "../lib/framing.ts";
import { Identity } from "../lib/identity.ts";
import { type Connection, TcpTransport } from "../lib/transport/mod.ts";
import { ControlApi, loadOrCreateApiToken } from "../lib/api.ts";
import { KithNode } from "../lib/node.ts";
import { computeMessageId, createMessage, DisconnectReason, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { randomBytes, seededRandom } from "../lib/random.ts";
import { addrclaim } from "./chaos/addrclaim.ts";
import { addrflood } from "./chaos/addrflood.ts";
import { dialpolicy } from "./chaos/dialpolicy.ts";
import { handshake } from "./chaos/handshake.ts";
import { ihave } from "./chaos/ihave.ts";
import { silent } from "./chaos/silent.ts";
import { catchup } from "./chaos/catchup.ts";
import { topics } from "./chaos/topics.ts";
import { iwant } from "./chaos/iwant.ts";
import { cipher } from "./chaos/cipher.ts";
import { relay } from "./chaos/relay.ts";
import { trustchain } from "./chaos/trustchain.ts";
import { sse } from "./chaos/sse.ts";

const codec = new MessageCodec();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let subnet = 0;
/** An honest node with its own loopback /24 and fast maintenance; `events` collects its peer disconnections. */
export async function honestNode(bootstrap: string[] = [], extra: Record<string, unknown> = {}) {
  const disconnects: { peer: string; reason: number }[] = [];
  const node = new KithNode({
    config: {
      listenHost: `127.60.${++subnet % 250}.1`,
      listenPort: 0,
      bootstrap,
      minPeers: 3,
      maxConnectionsPerIp: 10_000,
      peerMaintenanceIntervalMs: 100,
      gossipIntervalMs: 500,
      discoveryIntervalMs: 1_000,
      ...extra,
    },
    log: (_level, message, fields) => {
      if (message === "peer disconnected" && fields) {
        disconnects.push({ peer: String(fields.peer), reason: Number(fields.reason) });
      }
    },
  });
  await node.start();
  return { node, disconnects };
}

/** The behaviours of a Byzantine peer, each producing envelope bytes to send on an authenticated link. */
export function byzantineEnvelopes(
  attacker: Identity,
  random: () => number,
  honestSample?: Uint8Array,
  now: number = Date.now(),
): Uint8Array[] {
  const app = (timestamp = now, ttl = 8) =>
    createMessage(attacker, MessageType.CUSTOM_DATA, { topic: "", data: randomBytes(random, 64) }, {
      timestamp,
      ttl,
    });
  const out: Uint8Array[] = [];
  // Forged signature.
  out.push(codec.encode({ ...app(), signature: randomBytes(random, 64) }));
  // Bit-flipped signature.
  const flipped = app();
  const sig = flipped.signature.slice();
  sig[Math.floor(random() * 64)] ^= 1 << Math.floor(random() * 8);
  out.push(codec.encode({ ...flipped, signature: sig }));
  // Expired and future timestamps (properly signed).
  out.push(codec.encode(app(now - 20 * 60_000)));
  out.push(codec.encode(app(now + 20 * 60_000)));
  // TTL inflation of an honest message (clamped by receivers; it is a duplicate anyway).
  if (honestSample) {
    const parsed = codec.parse(honestSample);
    out.push(codec.encode({ ...parsed, ttl: 255 }));
    // Replay of an old honest message.
    out.push(honestSample);
  }
  // Malformed MessagePack.
  out.push(randomBytes(random, 40));
  // A payload that breaks its schema, correctly hashed and signed.
  const badPayload = new Uint8Array([0x92, 0xc0, 0xc0]);
  const id = computeMessageId(1, MessageType.CUSTOM_DATA, attacker.nodeIdBytes, attacker.publicKey, now, badPayload);
  out.push(codec.encode({ ...app(), id, payloadBytes: badPayload, signature: attacker.sign(id) }));
  // A bogus announcement: addresses where nothing listens.
  out.push(codec.encode(createMessage(attacker, MessageType.PEER_ANNOUNCEMENT, {
    peers: Array.from({ length: 32 }, (_, i) => ({
      nodeId: randomBytes(random, 32),
      address: `127.250.${i}.1:9`,
      lastSeen: now,
    })),
  }, { ttl: 0, timestamp: now })));
  // A lying recommendation: vouching for another attacker identity at full trust.
  out.push(codec.encode(createMessage(attacker, MessageType.TRUST_UPDATE, {
    subject: Identity.generate().nodeIdBytes,
    trust: 1,
  }, { ttl: 0, timestamp: now })));
  return out;
}

export interface ByzantineResult {
  honest: number;
  byzantine: number;
  messages: number;
  honest_delivery_ratio: number;
  latency_ms: { p50: number; p99: number };
  malicious_links: number;
  malicious_links_dropped: number;
  time_to_disconnect_ms: { p50: number; max: number };
  honest_wrongly_disconnected: number;
}

/** Byzantine scenario: `byzantine` attackers each link to several honest nodes and misbehave in every listed way. */
export async function byzantine(
  options: { honest: number; byzantine: number; messages: number; seed: number },
): Promise<ByzantineResult> {
  const random = seededRandom(options.seed);
  const honest: Awaited<ReturnType<typeof honestNode>>[] = [];
  const attackers: TcpTransport[] = [];
  try {
    honest.push(await honestNode());
    for (let i = 1; i < options.honest; i++) honest.push(await honestNode([honest[0].node.address]));
    const start = Date.now();
    while (
      !honest.every((h) => h.node.peers().filter((p) => p.state === "active").length >= 2) &&
      Date.now() - start < 20_000
    ) {
      await sleep(50);
    }
    const honestIds = new Set(honest.map((h) => h.node.nodeId.slice(0, 16)));
    const received = honest.map(() => new Map<string, number>());
    honest.forEach((h, i) =>
      h.node.subscribe("", (m) => {
        if (!received[i].has(m.id)) received[i].set(m.id, Date.now() - m.timestamp);
      })
    );
    // Attackers: each links to 3 honest nodes.
    const links: { connection: Connection; openedAt: number; closedAt?: number }[] = [];
    for (let a = 0; a < options.byzantine; a++) {
      const t = new TcpTransport({
        identity: Identity.generate(),
        config: { listenHost: `127.61.${a % 250}.1`, listenPort: 0 },
      });
      attackers.push(t);
      for (let k = 0; k < 3; k++) {
        const target = honest[Math.floor(random() * honest.length)].node;
        try {
          const connection = await t.dial(target.address);
          const link = { connection, openedAt: Date.now(), closedAt: undefined as number | undefined };
          connection.closed.then(() => link.closedAt = Date.now());
          links.push(link);
        } catch { /* refused: fine */ }
      }
    }
    // Honest traffic, with the attackers misbehaving in between.
    let sample: Uint8Array | undefined;
    const published: string[] = [];
    for (let m = 0; m < options.messages; m++) {
      const origin = honest[Math.floor(random() * honest.length)].node;
      published.push(origin.broadcast(`honest ${m}`, { topic: "" }));
      if (!sample) {
        sample = codec.encode(
          createMessage(honest[0].node.identity, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(1) }, {
            timestamp: Date.now() - 60_000,
          }),
        );
      }
      for (const t of attackers) {
        for (const connection of t.connections()) {
          for (const bytes of byzantineEnvelopes(t.identity, random, sample)) connection.sendEncoded(bytes);
          // Spam above the rate limit: valid messages in a burst.
          for (let s = 0; s < 50; s++) {
            connection.sendEncoded(
              codec.encode(
                createMessage(t.identity, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(8) }),
              ),
            );
          }
        }
      }
      await sleep(20);
    }
    const deadline = Date.now() + 15_000;
    const expected = published.length * (options.honest - 1);
    // A publisher does not deliver its own messages to itself: full delivery is published x (honest - 1).
    const delivered = () => received.reduce((n, r) => n + published.filter((id) => r.has(id)).length, 0);
    while (delivered() < expected && Date.now() < deadline) await sleep(50);
    const latencies = received.flatMap((r) => [...r.values()]).sort((a, b) => a - b);
    const dropped = links.filter((l) => l.closedAt !== undefined);
    const times = dropped.map((l) => l.closedAt! - l.openedAt).sort((a, b) => a - b);
    const wrongly = honest.reduce(
      (n, h) =>
        n + h.disconnects.filter((d) => honestIds.has(d.peer) && d.reason === DisconnectReason.LOW_TRUST).length,
      0,
    );
    return {
      honest: options.honest,
      byzantine: options.byzantine,
      messages: published.length,
      honest_delivery_ratio: Number((Math.max(0, delivered()) / expected).toFixed(4)),
      latency_ms: {
        p50: latencies[Math.floor(latencies.length / 2)] ?? NaN,
        p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
      },
      malicious_links: links.length,
      malicious_links_dropped: dropped.length,
      time_to_disconnect_ms: { p50: times[Math.floor(times.length / 2)] ?? NaN, max: times.at(-1) ?? NaN },
      honest_wrongly_disconnected: wrongly,
    };
  } finally {
    await Promise.all(attackers.map((t) => t.close()));
    await Promise.all(honest.map((h) => h.node.stop()));
  }
}

export interface FloodResult {
  attempted_per_s: number;
  sent: number;
  flooder_disconnected_after_ms: number | null;
  /**
   * The reason the flooder's side saw. Usually LOW_TRUST; CONNECTION_LOST when the victim's close met the
   * flooder's unread bytes in its receive buffer, so its kernel reset the connection before the DISCONNECT
   * frame was read (the RST race of closing under a flood).
   */
  flooder_disconnect_reason: number | null;
  /** The victim's own count of peers it disconnected for low trust: what it decided, whatever the wire showed. */
  victim_low_trust_disconnects: number;
  victim_rss_mb_before: number;
  victim_rss_mb_peak: number;
  honest_delivered_during_flood: number;
  honest_published_during_flood: number;
}

/** Flooding: one authenticated peer sends valid messages as fast as asked; an honest pair keeps talking through the victim. */
export async function flood(options: { rate: number; durationS: number }): Promise<FloodResult> {
  const victim = await honestNode([], { minPeers: 1 });
  const friend = await honestNode([victim.node.address], { minPeers: 1 });
  const flooder = new TcpTransport({
    identity: Identity.generate(),
    config: { listenHost: "127.62.0.1", listenPort: 0 },
  });
  try {
    while (!victim.node.peers().some((p) => p.state === "active")) await sleep(20);
    const got = new Set<string>();
    // The flooder's messages share the network-wide topic: only the victim's own count.
    friend.node.subscribe("", (m) => m.origin === victim.node.nodeId && got.add(m.id));
    const rssBefore = Deno.memoryUsage().rss;
    let peak = rssBefore;
    const connection = await flooder.dial(victim.node.address);
    const start = Date.now();
    let closedAt: number | null = null, reason: number | null = null;
    connection.closed.then((info) => {
      closedAt = Date.now();
      reason = info.reason;
    });
    let sent = 0, published = 0;
    const end = start + options.durationS * 1000;
    const template = codec.encode(
      createMessage(flooder.identity, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(64) }),
    );
    while (Date.now() < end) {
      const sliceEnd = Date.now() + 10;
      const quota = Math.ceil(options.rate / 100);
      for (let i = 0; i < quota && connection.isOpen; i++) {
        // Fresh, validly signed messages: each costs the victim a verification unless rate limiting stops it first.
        connection.sendEncoded(
          i % 10 === 0
            ? codec.encode(
              createMessage(flooder.identity, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(64) }),
            )
            : template,
        );
        sent++;
      }
      if (published < options.durationS * 10) {
        victim.node.broadcast(`during flood ${published++}`, { topic: "" });
      }
      peak = Math.max(peak, Deno.memoryUsage().rss);
      while (Date.now() < sliceEnd) await sleep(1);
    }
    await sleep(1_000);
    return {
      attempted_per_s: options.rate,
      sent,
      flooder_disconnected_after_ms: closedAt === null ? null : closedAt - start,
      flooder_disconnect_reason: reason,
      victim_low_trust_disconnects: victim.node.stats().peers.lowTrustDisconnects,
      victim_rss_mb_before: Math.round(rssBefore / 1048576),
      victim_rss_mb_peak: Math.round(peak / 1048576),
      honest_delivered_during_flood: got.size,
      honest_published_during_flood: published,
    };
  } finally {
    await flooder.close();
    await friend.node.stop();
    await victim.node.stop();
  }
}

export interface HostileResult {
  idle_connections_opened: number;
  garbage_connections: number;
  honest_delivered: number;
  honest_published: number;
  victim_still_connected_to_honest_peer: boolean;
  control_api_answered: boolean;
}

/** Hostile bytes: random bytes, oversize prefixes, truncated frames, half handshakes, and many idle connections. */
export async function hostile(options: { idle: number; seed: number }): Promise<HostileResult> {
  const random = seededRandom(options.seed);
  const victim = await honestNode([], { minPeers: 1, maxInbound: 64, handshakeTimeoutMs: 2_000 });
  const friend = await honestNode([victim.node.address], { minPeers: 1 });
  const sockets: Deno.TcpConn[] = [];
  const apiDir = await Deno.makeTempDir();
  const api = new ControlApi({ node: victim.node, token: await loadOrCreateApiToken(apiDir), port: 0 });
  const apiAddress = await api.start();
  try {
    while (!victim.node.peers().some((p) => p.state === "active")) await sleep(20);
    const got = new Set<string>();
    // The flooder's messages share the network-wide topic: only the victim's own count.
    friend.node.subscribe("", (m) => m.origin === victim.node.nodeId && got.add(m.id));
    const [host, port] = [victim.node.address.split(":")[0], Number(victim.node.address.split(":")[1])];
    let garbage = 0;
    const hello = encodeFrame(codec.encode(createMessage(Identity.generate(), MessageType.HANDSHAKE, {
      networkId: "kith-main",
      nonce: new Uint8Array(32),
      ephemeralKey: new Uint8Array(32).fill(9),
      listenAddress: "",
      agent: "half",
    })));
    const payloads = [
      () => randomBytes(random, 1 + Math.floor(random() * 2000)),
      () => new Uint8Array([0x7f, 0xff, 0xff, 0xff]),
      () => encodeFrame(randomBytes(random, 100)).subarray(0, 50),
      () => hello.subarray(0, hello.length - 10),
    ];
    for (let i = 0; i < 200; i++) {
      const conn = await Deno.connect({ hostname: host, port }).catch(() => undefined);
      if (!conn) continue;
      garbage++;
      await conn.write(payloads[i % payloads.length]()).catch(() => {});
      conn.close();
    }
    let idle = 0;
    for (let i = 0; i < options.idle; i++) {
      const conn = await Deno.connect({ hostname: host, port }).catch(() => undefined);
      if (conn) {
        sockets.push(conn);
        idle++;
      }
    }
    let published = 0;
    for (let i = 0; i < 20; i++) {
      victim.node.broadcast(`under siege ${i}`, { topic: "" });
      published++;
      await sleep(50);
    }
    await sleep(1_000);
    const token = (await Deno.readTextFile(`${apiDir}/api.token`)).trim();
    const status = await fetch(`http://${apiAddress}/v1/status`, { headers: { authorization: `Bearer ${token}` } })
      .then(async (r) => {
        await r.body?.cancel();
        return r.status;
      }, () => 0);
    return {
      control_api_answered: status === 200,
      idle_connections_opened: idle,
      garbage_connections: garbage,
      honest_delivered: got.size,
      honest_published: published,
      victim_still_connected_to_honest_peer: victim.node.peers().some((p) =>
        p.state === "active" && p.nodeId === friend.node.nodeId
      ),
    };
  } finally {
    for (const s of sockets) {
      try {
        s.close();
      } catch { /* closed */ }
    }
    await api.stop();
    await Deno.remove(apiDir, { recursive: true });
    await friend.node.stop();
    await victim.node.stop();
  }
}

export interface EclipseResult {
  attackers: number;
  joiner_active_peers: number;
  joiner_honest_peers: number;
  joiner_attacker_peers: number;
  honest_delivered_to_joiner: number;
  honest_published: number;
}

/**
 * Eclipse: a node joins with a bootstrap list of one honest node and several attackers; the attackers (one /24)
 * announce only each other. The joiner should still reach honest peers and hear honest traffic.
 */
export async function eclipse(options: { attackers: number; honest: number }): Promise<EclipseResult> {
  const honest: Awaited<ReturnType<typeof honestNode>>[] = [];
  const attackers: TcpTransport[] = [];
  try {
    honest.push(await honestNode());
    for (let i = 1; i < options.honest; i++) honest.push(await honestNode([honest[0].node.address]));
    for (let i = 0; i < options.attackers; i++) {
      const t = new TcpTransport({
        identity: Identity.generate(),
        config: { listenHost: `127.63.0.${i + 1}`, listenPort: 0 },
      });
      await t.listen();
      attackers.push(t);
    }
    const records = attackers.map((t) => ({
      nodeId: t.identity.nodeIdBytes,
      address: t.listenAddress,
      lastSeen: Date.now(),
    }));
    // Every attacker answers any connection with an announcement of attackers only.
    for (const t of attackers) {
      t.onConnection = (connection) => {
        connection.send(
          createMessage(t.identity, MessageType.PEER_ANNOUNCEMENT, { peers: records.slice(0, 64) }, { ttl: 0 }),
        );
      };
    }
    const joiner = await honestNode(
      [...attackers.slice(0, 4).map((t) => t.listenAddress), honest[0].node.address],
      { minPeers: 6 },
    );
    honest.push(joiner);
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) await sleep(100);
    const got = new Set<string>();
    joiner.node.subscribe("", (m) => honest.some((h) => h.node.nodeId === m.origin) && got.add(m.id));
    let published = 0;
    for (let i = 0; i < 20; i++) {
      honest[i % (honest.length - 1)].node.broadcast(`honest ${i}`, { topic: "" });
      published++;
      await sleep(25);
    }
    await sleep(1_500);
    const attackerIds = new Set(attackers.map((t) => t.nodeId));
    const active = joiner.node.peers().filter((p) => p.state === "active");
    return {
      attackers: options.attackers,
      joiner_active_peers: active.length,
      joiner_honest_peers: active.filter((p) => !attackerIds.has(p.nodeId)).length,
      joiner_attacker_peers: active.filter((p) => attackerIds.has(p.nodeId)).length,
      honest_delivered_to_joiner: got.size,
      honest_published: published,
    };
  } finally {
    await Promise.all(attackers.map((t) => t.close()));
    await Promise.all(honest.map((h) => h.node.stop()));
  }
}

export interface SybilResult {
  identities: number;
  victim_active_peers: number;
  victim_honest_peers: number;
  honest_peers_before: number;
  attacker_peers: number;
  per_subnet_bound: number;
}

/** Sybil: one /24 runs `identities` identities (two per address) that dial a victim and announce each other. */
export async function sybil(options: { identities: number; honest: number }): Promise<SybilResult> {
  const honest: Awaited<ReturnType<typeof honestNode>>[] = [];
  const attackers: TcpTransport[] = [];
  try {
    for (let i = 0; i < options.honest; i++) honest.push(await honestNode([], { minPeers: 0 }));
    const victim = await honestNode(honest.map((h) => h.node.address), { minPeers: options.honest, maxPeers: 16 });
    honest.push(victim);
    while (victim.node.peers().filter((p) => p.state === "active").length < options.honest) await sleep(50);
    const before = victim.node.peers().filter((p) => p.state === "active").length;
    for (let i = 0; i < options.identities; i++) {
      const t = new TcpTransport({
        identity: Identity.generate(),
        config: { listenHost: `127.64.0.${(i % 250) + 1}`, listenPort: 0 },
      });
      await t.listen();
      attackers.push(t);
    }
    const records = attackers.slice(0, 64).map((t) => ({
      nodeId: t.identity.nodeIdBytes,
      address: t.listenAddress,
      lastSeen: Date.now(),
    }));
    for (let i = 0; i < attackers.length; i += 50) {
      await Promise.allSettled(
        attackers.slice(i, i + 50).map(async (t) => {
          const connection = await t.dial(victim.node.address);
          connection.send(createMessage(t.identity, MessageType.PEER_ANNOUNCEMENT, { peers: records }, { ttl: 0 }));
        }),
      );
    }
    await sleep(2_000);
    const attackerIds = new Set(attackers.map((t) => t.nodeId));
    const active = victim.node.peers().filter((p) => p.state === "active");
    return {
      identities: options.identities,
      victim_active_peers: active.length,
      victim_honest_peers: active.filter((p) => !attackerIds.has(p.nodeId)).length,
      honest_peers_before: before,
      attacker_peers: active.filter((p) => attackerIds.has(p.nodeId)).length,
      per_subnet_bound: victim.node.config.maxPeersPerSubnet,
    };
  } finally {
    await Promise.all(attackers.map((t) => t.close()));
    await Promise.all(honest.map((h) => h.node.stop()));
  }
}

export interface ChurnResult {
  nodes: number;
  churned: number;
  messages: number;
  delivery_ratio_live: number;
  delivery_ratio_restarted: number;
}

/**
 * Churn on loopback: `nodes` nodes with data directories; during publishing, a fraction of them is stopped and
 * restarted from its data directory (same identity, peers and trust). Delivery is measured at the end over every node,
 * once repair has run.
 */
export async function churn(
  options: { nodes: number; fraction: number; messages: number; seed: number },
): Promise<ChurnResult> {
  const random = seededRandom(options.seed);
  const dir = await Deno.makeTempDir({ prefix: "kith-churn-" });
  const running: (KithNode | undefined)[] = [];
  const got: Set<string>[] = [];
  const hosts: string[] = [];
  const make = async (i: number, bootstrap: string[]) => {
    const node = new KithNode({
      dataDir: `${dir}/n${i}`,
      config: {
        listenHost: hosts[i],
        listenPort: 0,
        bootstrap,
        minPeers: 3,
        maxConnectionsPerIp: 10_000,
        peerMaintenanceIntervalMs: 100,
        gossipIntervalMs: 500,
        discoveryIntervalMs: 1_000,
      },
    });
    await node.start();
    node.subscribe("", (m) => got[i].add(m.id));
    return node;
  };
  try {
    for (let i = 0; i < options.nodes; i++) {
      hosts.push(`127.65.${i}.1`);
      got.push(new Set());
      running.push(await make(i, i === 0 ? [] : [running[0]!.address]));
    }
    const start = Date.now();
    while (
      !running.every((n) => n!.peers().filter((p) => p.state === "active").length >= 2) && Date.now() - start < 20_000
    ) {
      await sleep(50);
    }
    const victims = new Set<number>();
    while (victims.size < Math.floor(options.fraction * options.nodes)) {
      victims.add(1 + Math.floor(random() * (options.nodes - 1)));
    }
    const published: string[] = [];
    for (let m = 0; m < options.messages; m++) {
      if (m === Math.floor(options.messages / 4)) {
        for (const v of victims) {
          await running[v]!.stop();
          running[v] = undefined;
        }
      }
      if (m === Math.floor(options.messages / 2)) {
        // Back from their data directories, with no bootstrap list: they rejoin from their stored peers.
        for (const v of victims) running[v] = await make(v, []);
      }
      const live = running.map((n, i) => ({ n, i })).filter((x) => x.n !== undefined);
      const origin = live[Math.floor(random() * live.length)];
      const id = origin.n!.broadcast(`churn ${m}`, { topic: "" });
      got[origin.i].add(id);
      published.push(id);
      await sleep(50);
    }
    const deadline = Date.now() + 20_000;
    const complete = () => got.every((set) => published.every((id) => set.has(id)));
    while (!complete() && Date.now() < deadline) await sleep(100);
    const ratio = (indices: number[]) =>
      indices.reduce((n, i) => n + published.filter((id) => got[i].has(id)).length, 0) /
      (indices.length * published.length);
    return {
      nodes: options.nodes,
      churned: victims.size,
      messages: published.length,
      delivery_ratio_live: Number(ratio(running.map((_, i) => i)).toFixed(4)),
      delivery_ratio_restarted: Number(ratio([...victims]).toFixed(4)),
    };
  } finally {
    await Promise.all(running.map((n) => n?.stop()));
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      scenario: { type: "string", default: "byzantine" },
      honest: { type: "string", default: "20" },
      byzantine: { type: "string", default: "10" },
      messages: { type: "string", default: "200" },
      rate: { type: "string" },
      duration: { type: "string" },
      idle: { type: "string", default: "1000" },
      seed: { type: "string", default: "1" },
      attackers: { type: "string", default: "50" },
      identities: { type: "string", default: "500" },
      fraction: { type: "string", default: "0.3" },
      ids: { type: "string" },
      concurrency: { type: "string", default: "16" },
      clients: { type: "string", default: "20" },
      origins: { type: "string", default: "25" },
      "peer-rate": { type: "string", default: "600" },
      records: { type: "string", default: "64" },
      groups: { type: "string", default: "2" },
      "max-frame": { type: "string", default: "1048576" },
      chain: { type: "string", default: "4" },
      fresh: { type: "string", default: "1000" },
      newcomers: { type: "string", default: "8" },
      targets: { type: "string", default: "100" },
      sybils: { type: "string", default: "12" },
    },
  }).values;
  const guard = setTimeout(() => {
    console.log(JSON.stringify({ error: "hard timeout" }));
    Deno.exit(1);
  }, 600_000);
  let result: unknown;
  switch (args.scenario) {
    case "byzantine":
      result = await byzantine({
        honest: Number(args.honest),
        byzantine: Number(args.byzantine),
        messages: Number(args.messages),
        seed: Number(args.seed),
      });
      break;
    case "flood":
      result = await flood({ rate: Number(args.rate ?? 50_000), durationS: Number(args.duration ?? 10) });
      break;
    case "hostile":
      result = await hostile({ idle: Number(args.idle), seed: Number(args.seed) });
      break;
    case "sybil":
      result = await sybil({ identities: Number(args.identities), honest: Number(args.honest) });
      break;
    case "churn":
      result = await churn({
        nodes: Number(args.honest),
        fraction: Number(args.fraction),
        messages: Number(args.messages),
        seed: Number(args.seed),
      });
      break;
    case "eclipse":
      result = await eclipse({ attackers: Number(args.attackers), honest: Number(args.honest) });
      break;
    case "iwant":
      result = await iwant({
        rate: Number(args.rate ?? 900),
        durationS: Number(args.duration ?? 6),
        idsPerWant: Number(args.ids ?? 1),
      });
      break;
    case "handshake":
      result = await handshake({ durationS: Number(args.duration ?? 10), concurrency: Number(args.concurrency) });
      break;
    case "sse":
      result = await sse({
        clients: Number(args.clients),
        // --messages is shared with other scenarios (default 200); this one's own default is 400.
        messages: Deno.args.some((a) => a.startsWith("--messages")) ? Number(args.messages) : 400,
        rate: Number(args.rate ?? 20),
      });
      break;
    case "relay":
      result = await relay({
        rate: Number(args.rate ?? 950),
        durationS: Number(args.duration ?? 10),
        origins: Number(args.origins),
        peerRate: Number(args["peer-rate"]),
      });
      break;
    case "addrflood":
      result = await addrflood({
        // --messages is shared with other scenarios (default 200); this one's own default is 3,000.
        messages: Deno.args.some((a) => a.startsWith("--messages")) ? Number(args.messages) : 3_000,
        records: Number(args.records),
        durationS: Number(args.duration ?? 12),
      });
      break;
    case "addrclaim":
      result = await addrclaim({
        identities: Deno.args.some((a) => a.startsWith("--identities")) ? Number(args.identities) : 300,
        groups: Number(args.groups),
        durationS: Number(args.duration ?? 7.6),
      });
      break;
    case "cipher":
      result = await cipher({ maxFrameBytes: Number(args["max-frame"]) });
      break;
    case "trustchain":
      result = await trustchain({
        // --honest is shared with other scenarios (default 20); this one's own default is 12.
        honest: Deno.args.some((a) => a.startsWith("--honest")) ? Number(args.honest) : 12,
        chain: Number(args.chain),
        fresh: Number(args.fresh),
        newcomers: Number(args.newcomers),
        phaseS: Number(args.duration ?? 60), // virtual seconds (phase 2 lasts four times this)
      });
      break;
    case "dialpolicy":
      result = await dialpolicy({ targets: Number(args.targets), durationS: Number(args.duration ?? 10) });
      break;
    case "ihave":
      result = await ihave({
        rate: Number(args.rate ?? 900),
        durationS: Number(args.duration ?? 10),
        ids: Number(args.ids ?? 256),
      });
      break;
    case "silent":
      result = await silent({ durationS: Number(args.duration ?? 40), rate: Number(args.rate ?? 10) });
      break;
    case "topics":
      result = await topics({
        durationS: Number(args.duration ?? 20),
        // --honest, --attackers are shared with other scenarios (defaults 20, 50); this one's own are 6 and 2.
        honest: Deno.args.some((a) => a.startsWith("--honest")) ? Number(args.honest) : 6,
        rate: Number(args.rate ?? 20),
        attackers: Deno.args.some((a) => a.startsWith("--attackers")) ? Number(args.attackers) : 2,
        sybils: Number(args.sybils),
      });
      break;
    case "catchup":
      result = await catchup({
        // --messages and --attackers are shared with other scenarios (defaults 200, 50); this one's own are 500 and 2.
        messages: Deno.args.some((a) => a.startsWith("--messages")) ? Number(args.messages) : 500,
        attackers: Deno.args.some((a) => a.startsWith("--attackers")) ? Number(args.attackers) : 2,
      });
      break;
    default:
      console.error(
        "chaos: --scenario must be byzantine, flood, hostile, eclipse, sybil, churn, iwant, handshake, sse, relay, " +
          "addrflood, addrclaim, cipher, trustchain, dialpolicy, ihave, silent, topics or catchup",
      );
      Deno.exit(2);
  }
  console.log(JSON.stringify({ scenario: args.scenario, ...result as object }));
  clearTimeout(guard);
}
