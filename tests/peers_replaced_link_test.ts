/**
 * A peer link replaced by a newer one to the same node (the transport's duplicate rule: a reconnect while the
 * old link is still open, or both ends dialing at once), on the simulator: what was in flight on the old link
 * is lost, so each end sends its per-link state again over the new one (its whole topic set, gossip digests)
 * and takes the new link in place of the old wherever it kept it (the topic overlays' views).
 */
import assert from "node:assert/strict";
import { createLinkMessage, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import type { Connection } from "../lib/transport/types.ts";
import type { SimNode } from "../lib/sim/node.ts";
import { SimLab } from "./_sim_lab.ts";
import { FIXED, inbox, isLinked, penalties, TopicLab } from "./_topic_lab.ts";

const T = "weather";

/** Replaces the a-b link (a dials the new one), while what a and b send each other is held: it is lost. */
async function replaceWhileHeld(lab: TopicLab, a: SimNode, b: SimNode, during: () => void): Promise<void> {
  const pair = (x: string, y: string) => (x === a.address && y === b.address) || (x === b.address && y === a.address);
  lab.network.blocked = pair;
  during();
  await lab.run(200); // the subscription changes are flushed (50 ms), onto the held old link
  assert.ok(a.transport.replaceLink(b.identity.nodeId), "a link to replace");
  lab.network.heal(); // what the old link held goes nowhere: it is closed at both ends
  await lab.run(100);
  assert.ok(isLinked(a, b) && isLinked(b, a), "a and b are still peers, over the new link");
}

Deno.test("a replaced peer link carries each end's whole topic set again: a subscription lost with the old link is known, and the peer's relayed messages are not refused as WRONG_TOPIC", async () => {
  const lab = new TopicLab(41);
  const [a, b, c] = [await lab.add(), await lab.add(), await lab.add()];
  await lab.link(a, b);
  await lab.link(b, c);
  c.node.subscribe(T);
  await lab.runUntil(() => b.node.topicPeers(T).includes(c.identity.nodeId), "c's subscription at b");
  // b joins T; its change to a is in flight on the a-b link when that link is replaced.
  await replaceWhileHeld(lab, a, b, () => b.node.subscribe(T));
  // a joins T afterwards (over the new link, so b counts a in T and relays T's messages to it).
  const boxA = inbox(a);
  a.node.subscribe(T);
  await lab.runUntil(() => b.node.topicPeers(T).includes(a.identity.nodeId), "a's subscription at b");
  await lab.run(500);
  assert.deepEqual(a.node.topicPeers(T), [b.identity.nodeId], "a knows b is in T");
  assert.deepEqual(b.node.topicPeers(T).sort(), [a.identity.nodeId, c.identity.nodeId].sort());
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(c.node.broadcast(`reading ${i}`, { topic: T }));
  await lab.run(2_000);
  assert.deepEqual(boxA.map((m) => m.id).sort(), ids.sort(), "a got c's messages through b");
  assert.equal(a.node.stats().topics.wrongTopic, 0, "a refused none of b's relays");
  assert.equal(penalties(a, b.identity.nodeId, "WRONG_TOPIC"), 0, "b was not penalised");
  await lab.stop();
});

Deno.test("after a peer link is replaced, each end's topic overlays send over the new link: both members keep delivering each other's messages", async () => {
  const lab = new TopicLab(42);
  const [a, b] = [await lab.add(), await lab.add()];
  await lab.link(a, b);
  a.node.subscribe(T);
  b.node.subscribe(T);
  await lab.runUntil(
    () => a.node.topicPeers(T).length === 1 && b.node.topicPeers(T).length === 1,
    "the subscriptions at both ends",
  );
  await lab.run(500);
  await replaceWhileHeld(lab, b, a, () => {});
  const [boxA, boxB] = [inbox(a), inbox(b)];
  const fromA = a.node.broadcast("from a", { topic: T });
  const fromB = b.node.broadcast("from b", { topic: T });
  await lab.run(2_000);
  assert.deepEqual(boxB.map((m) => m.id), [fromA], "b delivered a's message");
  assert.deepEqual(boxA.map((m) => m.id), [fromB], "a delivered b's message");
  await lab.stop();
});

Deno.test("a peer in every topic it may name loses nothing to repeated link replacements: each new link's whole set is free, as on a first link", async () => {
  const lab = new TopicLab(43);
  const [a, b] = [await lab.add(), await lab.add()];
  await lab.link(a, b);
  const topics = Array.from({ length: 64 }, (_, i) => `t${i}`);
  for (const topic of topics) b.node.subscribe(topic);
  await lab.runUntil(() => a.node.topicPeers("t63").length === 1, "b's 64 topics at a");
  for (let i = 0; i < 3; i++) {
    assert.ok(a.transport.replaceLink(b.identity.nodeId), "a link to replace");
    await lab.run(100);
  }
  await lab.run(500);
  assert.ok(isLinked(a, b) && isLinked(b, a), "a and b are still peers");
  assert.equal(a.node.stats().topics.subscriptionsRefused, 0, "no whole set was charged as changes");
  assert.equal(penalties(a, b.identity.nodeId, "RATE_LIMITED"), 0);
  assert.ok(topics.every((topic) => a.node.topicPeers(topic).includes(b.identity.nodeId)), "a knows b's topics");
  await lab.stop();
});

Deno.test("a DHT query in flight over a replaced peer link is sent again over the new link and answered, no query failing", async () => {
  const lab = new SimLab({ networkSeed: 44, random: seededRandom(45), base: { ...FIXED, dhtEnabled: true } });
  const [a, b] = [await lab.startNode(), await lab.startNode()];
  let linked = false;
  void a.node.connect(b.address).then(() => linked = true);
  await lab.runUntil(() => linked && isLinked(b, a), "the a-b link");
  a.node.dht.service.table.add(b.identity.nodeId, b.address, lab.clock.now());
  await lab.run(1_000); // the joins' own lookups end
  const answered = b.node.dht.stats.answered;
  // b's answer to a is held (a one-way partition): it is on the old link when the link is replaced.
  lab.network.blocked = (from, to) => from === b.address && to === a.address;
  let found: string | undefined | null = null;
  void a.node.dht.findPeer("ab".repeat(32)).then((address) => found = address);
  await lab.runUntil(() => b.node.dht.stats.answered === answered + 1, "b answering over the old link");
  assert.ok(a.transport.replaceLink(b.identity.nodeId), "a link to replace");
  lab.network.heal();
  await lab.runUntil(() => found !== null, "the lookup's end");
  assert.equal(found, undefined, "no such node");
  assert.ok(b.node.dht.stats.answered >= answered + 2, "asked again over the new link");
  assert.equal(a.node.dht.stats.queriesFailed, 0, "no query failed or timed out");
  await lab.stop();
});

Deno.test("catch-up bodies lost with a replaced peer link cost the peer that served them nothing, and are fetched again", async () => {
  const lab = new TopicLab(46);
  const gossip = { gossip: { repairWindowMs: 5_000 } }; // so only catch-up brings back what is older
  const [a, b] = [await lab.add({ topicSlots: 0 }, gossip), await lab.add({ topicSlots: 0 }, gossip)];
  a.node.subscribe(T);
  b.node.subscribe(T);
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) ids.push(a.node.broadcast(`reading ${i}`, { topic: T }));
  await lab.run(10_000);
  const boxB = inbox(b);
  void a.node.connect(b.address);
  // Step by 1 ms until a serves its first bodies: they are in flight (links take 2-10 ms) when the link goes.
  for (let i = 0; i < 30_000 && a.node.stats().catchup.served === 0; i++) {
    lab.clock.runUntil(lab.clock.now() + 1);
    for (let k = 0; k < 4; k++) await Promise.resolve();
  }
  assert.ok(a.node.stats().catchup.served > 0, "a served bodies");
  assert.ok(a.transport.replaceLink(b.identity.nodeId), "a link to replace");
  await lab.runUntil(() => boxB.length === 50, "b's catch-up of the 50 messages");
  await lab.run(5_000);
  assert.deepEqual(boxB.map((m) => m.id).sort(), ids.sort(), "each once");
  assert.equal(penalties(b, a.identity.nodeId, "CATCHUP_UNSERVED"), 0, "a was not blamed for the lost bodies");
  assert.equal(b.node.stats().catchup.unserved, 0);
  await lab.stop();
});

Deno.test("a subscription change read from a closing link is ignored: the whole set the newer link carries stands", async () => {
  const lab = new TopicLab(47);
  const a = await lab.add();
  const raw = await lab.rawPeer(a);
  raw.subscriptions({ full: true, join: [T] });
  await lab.runUntil(() => a.node.topicPeers(T).includes(raw.nodeId), "the raw peer's set at a");
  // A change the peer sent over its old link before the newer link's whole set, read after it (TCP reads the
  // two links apart): the old link is closing at a by then.
  const live = a.peers.activePeer(raw.nodeId)!.connection;
  const closing = { isOpen: false, agent: live.agent, close: () => Promise.resolve(), send: () => false };
  const change = createLinkMessage(raw.identity, MessageType.TOPIC_SUBSCRIPTIONS, {
    full: false,
    all: false,
    join: [],
    leave: [T],
  }, { timestamp: raw.timestamp() });
  const codec = new MessageCodec();
  a.node.components.topics.receive(
    { nodeId: raw.nodeId, connection: closing as unknown as Connection },
    codec.parse(codec.encode(change)),
  );
  await lab.run(100);
  assert.ok(a.node.topicPeers(T).includes(raw.nodeId), "the stale change was not applied");
  await lab.stop();
});
