/**
 * Peer management over the simulator's in-memory network and virtual clock: every test advances time
 * explicitly, so none sleeps and each replays the same way on every run. The transport's own limits
 * (inbound caps, per-IP sockets, handshakes) are tested over real TCP in network_test.ts.
 */
import assert from "node:assert/strict";
import { Identity } from "../lib/identity.ts";
import type { CloseInfo } from "../lib/transport/types.ts";
import { PeerManager, type PeersConfig } from "../lib/peers/mod.ts";
import type { LogSink } from "../lib/log.ts";
import {
  createMessage,
  DisconnectReason,
  type Message,
  MessageCodec,
  MessageType,
  type PayloadByType,
} from "../lib/protocol/mod.ts";
import { randomBytes, type RandomSource, seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { type LinkModel, SimNetwork, type SimTransport } from "../lib/sim/network.ts";
import { MemoryStorage, SqliteStorage, type Storage } from "../lib/storage/mod.ts";
import { TrustManager } from "../lib/trust.ts";
import { runFor, runUntil, runUntilSettled } from "./_support.ts";

/** Timings scaled down so a test network settles in a few virtual seconds (fewer events to run). */
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
  transport: SimTransport;
  peers: PeerManager;
  address: string;
  stop(): Promise<void>;
}

/** One test's world: a virtual clock, an in-memory network, seeded randomness, and the nodes started on it. */
class TestNet {
  readonly clock = new VirtualClock(1_700_000_000_000);
  readonly network: SimNetwork;
  readonly random: RandomSource;
  readonly nodes: TestNode[] = [];
  #subnet = 0;

  constructor(seed: number, model: Partial<LinkModel>) {
    this.network = new SimNetwork(this.clock, seededRandom(seed), { minLatencyMs: 5, maxLatencyMs: 20, ...model });
    this.random = seededRandom(seed + 1);
  }

  /** An identity drawn from the test's seed, so node ids (and everything ordered by them) replay too. */
  identity(): Identity {
    return Identity.fromSecretKey(randomBytes(this.random, 32));
  }

  /** A fresh address, each on its own loopback /24, so the subnet bounds see distinct networks. */
  address(): string {
    return `127.0.${++this.#subnet}.1:7400`;
  }

  /** A link message from `identity` stamped with virtual time (the receiver checks clock skew). */
  message<T extends MessageType>(identity: Identity, type: T, payload: PayloadByType[T]) {
    return createMessage(identity, type, payload, { ttl: 0, timestamp: this.clock.now() });
  }

  /** Starts a PeerManager over a sim transport, as lib/sim/node.ts wires one. */
  startNode(
    options: {
      peers?: Partial<PeersConfig>;
      identity?: Identity;
      storage?: Storage;
      address?: string;
      codec?: MessageCodec;
      log?: LogSink;
    } = {},
  ): TestNode {
    const clock = this.clock;
    const identity = options.identity ?? this.identity();
    const storage = options.storage ?? new MemoryStorage({ clock, pruneIntervalMs: 0 });
    const trust = new TrustManager({ storage, clock, localNodeId: identity.nodeId });
    const address = options.address ?? this.address();
    // As on TCP, the handshake carries no peer list: lists go over the authenticated link.
    const transport = this.network.transport(identity, address);
    const peers = new PeerManager({
      identity,
      transport,
      trust,
      storage,
      clock,
      random: this.random,
      codec: options.codec ?? this.network.codec,
      config: { ...FAST, ...options.peers },
      log: options.log,
      selfAddress: () => address,
    });
    peers.start();
    let stopped: Promise<void> | undefined;
    const node: TestNode = {
      identity,
      storage,
      trust,
      transport,
      peers,
      address,
      stop: () =>
        stopped ??= runUntilSettled(
          clock,
          (async () => {
            await peers.stop(); // waits for dials in flight, which only the clock can finish
            await transport.close();
            storage.close();
          })(),
          "the node to stop",
        ),
    };
    this.nodes.push(node);
    return node;
  }
}

async function withNet(fn: (net: TestNet) => Promise<void>, model: Partial<LinkModel> = {}, seed = 1) {
  const net = new TestNet(seed, model);
  try {
    await fn(net);
  } finally {
    for (const node of net.nodes) await node.stop();
    net.clock.runUntil(net.clock.now() + 1_000); // let the close notices land
  }
}

Deno.test("a 10-node network started from one bootstrap node reaches min_peers on every node", async () => {
  await withNet(async (net) => {
    const config = { minPeers: 4, maxPeers: 8, outboundSlots: 2 };
    const seed = net.startNode({ peers: config });
    for (let i = 1; i < 10; i++) net.startNode({ peers: { ...config, bootstrap: [seed.address] } });
    const nodes = net.nodes;
    await runUntil(
      net.clock,
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
    await withNet(async (net) => {
      const clock = net.clock;
      const config = { minPeers: 2, maxPeers: 6, outboundSlots: 2 };
      const seed = net.startNode({ peers: config });
      for (let i = 0; i < 3; i++) net.startNode({ peers: { ...config, bootstrap: [seed.address] } });
      const identity = net.identity();
      const first = net.startNode({
        identity,
        storage: new SqliteStorage(`${dir}/kith.db`, { clock, pruneIntervalMs: 0 }),
        peers: { ...config, bootstrap: [seed.address] },
      });
      await runUntil(clock, () => first.peers.activePeers().length >= 2, "the node to join");
      await first.stop();
      // A new address, as a restarted TCP node gets a new port: nobody can dial it, so it must dial its stored peers.
      const again = net.startNode({
        identity,
        storage: new SqliteStorage(`${dir}/kith.db`, { clock, pruneIntervalMs: 0 }),
        peers: { ...config, bootstrap: [] },
      });
      await runUntil(clock, () => again.peers.activePeers().length >= 2, "the restarted node to rejoin");
      const dialed = again.peers.activePeers().filter((p) => p.connection.direction === "outbound");
      assert.ok(dialed.length >= 2, `${dialed.length} of its peers were dialed from the stored address book`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("at max_peers a better newcomer evicts the lowest-reputation peer", async () => {
  await withNet(async (net) => {
    const victim = net.startNode({ peers: { minPeers: 0, maxPeers: 3, outboundSlots: 0 } });
    const others = Array.from(
      { length: 4 },
      () => net.startNode({ peers: { minPeers: 0, maxPeers: 3, outboundSlots: 0 } }),
    );
    const closes = new Map<string, CloseInfo>();
    for (const n of others.slice(0, 3)) {
      const peer = await runUntilSettled(net.clock, n.peers.connect(victim.address), "a connection to the victim");
      peer.connection.closed.then((info) => closes.set(n.identity.nodeId, info));
    }
    await runUntil(net.clock, () => victim.peers.activePeers().length === 3, "three peers at the victim");
    const [good1, weak, good2] = others;
    for (let i = 0; i < 20; i++) {
      victim.trust.recordValid(good1.identity.nodeId);
      victim.trust.recordValid(good2.identity.nodeId);
    }
    victim.trust.recordInvalid(weak.identity.nodeId, "BAD_ID"); // 0.35: above the threshold, lowest reputation
    await runUntilSettled(net.clock, others[3].peers.connect(victim.address), "the newcomer's connection");
    await runUntil(net.clock, () => closes.has(weak.identity.nodeId), "the weak peer to be evicted");
    assert.equal(closes.get(weak.identity.nodeId)!.reason, DisconnectReason.EVICTED);
    const ids = victim.peers.activePeers().map((p) => p.nodeId).sort();
    assert.deepEqual(ids, [good1, good2, others[3]].map((n) => n.identity.nodeId).sort());
    assert.equal(victim.peers.stats.evictions, 1);
  });
});

Deno.test("a silent peer is timed out, penalised and disconnected", async () => {
  await withNet(async (net) => {
    const peerTimeoutMs = 400;
    const victim = net.startNode({ peers: { minPeers: 0, heartbeatIntervalMs: 100, peerTimeoutMs } });
    // A bare transport: it completes the handshake, then never answers anything.
    const silent = net.network.transport(net.identity(), net.address());
    try {
      const connection = await runUntilSettled(net.clock, silent.dial(victim.address), "the silent peer's dial");
      await runFor(net.clock, peerTimeoutMs - 1);
      assert.ok(connection.isOpen, "not closed before the peer timeout has passed");
      const info = await runUntilSettled(net.clock, connection.closed, "the silent peer to be disconnected");
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
  // A fixed 5 ms each way, so the round trip is known exactly.
  await withNet(async (net) => {
    const config = { minPeers: 0, heartbeatIntervalMs: 100, peerTimeoutMs: 400 };
    const a = net.startNode({ peers: config });
    const b = net.startNode({ peers: config });
    const peer = await runUntilSettled(net.clock, b.peers.connect(a.address), "b's connection to a");
    await runFor(net.clock, 5_000); // more than twelve timeouts with no application traffic
    const info = a.peers.peers().find((p) => p.nodeId === b.identity.nodeId)!;
    assert.equal(info.state, "active");
    assert.equal(info.rttMs, 10);
    assert.ok(peer.connection.isOpen, "the first connection is still the one in use");
    assert.equal(a.peers.stats.timeouts + b.peers.stats.timeouts, 0);
  }, { minLatencyMs: 5, maxLatencyMs: 5 });
});

Deno.test("announced peers become known, earn no trust, and never include this node", async () => {
  await withNet(async (net) => {
    const victim = net.startNode({ peers: { minPeers: 0 } });
    const announcer = net.startNode({ peers: { minPeers: 0 } });
    const peer = await runUntilSettled(net.clock, announcer.peers.connect(victim.address), "the announcer's link");
    const strangers = [net.identity(), net.identity()];
    const now = net.clock.now();
    peer.connection.send(net.message(announcer.identity, MessageType.PEER_ANNOUNCEMENT, {
      peers: [
        { nodeId: strangers[0].nodeIdBytes, address: "127.0.250.1:9", lastSeen: now },
        { nodeId: strangers[1].nodeIdBytes, address: "127.0.251.1:9", lastSeen: now },
        { nodeId: victim.identity.nodeIdBytes, address: "127.0.252.1:9", lastSeen: now },
      ],
    }));
    await runUntil(
      net.clock,
      () => victim.peers.peers().some((p) => p.nodeId === strangers[1].nodeId),
      "the announcement",
    );
    const known = victim.peers.peers().filter((p) => strangers.some((s) => s.nodeId === p.nodeId));
    assert.equal(known.length, 2);
    for (const k of known) assert.equal(k.trust, 0.5);
    assert.ok(!victim.peers.peers().some((p) => p.nodeId === victim.identity.nodeId));
  });
});

Deno.test("an active peer's latest announcement is reported as its announced neighbours, replacing the previous one", async () => {
  await withNet(async (net) => {
    // The listener never asks for peers itself: the answer (the announcer's own, empty, list) would replace
    // the announcements under test whenever the listener's maintenance round fell between them. Nor does it
    // dial: with outbound slots free, a maintenance round would start dialing an announced stranger, and the
    // stranger's state would read "connecting" instead of "known".
    const listener = net.startNode({
      peers: { minPeers: 0, outboundSlots: 0, discoveryIntervalMs: Number.MAX_SAFE_INTEGER },
    });
    const announcer = net.startNode({ peers: { minPeers: 0 } });
    const peer = await runUntilSettled(net.clock, announcer.peers.connect(listener.address), "the announcer's link");
    const strangers = [net.identity(), net.identity(), net.identity()];
    const announce = (list: Identity[]) =>
      peer.connection.send(net.message(announcer.identity, MessageType.PEER_ANNOUNCEMENT, {
        peers: list.map((s, i) => ({ nodeId: s.nodeIdBytes, address: `127.0.24${i}.1:9`, lastSeen: net.clock.now() })),
      }));
    const announcedBy = () =>
      listener.peers.peers().find((p) => p.nodeId === announcer.identity.nodeId)?.announced ?? [];
    announce([strangers[0], strangers[1]]);
    await runUntil(net.clock, () => announcedBy().length === 2, "the first announcement");
    assert.deepEqual([...announcedBy()].sort(), [strangers[0].nodeId, strangers[1].nodeId].sort());
    announce([strangers[2]]);
    await runUntil(net.clock, () => announcedBy().length === 1, "the second announcement");
    assert.deepEqual(announcedBy(), [strangers[2].nodeId]);
    const known = listener.peers.peers().find((p) => p.nodeId === strangers[0].nodeId);
    assert.equal(known?.state, "known");
    assert.equal(known?.announced, undefined);
  });
});

Deno.test("a link message signed by someone other than the peer is penalised", async () => {
  await withNet(async (net) => {
    const victim = net.startNode({ peers: { minPeers: 0 } });
    const liar = net.startNode({ peers: { minPeers: 0 } });
    const peer = await runUntilSettled(net.clock, liar.peers.connect(victim.address), "the liar's link");
    assert.equal(victim.trust.trust(liar.identity.nodeId), 0.5, "no penalty before the forged message");
    peer.connection.send(net.message(net.identity(), MessageType.PEER_DISCOVERY, { limit: 5 }));
    await runUntil(net.clock, () => victim.trust.trust(liar.identity.nodeId) < 0.5, "the penalty");
  });
});

Deno.test("a failure of kith's own code while checking a link message is logged and costs the peer no trust", async () => {
  await withNet(async (net) => {
    // A codec with a bug: it throws something that is not a ProtocolError for every link message.
    class BuggyCodec extends MessageCodec {
      override verify(): Message {
        throw new TypeError("a bug in kith, not in the peer's bytes");
      }
    }
    const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const victim = net.startNode({
      peers: { minPeers: 0 },
      codec: new BuggyCodec(),
      log: (level, message, fields) => logged.push({ level, message, fields }),
    });
    const sender = net.startNode({ peers: { minPeers: 0 } });
    const peer = await runUntilSettled(net.clock, sender.peers.connect(victim.address), "the sender's link");
    peer.connection.send(net.message(sender.identity, MessageType.PEER_DISCOVERY, { limit: 5 }));
    await runUntil(net.clock, () => logged.some((l) => l.message === "link message check failed"), "the log entry");
    const entry = logged.find((l) => l.message === "link message check failed")!;
    assert.equal(entry.level, "error");
    assert.equal(entry.fields?.peer, sender.identity.nodeId);
    assert.match(String(entry.fields?.error), /a bug in kith/);
    assert.equal(victim.trust.trust(sender.identity.nodeId), 0.5, "the peer was not penalised for kith's bug");
    assert.ok(victim.peers.activePeer(sender.identity.nodeId), "and stays connected");
  });
});

Deno.test("one subnet running 200 identities gets no more than its bound of a victim's slots", async () => {
  await withNet(async (net) => {
    const clock = net.clock;
    const limits = { minPeers: 6, maxPeers: 12, outboundSlots: 4, maxPeersPerSubnet: 4, maxPeersPerIp: 2 };
    const honest = Array.from({ length: 6 }, () => net.startNode({ peers: { minPeers: 0, maxPeers: 12 } }));
    const victim = net.startNode({ peers: { ...limits, bootstrap: honest.map((h) => h.address) } });
    await runUntil(clock, () => victim.peers.activePeers().length >= 6, "the victim to connect to its honest peers");
    // The attacker: 200 identities listening on 127.66.0.0/24, all dialing the victim and announcing each other.
    // Their sockets come from 127.0.0.1, as loopback TCP clients' do: the victim must group them by the
    // addresses they announce.
    const attackers: SimTransport[] = Array.from(
      { length: 200 },
      (_, i) => net.network.transport(net.identity(), `127.66.0.${i + 1}:7400`, { sourceHost: "127.0.0.1" }),
    );
    try {
      const records = attackers.slice(0, 64).map((t) => ({
        nodeId: t.identity.nodeIdBytes,
        address: t.address,
        lastSeen: clock.now(),
      }));
      await runUntilSettled(
        clock,
        Promise.allSettled(attackers.map(async (t) => {
          const connection = await t.dial(victim.address);
          connection.send(net.message(t.identity, MessageType.PEER_ANNOUNCEMENT, { peers: records }));
        })),
        "every attacker's dial",
      );
      await runFor(clock, 5_000); // let the victim dial what it was told
      const fromAttacker = victim.peers.activePeers().filter((p) => p.group.subnet === "v4:127.66.0");
      assert.ok(fromAttacker.length <= 4, `attacker holds ${fromAttacker.length} slots`);
      // The bound is reached, not undercut: grouped by socket address (127.0.0.1), they would count as one host.
      assert.equal(fromAttacker.length, 4, `attacker holds ${fromAttacker.length} slots`);
      const honestIds = new Set(honest.map((h) => h.identity.nodeId));
      const honestActive = victim.peers.activePeers().filter((p) => honestIds.has(p.nodeId));
      assert.equal(honestActive.length, 6, "every honest peer is still connected");
      // Every other attempt was refused by the subnet bound (the sim transport has no inbound cap of its own).
      assert.equal(victim.peers.stats.refusedByLimits, 200 - 4, `refused ${victim.peers.stats.refusedByLimits}`);
    } finally {
      await Promise.all(attackers.map((t) => t.close()));
    }
  });
});

Deno.test("an unreachable bootstrap node is retried with exponential backoff; a dead known address is forgotten", async () => {
  await withNet(async (net) => {
    const clock = net.clock;
    // Addresses where nothing listens: one for the bootstrap node, one for a known peer.
    const deadBootstrap = "127.0.240.1:7400";
    const deadKnown = "127.0.240.2:7400";
    const bootstrapDials: number[] = [];
    net.network.onDial = (_from, to) => {
      if (to === deadBootstrap) bootstrapDials.push(clock.now());
    };
    const storage = new MemoryStorage({ clock, pruneIntervalMs: 0 });
    // A known (non-bootstrap) peer at a dead address, as if announced earlier.
    storage.saveAddress({
      nodeId: net.identity().nodeId,
      address: deadKnown,
      source: "v4:127.0.99",
      tried: false,
      lastSeen: clock.now(),
      lastSuccess: 0,
      failures: 0,
    });
    const dialBackoffMs = 100;
    const node = net.startNode({
      storage,
      peers: { minPeers: 1, bootstrap: [deadBootstrap], dialBackoffMs, maxDialBackoffMs: 10_000, maxDialFailures: 3 },
    });
    await runFor(clock, 3_000);
    await node.stop();
    const stats = node.peers.stats;
    // Without backoff, 60 maintenance ticks would make 60+ bootstrap dials; with it, 100, 200, 400, 800, 1600 ms apart.
    assert.ok(stats.dialFailures >= 4 && stats.dialFailures <= 10, `dial failures ${stats.dialFailures}`);
    assert.ok(bootstrapDials.length >= 3, `bootstrap dials at ${bootstrapDials}`);
    // Each retry waits at least the doubled backoff, less its jitter (at most a quarter).
    for (let i = 1; i < bootstrapDials.length; i++) {
      const gap = bootstrapDials[i] - bootstrapDials[i - 1];
      assert.ok(gap >= 0.75 * dialBackoffMs * 2 ** (i - 1), `retry ${i} after ${gap} ms (dials at ${bootstrapDials})`);
    }
    assert.equal(stats.forgotten, 1, "the dead known address is forgotten after 3 failures");
    assert.ok(!node.peers.peers().some((p) => p.address === deadKnown && p.state === "known"));
  });
});

Deno.test("a bootstrap node that answers and refuses for lack of room is retried with backoff, not every round", async () => {
  await withNet(async (net) => {
    const clock = net.clock;
    // A full seed: two slots, both taken by peers it will not evict (a node this small protects every peer).
    const seed = net.startNode({ peers: { minPeers: 0, maxPeers: 2, outboundSlots: 0 } });
    net.startNode({ peers: { minPeers: 1, bootstrap: [seed.address], discoveryIntervalMs: 3_600_000 } });
    net.startNode({ peers: { minPeers: 1, bootstrap: [seed.address], discoveryIntervalMs: 3_600_000 } });
    await runUntil(clock, () => seed.peers.activePeers().length === 2, "the seed full");
    const dials: number[] = [];
    net.network.onDial = (_from, to) => {
      if (to === seed.address) dials.push(clock.now());
    };
    const newcomer = net.startNode({
      // Below minPeers whatever else it reaches (the seed's refusal names the two others), so it keeps
      // returning to its bootstrap node.
      peers: { minPeers: 3, bootstrap: [seed.address], maxDialBackoffMs: 10_000, discoveryIntervalMs: 3_600_000 },
    });
    await runFor(clock, 3_000);
    assert.ok(seed.peers.stats.refusedByLimits >= 1, "the seed refused it");
    assert.ok(newcomer.peers.activePeers().length < 3);
    // Every 50 ms round would be about 60 dials; backing off from 100 ms, doubling, it is a handful.
    assert.ok(dials.length >= 2 && dials.length <= 7, `dials to the full seed at ${dials}`);
  });
});

Deno.test("a peer under the trust threshold is disconnected and not redialed until its trust recovers", async () => {
  await withNet(async (net) => {
    const clock = net.clock;
    const liar = net.startNode({ peers: { minPeers: 0 } });
    const victim = net.startNode({ peers: { minPeers: 2, bootstrap: [] } });
    const peer = await runUntilSettled(clock, victim.peers.connect(liar.address), "the victim's link to the liar");
    const closed = peer.connection.closed;
    victim.trust.recordInvalid(liar.identity.nodeId, "BAD_SIGNATURE");
    victim.trust.recordInvalid(liar.identity.nodeId, "BAD_SIGNATURE"); // 0.1
    const info = await runUntilSettled(clock, closed, "the low-trust disconnect");
    assert.equal(info.reason, DisconnectReason.LOW_TRUST);
    const dialsBefore = victim.peers.stats.dials;
    await runFor(clock, 10_000); // two hundred maintenance rounds below min_peers
    assert.equal(victim.peers.stats.dials, dialsBefore, "the liar was not redialed");
    assert.equal(victim.peers.activePeers().length, 0);
    // And it may not connect inbound either: refused on arrival, never admitted until a maintenance round.
    const admitted: string[] = [];
    victim.peers.onPeerConnected = (p) => admitted.push(p.nodeId);
    const inbound = await runUntilSettled(clock, liar.transport.dial(victim.address), "the liar's inbound dial");
    const refused = await runUntilSettled(clock, inbound.closed, "the victim to refuse the liar");
    assert.equal(refused.reason, DisconnectReason.LOW_TRUST);
    assert.deepEqual(admitted, [], "the liar never became an active peer");
  });
});

Deno.test("a feeler dials an announced address, marks it tried when it answers, and closes the connection", async () => {
  await withNet(async (net) => {
    // No ordinary dials (no minimum, no outbound slots): only a feeler can reach the stranger.
    const node = net.startNode({ peers: { minPeers: 0, outboundSlots: 0, feelerIntervalMs: 200 } });
    const announcer = net.startNode({ peers: { minPeers: 0 } });
    const stranger = net.startNode({ peers: { minPeers: 0, outboundSlots: 0 } }); // it does not dial back
    const peer = await runUntilSettled(net.clock, announcer.peers.connect(node.address), "the announcer's link");
    peer.connection.send(net.message(announcer.identity, MessageType.PEER_ANNOUNCEMENT, {
      peers: [{ nodeId: stranger.identity.nodeIdBytes, address: stranger.address, lastSeen: net.clock.now() }],
    }));
    const entry = () => node.peers.peers().find((p) => p.nodeId === stranger.identity.nodeId);
    await runUntil(net.clock, () => entry() !== undefined, "the announcement");
    assert.equal(entry()?.tried, false, "hearsay is new");
    await runUntil(net.clock, () => entry()?.tried === true, "the feeler");
    await runFor(net.clock, 100);
    assert.equal(entry()?.state, "known", "the feeler's connection was closed");
    assert.ok(node.peers.stats.feelers >= 1);
    assert.equal(node.peers.activePeers().length, 1, "only the announcer is a peer");
  });
});
