/**
 * Transitive trust inflated by a chain of Sybils (issue 21, item 7). A
 * victim V has `honest` long-lived, quiet peers (each published one message)
 * and a chain of `chain` Sybil identities, each from its own subnet. The
 * first Sybil earns trust at V honestly (valid messages); each Sybil
 * recommends the next, and the last recommends `fresh` fresh ids. Three
 * phases:
 *
 * 1. unsolicited: the Sybils push TRUSTED_PEERS_RESPONSEs and TRUST_UPDATEs
 *    nobody asked for, and answer no request;
 * 2. solicited: they answer every TRUSTED_PEERS_REQUEST V sends them;
 * 3. eviction: V is full; `newcomers` of the recommended fresh ids (the
 *    attacker holds their keys) connect, each from its own subnet, and may
 *    displace V's peers.
 *
 * Reports the chain's trust at V and how many could recommend, the fresh ids'
 * reputation against an honest stranger's after each phase, and how many
 * honest peers the newcomers displaced. Runs on the simulator (the same
 * KithNode over an in-memory network with loopback-style addresses, in virtual
 * time, deterministic for a seed): nothing is sent on any socket, and every
 * phase is bounded in virtual time.
 *
 * @module
 */
import { fromHex, toHex } from "../../lib/bytes.ts";
import { Identity } from "../../lib/identity.ts";
import type { KithNode } from "../../lib/node.ts";
import { createLinkMessage, createMessage, type Envelope, MessageCodec, MessageType } from "../../lib/protocol/mod.ts";
import { randomBytes, seededRandom } from "../../lib/random.ts";
import { VirtualClock } from "../../lib/sim/clock.ts";
import { SimNetwork, type SimTransport } from "../../lib/sim/network.ts";
import { type SimNode, startSimNode } from "../../lib/sim/node.ts";
import type { Connection } from "../../lib/transport/types.ts";

const codec = new MessageCodec();
const round = (x: number) => Number(x.toFixed(3));
/** The most peer records one TRUSTED_PEERS_RESPONSE carries (the protocol's MAX_PEER_LIST). */
const PER_ANSWER = 64;
/** How often the victim asks one random peer for its trusted peers, ms (the smallest the config allows). */
const EXCHANGE_INTERVAL_MS = 1_000;

/** What the trustchain scenario measured. */
export interface TrustchainResult {
  honest: number;
  chain: number;
  fresh: number;
  newcomers: number;
  phase_s: number;
  /** A never-mentioned id's reputation at V: what an honest stranger gets. */
  stranger_reputation: number;
  /** Unsolicited TRUSTED_PEERS_RESPONSEs and TRUST_UPDATEs the Sybils pushed in phase 1. */
  unsolicited_sent: number;
  /** After phase 1: the chain's trust at V, and the fresh ids' mean and highest reputation. */
  unsolicited_chain_trust: number[];
  unsolicited_fresh_reputation_mean: number;
  unsolicited_fresh_reputation_max: number;
  /** Whether anything phase 1 pushed changed a score at V (trust, reputation or the recommended part). */
  unsolicited_changed_anything: boolean;
  /** Requests V sent the Sybils in phase 2, and answers they gave. */
  solicited_answers: number;
  /** After phase 2: the chain's trust at V, how many of it stood at or above the recommender bar (0.55). */
  chain_trust: number[];
  chain_above_recommender_bar: number;
  /** After phase 2: the fresh ids' mean and highest reputation, and how many beat the honest stranger. */
  fresh_reputation_mean: number;
  fresh_reputation_max: number;
  fresh_above_stranger: number;
  /** Phase 3: honest peers V dropped while the newcomers connected, newcomers admitted, Sybils evicted. */
  honest_evicted: number;
  newcomers_admitted: number;
  sybils_evicted: number;
  evictions: number;
}

/** An attacker identity on a raw transport: answers heartbeats, and, when told to, trust requests. */
class Sybil {
  readonly transport: SimTransport;
  connection: Connection | undefined;
  answers = 0;
  /** When the victim last asked it for its trusted peers, virtual ms. */
  askedAt = -Infinity;
  /** What it answers a TRUSTED_PEERS_REQUEST with (phase 2); undefined: it does not answer. */
  answer: (() => Uint8Array[]) | undefined;
  constructor(readonly identity: Identity, network: SimNetwork, address: string, readonly clock: VirtualClock) {
    this.transport = network.transport(identity, address);
  }

  /** Dials the victim; resolves with whether the connection opened (it may be refused). */
  async connect(victim: SimNode): Promise<boolean> {
    try {
      const connection = this.connection = await this.transport.dial(victim.address);
      connection.onEnvelope = (envelope) => this.#receive(connection, victim.identity.nodeId, envelope);
      return true;
    } catch {
      return false;
    }
  }

  #receive(connection: Connection, victimId: string, envelope: Envelope): void {
    if (envelope.type === MessageType.HEARTBEAT) {
      const message = codec.verify(envelope, this.clock.now(), { linkPeer: victimId });
      if (message.type === MessageType.HEARTBEAT && !message.payload.reply) {
        connection.send(
          createLinkMessage(this.identity, MessageType.HEARTBEAT, { seq: message.payload.seq, reply: true }, {
            timestamp: this.clock.now(),
          }),
        );
      }
    } else if (envelope.type === MessageType.TRUSTED_PEERS_REQUEST) {
      this.askedAt = this.clock.now();
      if (!this.answer) return;
      this.answers++;
      connection.send(this.recommend(this.answer()));
    }
  }

  /** A signed TRUSTED_PEERS_RESPONSE recommending `ids` at full trust. */
  recommend(ids: Uint8Array[]): Envelope {
    return createMessage(this.identity, MessageType.TRUSTED_PEERS_RESPONSE, {
      peers: ids.map((nodeId) => ({ nodeId, trust: 1 })),
    }, { ttl: 0, timestamp: this.clock.now() });
  }

  /** A signed TRUST_UPDATE about `id` at full trust. */
  update(id: Uint8Array): Envelope {
    return createMessage(this.identity, MessageType.TRUST_UPDATE, { subject: id, trust: 1 }, {
      ttl: 0,
      timestamp: this.clock.now(),
    });
  }

  #published = 0;

  /** A valid message of its own (each distinct, so none is a duplicate). */
  publish(): Envelope {
    const data = new Uint8Array(16);
    new DataView(data.buffer).setUint32(0, ++this.#published);
    return createMessage(this.identity, MessageType.CUSTOM_DATA, { topic: "", data }, { timestamp: this.clock.now() });
  }
}

const isActive = (n: KithNode, nodeId: string) => n.peers().some((p) => p.state === "active" && p.nodeId === nodeId);

/** Runs virtual time for `ms`, 5 ms at a time, letting promise continuations run in between. */
async function run(clock: VirtualClock, ms: number, each?: (now: number) => void): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    clock.runUntil(Math.min(end, clock.now() + 5));
    each?.(clock.now());
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

/** Runs virtual time until `until` holds; throws naming `what` after `limitMs` virtual ms. */
async function runUntil(clock: VirtualClock, until: () => boolean, what: string, limitMs = 30_000): Promise<void> {
  const end = clock.now() + limitMs;
  while (!until()) {
    if (clock.now() >= end) throw new Error(`${what} did not happen within ${limitMs} virtual ms`);
    await run(clock, 5);
  }
}

/**
 * The trust chain attack at the given sizes, on the simulator (virtual time, no sockets, deterministic for a
 * seed): the victim asks one random peer for its trusted peers every second, as configured (the minimum), so
 * the chain needs virtual minutes to form. Phase 1 lasts `phaseS` virtual seconds, phase 2 four times that.
 */
export async function trustchain(
  options: { honest: number; chain: number; fresh: number; newcomers: number; phaseS: number; seed?: number },
): Promise<TrustchainResult> {
  const { honest: honestCount, chain: chainLength, fresh: freshCount, phaseS } = options;
  const newcomerCount = Math.min(options.newcomers, freshCount);
  const seed = options.seed ?? 1;
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, seededRandom(seed), { minLatencyMs: 1, maxLatencyMs: 20 });
  const random = seededRandom(seed + 1);
  const ids = seededRandom(seed + 2);
  const identity = () => Identity.fromSecretKey(randomBytes(ids, 32));
  const victim = await startSimNode(network, 0, random, {
    minPeers: 0,
    outboundSlots: 0,
    maxPeers: honestCount + chainLength, // full once everyone is connected: newcomers must displace someone
    heartbeatIntervalMs: 2_000,
    discoveryIntervalMs: 3_600_000,
    trustExchangeIntervalMs: EXCHANGE_INTERVAL_MS,
  });
  const honest: SimNode[] = [];
  const sybils = Array.from(
    { length: chainLength },
    (_, i) => new Sybil(identity(), network, `127.73.${i}.1:7400`, clock),
  );
  const freshIdentities = Array.from({ length: freshCount }, () => identity());
  const freshIds = freshIdentities.map((id) => fromHex(id.nodeId)!);
  const newcomers: Sybil[] = [];
  try {
    for (let i = 1; i <= honestCount; i++) {
      honest.push(
        await startSimNode(network, i, random, {
          bootstrap: [victim.address],
          minPeers: 1,
          outboundSlots: 0,
          discoveryIntervalMs: 3_600_000,
        }),
      );
    }
    const v = victim.node;
    await runUntil(clock, () => honest.every((n) => isActive(v, n.identity.nodeId)), "the honest peers' links");
    for (const n of honest) n.node.broadcast("long-lived and quiet", { topic: "" });
    await run(clock, 10_000); // they have been here a while when the attack starts
    for (const s of sybils) {
      const connecting = s.connect(victim);
      await runUntil(clock, () => s.connection !== undefined, "a Sybil's dial");
      await connecting;
    }
    await runUntil(clock, () => sybils.every((s) => isActive(v, s.identity.nodeId)), "the Sybils' links");
    // The first Sybil earns its trust as anyone would: 110 valid messages of its own, over 11 s.
    for (let i = 0; i < 110; i++) {
      sybils[0].connection!.send(sybils[0].publish());
      if (i % 10 === 9) await run(clock, 1_000);
    }
    const trust = victim.trust;
    const stranger = identity().nodeId;
    const freshHex = freshIds.map(toHex);
    const chainTrust = () => sybils.map((s) => round(trust.trust(s.identity.nodeId)));
    const freshReputation = () => {
      const r = freshHex.map((id) => trust.reputation(id));
      return { mean: r.reduce((a, b) => a + b, 0) / r.length, max: Math.max(...r), values: r };
    };
    // Everything this node can tell about the chain and the fresh ids, to see whether phase 1 moved any of it
    // (the recommended part exists only where trust is kept apart from recommendations).
    const recommended = (id: string) => {
      const r = (trust as { recommended?: (id: string) => number }).recommended;
      return r ? r.call(trust, id) : 0;
    };
    const snapshot = () =>
      JSON.stringify(
        [...sybils.slice(1).map((s) => s.identity.nodeId), ...freshHex].map((id) =>
          [trust.trust(id), trust.reputation(id), recommended(id)].map(round)
        ),
      );
    const before = snapshot();
    const target = (i: number) => fromHex(sybils[i + 1].identity.nodeId)!;
    let next = 0;
    const nextFresh = () => {
      const chunk: Uint8Array[] = [];
      for (let k = 0; k < Math.min(PER_ANSWER, freshIds.length); k++) {
        chunk.push(freshIds[(next + k) % freshIds.length]);
      }
      next = (next + PER_ANSWER) % freshIds.length;
      return chunk;
    };

    // Phase 1: unsolicited answers and updates, 4 of each a second per Sybil. A push that arrives while the
    // victim awaits that Sybil's answer IS the answer (a response names no request); to test pushes nobody
    // asked for, a Sybil pushes only when it was not asked in the last two exchange intervals (the victim has
    // asked another peer since).
    let unsolicited = 0, lastPush = 0;
    await run(clock, phaseS * 1000, (now) => {
      if (now - lastPush < 250) return;
      lastPush = now;
      sybils.forEach((s, i) => {
        if (now - s.askedAt < 2 * EXCHANGE_INTERVAL_MS) return;
        const ids = i === sybils.length - 1 ? nextFresh() : [target(i)];
        s.connection!.send(s.recommend(ids));
        s.connection!.send(s.update(ids[0]));
        unsolicited += 2;
      });
    });
    await run(clock, 500);
    const afterUnsolicited = freshReputation();
    const unsolicitedChainTrust = chainTrust();
    const unsolicitedChanged = snapshot() !== before;

    // Phase 2: the Sybils answer the victim's own requests, each with the next link of the chain; the first
    // keeps its earned trust up with valid messages, as an attacker would.
    sybils.forEach((s, i) => s.answer = i === sybils.length - 1 ? nextFresh : () => [target(i)]);
    let lastPublish = 0;
    await run(clock, 4 * phaseS * 1000, (now) => {
      if (now - lastPublish < 1_000) return;
      lastPublish = now;
      sybils[0].connection!.send(sybils[0].publish());
    });
    for (const s of sybils) s.answer = undefined;
    const afterSolicited = freshReputation();
    const strangerReputation = trust.reputation(stranger);
    const solicitedChainTrust = chainTrust();

    // Phase 3: recommended fresh ids connect to the full victim, each from its own subnet.
    const evictionsBefore = v.stats().peers.evictions;
    for (let i = 0; i < newcomerCount; i++) {
      const newcomer = new Sybil(freshIdentities[i], network, `127.74.${i}.1:7400`, clock);
      newcomers.push(newcomer);
      let done = false;
      newcomer.connect(victim).then(() => done = true);
      await runUntil(clock, () => done, "a newcomer's dial");
      await run(clock, 500);
    }
    await run(clock, 1_000);
    return {
      honest: honestCount,
      chain: chainLength,
      fresh: freshCount,
      newcomers: newcomerCount,
      phase_s: phaseS,
      stranger_reputation: round(strangerReputation),
      unsolicited_sent: unsolicited,
      unsolicited_chain_trust: unsolicitedChainTrust,
      unsolicited_fresh_reputation_mean: round(afterUnsolicited.mean),
      unsolicited_fresh_reputation_max: round(afterUnsolicited.max),
      unsolicited_changed_anything: unsolicitedChanged,
      solicited_answers: sybils.reduce((sum, s) => sum + s.answers, 0),
      chain_trust: solicitedChainTrust,
      chain_above_recommender_bar: solicitedChainTrust.filter((t) => t >= 0.55).length,
      fresh_reputation_mean: round(afterSolicited.mean),
      fresh_reputation_max: round(afterSolicited.max),
      fresh_above_stranger: afterSolicited.values.filter((r) => r > strangerReputation + 1e-9).length,
      honest_evicted: honest.filter((n) => !isActive(v, n.identity.nodeId)).length,
      newcomers_admitted: newcomers.filter((n) => isActive(v, n.identity.nodeId)).length,
      sybils_evicted: sybils.filter((s) => !isActive(v, s.identity.nodeId)).length,
      evictions: v.stats().peers.evictions - evictionsBefore,
    };
  } finally {
    for (const s of [...sybils, ...newcomers]) await s.transport.close();
    await Promise.all([...honest, victim].map((n) => n.stop()));
    await run(clock, 1_000);
  }
}
