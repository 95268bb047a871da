/**
 * Topic queries in peer exchange (lib/peers/topic_queries.ts): a PEER_DISCOVERY naming a topic is answered
 * with the answerer's connected peers in it, under the bounds, address rules, per-peer interval and answer
 * cache of ordinary answers; and topic-slot dials keep the rules of every outbound dial. Peer managers over
 * the simulator's network and virtual clock, with the topics layer's membership given by a callback.
 */
import assert from "node:assert/strict";
import { toHex } from "../lib/bytes.ts";
import { Identity } from "../lib/identity.ts";
import { type ActivePeer, PeerManager, type PeersConfig } from "../lib/peers/mod.ts";
import { createMessage, type Envelope, MessageType, type PayloadByType } from "../lib/protocol/mod.ts";
import { randomBytes, seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimNetwork } from "../lib/sim/network.ts";
import { MemoryStorage } from "../lib/storage/mod.ts";
import { TrustManager } from "../lib/trust.ts";
import { runFor, runUntil, runUntilSettled } from "./_support.ts";

const INTERVAL_MS = 1_000; // discoveryMinIntervalMs

const CONFIG: Partial<PeersConfig> = {
  minPeers: 0,
  outboundSlots: 0,
  maintenanceIntervalMs: 50,
  heartbeatIntervalMs: 500,
  peerTimeoutMs: 10_000,
  discoveryIntervalMs: Number.MAX_SAFE_INTEGER, // no background discovery: only the queries under test
  discoveryMinIntervalMs: INTERVAL_MS,
  feelerIntervalMs: Number.MAX_SAFE_INTEGER,
};

interface Node {
  identity: Identity;
  peers: PeerManager;
  address: string;
  close(): Promise<void>;
}

class Net {
  readonly clock = new VirtualClock(1_700_000_000_000);
  readonly network = new SimNetwork(this.clock, seededRandom(7), { minLatencyMs: 2, maxLatencyMs: 5 });
  readonly random = seededRandom(8);
  readonly nodes: Node[] = [];
  #subnet = 0;

  start(
    options: { config?: Partial<PeersConfig>; topicPeers?: (topic: string) => string[]; address?: string } = {},
  ): Node {
    const clock = this.clock;
    const identity = Identity.fromSecretKey(randomBytes(this.random, 32));
    const storage = new MemoryStorage({ clock, pruneIntervalMs: 0 });
    const trust = new TrustManager({ storage, clock, localNodeId: identity.nodeId });
    const address = options.address ?? `127.0.${++this.#subnet}.1:7400`;
    const transport = this.network.transport(identity, address);
    const peers = new PeerManager({
      identity,
      transport,
      trust,
      storage,
      clock,
      random: this.random,
      codec: this.network.codec,
      config: { ...CONFIG, ...options.config },
      selfAddress: () => address,
      topicPeers: options.topicPeers,
      answersTopics: () => true,
    });
    peers.start();
    const node: Node = {
      identity,
      peers,
      address,
      close: () =>
        runUntilSettled(
          clock,
          (async () => {
            await peers.stop();
            await transport.close();
          })(),
          "the node to stop",
        ),
    };
    this.nodes.push(node);
    return node;
  }

  async connect(from: Node, to: Node): Promise<ActivePeer> {
    return await runUntilSettled(this.clock, from.peers.connect(to.address), "a link");
  }

  message<T extends MessageType>(identity: Identity, type: T, payload: PayloadByType[T]) {
    return createMessage(identity, type, payload, { ttl: 0, timestamp: this.clock.now() });
  }

  async close(): Promise<void> {
    for (const node of this.nodes) await node.close();
    this.clock.runUntil(this.clock.now() + 1_000);
  }
}

/** Records the PEER_ANNOUNCEMENTs arriving on `link` (the requester's side), then lets its manager have them. */
function recordAnswers(net: Net, link: ActivePeer): string[][] {
  const answers: string[][] = [];
  const handle = link.connection.onEnvelope;
  link.connection.onEnvelope = (envelope: Envelope) => {
    if (envelope.type === MessageType.PEER_ANNOUNCEMENT) {
      const message = net.network.codec.verify(envelope, net.clock.now(), { linkPeer: link.nodeId });
      if (message.type === MessageType.PEER_ANNOUNCEMENT) {
        answers.push(message.payload.peers.map((p) => toHex(p.nodeId)));
      }
    }
    handle?.(envelope);
  };
  return answers;
}

/** An answerer A with `count` peers in topic "t" (and one connected peer in none), and a requester R. */
async function world(net: Net, count: number, config: Partial<PeersConfig> = {}) {
  const inTopic = new Set<string>();
  const answerer = net.start({ config, topicPeers: (topic) => topic === "t" ? [...inTopic] : [] });
  const members: Node[] = [];
  for (let i = 0; i < count; i++) {
    const member = net.start();
    await net.connect(member, answerer);
    inTopic.add(member.identity.nodeId);
    members.push(member);
  }
  const outsider = net.start();
  await net.connect(outsider, answerer);
  const requester = net.start();
  const link = await net.connect(requester, answerer);
  await runFor(net.clock, 50); // the requester's own first (ordinary) query is answered
  return { answerer, members, outsider, requester, link, inTopic };
}

Deno.test("a topic query is answered with the answerer's connected peers in the topic only, within the limit asked and announcementSize", async () => {
  const net = new Net();
  try {
    const { members, outsider, requester, link, inTopic } = await world(net, 5, { announcementSize: 3 });
    inTopic.add(requester.identity.nodeId); // the requester never hears of itself
    const answers = recordAnswers(net, link);
    link.connection.send(net.message(requester.identity, MessageType.PEER_DISCOVERY, { limit: 64, topic: "t" }));
    await runUntil(net.clock, () => answers.length === 1, "the answer");
    const memberIds = new Set(members.map((m) => m.identity.nodeId));
    assert.equal(answers[0].length, 3, "cut to announcementSize");
    for (const id of answers[0]) assert.ok(memberIds.has(id), "only peers in the topic");
    assert.ok(!answers[0].includes(outsider.identity.nodeId));
    assert.ok(!answers[0].includes(requester.identity.nodeId));
    await runFor(net.clock, INTERVAL_MS);
    link.connection.send(net.message(requester.identity, MessageType.PEER_DISCOVERY, { limit: 2, topic: "t" }));
    await runUntil(net.clock, () => answers.length === 2, "the second answer");
    assert.equal(answers[1].length, 2, "cut to the limit asked");
    await runFor(net.clock, INTERVAL_MS);
    link.connection.send(net.message(requester.identity, MessageType.PEER_DISCOVERY, { limit: 64, topic: "other" }));
    await runUntil(net.clock, () => answers.length === 3, "the answer about a topic no peer is in");
    assert.deepEqual(answers[2], [], "no peer of another topic, and nothing from the address book");
  } finally {
    await net.close();
  }
});

Deno.test("a peer's topic queries are answered at most once per discoveryMinIntervalMs, whatever topic they name", async () => {
  const net = new Net();
  try {
    const { answerer, requester, link } = await world(net, 2);
    const answers = recordAnswers(net, link);
    const ask = (topic: string) =>
      link.connection.send(net.message(requester.identity, MessageType.PEER_DISCOVERY, { limit: 64, topic }));
    ask("t");
    await runUntil(net.clock, () => answers.length === 1, "the first answer");
    for (const topic of ["t", "u", "v", "t"]) {
      ask(topic);
      await runFor(net.clock, INTERVAL_MS / 8);
    }
    assert.equal(answers.length, 1, "no answer within the interval");
    assert.equal(answerer.peers.stats.topicAnswers, 1);
    await runFor(net.clock, INTERVAL_MS);
    ask("t");
    await runUntil(net.clock, () => answers.length === 2, "an answer once the interval passed");
    assert.equal(answerer.peers.stats.topicAnswers, 2);
  } finally {
    await net.close();
  }
});

Deno.test("topic answers come from a per-topic cache: within its window a newly connected member is not told", async () => {
  const net = new Net();
  try {
    const { answerer, requester, link, inTopic } = await world(net, 2);
    const answers = recordAnswers(net, link);
    const ask = () =>
      link.connection.send(net.message(requester.identity, MessageType.PEER_DISCOVERY, { limit: 64, topic: "t" }));
    ask();
    await runUntil(net.clock, () => answers.length === 1, "the first answer");
    const late = net.start();
    await net.connect(late, answerer);
    inTopic.add(late.identity.nodeId);
    // A second requester inside the cache's window gets the cached answer: the prober learns nothing new.
    const second = net.start();
    const secondLink = await net.connect(second, answerer);
    await runFor(net.clock, 50); // its own first (ordinary) query is answered
    const secondAnswers = recordAnswers(net, secondLink);
    secondLink.connection.send(net.message(second.identity, MessageType.PEER_DISCOVERY, { limit: 64, topic: "t" }));
    await runUntil(net.clock, () => secondAnswers.length === 1, "the second requester's answer");
    assert.ok(!secondAnswers[0].includes(late.identity.nodeId), "the cached answer");
    assert.deepEqual([...secondAnswers[0]].sort(), [...answers[0]].sort());
    await runFor(net.clock, INTERVAL_MS);
    ask();
    await runUntil(net.clock, () => answers.length === 2, "the answer after the rebuild interval");
    assert.ok(answers[1].includes(late.identity.nodeId), "a not-full answer is rebuilt after the interval");
  } finally {
    await net.close();
  }
});

Deno.test("findTopicPeers resolves with the answer's records, and topic-slot dials keep the subnet bound and the slot count", async () => {
  const net = new Net();
  try {
    const { members, requester, answerer } = await world(net, 3, {});
    const found = requester.peers.findTopicPeers("t");
    assert.ok(found, "a peer to ask");
    const records = await runUntilSettled(net.clock, found, "the answer");
    assert.deepEqual(records.map((r) => r.nodeId).sort(), members.map((m) => m.identity.nodeId).sort());
    assert.equal(requester.peers.findTopicPeers("t"), undefined, "its only peer was just asked");
    // A node with one topic slot and a subnet bound of one peer per /24.
    const dialer = net.start({ config: { topicSlots: 1, maxPeersPerSubnet: 1 } });
    await net.connect(dialer, answerer);
    const sameSubnet = net.start({ address: "127.0.250.2:7400" });
    const neighbour = net.start({ address: "127.0.250.3:7400" });
    assert.ok(dialer.peers.dialTopicPeer(sameSubnet.identity.nodeId, sameSubnet.address), "the slot is free");
    assert.equal(
      dialer.peers.dialTopicPeer(neighbour.identity.nodeId, neighbour.address),
      false,
      "one slot, taken",
    );
    await runUntil(net.clock, () => dialer.peers.topicLinks().length === 1, "the topic link");
    dialer.peers.releaseTopicLink(sameSubnet.identity.nodeId);
    await runUntil(net.clock, () => dialer.peers.topicLinks().length === 0, "the release");
    const other = net.start({ config: { topicSlots: 2, maxPeersPerSubnet: 1 } });
    await net.connect(other, answerer);
    assert.ok(other.peers.dialTopicPeer(sameSubnet.identity.nodeId, sameSubnet.address));
    assert.equal(
      other.peers.dialTopicPeer(neighbour.identity.nodeId, neighbour.address),
      false,
      "the subnet bound counts the dial in flight",
    );
    const none = net.start({ config: { topicSlots: 0 } });
    assert.equal(none.peers.dialTopicPeer(neighbour.identity.nodeId, neighbour.address), false, "no slots");
  } finally {
    await net.close();
  }
});

Deno.test("topic queries go to peers not yet asked about the topic first: five searches ask five different peers", async () => {
  const net = new Net();
  try {
    const asked = new Set<number>();
    const requester = net.start();
    for (let i = 0; i < 5; i++) {
      // Each answerer notes that it was asked (it builds its answer from its peers in the topic).
      const answerer = net.start({ topicPeers: (topic) => (topic === "t" && asked.add(i), []) });
      await net.connect(requester, answerer);
    }
    await runFor(net.clock, 50);
    for (let search = 0; search < 5; search++) {
      // Past the interval: every peer may be asked again.
      await runFor(net.clock, INTERVAL_MS + 100);
      const found = requester.peers.findTopicPeers("t");
      assert.ok(found, "a peer to ask");
      await runUntilSettled(net.clock, found, "the answer");
    }
    assert.equal(asked.size, 5, "each peer asked once before any again");
  } finally {
    await net.close();
  }
});

Deno.test("a topic link is beyond the outbound target: the node still dials its own outbound peers", async () => {
  const net = new Net();
  try {
    const hub = net.start();
    const other = net.start();
    await net.connect(other, hub); // the hub's answer to a request for peers will name `other`
    // One outbound slot to fill, and one topic slot; its only link at first is the topic link to the hub.
    const node = net.start({ config: { outboundSlots: 1, topicSlots: 1 } });
    assert.ok(node.peers.dialTopicPeer(hub.identity.nodeId, hub.address));
    await runUntil(net.clock, () => node.peers.topicLinks().length === 1, "the topic link");
    await runUntil(
      net.clock,
      () => node.peers.activePeer(other.identity.nodeId) !== undefined,
      "an outbound peer of the node's own choice, from the hub's answer",
    );
    assert.equal(node.peers.topicLinks().length, 1);
  } finally {
    await net.close();
  }
});
