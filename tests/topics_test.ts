/**
 * Topics scope the network (issue 22), on the simulator's network and virtual clock: who receives a topic's
 * messages, leaving, publishing from outside, per-topic settings, all-topics relays and determinism. The
 * bounds a peer is held to (subscriptions, wrong topics) are in tests/topics_bounds_test.ts.
 */
import assert from "node:assert/strict";
import { KithError } from "../lib/errors.ts";
import type { SimNode } from "../lib/sim/node.ts";
import { inbox, isLinked, penalties, signatureChecks, tap, TopicLab } from "./_topic_lab.ts";

const T = "weather";
const sent = (box: { id: string }[]) => box.map((m) => m.id).sort();
const inTopic = (node: SimNode) => node.node.topics().some((t) => t.topic === T);

Deno.test("a node not in a topic neither receives nor checks its messages, while every member delivers all of them", async () => {
  const lab = new TopicLab(1);
  const nodes: SimNode[] = [];
  for (let i = 0; i < 8; i++) nodes.push(await lab.add({ maxPeers: 12 }));
  await lab.mesh(nodes);
  const members = nodes.slice(0, 4), others = nodes.slice(4);
  const boxes = nodes.map(inbox);
  for (const m of members) m.node.subscribe(T);
  await lab.runUntil(
    () => nodes.every((n) => n.node.topicPeers(T).length === (members.includes(n) ? 3 : 4)),
    "the members' subscriptions everywhere",
  );
  await lab.run(500); // the links settle (pings, first digests of the network-wide overlay)
  const taps = nodes.map(tap);
  const checksBefore = others.map(signatureChecks);
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) {
    ids.push(members[i % 4].node.broadcast(`reading ${i}`, { topic: T }));
    await lab.run(20);
  }
  await lab.runUntil(() => members.every((_, i) => boxes[i].length === 30), "delivery to every member");
  await lab.run(2_000); // twenty repair rounds: anything leaking out of the topic would have by now
  members.forEach((m, i) => {
    const own = ids.filter((_, k) => k % 4 === i);
    assert.deepEqual(sent(boxes[i]), ids.filter((id) => !own.includes(id)).sort(), `member ${i} got all others'`);
    assert.equal(m.node.stats().topics.wrongTopic, 0, "no member refused a member's message");
  });
  others.forEach((n, k) => {
    const i = k + 4;
    assert.equal(boxes[i].length, 0, `node ${i} delivered none of the topic's messages`);
    assert.equal(taps[i].data.get(T) ?? 0, 0, `node ${i} was sent none of them`);
    assert.equal(taps[i].digests.get(T) ?? 0, 0, `node ${i} was sent no digest of the topic`);
    assert.equal(signatureChecks(n) - checksBefore[k], 0, `node ${i} checked no signature`);
    assert.equal(n.node.stats().byType.CUSTOM_DATA?.received ?? 0, 0, `node ${i}'s gossip received none`);
    assert.equal(n.gossip.stats.delivered, 0, `node ${i}'s network-wide overlay delivered nothing`);
    const topics = n.node.stats().topics;
    assert.deepEqual([topics.wrongTopic, topics.digestsDropped, topics.droppedAfterLeave], [0, 0, 0]);
  });
  assert.ok(taps.slice(0, 4).every((t) => (t.data.get(T) ?? 0) > 0), "members were sent the topic's messages");
  await lab.stop();
});

/** Four members of T, all linked; returns them with their inboxes once each knows the other three are in T. */
async function fourMembers(seed: number) {
  const lab = new TopicLab(seed);
  const nodes: SimNode[] = [];
  for (let i = 0; i < 4; i++) nodes.push(await lab.add());
  await lab.mesh(nodes);
  const boxes = nodes.map(inbox);
  return { lab, nodes, boxes };
}

/** Runs until no other node counts `leaver` in T, then publishes 10 messages from nodes 0 and 1. */
async function publishAfterLeave(lab: TopicLab, nodes: SimNode[], leaver: SimNode) {
  await lab.runUntil(
    () => nodes.every((n) => n === leaver || !n.node.topicPeers(T).includes(leaver.identity.nodeId)),
    "the leave at every peer",
  );
  const leaverTap = tap(leaver);
  const checks = signatureChecks(leaver);
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push(nodes[i % 2].node.broadcast(`after ${i}`, { topic: T }));
  await lab.run(1_500);
  return { ids, leaverTap, checks };
}

Deno.test("unsubscribing leaves the topic: what is published after the leave reached the peers is neither sent to nor checked by the leaver", async () => {
  const { lab, nodes, boxes } = await fourMembers(2);
  const subs = nodes.map((n) => n.node.subscribe(T));
  await lab.runUntil(() => nodes.every((n) => n.node.topicPeers(T).length === 3), "T's members everywhere");
  const before = nodes[0].node.broadcast("before", { topic: T });
  await lab.runUntil(() => boxes.slice(1).every((b) => b.some((m) => m.id === before)), "the first message");
  subs[3].unsubscribe();
  assert.equal(inTopic(nodes[3]), false, "the last subscription's end left the topic at once");
  const { ids, leaverTap, checks } = await publishAfterLeave(lab, nodes, nodes[3]);
  assert.deepEqual(boxes[3].map((m) => m.id), [before], "the leaver delivered only what came before");
  assert.equal(leaverTap.data.get(T) ?? 0, 0, "no member sent it the topic's messages");
  assert.equal(leaverTap.digests.get(T) ?? 0, 0, "nor digests of the topic");
  assert.equal(signatureChecks(nodes[3]) - checks, 0, "it checked no signature");
  for (const i of [0, 1, 2]) {
    const others = ids.filter((_, k) => k % 2 !== i);
    assert.deepEqual(sent(boxes[i].filter((m) => ids.includes(m.id))), others.sort(), `member ${i} got the others'`);
    assert.equal(nodes[i].node.stats().topics.wrongTopic, 0);
  }
  assert.equal(nodes[3].node.stats().topics.wrongTopic, 0, "no member was penalised by the leaver");
  await lab.stop();
});

Deno.test("ending the iteration of a topic's only subscription leaves the topic", async () => {
  const { lab, nodes, boxes } = await fourMembers(3);
  for (const n of nodes.slice(0, 3)) n.node.subscribe(T);
  const iterated = nodes[3].node.subscribe(T);
  await lab.runUntil(() => nodes.every((n) => n.node.topicPeers(T).length === 3), "T's members everywhere");
  nodes[1].node.broadcast("first", { topic: T });
  let first = "";
  const iteration = (async () => {
    for await (const message of iterated) {
      first = new TextDecoder().decode(message.data);
      break; // ends the iteration: the subscription ends with it
    }
  })();
  await lab.runUntil(() => first !== "", "the first message through the iterator");
  await iteration;
  assert.equal(inTopic(nodes[3]), false, "the end of the iteration left the topic");
  const { leaverTap, checks } = await publishAfterLeave(lab, nodes, nodes[3]);
  assert.equal(boxes[3].length, 1, "nothing after the first reached the node's application");
  assert.equal(leaverTap.data.get(T) ?? 0, 0, "nor its links");
  assert.equal(signatureChecks(nodes[3]) - checks, 0);
  assert.equal(boxes[2].length, 11, "the members go on");
  await lab.stop();
});

Deno.test("a second subscription to a topic keeps the node in it when the first ends", async () => {
  const { lab, nodes } = await fourMembers(4);
  for (const n of nodes.slice(0, 3)) n.node.subscribe(T);
  const first = nodes[3].node.subscribe(T);
  const kept: string[] = [];
  nodes[3].node.subscribe(T, (m) => kept.push(m.id));
  await lab.runUntil(() => nodes.every((n) => n.node.topicPeers(T).length === 3), "T's members everywhere");
  first.unsubscribe();
  await lab.run(1_000); // a leave, had one been sent, would be everywhere by now
  assert.ok(inTopic(nodes[3]));
  assert.ok(nodes[0].node.topicPeers(T).includes(nodes[3].identity.nodeId), "its peers still count it in T");
  const ids = [0, 1, 2].map((i) => nodes[i].node.broadcast(`still ${i}`, { topic: T }));
  await lab.runUntil(() => kept.length === 3, "the messages at the remaining subscription");
  assert.deepEqual([...kept].sort(), [...ids].sort());
  await lab.stop();
});

Deno.test("a node in no topic publishes to one through a fanout set of its members, which all deliver; the set is kept while it publishes and drawn anew after topicFanoutTtlMs", async () => {
  const lab = new TopicLab(5);
  const members: SimNode[] = [];
  for (let i = 0; i < 4; i++) members.push(await lab.add());
  const publisher = await lab.add({ topicFanoutPeers: 1, topicFanoutTtlMs: 1_000 });
  await lab.mesh(members);
  for (const m of members) await lab.link(publisher, m);
  const boxes = members.map(inbox);
  for (const m of members) m.node.subscribe(T);
  await lab.runUntil(() => publisher.node.topicPeers(T).length === 4, "the members' topics at the publisher");
  assert.throws(
    () => publisher.node.broadcast("nobody", { topic: "empty" }),
    (e: unknown) => e instanceof KithError && e.code === "NO_TOPIC_PEERS",
  );
  const taps = members.map(tap);
  const publisherTap = tap(publisher);
  const direct = () => taps.map((t) => t.dataBySender.get(publisher.identity.nodeId) ?? 0);
  const ids: string[] = [];
  const rounds: number[][] = [];
  for (let round = 0; round < 6; round++) {
    const start = direct();
    // Three publishes 600 ms apart: 1.2 s in all, over the TTL, which counts from the last publish.
    for (let k = 0; k < 3; k++) {
      ids.push(publisher.node.broadcast(`fanout ${round}.${k}`, { topic: T }));
      await lab.run(600);
    }
    rounds.push(direct().map((n, i) => n - start[i]));
    await lab.run(1_100); // past the TTL: the next publish draws a new set
  }
  await lab.run(1_000);
  boxes.forEach((box, i) => assert.deepEqual(sent(box), [...ids].sort(), `member ${i} delivered every one`));
  for (const counts of rounds) {
    assert.deepEqual([...counts].sort(), [0, 0, 0, 3], `one member got a round's three directly: ${counts}`);
  }
  const chosen = new Set(rounds.map((counts) => counts.indexOf(3)));
  assert.ok(chosen.size > 1, `the set was drawn anew after the TTL (members chosen per round: ${[...chosen]})`);
  assert.equal(publisher.node.stats().topics.fanoutPublished, 18);
  assert.equal(publisherTap.data.get(T) ?? 0, 0, "the members sent the publisher none of the topic's messages");
  for (const m of members) {
    assert.equal(m.node.stats().topics.wrongTopic, 0, "a fanout publish by its origin is taken");
    assert.equal(penalties(m, publisher.identity.nodeId, "WRONG_TOPIC"), 0);
  }
  await lab.stop();
});

Deno.test("a topic's maxMessageBytes refuses a larger message from a member (it costs the link, as over the node's limit), while the node's own limit holds in other topics", async () => {
  const lab = new TopicLab(6);
  const strict = await lab.add({ topicSettings: { small: { maxMessageBytes: 100 } } });
  const member = await lab.add();
  await lab.link(member, strict);
  const box = inbox(strict);
  for (const n of [strict, member]) for (const topic of ["small", "big"]) n.node.subscribe(topic);
  await lab.runUntil(
    () => member.node.topicPeers("small").length === 1 && member.node.topicPeers("big").length === 1,
    "the topics",
  );
  assert.throws(() => strict.node.broadcast(new Uint8Array(101), { topic: "small" }), RangeError);
  const fits = member.node.broadcast(new Uint8Array(100), { topic: "small" });
  const elsewhere = member.node.broadcast(new Uint8Array(200), { topic: "big" });
  await lab.runUntil(() => box.length === 2, "the two messages within their topic's limit");
  const large = member.node.broadcast(new Uint8Array(101), { topic: "small" });
  await lab.runUntil(() => !isLinked(strict, member), "the link's end");
  assert.deepEqual(sent(box), [fits, elsewhere].sort());
  assert.ok(!box.some((m) => m.id === large));
  assert.equal(strict.node.stats().invalidByCode.PAYLOAD_TOO_LARGE, 1, "the larger one was refused as too large");
  assert.equal(penalties(strict, member.identity.nodeId, "PAYLOAD_TOO_LARGE"), 1);
  await lab.stop();
});

Deno.test("a topic's ttl is the default of what this node publishes to it: TTL 1 reaches the next hop only", async () => {
  const lab = new TopicLab(7);
  const a = await lab.add({ topicSettings: { short: { ttl: 1 } } });
  const b = await lab.add();
  const c = await lab.add();
  await lab.link(a, b);
  await lab.link(b, c); // a - b - c
  const boxes = [b, c].map(inbox);
  for (const n of [a, b, c]) for (const topic of ["short", "long"]) n.node.subscribe(topic);
  await lab.runUntil(() => b.node.topicPeers("short").length === 2 && b.node.topicPeers("long").length === 2, "topics");
  const short = a.node.broadcast("one hop", { topic: "short" });
  const long = a.node.broadcast("two hops", { topic: "long" });
  await lab.runUntil(() => boxes[1].some((m) => m.id === long), "the default-TTL message two hops out");
  await lab.run(1_000); // ten repair rounds
  assert.ok(boxes[0].some((m) => m.id === short), "the next hop got the TTL 1 message");
  assert.ok(!boxes[1].some((m) => m.id === short), "the hop after did not");
  await lab.stop();
});

Deno.test("an all-topics node joins the topics its peers announce and relays between two subscribers linked only through it", async () => {
  const lab = new TopicLab(8);
  const relay = await lab.add({ relayAllTopics: true });
  const a = await lab.add();
  const c = await lab.add();
  await lab.link(a, relay);
  await lab.link(c, relay);
  const boxes = [a, c].map(inbox);
  a.node.subscribe(T);
  c.node.subscribe(T);
  await lab.runUntil(() => relay.node.topics().some((t) => t.topic === T && t.peers === 2), "the relay in T");
  assert.deepEqual(relay.node.topics().map((t) => [t.topic, t.subscribed]), [[T, false]], "it relays, unsubscribed");
  assert.ok(a.node.topicPeers(T).includes(relay.identity.nodeId), "its peers count it in every topic");
  const ids = [a.node.broadcast("from a", { topic: T }), c.node.broadcast("from c", { topic: T })];
  await lab.runUntil(() => boxes.every((box) => box.length === 1), "each subscriber's message at the other");
  assert.deepEqual([boxes[0][0].id, boxes[1][0].id], [ids[1], ids[0]]);
  for (const n of [relay, a, c]) assert.equal(n.node.stats().topics.wrongTopic, 0);
  await lab.stop();
});

/** A small topic network under a scripted workload; what every node delivered and counted. */
async function topicRun(seed: number): Promise<string> {
  const lab = new TopicLab(seed);
  const nodes: SimNode[] = [];
  for (let i = 0; i < 6; i++) nodes.push(await lab.add({ topicFanoutPeers: 2 }));
  await lab.mesh(nodes);
  const boxes = nodes.map(inbox);
  const subs = nodes.slice(0, 4).map((n) => n.node.subscribe(T));
  nodes[4].node.subscribe("other");
  nodes[5].node.subscribe("other");
  await lab.runUntil(() => nodes[5].node.topicPeers(T).length === 4, "T's members at node 5");
  for (let i = 0; i < 30; i++) {
    const by = nodes[i % 6];
    by.node.broadcast(`m ${i}`, { topic: i % 3 === 2 ? "other" : T });
    if (i === 15) subs[3].unsubscribe();
    await lab.run(30);
  }
  await lab.run(2_000);
  const snapshot = nodes.map((n, i) => ({
    delivered: boxes[i].map((m) => `${m.id}<${m.from.slice(0, 8)}`),
    gossip: n.node.stats().gossip,
    topics: n.node.stats().topics,
    byType: n.node.stats().byType,
  }));
  await lab.stop();
  return JSON.stringify(snapshot);
}

Deno.test("the same seed gives the same deliveries, paths and counters in a topic network", async () => {
  const first = await topicRun(9);
  const second = await topicRun(9);
  assert.ok(JSON.parse(first).some((n: { topics: { fanoutPublished: number } }) => n.topics.fanoutPublished > 0));
  assert.equal(second, first);
});

Deno.test("an all-topics node at its maxTopics drops the messages of topics it could not join without penalising the honest members that sent them", async () => {
  const lab = new TopicLab(10);
  const relay = await lab.add({ relayAllTopics: true, maxTopics: 1 });
  const a = await lab.add();
  await lab.link(a, relay);
  a.node.subscribe("first");
  a.node.subscribe("second"); // one announcement names both: the relay has room for the first only
  await lab.runUntil(() => relay.node.topics().length === 1, "the relay in one topic");
  assert.ok(a.node.topicPeers("second").includes(relay.identity.nodeId), "its peers count it in every topic");
  for (let i = 0; i < 5; i++) {
    a.node.broadcast(`beyond ${i}`, { topic: "second" });
    await lab.run(100);
  }
  await lab.run(1_000);
  assert.equal(
    penalties(relay, a.identity.nodeId, "WRONG_TOPIC"),
    0,
    "a member that took it for a relay of every topic",
  );
  assert.ok(isLinked(relay, a), "kept its link");
  assert.equal(relay.node.stats().topics.wrongTopic, 0);
  await lab.stop();
});

Deno.test("an all-topics node leaves a topic it relays once no peer is in it, which makes room for the next", async () => {
  const lab = new TopicLab(11);
  const relay = await lab.add({ relayAllTopics: true, maxTopics: 1 });
  const a = await lab.add();
  const c = await lab.add();
  await lab.link(a, relay);
  await lab.link(c, relay);
  const boxes = [a, c].map(inbox);
  const old = a.node.subscribe("old");
  await lab.runUntil(() => relay.node.topics().some((t) => t.topic === "old"), "the relay in the first topic");
  old.unsubscribe();
  await lab.runUntil(() => relay.node.topics().length === 0, "the relay out of it");
  a.node.subscribe(T);
  c.node.subscribe(T);
  await lab.runUntil(() => relay.node.topics().some((t) => t.topic === T && t.peers === 2), "the relay in the next");
  const id = a.node.broadcast("through the relay", { topic: T });
  await lab.runUntil(() => boxes[1].length === 1, "the message at c");
  assert.equal(boxes[1][0].id, id);
  await lab.stop();
});
