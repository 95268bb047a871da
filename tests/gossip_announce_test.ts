/**
 * Announcements (IHAVE) against a flooding announcer: the per-peer caps come before any lookup, the seen-id
 * filter keeps ids never stored from costing a storage read, and promises (asks for announced ids) that are
 * broken cost the announcer trust, never a peer whose link closed.
 */
import assert from "node:assert/strict";
import { bytesKey } from "../lib/bytes.ts";
import { ManualClock } from "../lib/clock.ts";
import { type GossipConfig, GossipProtocol } from "../lib/gossip/mod.ts";
import { SeenFilter } from "../lib/gossip/seen_filter.ts";
import { AskPromises, BROKEN_PROMISE_THRESHOLD } from "../lib/gossip/promises.ts";
import { Identity } from "../lib/identity.ts";
import { createLinkMessage, createMessage, MessageType } from "../lib/protocol/mod.ts";
import { randomBytes, seededRandom } from "../lib/random.ts";
import { MemoryStorage } from "../lib/storage/mod.ts";
import { TrustManager } from "../lib/trust.ts";
import { RecordingPeer } from "./_gossip_peer.ts";

const T0 = 1_700_000_000_000;

/** Memory storage that counts the seen-id lookups that reach it. */
class CountingStorage extends MemoryStorage {
  lookups = 0;
  override hasSeen(messageId: Uint8Array): boolean {
    this.lookups++;
    return super.hasSeen(messageId);
  }
}

/** A recording peer that counts the ids this node asked it for. */
class FakePeer extends RecordingPeer {
  /** Ids this node asked the peer for. */
  asked(): number {
    return this.linkMessages().reduce((n, m) => n + m.want.length, 0);
  }
}

function setup(count: number, config: Partial<GossipConfig> = {}, storage?: CountingStorage) {
  const clock = new ManualClock(T0);
  storage ??= new CountingStorage({ clock, pruneIntervalMs: 0 });
  const trust = new TrustManager({ storage, clock });
  const peers = Array.from({ length: count }, () => new FakePeer());
  const active = [...peers];
  const gossip = new GossipProtocol({
    identity: Identity.generate(),
    peers: { activePeers: () => active },
    trust,
    storage,
    clock,
    random: seededRandom(7),
    config: { intervalMs: 1_000, ...config },
  });
  for (const peer of peers) gossip.peerConnected(peer);
  return { clock, storage, trust, peers, active, gossip };
}

const random = seededRandom(11);
const announcement = (peer: FakePeer, ids: number, timestamp = T0) =>
  createLinkMessage(peer.identity, MessageType.GOSSIP_MESSAGE, {
    have: Array.from({ length: ids }, () => randomBytes(random, 32)),
    want: [],
  }, { timestamp });
const app = (from: Identity, text: string, timestamp = T0) =>
  createMessage(from, MessageType.CUSTOM_DATA, { topic: "t", data: new TextEncoder().encode(text) }, {
    ttl: 8,
    timestamp,
  });

Deno.test("a flood of announcements of random ids costs no storage lookup, and only the capped ids are looked at", () => {
  const { storage, peers: [flooder], gossip } = setup(1, {
    maxAnnouncementsPerInterval: 10,
    maxAnnouncedIdsPerInterval: 1_000,
  });
  const before = storage.lookups;
  for (let i = 0; i < 200; i++) gossip.receive(flooder, announcement(flooder, 256, T0 + i));
  assert.equal(storage.lookups - before, 0, "neither the announcements nor their ids were looked up in storage");
  assert.equal(gossip.stats.announcedIdsExamined, 1_000, "ids beyond the per-interval cap are not looked at");
  assert.equal(gossip.stats.announcementsDropped, 200 - 3, "3 announcements and a part fit the 1,000 ids");
});

Deno.test("announcement caps start again each interval", () => {
  const { peers: [peer], gossip, clock } = setup(1, { maxAnnouncementsPerInterval: 2 });
  gossip.start();
  try {
    for (let i = 0; i < 5; i++) gossip.receive(peer, announcement(peer, 1, T0 + i));
    assert.equal(gossip.stats.announcedIdsExamined, 2);
    clock.advance(1_000);
    for (let i = 0; i < 5; i++) gossip.receive(peer, announcement(peer, 1, T0 + 10 + i));
    assert.equal(gossip.stats.announcedIdsExamined, 4);
  } finally {
    gossip.stop();
  }
});

Deno.test("an id stored before a restart is found through the filter: announced again, it is not asked for", () => {
  const clock = new ManualClock(T0);
  const storage = new CountingStorage({ clock, pruneIntervalMs: 0 });
  const old = app(Identity.generate(), "seen before the restart");
  storage.recordSeen({ messageId: old.id, timestamp: T0 - 1_000, senderId: "x" });
  const { peers: [peer], gossip } = setup(1, {}, storage);
  gossip.start();
  try {
    const before = storage.lookups;
    gossip.receive(
      peer,
      createLinkMessage(peer.identity, MessageType.GOSSIP_MESSAGE, { have: [old.id], want: [] }, {
        timestamp: T0,
      }),
    );
    assert.equal(storage.lookups - before, 1, "the filter had it, so storage was asked, once");
    clock.advance(5_000);
    assert.equal(peer.asked(), 0, "a message this node has is not asked for");
  } finally {
    gossip.stop();
  }
});

Deno.test("a peer that announces ids and never serves them breaks its promises and loses trust", () => {
  const { peers: [liar, pusher], gossip, clock, trust } = setup(2, { promiseTimeoutMs: 1_000 });
  gossip.start();
  try {
    gossip.receive(pusher, app(Identity.generate(), "warm-up")); // a peer pushes here: asks wait a little
    for (let s = 0; s < 20; s++) {
      gossip.receive(liar, announcement(liar, 8, T0 + s));
      clock.advance(1_000);
    }
    assert.ok(liar.asked() > 0, "the announced ids were asked for");
    assert.ok(gossip.stats.promisesBroken > BROKEN_PROMISE_THRESHOLD, JSON.stringify(gossip.stats));
    assert.ok(trust.trust(liar.nodeId) < 0.4, `trust ${trust.trust(liar.nodeId)}`);
    assert.equal(trust.trust(pusher.nodeId) >= 0.5, true, "the honest peer is not blamed");
  } finally {
    gossip.stop();
  }
});

Deno.test("a peer that serves what it announced keeps its promises and its trust", () => {
  const { peers: [server, pusher], gossip, clock, trust } = setup(2, { promiseTimeoutMs: 1_000 });
  gossip.start();
  try {
    gossip.receive(pusher, app(Identity.generate(), "warm-up"));
    const origin = Identity.generate();
    for (let s = 0; s < 20; s++) {
      const message = app(origin, `served ${s}`, clock.now());
      gossip.receive(
        server,
        createLinkMessage(server.identity, MessageType.GOSSIP_MESSAGE, {
          have: [message.id],
          want: [],
        }, { timestamp: clock.now() }),
      );
      let answered = false;
      for (let step = 0; step < 10; step++) {
        clock.advance(100);
        if (!answered && server.asked() > s) {
          gossip.receive(server, message); // the answer
          answered = true;
        }
      }
    }
    assert.ok(server.asked() >= 20, `asked ${server.asked()}`);
    assert.equal(gossip.stats.promisesBroken, 0);
    assert.ok(trust.trust(server.nodeId) >= 0.5, `trust ${trust.trust(server.nodeId)}`);
  } finally {
    gossip.stop();
  }
});

Deno.test("promises of a link that closes are dropped, not held against the peer", () => {
  const promises = new AskPromises();
  for (let i = 0; i < 10; i++) promises.asked("peer", `key ${i}`, T0 + 1_000);
  promises.forget("peer");
  const { broken, overThreshold } = promises.round(T0 + 5_000);
  assert.equal(broken, 0);
  assert.deepEqual(overThreshold, []);
  assert.equal(promises.size, 0);
});

Deno.test("a promise is kept by a copy from anyone; the rest break after their deadline and are scored", () => {
  const promises = new AskPromises();
  for (let i = 0; i < 6; i++) promises.asked("peer", `key ${i}`, T0 + 1_000);
  promises.kept("key 0");
  assert.equal(promises.round(T0 + 999).broken, 0, "not before the deadline");
  const { broken, overThreshold } = promises.round(T0 + 1_000);
  assert.equal(broken, 5);
  assert.deepEqual(overThreshold, ["peer"]);
  assert.ok(promises.round(T0 + 200_000).overThreshold.length === 0, "the score decays");
});

Deno.test("the seen-id filter holds at least its capacity of the newest ids, and rarely claims one it was not given", () => {
  const filter = new SeenFilter(600_000, seededRandom(3), T0, 20_000);
  const r = seededRandom(4);
  const added = Array.from({ length: 60_000 }, () => bytesKey(randomBytes(r, 32)));
  for (const key of added) filter.add(key, T0);
  assert.ok(added.slice(-20_000).every((key) => filter.mayHave(key)), "no false negatives among the newest");
  let claimed = 0;
  for (let i = 0; i < 20_000; i++) if (filter.mayHave(bytesKey(randomBytes(r, 32)))) claimed++;
  assert.ok(claimed < 20_000 * 0.03, `false positives ${claimed} of 20,000`);
});
