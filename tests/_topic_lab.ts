/**
 * A simulated network for the topic tests: KithNodes whose links are only the ones a test makes (no
 * outbound slots to fill, no discovery, no trust exchange during a run), raw peers that send hand-made
 * link messages, and taps that count what reaches a node before any check.
 *
 * @module
 */
import { encode as msgpackEncode } from "@msgpack/msgpack";
import type { NetworkConfig } from "../lib/config.ts";
import { Identity } from "../lib/identity.ts";
import type { ReceivedMessage } from "../lib/node.ts";
import {
  computeMessageId,
  createLinkMessage,
  type Envelope,
  MessageCodec,
  MessageType,
  PROTOCOL_VERSION,
  type TopicSubscriptionsPayload,
} from "../lib/protocol/mod.ts";
import { randomBytes, seededRandom } from "../lib/random.ts";
import type { VirtualClock } from "../lib/sim/clock.ts";
import type { SimNode } from "../lib/sim/node.ts";
import type { Connection } from "../lib/transport/mod.ts";
import { SimLab, type SimNodeOptions } from "./_sim_lab.ts";

const codec = new MessageCodec();

/** Settings that keep a node's links the test's own and its rounds fast. */
export const FIXED: Partial<NetworkConfig> = {
  minPeers: 0,
  outboundSlots: 0,
  gossipIntervalMs: 100,
  peerMaintenanceIntervalMs: 50,
  discoveryIntervalMs: 3_600_000,
  heartbeatIntervalMs: 1_000,
  trustExchangeIntervalMs: 3_600_000,
  // The DHT's lookups would open transient links beyond the test's own (tests/dht_node_test.ts has them).
  dhtEnabled: false,
};

/** What reached one node from its peers, counted before routing or any check. */
export interface Tap {
  /** CUSTOM_DATA envelopes by topic. */
  data: Map<string, number>;
  /** GOSSIP_MESSAGE digests by topic. */
  digests: Map<string, number>;
  /** CUSTOM_DATA envelopes by the peer that sent them (node id). */
  dataBySender: Map<string, number>;
}

const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

/** A simulated network of KithNodes with fixed links. */
export class TopicLab extends SimLab {
  #raw = 0;

  /** A lab whose latencies and node randomness come from `seed`. */
  constructor(seed: number) {
    super({ networkSeed: seed, random: seededRandom(seed + 1_000), base: FIXED });
  }

  /** Starts node i (the next index) with `config` over {@link FIXED}, and `options` (catch-up, gossip). */
  add(config: Partial<NetworkConfig> = {}, options: SimNodeOptions = {}): Promise<SimNode> {
    return this.startNode(config, options);
  }

  /** Links `a` to `b` (a dials). */
  async link(a: SimNode, b: SimNode): Promise<void> {
    const connected = a.node.connect(b.address);
    await this.runUntil(() => isLinked(a, b) && isLinked(b, a), `a link ${a.index}-${b.index}`);
    await connected;
  }

  /** Links every pair of `nodes`. */
  async mesh(nodes: readonly SimNode[]): Promise<void> {
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) await this.link(nodes[i], nodes[j]);
    }
  }

  /**
   * A raw peer (no node behind it) linked to `target`: it sends whatever a test makes it send. `agent` is
   * the handshake agent it announces (default: this kith's, with its capabilities).
   */
  async rawPeer(target: SimNode, agent?: string): Promise<RawPeer> {
    const identity = Identity.fromSecretKey(randomBytes(this.random, 32));
    const transport = this.network.transport(identity, `127.200.${++this.#raw}.1:7400`);
    if (agent !== undefined) transport.agent = agent;
    let connection: Connection | undefined;
    void transport.dial(target.address).then((c) => connection = c);
    await this.runUntil(() => connection !== undefined && isLinkedTo(target, identity.nodeId), "a raw peer's link");
    const received: Envelope[] = [];
    connection!.onEnvelope = (envelope) => received.push(envelope);
    return new RawPeer(identity, connection!, this.clock, received);
  }
}

/** A peer driven by the test: hand-made link messages and envelopes on one link. */
export class RawPeer {
  #timestamp = 0;

  /** A raw peer over `connection`; `received` collects what the node sends it. */
  constructor(
    readonly identity: Identity,
    readonly connection: Connection,
    readonly clock: VirtualClock,
    readonly received: Envelope[],
  ) {}

  /** Its node id. */
  get nodeId(): string {
    return this.identity.nodeId;
  }

  /** A link timestamp: now, and later than the last one. */
  timestamp(): number {
    return this.#timestamp = Math.max(this.#timestamp + 1, this.clock.now());
  }

  /** Sends a TOPIC_SUBSCRIPTIONS link message. */
  subscriptions(payload: Partial<TopicSubscriptionsPayload>): void {
    const full = { full: false, all: false, join: [], leave: [], ...payload };
    this.connection.send(
      createLinkMessage(this.identity, MessageType.TOPIC_SUBSCRIPTIONS, full, { timestamp: this.timestamp() }),
    );
  }

  /**
   * Sends a TOPIC_SUBSCRIPTIONS whose payload is `value` as written, schema or not (the encoder would refuse
   * what breaks it): what a hostile peer can put on the wire.
   */
  forgedSubscriptions(value: unknown): void {
    const payloadBytes = msgpackEncode(value);
    const timestamp = this.timestamp();
    const { nodeIdBytes, publicKey } = this.identity;
    const type = MessageType.TOPIC_SUBSCRIPTIONS;
    const id = computeMessageId(PROTOCOL_VERSION, type, nodeIdBytes, publicKey, timestamp, payloadBytes);
    const envelope: Envelope = {
      version: PROTOCOL_VERSION,
      type,
      id,
      origin: nodeIdBytes,
      publicKey,
      timestamp,
      ttl: 0,
      payloadBytes,
      signature: new Uint8Array(0),
    };
    this.connection.sendEncoded(codec.encode(envelope));
  }
}

/** Whether `a` has `b` as an active peer. */
export function isLinked(a: SimNode, b: SimNode): boolean {
  return isLinkedTo(a, b.identity.nodeId);
}

/** Whether `node` has `nodeId` as an active peer. */
export function isLinkedTo(node: SimNode, nodeId: string): boolean {
  return node.node.peers().some((p) => p.state === "active" && p.nodeId === nodeId);
}

/** Counts what reaches `node` from its peers from now on, before routing (see {@link Tap}). */
export function tap(node: SimNode): Tap {
  const counts: Tap = { data: new Map(), digests: new Map(), dataBySender: new Map() };
  const peers = node.peers;
  const inner = peers.onEnvelope!;
  peers.onEnvelope = (peer, envelope) => {
    if (envelope.type === MessageType.CUSTOM_DATA) {
      bump(counts.data, codec.peekTopic(envelope) ?? "?");
      bump(counts.dataBySender, peer.nodeId);
    } else if (envelope.type === MessageType.GOSSIP_MESSAGE) bump(counts.digests, codec.peekTopic(envelope) ?? "?");
    inner(peer, envelope);
  };
  return counts;
}

/** Every message `node` delivers to the application, of the topics it is in. */
export function inbox(node: SimNode): ReceivedMessage[] {
  const received: ReceivedMessage[] = [];
  node.node.subscribe(undefined, (m) => received.push(m));
  return received;
}

/** Trust penalties `node` recorded against `peerId` with `code`. */
export function penalties(node: SimNode, peerId: string, code: string): number {
  return node.trust.explain(peerId, 10_000).events
    .filter((e) => e.eventType === `invalid_message:${code}`)
    .reduce((n, e) => n + e.count, 0);
}

/** Signature checks `node` made so far (on its own thread: the simulator runs no helper threads). */
export function signatureChecks(node: SimNode): number {
  const { inline, offloaded } = node.node.stats().signatureChecks;
  return inline + offloaded;
}
