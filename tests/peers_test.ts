import assert from "node:assert/strict";
import { Identity } from "../lib/identity.ts";
import { type CloseInfo, TcpTransport, type TransportConfig } from "../lib/transport/mod.ts";
import { PeerManager, type PeersConfig } from "../lib/peers.ts";
import { createMessage, DisconnectReason, MessageType } from "../lib/protocol.ts";
import { MemoryStorage, SqliteStorage, type Storage } from "../lib/storage.ts";
import { TrustManager } from "../lib/trust.ts";

/** Timings scaled down so a test network settles in a second or two. */
const FAST: Partial<PeersConfig> = {
  maintenanceIntervalMs: 50,
  heartbeatIntervalMs: 200,
  peerTimeoutMs: 5_000,
  discoveryIntervalMs: 500,
  discoveryMinIntervalMs: 100,
  dialBackoffMs: 100,
  maxDialBackoffMs: 1_000,
};

interface TestNode {
  identity: Identity;
  storage: Storage;
  trust: TrustManager;
  transport: TcpTransport;
  peers: PeerManager;
  address: string;
  stop(): Promise<void>;
}

let subnet = 0;
async function startNode(
  options: {
    peers?: Partial<PeersConfig>;
    transport?: Partial<TransportConfig>;
    identity?: Identity;
    storage?: Storage;
    host?: string;
  } = {},
): Promise<TestNode> {
  const identity = options.identity ?? Identity.generate();
  const storage = options.storage ?? new MemoryStorage({ pruneIntervalMs: 0 });
  const trust = new TrustManager({ storage, localNodeId: identity.nodeId });
  // Each node on its own loopback /24, so the subnet bounds see distinct networks.
  const host = options.host ?? `127.0.${++subnet % 250}.1`;
  const ref: { peers?: PeerManager } = {};
  const transport = new TcpTransport({
    identity,
    config: { listenHost: host, listenPort: 0, maxConnectionsPerIp: 1000, ...options.transport },
    initialPeers: (id) => ref.peers?.peerRecordsFor(id, 64) ?? [],
  });
  const address = await transport.listen();
  const peers = ref.peers = new PeerManager({
    identity,
    transport,
    trust,
    storage,
    config: { ...FAST, ...options.peers },
    selfAddress: () => address,
  });
  peers.start();
  const manager = peers;
  let stopped = false;
  return {
    identity,
    storage,
    trust,
    transport,
    peers: manager,
    address,
    async stop() {
      if (stopped) return;
      stopped = true;
      await manager.stop();
      await transport.close();
      storage.close();
    },
  };
}

async function waitFor(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function withNodes(fn: (nodes: TestNode[]) => Promise<void>) {
  const nodes: TestNode[] = [];
  try {
    await fn(nodes);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

Deno.test("a 10-node network started from one bootstrap node reaches min_peers on every node", async () => {
  await withNodes(async (nodes) => {
    const config = { minPeers: 4, maxPeers: 8, outboundSlots: 2 };
    const seed = await startNode({ peers: config });
    nodes.push(seed);
    for (let i = 1; i < 10; i++) nodes.push(await startNode({ peers: { ...config, bootstrap: [seed.address] } }));
    await waitFor(
      () => nodes.every((n) => n.peers.activePeers().length >= 4),
      "every node to reach 4 peers",
    );
    // Discovery did the work: the bootstrap node alone could not give everyone 4 peers.
    assert.ok(nodes.every((n) => n.peers.activePeers().length <= 8));
    const nonSeedLinks = nodes.slice(1).flatMap((n) =>
      n.peers.activePeers().filter((p) => p.nodeId !== seed.identity.nodeId)
    );
    assert.ok(nonSeedLinks.length > 0);
  });
});

Deno.test("a node restarted with its data directory and no bootstrap list rejoins from its stored peers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withNodes(async (nodes) => {
      const config = { minPeers: 2, maxPeers: 6, outboundSlots: 2 };
      const seed = await startNode({ peers: config });
      nodes.push(seed);
      for (let i = 0; i < 3; i++) nodes.push(await startNode({ peers: { ...config, bootstrap: [seed.address] } }));
      const identity = Identity.generate();
      const first = await startNode({
        identity,
        storage: new SqliteStorage(`${dir}/kith.db`, { pruneIntervalMs: 0 }),
        peers: { ...config, bootstrap: [seed.address] },
      });
      nodes.push(first);
      await waitFor(() => first.peers.activePeers().length >= 2, "the node to join");
      await first.stop();
      const again = await startNode({
        identity,
        storage: new SqliteStorage(`${dir}/kith.db`, { pruneIntervalMs: 0 }),
        peers: { ...config, bootstrap: [] },
      });
      nodes.push(again);
      await waitFor(() => again.peers.activePeers().length >= 2, "the restarted node to rejoin");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("at max_peers a better newcomer evicts the lowest-reputation peer", async () => {
  await withNodes(async (nodes) => {
    const victim = await startNode({ peers: { minPeers: 0, maxPeers: 3, outboundSlots: 0 } });
    nodes.push(victim);
    const others = [];
    for (let i = 0; i < 4; i++) {
      const n = await startNode({ peers: { minPeers: 0, maxPeers: 3, outboundSlots: 0 } });
      nodes.push(n);
      others.push(n);
    }
    const closes = new Map<string, CloseInfo>();
    for (const n of others.slice(0, 3)) {
      const peer = await n.peers.connect(victim.address);
      peer.connection.closed.then((info) => closes.set(n.identity.nodeId, info));
    }
    await waitFor(() => victim.peers.activePeers().length === 3, "three peers at the victim");
    const [good1, weak, good2] = others;
    for (let i = 0; i < 20; i++) {
      victim.trust.recordValid(good1.identity.nodeId);
      victim.trust.recordValid(good2.identity.nodeId);
    }
    victim.trust.recordInvalid(weak.identity.nodeId, "BAD_ID"); // 0.35: above the threshold, lowest reputation
    await others[3].peers.connect(victim.address);
    await waitFor(() => closes.has(weak.identity.nodeId), "the weak peer to be evicted");
    assert.equal(closes.get(weak.identity.nodeId)!.reason, DisconnectReason.EVICTED);
    const ids = victim.peers.activePeers().map((p) => p.nodeId).sort();
    assert.deepEqual(ids, [good1, good2, others[3]].map((n) => n.identity.nodeId).sort());
    assert.equal(victim.peers.stats.evictions, 1);
  });
});

Deno.test("a silent peer is timed out, penalised and disconnected", async () => {
  await withNodes(async (nodes) => {
    const victim = await startNode({ peers: { minPeers: 0, heartbeatIntervalMs: 100, peerTimeoutMs: 400 } });
    nodes.push(victim);
    // A bare transport: it completes the handshake, then never answers anything.
    const silent = new TcpTransport({
      identity: Identity.generate(),
      config: { listenHost: "127.0.200.1", listenPort: 0 },
    });
    try {
      const connection = await silent.dial(victim.address);
      const info = await connection.closed;
      assert.equal(info.reason, DisconnectReason.TIMEOUT);
      assert.equal(info.by, "remote");
      assert.ok(Math.abs(victim.trust.trust(silent.nodeId) - 0.45) < 1e-9);
      assert.equal(victim.peers.stats.timeouts, 1);
    } finally {
      await silent.close();
    }
  });
});

Deno.test("heartbeats keep a live peer connected and measure its round trip", async () => {
  await withNodes(async (nodes) => {
    // Generous timeout: parallel test files share two cores, and a stalled event loop is not a dead peer.
    const a = await startNode({ peers: { minPeers: 0, heartbeatIntervalMs: 100, peerTimeoutMs: 1_000 } });
    const b = await startNode({ peers: { minPeers: 0, heartbeatIntervalMs: 100, peerTimeoutMs: 1_000 } });
    nodes.push(a, b);
    await b.peers.connect(a.address);
    await new Promise((r) => setTimeout(r, 2_500)); // more than two timeouts with no application traffic
    const info = a.peers.peers().find((p) => p.nodeId === b.identity.nodeId)!;
    assert.equal(info.state, "active");
    assert.ok(typeof info.rttMs === "number" && info.rttMs >= 0);
    assert.equal(a.peers.stats.timeouts + b.peers.stats.timeouts, 0);
  });
});

Deno.test("announced peers become known, earn no trust, and never include this node", async () => {
  await withNodes(async (nodes) => {
    const victim = await startNode({ peers: { minPeers: 0 } });
    const announcer = await startNode({ peers: { minPeers: 0 } });
    nodes.push(victim, announcer);
    const peer = await announcer.peers.connect(victim.address);
    const strangers = [Identity.generate(), Identity.generate()];
    peer.connection.send(createMessage(announcer.identity, MessageType.PEER_ANNOUNCEMENT, {
      peers: [
        { nodeId: strangers[0].nodeIdBytes, address: "127.0.250.1:9", lastSeen: Date.now() },
        { nodeId: strangers[1].nodeIdBytes, address: "127.0.251.1:9", lastSeen: Date.now() },
        { nodeId: victim.identity.nodeIdBytes, address: "127.0.252.1:9", lastSeen: Date.now() },
      ],
    }, { ttl: 0 }));
    await waitFor(() => victim.peers.peers().some((p) => p.nodeId === strangers[1].nodeId), "the announcement");
    const known = victim.peers.peers().filter((p) => strangers.some((s) => s.nodeId === p.nodeId));
    assert.equal(known.length, 2);
    for (const k of known) assert.equal(k.trust, 0.5);
    assert.ok(!victim.peers.peers().some((p) => p.nodeId === victim.identity.nodeId));
  });
});

Deno.test("an active peer's latest announcement is reported as its announced neighbours, replacing the previous one", async () => {
  await withNodes(async (nodes) => {
    // The listener never asks for peers itself: the answer (the announcer's own, empty, list) would replace
    // the announcements under test whenever the listener's first maintenance round fell between them. Nor does
    // it dial: with outbound slots free, a maintenance round would start dialing an announced stranger, and the
    // stranger's state would read "connecting" instead of "known".
    const listener = await startNode({
      peers: { minPeers: 0, outboundSlots: 0, discoveryIntervalMs: Number.MAX_SAFE_INTEGER },
    });
    const announcer = await startNode({ peers: { minPeers: 0 } });
    nodes.push(listener, announcer);
    const peer = await announcer.peers.connect(listener.address);
    const strangers = [Identity.generate(), Identity.generate(), Identity.generate()];
    const announce = (list: Identity[]) =>
      peer.connection.send(createMessage(announcer.identity, MessageType.PEER_ANNOUNCEMENT, {
        peers: list.map((s, i) => ({ nodeId: s.nodeIdBytes, address: `127.0.24${i}.1:9`, lastSeen: Date.now() })),
      }, { ttl: 0 }));
    const announcedBy = () =>
      listener.peers.peers().find((p) => p.nodeId === announcer.identity.nodeId)?.announced ?? [];
    announce([strangers[0], strangers[1]]);
    await waitFor(() => announcedBy().length === 2, "the first announcement");
    assert.deepEqual([...announcedBy()].sort(), [strangers[0].nodeId, strangers[1].nodeId].sort());
    announce([strangers[2]]);
    await waitFor(() => announcedBy().length === 1, "the second announcement");
    assert.deepEqual(announcedBy(), [strangers[2].nodeId]);
    const known = listener.peers.peers().find((p) => p.nodeId === strangers[0].nodeId);
    assert.equal(known?.state, "known");
    assert.equal(known?.announced, undefined);
  });
});

Deno.test("a link message signed by someone other than the peer is penalised", async () => {
  await withNodes(async (nodes) => {
    const victim = await startNode({ peers: { minPeers: 0 } });
    const liar = await startNode({ peers: { minPeers: 0 } });
    nodes.push(victim, liar);
    const peer = await liar.peers.connect(victim.address);
    peer.connection.send(createMessage(Identity.generate(), MessageType.PEER_DISCOVERY, { limit: 5 }, { ttl: 0 }));
    await waitFor(() => victim.trust.trust(liar.identity.nodeId) < 0.5, "the penalty");
  });
});

Deno.test("one subnet running 200 identities gets no more than its bound of a victim's slots", async () => {
  await withNodes(async (nodes) => {
    const limits = { minPeers: 6, maxPeers: 12, outboundSlots: 4, maxPeersPerSubnet: 4, maxPeersPerIp: 2 };
    const honest: TestNode[] = [];
    for (let i = 0; i < 6; i++) honest.push(await startNode({ peers: { minPeers: 0, maxPeers: 12 } }));
    nodes.push(...honest);
    const victim = await startNode({
      peers: { ...limits, bootstrap: honest.map((h) => h.address) },
      transport: { maxInbound: 64 },
    });
    nodes.push(victim);
    await waitFor(() => victim.peers.activePeers().length >= 6, "the victim to connect to its honest peers");
    // The attacker: 200 identities on 127.66.0.0/24, all dialing the victim and announcing each other.
    const attackers: TcpTransport[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const t = new TcpTransport({
          identity: Identity.generate(),
          config: { listenHost: `127.66.0.${i + 1}`, listenPort: 0 },
        });
        await t.listen();
        attackers.push(t);
      }
      const records = attackers.slice(0, 64).map((t) => ({
        nodeId: t.identity.nodeIdBytes,
        address: t.listenAddress,
        lastSeen: Date.now(),
      }));
      await Promise.allSettled(attackers.map(async (t) => {
        const connection = await t.dial(victim.address);
        connection.send(createMessage(t.identity, MessageType.PEER_ANNOUNCEMENT, { peers: records }, { ttl: 0 }));
      }));
      await new Promise((r) => setTimeout(r, 1_000)); // let the victim dial what it was told
      const fromAttacker = victim.peers.activePeers().filter((p) => p.group.subnet === "v4:127.66.0");
      assert.ok(fromAttacker.length <= 4, `attacker holds ${fromAttacker.length} slots`);
      const honestIds = new Set(honest.map((h) => h.identity.nodeId));
      const honestActive = victim.peers.activePeers().filter((p) => honestIds.has(p.nodeId));
      assert.equal(honestActive.length, 6, "every honest peer is still connected");
      // Every other attempt was refused, by the transport's inbound limit or by the subnet bound.
      const refused = victim.peers.stats.refusedByLimits + victim.transport.stats.refused;
      assert.ok(refused >= 200 - 4 - 6, `refused ${refused}`);
      assert.ok(victim.peers.stats.refusedByLimits > 0);
    } finally {
      await Promise.all(attackers.map((t) => t.close()));
    }
  });
});

Deno.test("an unreachable bootstrap node is retried with exponential backoff; a dead known address is forgotten", async () => {
  const { ManualClock } = await import("../lib/clock.ts");
  const { seededRandom } = await import("../lib/random.ts");
  const clock = new ManualClock(Date.now());
  // A port that nobody listens on: bind, note it, close.
  const probe = Deno.listen({ hostname: "127.0.240.1", port: 0 });
  const dead = `127.0.240.1:${(probe.addr as Deno.NetAddr).port}`;
  probe.close();
  const identity = Identity.generate();
  const storage = new MemoryStorage({ clock, pruneIntervalMs: 0 });
  const trust = new TrustManager({ storage, clock });
  const transport = new TcpTransport({ identity, clock, config: { listenHost: "127.0.241.1", listenPort: 0 } });
  const peers = new PeerManager({
    identity,
    transport,
    trust,
    storage,
    clock,
    random: seededRandom(1),
    config: {
      ...FAST,
      minPeers: 1,
      bootstrap: [dead],
      dialBackoffMs: 100,
      maxDialBackoffMs: 10_000,
      maxDialFailures: 3,
    },
  });
  try {
    // A known (non-bootstrap) peer at the same dead address, as if announced earlier.
    storage.savePeer({
      nodeId: Identity.generate().nodeId,
      address: dead,
      publicKey: null,
      firstSeen: clock.now(),
      lastSeen: clock.now(),
      trustScore: 0.5,
      trustUpdatedAt: clock.now(),
      validCount: 0,
      invalidCount: 0,
      timeoutCount: 0,
      failures: 0,
    });
    peers.start();
    // 3 virtual seconds in 50 ms steps, letting each refused connect settle for real.
    for (let t = 0; t < 3_000; t += 50) {
      clock.advance(50);
      await new Promise((r) => setTimeout(r, 2));
    }
    await peers.stop();
    const stats = peers.stats;
    // Without backoff, 60 maintenance ticks would make 60+ bootstrap dials; with it, 100, 200, 400, 800, 1600 ms apart.
    assert.ok(stats.dialFailures >= 4 && stats.dialFailures <= 10, `dial failures ${stats.dialFailures}`);
    assert.equal(stats.forgotten, 1, "the dead known address is forgotten after 3 failures");
    assert.ok(!peers.peers().some((p) => p.address === dead && p.state === "known"));
  } finally {
    await peers.stop();
    await transport.close();
    storage.close();
  }
});

Deno.test("a peer under the trust threshold is disconnected and not redialed until its trust recovers", async () => {
  await withNodes(async (nodes) => {
    const liar = await startNode({ peers: { minPeers: 0 } });
    const victim = await startNode({ peers: { minPeers: 2, bootstrap: [] } });
    nodes.push(liar, victim);
    const peer = await victim.peers.connect(liar.address);
    const closed = peer.connection.closed;
    victim.trust.recordInvalid(liar.identity.nodeId, "BAD_SIGNATURE");
    victim.trust.recordInvalid(liar.identity.nodeId, "BAD_SIGNATURE"); // 0.1
    const info = await closed;
    assert.equal(info.reason, DisconnectReason.LOW_TRUST);
    const dialsBefore = victim.peers.stats.dials;
    await new Promise((r) => setTimeout(r, 500)); // ten maintenance rounds below min_peers
    assert.equal(victim.peers.stats.dials, dialsBefore, "the liar was not redialed");
    assert.equal(victim.peers.activePeers().length, 0);
    // And it may not connect inbound either.
    await assert.rejects(
      (async () => {
        const c = await liar.transport.dial(victim.address);
        await c.closed.then((i) => {
          throw new Error(String(i.reason));
        });
      })(),
      (e: Error) => e.message === String(DisconnectReason.LOW_TRUST),
    );
  });
});
