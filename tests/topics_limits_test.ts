/**
 * The topic overlays' own bounds, driven directly: one peer's envelopes over all named topics together stay
 * within one per-peer rate, and a peer's first whole set of topics on a link is not charged to its allowance
 * of changes.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { DEFAULT_GOSSIP_CONFIG, GossipProtocol } from "../lib/gossip/mod.ts";
import { Identity } from "../lib/identity.ts";
import { createLinkMessage, createMessage, DisconnectReason, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { MemoryStorage } from "../lib/storage/mod.ts";
import { resolveTopicsConfig, TopicOverlays, type TopicsConfig } from "../lib/topics/mod.ts";
import { TrustManager } from "../lib/trust.ts";
import { RecordingPeer } from "./_gossip_peer.ts";

const NOW = 1_700_000_000_000;

function overlays(peer: RecordingPeer, options: { peerRateLimit?: number; config?: Partial<TopicsConfig> } = {}) {
  const clock = new ManualClock(NOW);
  const identity = Identity.generate();
  const storage = new MemoryStorage({ clock });
  const trust = new TrustManager({ storage, clock });
  const codec = new MessageCodec();
  const delivered: string[] = [];
  const penalties: string[] = [];
  const layer = (topic: string, peers: { activePeers(): readonly RecordingPeer[] }) => {
    const gossip = new GossipProtocol({ identity, peers, trust, storage, clock, codec, topic });
    gossip.registerHandler(MessageType.CUSTOM_DATA, (message) => {
      if (message.type === MessageType.CUSTOM_DATA) delivered.push(message.payload.topic);
    });
    return gossip;
  };
  const topics = new TopicOverlays({
    identity,
    clock,
    random: seededRandom(1),
    log: () => {},
    codec,
    config: resolveTopicsConfig(options.config ?? {}, DEFAULT_GOSSIP_CONFIG),
    peers: { activePeers: () => [peer] },
    global: layer("", { activePeers: () => [peer] }),
    makeOverlay: (topic, view) => layer(topic, view as { activePeers(): readonly RecordingPeer[] }),
    penalise: (_nodeId, code) => penalties.push(code),
    scopesTopics: () => true,
    defaultTtl: () => 8,
    maxMessageBytes: () => DEFAULT_GOSSIP_CONFIG.maxApplicationPayloadBytes,
    peerRateLimit: options.peerRateLimit,
  });
  return { topics, clock, delivered, penalties };
}

function tell(peer: RecordingPeer, full: boolean, join: string[], leave: string[] = []) {
  return createLinkMessage(peer.identity, MessageType.TOPIC_SUBSCRIPTIONS, { full, all: false, join, leave }, {
    timestamp: NOW,
  });
}

Deno.test("a peer in many of this node's topics gets one per-peer rate over all of them, not one per topic", () => {
  const peer = new RecordingPeer();
  const { topics, delivered } = overlays(peer, { peerRateLimit: 10 });
  const names = ["t1", "t2", "t3"];
  for (const name of names) topics.join(name);
  topics.peerConnected(peer);
  topics.receive(peer, tell(peer, true, names));
  // 40 new messages in each topic, all at once: the shared burst is 2 x 10.
  for (let i = 0; i < 40; i++) {
    for (const topic of names) {
      const data = new TextEncoder().encode(`${topic} ${i}`);
      topics.receive(peer, createMessage(peer.identity, MessageType.CUSTOM_DATA, { topic, data }, { timestamp: NOW }));
    }
  }
  assert.equal(delivered.length, 20, "the burst of the one shared allowance");
  assert.equal(topics.stats.rateLimited, 100);
  assert.deepEqual(new Set(delivered), new Set(names), "taken in arrival order, across the topics");
  topics.stop();
});

Deno.test("a peer's first whole set of 64 topics costs none of its allowance; later changes are charged", () => {
  const peer = new RecordingPeer();
  const { topics, penalties } = overlays(peer);
  topics.peerConnected(peer);
  const many = Array.from({ length: 64 }, (_, i) => `topic-${i}`);
  topics.receive(peer, tell(peer, true, many));
  // The allowance (burst 128) is still whole: leaving and joining all 64 once fits exactly.
  topics.receive(peer, tell(peer, false, [], many));
  topics.receive(peer, tell(peer, false, many));
  assert.deepEqual(penalties, []);
  assert.equal(topics.membership.topicsOf(peer.nodeId).size, 64);
  // One more change is over it: refused, penalised, and the link closed.
  topics.receive(peer, tell(peer, false, [], ["topic-0"]));
  assert.deepEqual(penalties, ["RATE_LIMITED"]);
  assert.equal(topics.stats.subscriptionsRefused, 1);
  assert.equal(peer.closedWith, DisconnectReason.RATE_LIMITED);
  topics.stop();
});

Deno.test("empty subscription messages are charged too: a peer cannot send them without bound", () => {
  const peer = new RecordingPeer();
  const { topics, penalties } = overlays(peer);
  topics.peerConnected(peer);
  topics.receive(peer, tell(peer, true, ["a"]));
  // The allowance's burst is 128: the 129th empty change is over it.
  for (let i = 0; i < 128; i++) topics.receive(peer, tell(peer, false, []));
  assert.deepEqual(penalties, []);
  topics.receive(peer, tell(peer, false, []));
  assert.deepEqual(penalties, ["RATE_LIMITED"]);
  assert.equal(peer.closedWith, DisconnectReason.RATE_LIMITED);
  topics.stop();
});
