import assert from "node:assert/strict";
import { toHex } from "../lib/bytes.ts";
import { ManualClock } from "../lib/clock.ts";
import { type GossipConfig, GossipProtocol } from "../lib/gossip/mod.ts";
import { ANNOUNCE_HOLD_SHARE } from "../lib/gossip/outbox.ts";
import { Identity } from "../lib/identity.ts";
import type { Connection } from "../lib/transport/mod.ts";
import {
  createLinkMessage,
  createMessage,
  DisconnectReason,
  type Envelope,
  type Message,
  MessageCodec,
  MessageType,
} from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { MemoryStorage } from "../lib/storage/mod.ts";
import { TrustManager } from "../lib/trust.ts";
import type { SignatureVerifier } from "../lib/verifier.ts";
import { verifySignature } from "../lib/ed25519.ts";

/** How long a small overlay's short queue of ids waits at the default gossip interval (1 s), ms. */
const HOLD_MS = ANNOUNCE_HOLD_SHARE * 1_000;

const codec = new MessageCodec();
const T0 = 1_700_000_000_000;

/** A peer whose connection records what gossip sends it. */
class FakePeer {
  readonly identity = Identity.generate();
  readonly nodeId = this.identity.nodeId;
  readonly sent: Envelope[] = [];
  bufferedBytes = 0;
  readonly connection = {
    remoteNodeId: this.nodeId,
    get bufferedBytes() {
      return 0;
    },
    isOpen: true,
    send: (envelope: Envelope) => {
      this.sent.push(envelope);
      return true;
    },
    sendEncoded: (bytes: Uint8Array) => {
      this.sent.push(codec.parse(bytes));
      return true;
    },
  } as unknown as Connection;
  sentOfType(type: MessageType) {
    return this.sent.filter((e) => e.type === type);
  }
}

function setup(
  count: number,
  config: Partial<GossipConfig> = {},
  verifier?: SignatureVerifier,
  clock = new ManualClock(T0),
) {
  const storage = new MemoryStorage({ clock, pruneIntervalMs: 0 });
  const identity = Identity.generate();
  const trust = new TrustManager({ storage, clock });
  const peers = Array.from({ length: count }, () => new FakePeer());
  const gossip = new GossipProtocol({
    identity,
    peers: { activePeers: () => peers },
    trust,
    storage,
    clock,
    random: seededRandom(5),
    config,
    verifier,
  });
  const delivered: Message[] = [];
  gossip.registerHandler(MessageType.CUSTOM_DATA, (m) => delivered.push(m));
  return { clock, storage, identity, trust, peers, gossip, delivered };
}

/** Verifies what the gossip node under test sent: its digests are unsigned link messages from itself. */
const fromUs = (e: Envelope) => codec.verify(e, T0, { linkPeer: toHex(e.origin) });
/** The digests a peer was sent, decoded. */
const digestsTo = (peer: FakePeer) =>
  peer.sentOfType(MessageType.GOSSIP_MESSAGE).map(fromUs).flatMap((m) =>
    m.type === MessageType.GOSSIP_MESSAGE ? [m.payload] : []
  );
const ids = (list: Uint8Array[]) => list.map(toHex);

const app = (from: Identity, text: string, ttl = 8, timestamp = T0) =>
  createMessage(from, MessageType.CUSTOM_DATA, { topic: "t", data: new TextEncoder().encode(text) }, {
    ttl,
    timestamp,
  });

Deno.test("a message is delivered once however many copies arrive; duplicates are counted per peer", () => {
  const { peers, gossip, delivered } = setup(4);
  const message = app(peers[3].identity, "hello");
  gossip.receive(peers[0], message);
  gossip.receive(peers[1], message);
  gossip.receive(peers[1], message);
  assert.equal(delivered.length, 1);
  assert.equal(gossip.peerStats(peers[0].nodeId)!.duplicates, 0);
  assert.equal(gossip.peerStats(peers[1].nodeId)!.duplicates, 2);
  assert.equal(gossip.stats.duplicates, 2);
  assert.equal(gossip.peerStats(peers[0].nodeId)!.firsts, 1);
  assert.equal(gossip.peerStats(peers[1].nodeId)!.firsts, 0);
});

Deno.test("forwarding is eager, decrements the TTL, and never goes back to the sender or the origin", () => {
  const { peers, gossip } = setup(6, { fanout: 10 });
  const [sender, origin] = peers;
  gossip.receive(sender, app(origin.identity, "spread", 5));
  assert.equal(sender.sentOfType(MessageType.CUSTOM_DATA).length, 0);
  assert.equal(origin.sentOfType(MessageType.CUSTOM_DATA).length, 0);
  for (const peer of peers.slice(2)) {
    const forwarded = peer.sentOfType(MessageType.CUSTOM_DATA);
    assert.equal(forwarded.length, 1, "forwarded at once, before any gossip interval");
    assert.equal(forwarded[0].ttl, 4);
  }
});

Deno.test("a new message goes in full to the fanout eager links and only as an id to the other peers", () => {
  const { peers, gossip, clock } = setup(10, { fanout: 3, lazyFanout: 1_000 });
  gossip.start();
  try {
    const message = app(Identity.generate(), "x");
    gossip.receive(peers[0], message); // peers[0] is the first link: eager, with peers[1] and peers[2]
    const pushed = peers.filter((p) => p.sentOfType(MessageType.CUSTOM_DATA).length > 0);
    assert.deepEqual(pushed, [peers[1], peers[2]]);
    assert.deepEqual(peers.map((p) => gossip.peerStats(p.nodeId)!.eager), peers.map((_, i) => i < 3));
    clock.advance(gossip.config.lazyIntervalMs);
    const heard = peers.filter((p) => digestsTo(p).some((d) => ids(d.have).includes(toHex(message.id))));
    assert.deepEqual(heard, peers.slice(3));
  } finally {
    gossip.stop();
  }
});

Deno.test("a message received with TTL 1 is delivered but not forwarded", () => {
  const { peers, gossip, delivered } = setup(4);
  gossip.receive(peers[0], app(Identity.generate(), "last hop", 1));
  assert.equal(delivered.length, 1);
  assert.ok(peers.every((p) => p.sentOfType(MessageType.CUSTOM_DATA).length === 0));
});

Deno.test("an invalid signature costs the sender trust, is not delivered, and does not poison dedup", () => {
  const { peers, gossip, delivered, trust } = setup(3);
  const good = app(Identity.generate(), "genuine");
  const forged = { ...good, signature: new Uint8Array(64).fill(7) };
  gossip.receive(peers[0], forged);
  assert.equal(delivered.length, 0);
  assert.ok(Math.abs(trust.trust(peers[0].nodeId) - 0.3) < 1e-9, "BAD_SIGNATURE costs 0.2");
  gossip.receive(peers[1], good);
  assert.equal(delivered.length, 1, "the genuine copy still gets through");
  assert.ok(trust.trust(peers[1].nodeId) > 0.5, "a valid new message earns the sender trust");
});

Deno.test("a peer over its rate limit is dropped and penalised at most once a second", () => {
  const { peers, gossip, trust, clock } = setup(2, {
    peerRateLimit: 10,
    peerRateBurst: 10,
    originRateLimit: 1000,
    originRateBurst: 1000,
  });
  const flooder = peers[0];
  for (let i = 0; i < 50; i++) gossip.receive(flooder, app(flooder.identity, `spam ${i}`));
  const stats = gossip.peerStats(flooder.nodeId)!;
  assert.equal(stats.rateLimited, 40);
  assert.equal(gossip.stats.delivered, 10);
  // 10 valid (+0.01) and one RATE_LIMITED penalty (-0.05) within the second.
  assert.ok(Math.abs(trust.trust(flooder.nodeId) - (0.5 + 0.01 - 0.05)) < 1e-9);
  clock.advance(1_000);
  for (let i = 0; i < 50; i++) gossip.receive(flooder, app(flooder.identity, `more ${i}`, 8, clock.now()));
  assert.ok(trust.trust(flooder.nodeId) < 0.45, "penalised again in the next second");
});

Deno.test("a relay over its rate limit with others' new messages is dropped, not penalised; its duplicates are", () => {
  const { peers, gossip, trust } = setup(2, { peerRateLimit: 10, peerRateBurst: 10 });
  const relay = peers[0];
  const origins = Array.from({ length: 25 }, () => Identity.generate());
  const sent = Array.from({ length: 50 }, (_, i) => app(origins[i % 25], `relayed ${i}`));
  for (const message of sent) gossip.receive(relay, message);
  assert.equal(gossip.peerStats(relay.nodeId)!.rateLimited, 40);
  assert.ok(trust.trust(relay.nodeId) >= 0.5, "forwarding valid new messages costs no trust");
  gossip.receive(relay, sent[0]);
  assert.ok(trust.trust(relay.nodeId) < 0.5, "a duplicate over the rate is the sender's own excess");
});

Deno.test("new origins share one burst: 25 fresh origins do not each get their own", () => {
  const { peers, gossip } = setup(3, { originRateLimit: 5, originRateBurst: 5 });
  const origins = Array.from({ length: 25 }, () => Identity.generate());
  for (let i = 0; i < 100; i++) gossip.receive(peers[i % 2], app(origins[i % 25], `m${i}`));
  assert.equal(gossip.stats.delivered, 5);
  assert.equal(gossip.stats.originLimited, 95);
});

Deno.test("an origin over its rate limit is not delivered or forwarded", () => {
  const { peers, gossip } = setup(3, { originRateLimit: 5, originRateBurst: 5 });
  const loud = Identity.generate();
  for (let i = 0; i < 20; i++) gossip.receive(peers[i % 2], app(loud, `m${i}`));
  assert.equal(gossip.stats.delivered, 5);
  assert.equal(gossip.stats.originLimited, 15);
});

Deno.test("an oversized application payload is refused on publish, and on receipt penalised and the sender told why", () => {
  const { peers, gossip, trust } = setup(2, { maxApplicationPayloadBytes: 100 });
  const closes: [number, string][] = [];
  (peers[0].connection as { close: unknown }).close = (reason: number, detail: string) => {
    closes.push([reason, detail]);
    return Promise.resolve();
  };
  assert.throws(() => gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(101) }), RangeError);
  gossip.receive(
    peers[0],
    createMessage(peers[0].identity, MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(101) }, {
      timestamp: T0,
    }),
  );
  assert.equal(gossip.stats.delivered, 0);
  assert.ok(trust.trust(peers[0].nodeId) < 0.5);
  assert.equal(closes.length, 1);
  assert.equal(closes[0][0], DisconnectReason.MESSAGE_TOO_LARGE);
  assert.match(closes[0][1], /maxApplicationPayloadBytes of 100/);
});

Deno.test("with floodPublish, publish sends own messages to every peer with the full TTL", () => {
  const { peers, gossip } = setup(5, { floodPublish: true });
  const message = gossip.publish(MessageType.CUSTOM_DATA, { topic: "t", data: new Uint8Array([1]) }, { ttl: 3 });
  for (const peer of peers) {
    const sent = peer.sentOfType(MessageType.CUSTOM_DATA);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].ttl, 3);
    assert.equal(toHex(sent[0].id), toHex(message.id));
  }
});

Deno.test("repair: a digest of unknown ids is answered with want; a want is served from the store", () => {
  const { peers, gossip, delivered, clock } = setup(2);
  const [a, b] = peers;
  gossip.start();
  // b advertises a message we have not seen and that does not come: we ask b for it.
  const missing = app(Identity.generate(), "missed");
  gossip.receive(
    b,
    createMessage(b.identity, MessageType.GOSSIP_MESSAGE, { have: [missing.id], want: [] }, { ttl: 0, timestamp: T0 }),
  );
  clock.advance(gossip.config.wantTimeoutMs * 1.5 + gossip.config.lazyIntervalMs);
  gossip.stop();
  const wants = b.sentOfType(MessageType.GOSSIP_MESSAGE).map((e) => fromUs(e))
    .filter((m) => m.type === MessageType.GOSSIP_MESSAGE && m.payload.want.length > 0);
  assert.equal(wants.length, 1);
  gossip.receive(b, missing);
  assert.equal(delivered.length, 1);
  // a asks for a message we hold: we serve it, with our forward TTL.
  const held = gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array([9]) }, { ttl: 4 });
  a.sent.length = 0;
  gossip.receive(
    a,
    createMessage(a.identity, MessageType.GOSSIP_MESSAGE, { have: [], want: [held.id] }, { ttl: 0, timestamp: T0 }),
  );
  const served = a.sentOfType(MessageType.CUSTOM_DATA);
  assert.equal(served.length, 1);
  assert.equal(toHex(served[0].id), toHex(held.id));
  assert.equal(gossip.stats.served, 1);
});

Deno.test("a peer that connects late gets a digest of recent messages at once, but never of spent TTLs", () => {
  const { peers, gossip } = setup(1);
  const spreading = gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array([1]) }, { ttl: 4 });
  gossip.receive(peers[0], app(Identity.generate(), "last hop", 1)); // TTL spent here: not advertised
  const late = new FakePeer();
  gossip.peerConnected(late);
  const digests = late.sentOfType(MessageType.GOSSIP_MESSAGE).map((e) => fromUs(e));
  assert.equal(digests.length, 1);
  const have = digests[0].type === MessageType.GOSSIP_MESSAGE ? digests[0].payload.have.map(toHex) : [];
  assert.deepEqual(have, [toHex(spreading.id)]);
});

Deno.test("a peer that reconnects hears again of messages sent to it before it went away", () => {
  const { peers, gossip } = setup(1);
  const [peer] = peers;
  const message = gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array([1]) });
  assert.equal(peer.sentOfType(MessageType.CUSTOM_DATA).length, 1); // perhaps lost as it went down
  gossip.peerDisconnected(peer.nodeId);
  gossip.peerConnected(peer);
  const have = digestsTo(peer).flatMap((d) => ids(d.have));
  assert.deepEqual(have, [toHex(message.id)]);
});

Deno.test("a peer that takes a disconnected peer's known-to-have slot is not taken to have its messages", () => {
  const { peers, gossip } = setup(1);
  const [first] = peers;
  const message = app(Identity.generate(), "m");
  gossip.receive(first, message); // the first peer is known to have it
  gossip.peerDisconnected(first.nodeId);
  const second = new FakePeer();
  gossip.peerConnected(second); // takes the slot the first peer held
  assert.deepEqual(digestsTo(second).flatMap((d) => ids(d.have)), [toHex(message.id)]);
});

Deno.test("peers past the known-to-have mask's 30 slots are still never told of messages they have", () => {
  const { peers, gossip, clock } = setup(40, { fanout: 3, lazyFanout: 1_000 });
  gossip.start();
  try {
    const message = app(Identity.generate(), "m");
    gossip.receive(peers[0], message);
    const pushed = peers.filter((p) => p.sentOfType(MessageType.CUSTOM_DATA).length > 0);
    const announcers = peers.slice(20); // ten with a slot, ten beyond the mask
    for (const peer of announcers) {
      const have = { have: [message.id], want: [] };
      gossip.receive(peer, createMessage(peer.identity, MessageType.GOSSIP_MESSAGE, have, { ttl: 0, timestamp: T0 }));
    }
    clock.advance(gossip.config.lazyIntervalMs);
    for (const [i, peer] of peers.entries()) {
      const heard = digestsTo(peer).some((d) => ids(d.have).includes(toHex(message.id)));
      assert.equal(heard, i !== 0 && !pushed.includes(peer) && !announcers.includes(peer), `peer ${i}`);
    }
    assert.equal(gossip.stats.announced, 20 - 1 - pushed.length);
  } finally {
    gossip.stop();
  }
});

/** PRUNEs naming messages (per origin) that a peer was sent, as lists of hex ids. */
const originPrunesTo = (peer: FakePeer) =>
  digestsTo(peer).filter((d) => d.prune && d.have.length > 0).map((d) => ids(d.have));
const linkFrom = (peer: FakePeer, payload: { have: Uint8Array[]; want: Uint8Array[]; prune?: boolean }) =>
  createMessage(peer.identity, MessageType.GOSSIP_MESSAGE, payload, { ttl: 0, timestamp: T0 });
const fullCopiesTo = (peer: FakePeer) => peer.sentOfType(MessageType.CUSTOM_DATA).map((e) => toHex(e.id));

Deno.test("a second later copy of one origin's messages from a peer gets a PRUNE naming it; the first does not", () => {
  const { peers: [first, second], gossip } = setup(3);
  const origin = Identity.generate();
  const one = app(origin, "1"), two = app(origin, "2");
  gossip.receive(first, one);
  gossip.receive(second, one);
  assert.deepEqual(originPrunesTo(second), [], "an origin may publish only once: no PRUNE yet");
  gossip.receive(first, two);
  gossip.receive(second, two);
  assert.deepEqual(originPrunesTo(second), [[toHex(two.id)]]);
  assert.deepEqual(originPrunesTo(first), []);
  assert.equal(gossip.stats.originPrunes, 1);
  assert.equal(gossip.stats.prunes, 0, "not a PRUNE of the whole link");
});

Deno.test("a copy that crossed a PRUNE in flight does not get the origin's parent pruned too", () => {
  const { peers: [parent, other], gossip } = setup(3);
  const origin = Identity.generate();
  const [one, two, three] = [1, 2, 3].map((i) => app(origin, `${i}`));
  for (const message of [one, two]) {
    gossip.receive(parent, message);
    gossip.receive(other, message); // pruned for this origin at the second
  }
  gossip.receive(other, three); // sent before it had the PRUNE: first here this time
  gossip.receive(parent, three);
  gossip.receive(parent, three);
  assert.deepEqual(originPrunesTo(parent), [], "the parent is the only peer still pushing this origin");
  assert.equal(gossip.stats.originPrunes, 1);
});

Deno.test("after a PRUNE naming a message, its origin's messages go to that peer as ids; other origins' in full", () => {
  const { peers: [pruner, source], gossip, clock } = setup(2, { fanout: 2 });
  gossip.start();
  try {
    const origin = Identity.generate();
    const first = app(origin, "1");
    gossip.receive(source, first);
    assert.deepEqual(fullCopiesTo(pruner), [toHex(first.id)]);
    gossip.receive(pruner, linkFrom(pruner, { have: [first.id], want: [], prune: true }));
    const second = app(origin, "2"), elsewhere = app(Identity.generate(), "3");
    gossip.receive(source, second);
    gossip.receive(source, elsewhere);
    assert.deepEqual(fullCopiesTo(pruner), [toHex(first.id), toHex(elsewhere.id)]);
    clock.advance(gossip.config.lazyIntervalMs);
    assert.ok(digestsTo(pruner).some((d) => ids(d.have).includes(toHex(second.id))), "announced instead");
    // Asking for one of the origin's messages grafts the origin back: the next goes in full.
    gossip.receive(pruner, linkFrom(pruner, { have: [], want: [second.id] }));
    const third = app(origin, "4");
    gossip.receive(source, third);
    assert.deepEqual(fullCopiesTo(pruner).slice(-2), [toHex(second.id), toHex(third.id)]);
  } finally {
    gossip.stop();
  }
});

Deno.test("ids queued for a peer go with the next message pushed to it, before the announcement round", () => {
  const { peers: [pruner, source], gossip, clock } = setup(2, { fanout: 2 });
  gossip.start();
  try {
    const origin = Identity.generate();
    const first = app(origin, "1");
    gossip.receive(source, first);
    gossip.receive(pruner, linkFrom(pruner, { have: [first.id], want: [], prune: true }));
    const second = app(origin, "2"), elsewhere = app(Identity.generate(), "3");
    gossip.receive(source, second); // its id queued for the pruner
    assert.equal(digestsTo(pruner).length, 0, "nothing announced yet");
    gossip.receive(source, elsewhere); // pushed in full to the pruner: the queued id goes with it
    const sent = pruner.sent.map((e) => e.type);
    assert.deepEqual(sent.slice(-2), [MessageType.CUSTOM_DATA, MessageType.GOSSIP_MESSAGE]);
    assert.deepEqual(digestsTo(pruner).map((d) => ids(d.have)), [[toHex(second.id)]]);
    clock.advance(gossip.config.lazyIntervalMs);
    assert.equal(digestsTo(pruner).length, 1, "the round had nothing left to announce");
    assert.equal(gossip.stats.announced, 1);
  } finally {
    gossip.stop();
  }
});

Deno.test("early announcements: at most 4 per link per interval, and none where the round picks among more links than lazyFanout", () => {
  const { peers: [pruner, source], gossip, clock } = setup(2, { fanout: 2 });
  gossip.start();
  try {
    const origin = Identity.generate();
    const first = app(origin, "first");
    gossip.receive(source, first);
    gossip.receive(pruner, linkFrom(pruner, { have: [first.id], want: [], prune: true }));
    const other = Identity.generate();
    for (let i = 0; i < 6; i++) {
      gossip.receive(source, app(origin, `queued ${i}`));
      gossip.receive(source, app(other, `pushed ${i}`));
    }
    assert.equal(digestsTo(pruner).length, 4, "4 early, the rest waits for the round");
    clock.advance(HOLD_MS); // a short queue of a small overlay waits that long for a push to carry it
    assert.equal(digestsTo(pruner).length, 5);
  } finally {
    gossip.stop();
  }
  // lazyFanout 1 with 2 links: the round chooses whom to tell, so nothing goes early.
  const chosen = setup(2, { fanout: 2, lazyFanout: 1 });
  chosen.gossip.start();
  try {
    const [pruner, source] = chosen.peers;
    const origin = Identity.generate();
    const first = app(origin, "first");
    chosen.gossip.receive(source, first);
    chosen.gossip.receive(pruner, linkFrom(pruner, { have: [first.id], want: [], prune: true }));
    chosen.gossip.receive(source, app(origin, "queued"));
    chosen.gossip.receive(source, app(Identity.generate(), "pushed"));
    assert.equal(digestsTo(pruner).length, 0);
  } finally {
    chosen.gossip.stop();
  }
});

Deno.test("in a small overlay, a short queue of ids waits for the next message pushed to the peer, goes alone only after ANNOUNCE_HOLD_SHARE of the gossip interval, and is left out of repair digests", () => {
  const { peers: [pruner, source], gossip, clock } = setup(2, { fanout: 2 });
  gossip.start();
  try {
    const origin = Identity.generate();
    const first = app(origin, "1");
    gossip.receive(source, first);
    gossip.receive(pruner, linkFrom(pruner, { have: [first.id], want: [], prune: true }));
    const second = app(origin, "2");
    gossip.receive(source, second); // its id queued for the pruner
    clock.advance(2 * gossip.config.lazyIntervalMs);
    assert.equal(digestsTo(pruner).length, 0, "two announcement rounds passed: the queue waits");
    const pushed = app(Identity.generate(), "3");
    gossip.receive(source, pushed); // pushed in full: the queued id goes with it
    assert.deepEqual(digestsTo(pruner).map((d) => ids(d.have)), [[toHex(second.id)]]);
    const third = app(origin, "4");
    gossip.receive(source, third);
    clock.advance(HOLD_MS - gossip.config.lazyIntervalMs);
    assert.equal(digestsTo(pruner).length, 1, "still waiting");
    clock.advance(gossip.config.lazyIntervalMs);
    assert.deepEqual(digestsTo(pruner).map((d) => ids(d.have)), [[toHex(second.id)], [toHex(third.id)]], "alone");
  } finally {
    gossip.stop();
  }
  // A repair round leaves a queued id to its announcement: no record of its own for it.
  const repair = setup(2, { fanout: 2 });
  repair.gossip.start();
  try {
    const [pruner, source] = repair.peers;
    const origin = Identity.generate();
    const first = app(origin, "1");
    repair.gossip.receive(source, first);
    repair.gossip.receive(pruner, linkFrom(pruner, { have: [first.id], want: [], prune: true }));
    repair.clock.advance(repair.gossip.config.intervalMs - 100);
    const queued = app(origin, "2");
    repair.gossip.receive(source, queued);
    repair.clock.advance(100); // the repair round
    assert.equal(digestsTo(pruner).length, 0, "the repair digest left the queued id out");
    repair.clock.advance(HOLD_MS);
    assert.deepEqual(digestsTo(pruner).map((d) => ids(d.have)), [[toHex(queued.id)]], "announced once");
  } finally {
    repair.gossip.stop();
  }
  // Ten links, more than fanout: the round announces at once, as before.
  const large = setup(10, { fanout: 3, lazyFanout: 1_000 });
  large.gossip.start();
  try {
    const message = app(Identity.generate(), "x");
    large.gossip.receive(large.peers[0], message);
    large.clock.advance(large.gossip.config.lazyIntervalMs);
    assert.equal(large.peers.filter((p) => digestsTo(p).length > 0).length, 7, "the seven lazy peers heard");
  } finally {
    large.gossip.stop();
  }
});

/** A manual clock that counts the timers it fires: each is a wake of the node on a real clock. */
class WakeCountingClock extends ManualClock {
  fired = 0;
  override setTimeout(fn: () => void, ms: number) {
    return super.setTimeout(() => {
      this.fired++;
      fn();
    }, ms);
  }
}

Deno.test("a small overlay's held queue of ids wakes no announcement round before it is due, however many ids join it", () => {
  const clock = new WakeCountingClock(T0);
  const { peers: [pruner, source], gossip } = setup(2, { fanout: 2 }, undefined, clock);
  gossip.start(); // the first repair round is an interval away, after the hold
  try {
    const origin = Identity.generate();
    const first = app(origin, "1");
    gossip.receive(source, first);
    gossip.receive(pruner, linkFrom(pruner, { have: [first.id], want: [], prune: true }));
    const queued = [];
    for (let i = 0; i < 5; i++) {
      const message = app(origin, `queued ${i}`);
      queued.push(toHex(message.id));
      gossip.receive(source, message); // its id joins the pruner's held queue
      clock.advance(100);
    }
    clock.advance(HOLD_MS - 5 * 100 - 1);
    assert.equal(clock.fired, 0, "no round woke while the queue was held");
    assert.equal(digestsTo(pruner).length, 0);
    clock.advance(1);
    assert.equal(clock.fired, 1, "one wake, when the queue was due");
    assert.deepEqual(digestsTo(pruner).map((d) => ids(d.have)), [queued]);
  } finally {
    gossip.stop();
  }
});

Deno.test("a queue held while the overlay was small goes at the next announcement round once a new link makes it large", () => {
  const { peers, gossip, clock } = setup(2, { fanout: 2 });
  const [pruner, source] = peers;
  gossip.start();
  try {
    const origin = Identity.generate();
    const first = app(origin, "1");
    gossip.receive(source, first);
    gossip.receive(pruner, linkFrom(pruner, { have: [first.id], want: [], prune: true }));
    const queued = app(origin, "2");
    gossip.receive(source, queued); // held: the overlay has 2 links, no more than fanout
    const third = new FakePeer();
    peers.push(third);
    gossip.peerConnected(third); // 3 links: each round now chooses whom to tell, and holds nothing
    clock.advance(gossip.config.lazyIntervalMs);
    assert.deepEqual(digestsTo(pruner).map((d) => ids(d.have)), [[toHex(queued.id)]]);
  } finally {
    gossip.stop();
  }
});

Deno.test("a peer's per-origin PRUNEs are bounded: past 256 origins the oldest comes in full again", () => {
  const { peers: [pruner, source], gossip } = setup(2, { fanout: 2 });
  const origins = Array.from({ length: 257 }, () => Identity.generate());
  for (const [i, origin] of origins.entries()) {
    const message = app(origin, `first ${i}`);
    gossip.receive(source, message);
    gossip.receive(pruner, linkFrom(pruner, { have: [message.id], want: [], prune: true }));
  }
  const oldest = app(origins[0], "again"), newest = app(origins[256], "again");
  gossip.receive(source, oldest);
  gossip.receive(source, newest);
  const copies = fullCopiesTo(pruner);
  assert.ok(copies.includes(toHex(oldest.id)), "the oldest origin was forgotten");
  assert.ok(!copies.includes(toHex(newest.id)), "the newest is still pruned");
});

Deno.test("with per-origin trees, a peer that lately brought messages first is never pruned as a whole link", () => {
  const { peers, gossip } = setup(8, { fanout: 1 });
  const [parent, ...others] = peers;
  const origin = Identity.generate(), elsewhere = Identity.generate();
  for (const peer of others) gossip.receive(peer, app(elsewhere, `push ${others.indexOf(peer)}`)); // 7 peers push
  const first = app(origin, "1");
  gossip.receive(parent, first); // the parent of this origin's tree here
  const message = app(elsewhere, "late");
  gossip.receive(others[0], message);
  gossip.receive(parent, message); // a later copy while more than twice fanout peers push
  const wholeLinkPrunes = digestsTo(parent).filter((d) => d.prune && d.have.length === 0);
  assert.deepEqual(wholeLinkPrunes, []);
  assert.equal(gossip.stats.prunes, 0);
});

Deno.test("with originPrune off, later copies get no PRUNE while few peers push", () => {
  const { peers: [first, second], gossip } = setup(3, { originPrune: false });
  const message = app(Identity.generate(), "m");
  gossip.receive(first, message);
  gossip.receive(second, message);
  assert.deepEqual(digestsTo(second), []);
  assert.equal(gossip.stats.originPrunes, 0);
});

Deno.test("of the peers that announced a missing message, one that already pushes here is asked first", () => {
  const { peers: [lazy, pusher], gossip, clock } = setup(2, { intervalMs: 60_000 });
  gossip.start();
  try {
    gossip.receive(pusher, app(Identity.generate(), "warm-up"));
    const missing = app(Identity.generate(), "missing");
    gossip.receive(lazy, linkFrom(lazy, { have: [missing.id], want: [] }));
    gossip.receive(pusher, linkFrom(pusher, { have: [missing.id], want: [] }));
    const wanted = (peer: FakePeer) => digestsTo(peer).flatMap((d) => ids(d.want));
    for (let step = 0; step < 8 && wanted(pusher).length + wanted(lazy).length === 0; step++) {
      clock.advance(gossip.config.lazyIntervalMs); // to the first ask
    }
    assert.deepEqual(wanted(pusher), [toHex(missing.id)]);
    assert.deepEqual(wanted(lazy), [], "asked only if the first does not answer");
    assert.equal(gossip.stats.grafts, 0, "asking a peer that pushes grafts no new link");
  } finally {
    gossip.stop();
  }
});

Deno.test("after an ask that a late copy from another peer made needless, the next ask waits longer", () => {
  const config = { intervalMs: 60_000, lazyIntervalMs: 10, wantTimeoutMs: 100 };
  const { peers: [announcer, pusher], gossip, clock } = setup(2, config);
  gossip.start();
  try {
    gossip.receive(pusher, app(Identity.generate(), "warm-up")); // a peer pushes here, so asks wait
    const wanted = () => digestsTo(announcer).flatMap((d) => ids(d.want));
    const stepsToAsk = (message: Message) => {
      gossip.receive(announcer, linkFrom(announcer, { have: [message.id], want: [] }));
      const before = wanted().length;
      let steps = 0;
      while (wanted().length === before && steps < 200) {
        clock.advance(config.lazyIntervalMs);
        steps++;
      }
      return steps;
    };
    const first = app(Identity.generate(), "1");
    const normal = stepsToAsk(first);
    gossip.receive(pusher, first); // the copy on its way was late, not lost: the ask was needless
    const second = app(Identity.generate(), "2");
    const stretched = stepsToAsk(second);
    assert.ok(stretched >= normal * 1.3, `asked after ${stretched} rounds, against ${normal}`);
    gossip.receive(announcer, second); // answered by the peer asked: no further stretch
    assert.ok(stepsToAsk(app(Identity.generate(), "3")) <= stretched);
  } finally {
    gossip.stop();
  }
});

Deno.test("lateness: messages later than their origin's quickest raise it, a constant clock offset does not, asked copies are not timed", () => {
  const { peers: [pusher, announcer], gossip, clock } = setup(2, { intervalMs: 60_000, wantTimeoutMs: 100 });
  gossip.start();
  try {
    const origin = Identity.generate();
    const send = (n: number, lateByMs: number) => {
      for (let i = 0; i < n; i++) {
        clock.advance(10);
        // The origin's clock runs 20 s ahead: every age is negative, and only changes in it count.
        gossip.receive(pusher, app(origin, `m${clock.now()}`, 8, clock.now() + 20_000 - lateByMs));
      }
    };
    send(40, 0);
    assert.equal(gossip.stats.latenessMs, 0, "on time, however far the origin's clock is off");
    send(40, 400);
    assert.ok(Math.abs(gossip.stats.latenessMs - 400) < 5, `late by 400 ms: ${gossip.stats.latenessMs}`);
    assert.ok(gossip.stats.latenessDeviationMs < 5, "steadily late: little deviation");
    send(40, 0);
    assert.ok(gossip.stats.latenessMs < 5, `on time again: ${gossip.stats.latenessMs}`);
    // A message asked for (and answered) arrives late by the ask's own wait: it does not count.
    const asked = app(origin, "asked", 8, clock.now() + 20_000);
    gossip.receive(announcer, linkFrom(announcer, { have: [asked.id], want: [] }));
    clock.advance(2_000);
    assert.ok(digestsTo(announcer).some((d) => ids(d.want).includes(toHex(asked.id))));
    const before = gossip.stats.latenessMs;
    gossip.receive(announcer, asked);
    assert.equal(gossip.stats.latenessMs, before);
  } finally {
    gossip.stop();
  }
});

Deno.test("lateness: a step of the clock by more than 10 s starts the origins afresh instead of reading as lateness", () => {
  const { peers: [pusher], gossip, clock } = setup(1, { intervalMs: 60_000 });
  gossip.start();
  try {
    const origin = Identity.generate();
    const send = (n: number) => {
      for (let i = 0; i < n; i++) {
        clock.advance(10);
        gossip.receive(pusher, app(origin, `m${clock.now()}`, 8, clock.now() - offset));
      }
    };
    let offset = 0;
    send(20);
    offset = 30_000; // this node's clock jumps 30 s ahead of the origin's
    send(20);
    assert.equal(gossip.stats.latenessMs, 0);
    offset = 30_500; // and from there, messages 500 ms late still count
    send(30);
    assert.ok(gossip.stats.latenessMs > 400, `${gossip.stats.latenessMs}`);
  } finally {
    gossip.stop();
  }
});

Deno.test("while messages come late, an ask waits lateness plus four deviations longer, and never more than 2 s longer", () => {
  const config = { intervalMs: 60_000, lazyIntervalMs: 10, wantTimeoutMs: 100 };
  const { peers: [pusher, announcer], gossip, clock } = setup(2, config);
  gossip.start();
  try {
    const origin = Identity.generate();
    const late = (n: number, lateByMs: number) => {
      for (let i = 0; i < n; i++) {
        clock.advance(10);
        gossip.receive(pusher, app(origin, `m${clock.now()}`, 8, clock.now() - lateByMs));
      }
    };
    const msToAsk = () => {
      const message = app(Identity.generate(), `wanted ${clock.now()}`, 8, clock.now());
      gossip.receive(announcer, linkFrom(announcer, { have: [message.id], want: [] }));
      const start = clock.now();
      while (
        !digestsTo(announcer).some((d) => ids(d.want).includes(toHex(message.id))) && clock.now() - start < 10_000
      ) {
        clock.advance(config.lazyIntervalMs);
      }
      gossip.receive(announcer, message); // answered by the peer asked: the ask delay's backoff stays at 1
      return clock.now() - start;
    };
    late(1, 0); // the origin's quickest
    const onTime = msToAsk();
    assert.ok(onTime >= 100 && onTime <= 160, `asked after ${onTime} ms`);
    late(40, 500);
    const allowance = gossip.stats.latenessMs + 4 * gossip.stats.latenessDeviationMs;
    assert.ok(allowance > 450, `allowance ${allowance}`);
    const whileLate = msToAsk();
    assert.ok(Math.abs(whileLate - (onTime + allowance)) <= 20, `asked after ${whileLate} ms, allowance ${allowance}`);
    // An origin that back-dates its messages by 9 s can stretch asks by 2 s, no more; by over 10 s, not at all
    // (such a jump starts its lowest age afresh).
    late(40, 60_000);
    assert.ok(gossip.stats.latenessMs < 500, `${gossip.stats.latenessMs}`);
    late(40, 69_000);
    const backDated = msToAsk();
    assert.ok(backDated <= onTime + 2_000 + 20 && backDated >= onTime + 1_900, `asked after ${backDated} ms`);
  } finally {
    gossip.stop();
  }
});

/** Feeds `gossip` `n` messages of `origin`, 10 ms apart, each `lateByMs` after its timestamp. */
function feed(
  gossip: GossipProtocol,
  clock: ManualClock,
  from: FakePeer,
  origin: Identity,
  n: number,
  lateByMs: number,
) {
  for (let i = 0; i < n; i++) {
    clock.advance(10);
    gossip.receive(from, app(origin, `m${clock.now()}-${Math.random()}`, 8, clock.now() - lateByMs));
  }
}

Deno.test("lateness goes by the median origin: origins that back-date their messages move it only as a majority", () => {
  const { peers: [pusher], gossip, clock } = setup(1, { intervalMs: 60_000, originRateLimit: 1_000 });
  gossip.start();
  try {
    const honest = [Identity.generate(), Identity.generate(), Identity.generate()];
    const liars = [Identity.generate(), Identity.generate(), Identity.generate()];
    for (const origin of [...honest, ...liars]) feed(gossip, clock, pusher, origin, 1, 0); // references
    for (let round = 0; round < 20; round++) {
      for (const origin of honest) feed(gossip, clock, pusher, origin, 1, 0);
      for (const origin of liars.slice(0, 2)) feed(gossip, clock, pusher, origin, 1, 9_000);
    }
    assert.equal(gossip.stats.latenessMs, 0, "two of five origins late: the median is on time");
    clock.advance(31_000); // the origins not heard from since drop out of the median
    for (let round = 0; round < 20; round++) {
      for (const origin of honest.slice(0, 1)) feed(gossip, clock, pusher, origin, 1, 0);
      for (const origin of liars) feed(gossip, clock, pusher, origin, 1, 9_000);
    }
    assert.ok(gossip.stats.latenessMs > 1_900, "three of four origins late: it rises, capped at 2 s");
  } finally {
    gossip.stop();
  }
});

Deno.test("lateness: an origin's quickest message of the last 10 minutes is the reference, not an older one", () => {
  const { peers: [pusher], gossip, clock } = setup(1, { intervalMs: 600_000, originRateLimit: 1_000 });
  gossip.start();
  try {
    const origin = Identity.generate();
    feed(gossip, clock, pusher, origin, 5, 0);
    clock.advance(5 * 60_000);
    feed(gossip, clock, pusher, origin, 20, 500);
    assert.ok(Math.abs(gossip.stats.latenessMs - 500) < 5, `5 minutes on, still late: ${gossip.stats.latenessMs}`);
    for (let minute = 0; minute < 6; minute++) {
      clock.advance(60_000);
      feed(gossip, clock, pusher, origin, 10, 500);
    }
    assert.ok(gossip.stats.latenessMs < 5, `over 10 minutes late is the normal: ${gossip.stats.latenessMs}`);
  } finally {
    gossip.stop();
  }
});

Deno.test("lateness that varies adds four deviations to the first ask's wait, beyond its mean", () => {
  const config = { intervalMs: 60_000, lazyIntervalMs: 10, wantTimeoutMs: 100, originRateLimit: 1_000 };
  const { peers: [pusher, announcer], gossip, clock } = setup(2, config);
  gossip.start();
  try {
    const origin = Identity.generate();
    feed(gossip, clock, pusher, origin, 1, 0);
    for (let i = 0; i < 40; i++) feed(gossip, clock, pusher, origin, 1, i % 2 === 0 ? 0 : 400);
    const { latenessMs, latenessDeviationMs } = gossip.stats;
    assert.ok(latenessDeviationMs > 150, `deviation ${latenessDeviationMs}`);
    assert.ok(latenessMs > 100 && latenessMs < 300, `mean ${latenessMs}`);
    const message = app(Identity.generate(), "wanted", 8, clock.now());
    const start = clock.now();
    gossip.receive(announcer, linkFrom(announcer, { have: [message.id], want: [] }));
    while (!digestsTo(announcer).some((d) => ids(d.want).includes(toHex(message.id))) && clock.now() - start < 10_000) {
      clock.advance(config.lazyIntervalMs);
    }
    const waited = clock.now() - start;
    // The ask delay is 100-150 ms; the mean alone would add under 300, four deviations add over 600 more.
    assert.ok(waited >= 100 + latenessMs + 4 * latenessDeviationMs - 10, `asked after ${waited} ms`);
    assert.ok(waited <= 150 + latenessMs + 4 * latenessDeviationMs + 20, `asked after ${waited} ms`);
  } finally {
    gossip.stop();
  }
});

Deno.test("only the first ask of a message waits for lateness: withholding announcers cannot add it up", () => {
  const config = { intervalMs: 60_000, lazyIntervalMs: 10, wantTimeoutMs: 100, originRateLimit: 1_000 };
  const { peers: [pusher, first, second], gossip, clock } = setup(3, config);
  gossip.start();
  try {
    const origin = Identity.generate();
    feed(gossip, clock, pusher, origin, 1, 0);
    feed(gossip, clock, pusher, origin, 40, 1_000);
    const allowance = Math.min(2_000, gossip.stats.latenessMs + 4 * gossip.stats.latenessDeviationMs);
    assert.ok(allowance > 900, `allowance ${allowance}`);
    const message = app(Identity.generate(), "withheld", 8, clock.now());
    const start = clock.now();
    gossip.receive(first, linkFrom(first, { have: [message.id], want: [] }));
    gossip.receive(second, linkFrom(second, { have: [message.id], want: [] }));
    const askedAt = (peer: FakePeer) => {
      while (!digestsTo(peer).some((d) => ids(d.want).includes(toHex(message.id))) && clock.now() - start < 10_000) {
        clock.advance(config.lazyIntervalMs);
      }
      return clock.now() - start;
    };
    const firstAsk = askedAt(first);
    assert.ok(firstAsk >= 100 + allowance - 10, `first ask after ${firstAsk} ms`);
    const secondAsk = askedAt(second);
    assert.ok(
      secondAsk - firstAsk <= 160,
      `second ask ${secondAsk - firstAsk} ms after the first: the ask delay alone`,
    );
  } finally {
    gossip.stop();
  }
});

Deno.test("the dedup cache is bounded by message_cache_size and backed by storage", () => {
  const { peers, gossip, delivered, storage } = setup(1, { messageCacheSize: 16 });
  const first = app(Identity.generate(), "first");
  gossip.receive(peers[0], first);
  for (let i = 0; i < 100; i++) gossip.receive(peers[0], app(Identity.generate(), `filler ${i}`));
  assert.equal(gossip.cacheSizes.seen, 16);
  assert.ok(gossip.cacheSizes.stored <= 16);
  assert.ok(storage.hasSeen(first.id));
  const before = delivered.length;
  gossip.receive(peers[0], first); // evicted from memory, still a duplicate
  assert.equal(delivered.length, before);
});

Deno.test("repair rounds run on the gossip interval of the injected clock", () => {
  const { peers, gossip, clock } = setup(3, { intervalMs: 500, repairFanout: 3 });
  gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array([1]) });
  const late = new FakePeer();
  peers.push(late);
  gossip.start();
  try {
    clock.advance(499);
    assert.equal(late.sentOfType(MessageType.GOSSIP_MESSAGE).length, 0);
    clock.advance(1);
    assert.equal(late.sentOfType(MessageType.GOSSIP_MESSAGE).length, 1);
  } finally {
    gossip.stop();
  }
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("a PRUNE moves this node's full copies to the most trusted lazy peer; asking makes a peer eager again", () => {
  const { peers, gossip, trust, clock } = setup(4, { fanout: 2 });
  for (const peer of peers) gossip.peerConnected(peer);
  const eager = () => peers.filter((p) => gossip.peerStats(p.nodeId)!.eager);
  assert.deepEqual(eager(), [peers[0], peers[1]]);
  for (let i = 0; i < 20; i++) trust.recordValid(peers[3].nodeId);
  const link = (peer: FakePeer, payload: { have: Uint8Array[]; want: Uint8Array[]; prune?: boolean }) =>
    gossip.receive(peer, createMessage(peer.identity, MessageType.GOSSIP_MESSAGE, payload, { ttl: 0, timestamp: T0 }));
  link(peers[0], { have: [], want: [], prune: true });
  assert.deepEqual(eager(), [peers[1], peers[3]]);
  gossip.start();
  try {
    const message = gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array([1]) });
    assert.equal(peers[0].sentOfType(MessageType.CUSTOM_DATA).length, 0, "the pruning peer gets no full copy");
    clock.advance(gossip.config.lazyIntervalMs);
    assert.ok(digestsTo(peers[0]).some((d) => ids(d.have).includes(toHex(message.id))), "only the id");
    link(peers[0], { have: [], want: [message.id] }); // asking grafts it back
    assert.equal(peers[0].sentOfType(MessageType.CUSTOM_DATA).length, 1);
    assert.equal(gossip.peerStats(peers[0].nodeId)!.eager, true);
  } finally {
    gossip.stop();
  }
});

Deno.test("a node pushed to by more than twice fanout peers prunes the next one that sends a duplicate", () => {
  const { peers, gossip } = setup(6, { fanout: 2 });
  const origin = Identity.generate();
  const first = app(origin, "first");
  for (let i = 0; i < 4; i++) gossip.receive(peers[i], i === 0 ? first : app(origin, `other ${i}`));
  assert.equal(peers.filter((p) => gossip.peerStats(p.nodeId)?.pushing).length, 4);
  gossip.receive(peers[1], first); // a duplicate from one of four pushers: within the bound
  assert.equal(gossip.stats.prunes, 0);
  gossip.receive(peers[4], first); // a fifth pusher, over twice the fanout
  assert.equal(gossip.stats.prunes, 1);
  assert.deepEqual(digestsTo(peers[4]).map((d) => d.prune), [true]);
  assert.equal(gossip.peerStats(peers[4].nodeId)!.pushing, false);
});

Deno.test("with fewer than fanout peers pushing to it, a node asks an announcer at once, which grafts it", () => {
  const { peers, gossip } = setup(3, { fanout: 3 });
  const message = app(Identity.generate(), "m");
  gossip.receive(
    peers[0],
    createMessage(peers[0].identity, MessageType.GOSSIP_MESSAGE, { have: [message.id], want: [] }, {
      ttl: 0,
      timestamp: T0,
    }),
  );
  assert.deepEqual(digestsTo(peers[0]).flatMap((d) => ids(d.want)), [toHex(message.id)]);
  assert.equal(gossip.stats.grafts, 1);
  assert.equal(gossip.peerStats(peers[0].nodeId)!.pushing, true);
});

Deno.test("a peer that sends an invalid message loses its eager link to the most trusted lazy peer", () => {
  const { peers, gossip, trust } = setup(5, { fanout: 2 });
  for (const peer of peers) gossip.peerConnected(peer);
  const eager = () => peers.filter((p) => gossip.peerStats(p.nodeId)!.eager);
  assert.deepEqual(eager(), [peers[0], peers[1]]);
  for (let i = 0; i < 20; i++) trust.recordValid(peers[3].nodeId); // the most trusted lazy peer
  const forged = { ...app(peers[0].identity, "forged"), signature: new Uint8Array(64) };
  gossip.receive(peers[0], forged);
  assert.equal(gossip.stats.invalid, 1);
  assert.deepEqual(eager(), [peers[1], peers[3]]);
});

Deno.test("a lost eager link is replaced by a lazy one, so the node keeps fanout eager links", () => {
  const { peers, gossip } = setup(5, { fanout: 2 });
  for (const peer of peers) gossip.peerConnected(peer);
  assert.equal(peers.filter((p) => gossip.peerStats(p.nodeId)!.eager).length, 2);
  const lost = peers.find((p) => gossip.peerStats(p.nodeId)!.eager)!;
  peers.splice(peers.indexOf(lost), 1);
  gossip.peerDisconnected(lost.nodeId);
  assert.equal(peers.filter((p) => gossip.peerStats(p.nodeId)!.eager).length, 2);
});

Deno.test("lazy push: ids go to every peer not sent the message, once per interval, skipping peers known to have it", () => {
  const { peers, gossip, clock } = setup(5, { fanout: 2 });
  const [from, pushed, announcer, ...rest] = peers;
  gossip.start();
  try {
    const message = app(Identity.generate(), "m");
    gossip.receive(from, message);
    const pushedTo = peers.filter((p) => p.sentOfType(MessageType.CUSTOM_DATA).length > 0);
    assert.deepEqual(pushedTo, [pushed]);
    // The announcer tells us it has the message before our batch goes out.
    gossip.receive(
      announcer,
      createMessage(announcer.identity, MessageType.GOSSIP_MESSAGE, { have: [message.id], want: [] }, {
        ttl: 0,
        timestamp: T0,
      }),
    );
    assert.equal(
      digestsTo(rest[0]).length + digestsTo(rest[1]).length,
      0,
      "batched, not sent at once",
    );
    clock.advance(gossip.config.lazyIntervalMs);
    for (const peer of peers) {
      const heard = digestsTo(peer).some((d) => ids(d.have).includes(toHex(message.id)));
      const expected = peer !== from && peer !== announcer && !pushedTo.includes(peer);
      assert.equal(heard, expected, `peer ${peers.indexOf(peer)}`);
    }
    assert.equal(gossip.stats.announced, peers.length - 3);
  } finally {
    gossip.stop();
  }
});

Deno.test("a message announced but not received is asked of the first announcer after wantTimeoutMs, then of the next", () => {
  const { peers, gossip, clock, delivered } = setup(6, { wantTimeoutMs: 250, lazyIntervalMs: 100 });
  const [liar, honest, bystander, ...pushers] = peers;
  // Three peers push to this node, so an announcement is not asked for at once.
  for (const pusher of pushers) gossip.receive(pusher, app(Identity.generate(), `from ${pushers.indexOf(pusher)}`));
  gossip.start();
  try {
    const message = app(Identity.generate(), "withheld");
    const announce = (peer: FakePeer) =>
      gossip.receive(
        peer,
        createMessage(peer.identity, MessageType.GOSSIP_MESSAGE, { have: [message.id], want: [] }, {
          ttl: 0,
          timestamp: T0,
        }),
      );
    const wantsOf = (peer: FakePeer) => digestsTo(peer).filter((d) => d.want.length > 0).length;
    announce(liar);
    announce(honest);
    assert.equal(wantsOf(liar), 0, "not at once: the full copy is probably on its way");
    // The wait is wantTimeoutMs plus up to half again (fixed per node), checked each lazy round.
    clock.advance(249);
    assert.equal(wantsOf(liar), 0);
    clock.advance(475 - 249);
    assert.equal(wantsOf(liar), 1, "the first announcer is asked after the timeout");
    assert.equal(wantsOf(honest), 0, "the second waits its turn");
    clock.advance(475);
    assert.equal(wantsOf(honest), 1, "the next announcer is asked when the first did not deliver");
    gossip.receive(honest, message);
    assert.equal(delivered.length, 1 + pushers.length);
    clock.advance(2_000);
    assert.equal(wantsOf(liar) + wantsOf(honest) + wantsOf(bystander), 2, "nothing more is asked once it came");
    assert.equal(gossip.stats.grafts, 2, "each ask grafted a peer that was not pushing to this node");
  } finally {
    gossip.stop();
  }
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("PRUNE and penalties never grow the eager set past fanout: asking then pruning cannot ratchet it", () => {
  const { peers, gossip } = setup(10, { fanout: 3 });
  for (const peer of peers) gossip.peerConnected(peer);
  const attacker = peers[9];
  const held = gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array([1]) });
  for (let i = 0; i < 10; i++) {
    for (const payload of [{ have: [], want: [held.id] }, { have: [], want: [], prune: true }]) {
      gossip.receive(
        attacker,
        createMessage(attacker.identity, MessageType.GOSSIP_MESSAGE, payload, { ttl: 0, timestamp: T0 }),
      );
    }
  }
  assert.ok(peers.filter((p) => gossip.peerStats(p.nodeId)!.eager).length <= 3);
});

Deno.test("ids a peer announces but never serves are capped per peer and cannot crowd out other announcements", () => {
  const { peers, gossip, clock } = setup(5, { messageCacheSize: 1_000 });
  const [liar, honest, ...pushers] = peers;
  for (const pusher of pushers) gossip.receive(pusher, app(Identity.generate(), `from ${pushers.indexOf(pusher)}`));
  const announce = (peer: FakePeer, have: Uint8Array[]) =>
    gossip.receive(
      peer,
      createMessage(peer.identity, MessageType.GOSSIP_MESSAGE, { have, want: [] }, { ttl: 0, timestamp: T0 }),
    );
  const real = app(Identity.generate(), "real");
  gossip.start();
  try {
    announce(honest, [real.id]);
    for (let i = 0; i < 8; i++) {
      announce(liar, Array.from({ length: 256 }, () => crypto.getRandomValues(new Uint8Array(32))));
    }
    clock.advance(1_000);
    const asked = digestsTo(honest).flatMap((d) => ids(d.want));
    assert.ok(asked.includes(toHex(real.id)), "the honest announcement was still asked for");
    const askedOfLiar = digestsTo(liar).flatMap((d) => d.want).length;
    assert.ok(askedOfLiar <= 512, `asked the liar for ${askedOfLiar} ids`);
  } finally {
    gossip.stop();
  }
});

Deno.test("more than 256 due asks to one peer are split over rounds, none dropped", () => {
  const { peers, gossip, clock } = setup(4);
  const [announcer, ...pushers] = peers;
  for (const pusher of pushers) gossip.receive(pusher, app(Identity.generate(), `from ${pushers.indexOf(pusher)}`));
  const wanted = Array.from({ length: 356 }, () => crypto.getRandomValues(new Uint8Array(32)));
  gossip.start();
  try {
    for (const have of [wanted.slice(0, 256), wanted.slice(256)]) {
      gossip.receive(
        announcer,
        createMessage(announcer.identity, MessageType.GOSSIP_MESSAGE, { have, want: [] }, { ttl: 0, timestamp: T0 }),
      );
    }
    clock.advance(1_500);
    const asked = new Set(digestsTo(announcer).flatMap((d) => ids(d.want)));
    assert.equal(asked.size, 356);
  } finally {
    gossip.stop();
  }
});

Deno.test("a peer that connects late hears of everything kept, 256 ids per repair round", () => {
  const { peers, gossip, clock } = setup(1, { intervalMs: 1_000 });
  peers.length = 0; // publish to nobody: everything is kept for repair
  const published = Array.from(
    { length: 600 },
    (_, i) => toHex(gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array([i & 255, i >> 8]) }).id),
  );
  const late = new FakePeer();
  peers.push(late);
  gossip.peerConnected(late);
  gossip.start();
  try {
    clock.advance(3_000);
    const heard = new Set(digestsTo(late).flatMap((d) => ids(d.have)));
    assert.equal(heard.size, 600);
    assert.deepEqual([...heard].sort(), [...published].sort());
  } finally {
    gossip.stop();
  }
});

/** A verifier whose answers wait until the test releases them: a helper thread, made deterministic. */
class DeferredVerifier implements SignatureVerifier {
  readonly waiting: (() => void)[] = [];
  check(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, done: (valid: boolean) => void): void {
    this.waiting.push(() => done(verifySignature(signature, message, publicKey)));
  }
  /** Answers the oldest pending check. */
  answerNext(): void {
    this.waiting.shift()!();
  }
  close(): void {}
}

Deno.test("with signatures checked later, a message is delivered and forwarded only once its check passes", () => {
  const verifier = new DeferredVerifier();
  const { peers, gossip, delivered } = setup(4, { fanout: 10 }, verifier);
  gossip.receive(peers[0], app(peers[3].identity, "later"));
  assert.equal(delivered.length, 0, "nothing delivered before the answer");
  assert.equal(peers[1].sentOfType(MessageType.CUSTOM_DATA).length, 0, "nothing forwarded before the answer");
  verifier.answerNext();
  assert.equal(delivered.length, 1);
  assert.equal(peers[1].sentOfType(MessageType.CUSTOM_DATA).length, 1);
});

Deno.test("copies that come while a signature is checked are duplicates, and are not sent back to their senders", () => {
  const verifier = new DeferredVerifier();
  const { peers, gossip, delivered } = setup(5, { fanout: 10 }, verifier);
  const message = app(peers[4].identity, "once");
  gossip.receive(peers[0], message);
  gossip.receive(peers[1], message);
  gossip.receive(peers[1], message);
  assert.equal(verifier.waiting.length, 1, "one check however many copies");
  assert.equal(gossip.peerStats(peers[1].nodeId)!.duplicates, 2);
  verifier.answerNext();
  assert.equal(delivered.length, 1);
  assert.equal(peers[1].sentOfType(MessageType.CUSTOM_DATA).length, 0, "peers[1] had it: not sent back");
  assert.equal(peers[2].sentOfType(MessageType.CUSTOM_DATA).length, 1);
});

Deno.test("a forged copy that comes first cannot make a node drop the genuine one that came during its check", () => {
  const verifier = new DeferredVerifier();
  const { peers, gossip, delivered, trust } = setup(3, {}, verifier);
  const good = app(Identity.generate(), "genuine");
  const forged = { ...good, signature: new Uint8Array(64).fill(7) }; // same id: the id does not cover the signature
  gossip.receive(peers[0], forged);
  gossip.receive(peers[1], good);
  assert.equal(gossip.stats.duplicates, 1, "the genuine copy waits as a duplicate");
  verifier.answerNext(); // the forgery fails; the genuine copy is checked next
  assert.ok(Math.abs(trust.trust(peers[0].nodeId) - 0.3) < 1e-9, "BAD_SIGNATURE costs the forger 0.2");
  assert.equal(delivered.length, 0);
  verifier.answerNext();
  assert.equal(delivered.length, 1, "the genuine copy gets through");
  assert.equal(toHex(delivered[0].signature), toHex(good.signature));
  assert.ok(trust.trust(peers[1].nodeId) > 0.5, "and earns its sender trust");
});

const announcement = (from: FakePeer, id: Uint8Array) =>
  createLinkMessage(from.identity, MessageType.GOSSIP_MESSAGE, { have: [id], want: [] }, { timestamp: T0 });
const wantsTo = (peer: FakePeer) => digestsTo(peer).filter((d) => d.want.length > 0).length;

Deno.test("nothing is asked for a message whose copy is under check, whether announced before or during it", () => {
  const verifier = new DeferredVerifier();
  const { peers, gossip, clock } = setup(4, {}, verifier);
  const [sender, before, during, pusher] = peers;
  gossip.receive(pusher, app(Identity.generate(), "a pusher, so announcements wait before asking"));
  verifier.answerNext();
  gossip.start();
  try {
    const message = app(Identity.generate(), "checking");
    gossip.receive(before, announcement(before, message.id));
    gossip.receive(sender, message);
    gossip.receive(during, announcement(during, message.id));
    clock.advance(gossip.config.wantTimeoutMs * 4 + gossip.config.lazyIntervalMs * 2);
    assert.equal(wantsTo(before) + wantsTo(during), 0, "the copy under check is not asked for");
    verifier.answerNext();
    clock.advance(gossip.config.wantTimeoutMs * 4);
    assert.equal(wantsTo(before) + wantsTo(during), 0, "nor once it passed");
  } finally {
    gossip.stop();
  }
});

Deno.test("when every held copy fails its check, the message is asked of a peer whose copy was not held", () => {
  const verifier = new DeferredVerifier();
  const { peers, gossip, clock, delivered } = setup(6, {}, verifier);
  const [f1, f2, f3, f4, honest, pusher] = peers;
  gossip.receive(pusher, app(Identity.generate(), "a pusher"));
  verifier.answerNext();
  gossip.start();
  try {
    const good = app(Identity.generate(), "genuine");
    const forged = (n: number) => ({ ...good, signature: new Uint8Array(64).fill(n) });
    gossip.receive(f1, forged(1));
    for (const [n, forger] of [f2, f3, f4].entries()) gossip.receive(forger, forged(n + 2)); // fill the three slots
    gossip.receive(honest, good); // a fifth copy: not held, but its sender is remembered
    for (let i = 0; i < 4; i++) verifier.answerNext();
    assert.equal(delivered.length, 1, "only the pusher's message");
    clock.advance(gossip.config.wantTimeoutMs * 1.5 + gossip.config.lazyIntervalMs);
    assert.equal(wantsTo(honest), 1, "asked of the peer that sent it");
    assert.equal(wantsTo(f1) + wantsTo(f2) + wantsTo(f3) + wantsTo(f4), 0, "never of a forger");
  } finally {
    gossip.stop();
  }
});

Deno.test("an announcement that came while a forged copy was checked is asked for once the check fails", () => {
  const verifier = new DeferredVerifier();
  const { peers, gossip, clock } = setup(3, {}, verifier);
  const [forger, announcer, pusher] = peers;
  gossip.receive(pusher, app(Identity.generate(), "a pusher"));
  verifier.answerNext();
  gossip.start();
  try {
    const good = app(Identity.generate(), "genuine");
    gossip.receive(forger, { ...good, signature: new Uint8Array(64).fill(7) });
    gossip.receive(announcer, announcement(announcer, good.id));
    verifier.answerNext();
    clock.advance(gossip.config.wantTimeoutMs * 1.5 + gossip.config.lazyIntervalMs);
    assert.equal(wantsTo(announcer), 1);
    assert.equal(wantsTo(forger), 0);
  } finally {
    gossip.stop();
  }
});

Deno.test("a peer that disconnects while its copy is checked: the message is delivered, the peer's state is not made again", () => {
  const verifier = new DeferredVerifier();
  const { peers, gossip, delivered } = setup(4, { fanout: 10 }, verifier);
  const [sender, other] = peers;
  const message = app(Identity.generate(), "from a leaver");
  gossip.receive(sender, message);
  gossip.receive(other, message);
  gossip.peerDisconnected(sender.nodeId);
  gossip.peerDisconnected(other.nodeId);
  peers.splice(0, 2); // no longer among the active peers
  verifier.answerNext();
  assert.equal(delivered.length, 1);
  assert.equal(gossip.peerStats(sender.nodeId), undefined, "no state made for the gone sender");
  assert.equal(gossip.peerStats(other.nodeId), undefined, "nor for a gone peer that sent a copy meanwhile");
  assert.equal(peers[0].sentOfType(MessageType.CUSTOM_DATA).length, 1, "spread to the peers still there");
});

Deno.test("an answer that comes after the gossip layer stopped is dropped", () => {
  const verifier = new DeferredVerifier();
  const { peers, gossip, delivered } = setup(2, {}, verifier);
  gossip.receive(peers[0], app(Identity.generate(), "late"));
  gossip.stop();
  verifier.answerNext();
  assert.equal(delivered.length, 0);
});

Deno.test("each announcement round tells max(lazyFanout, lazyPercent of) the lazy peers, chosen afresh each round", () => {
  const { peers, gossip, clock } = setup(23, { fanout: 3, lazyFanout: 3, lazyPercent: 25 });
  gossip.start();
  try {
    const heardOf = (id: Uint8Array) =>
      peers.filter((p) => digestsTo(p).some((d) => ids(d.have).includes(toHex(id)))).map((p) => p.nodeId);
    const first = app(Identity.generate(), "first");
    gossip.receive(peers[0], first); // 2 more eager peers get it in full; 20 lazy peers wait for its id
    clock.advance(gossip.config.lazyIntervalMs);
    assert.equal(heardOf(first.id).length, 5, "25% of 20 lazy peers, above lazyFanout 3");
    const second = app(Identity.generate(), "second");
    gossip.receive(peers[0], second);
    clock.advance(gossip.config.lazyIntervalMs);
    assert.equal(heardOf(second.id).length, 5);
    assert.equal(heardOf(first.id).length, 5, "the others are not told in later announcement rounds");
    assert.notDeepEqual(heardOf(second.id).sort(), heardOf(first.id).sort(), "another draw");
    clock.advance(gossip.config.intervalMs);
    assert.equal(heardOf(first.id).length, 20, "the repair round's digest tells the rest within the interval");
  } finally {
    gossip.stop();
  }
  const few = setup(8, { fanout: 3, lazyFanout: 3, lazyPercent: 25 });
  few.gossip.start();
  try {
    few.gossip.receive(few.peers[0], app(Identity.generate(), "x"));
    few.clock.advance(few.gossip.config.lazyIntervalMs);
    assert.equal(few.gossip.stats.digestsSent, 3, "5 lazy peers: lazyFanout (3) is more than 25%");
  } finally {
    few.gossip.stop();
  }
});
