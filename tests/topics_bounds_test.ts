/**
 * What a peer is held to in topics (issue 22), on the simulator: the bounds of its subscriptions (topics,
 * names, change allowance) and of what it may send (only its own messages outside a topic, no relaying of a
 * topic it is not in), with the races an honest peer can lose excused; and this node's own maxTopics.
 */
import assert from "node:assert/strict";
import { KithError } from "../lib/errors.ts";
import { Identity } from "../lib/identity.ts";
import { KithNode } from "../lib/node.ts";
import { toHex } from "../lib/bytes.ts";
import { createLinkMessage, createMessage, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import type { SimNode } from "../lib/sim/node.ts";
import { DEFAULT_TOPICS_CONFIG } from "../lib/topics/mod.ts";
import { inbox, isLinked, penalties, type RawPeer, signatureChecks, TopicLab } from "./_topic_lab.ts";

const T = "weather";
const GRACE_MS = DEFAULT_TOPICS_CONFIG.leaveGraceMs;
const codec = new MessageCodec();
const names = (count: number, prefix = "t") => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** A message of `topic` signed by `origin`, timed now on the lab's clock. */
function message(lab: TopicLab, origin: Identity, topic: string, text = "x") {
  return createMessage(origin, MessageType.CUSTOM_DATA, { topic, data: new TextEncoder().encode(text) }, {
    timestamp: lab.clock.now(),
  });
}

async function victimAndRaw(seed: number, config: Parameters<TopicLab["add"]>[0] = {}) {
  const lab = new TopicLab(seed);
  const victim = await lab.add(config);
  const raw = await lab.rawPeer(victim);
  return { lab, victim, raw };
}

const counted = (victim: SimNode, raw: RawPeer, topic: string) => victim.node.topicPeers(topic).includes(raw.nodeId);

Deno.test("a peer that would be in more than 64 topics is refused, penalised TOO_MANY_TOPICS and its link closed", async () => {
  const { lab, victim, raw } = await victimAndRaw(11);
  raw.subscriptions({ full: true, join: names(64) });
  await lab.runUntil(() => counted(victim, raw, "t63"), "the peer in its 64 topics");
  assert.ok(raw.connection.isOpen, "64 topics are within the bound");
  raw.subscriptions({ join: ["t64"] });
  await lab.runUntil(() => !raw.connection.isOpen, "the link's end");
  assert.equal(victim.node.stats().topics.subscriptionsRefused, 1);
  assert.equal(penalties(victim, raw.nodeId, "TOO_MANY_TOPICS"), 1);
  assert.ok(!counted(victim, raw, "t0") && !counted(victim, raw, "t64"), "it is counted in no topic");
  await lab.stop();
});

Deno.test("a peer that changes its topics faster than the allowance is refused, penalised RATE_LIMITED and its link closed; one within it keeps its link", async () => {
  const { lab, victim, raw } = await victimAndRaw(12);
  const paced = await lab.rawPeer(victim);
  for (const peer of [raw, paced]) peer.subscriptions({ full: true, join: names(64) }); // the first set is free
  raw.subscriptions({ leave: names(64) });
  raw.subscriptions({ join: names(64) }); // 128 names changed: the whole burst
  raw.subscriptions({ join: names(10, "u") });
  for (let s = 0; s < 20; s++) { // the steady rate, 2 names a second, for 20 s
    paced.subscriptions({ join: [`p${s}`], leave: [`t${s}`] });
    await lab.run(1_000);
  }
  assert.ok(!raw.connection.isOpen, "the fast peer's link was closed");
  assert.equal(penalties(victim, raw.nodeId, "RATE_LIMITED"), 1);
  assert.ok(!counted(victim, raw, "u0"), "its refused change was not applied");
  assert.ok(paced.connection.isOpen, "the paced peer kept its link");
  assert.ok(counted(victim, paced, "p19") && !counted(victim, paced, "t19") && counted(victim, paced, "t20"));
  assert.equal(victim.node.stats().topics.subscriptionsRefused, 1);
  assert.equal(victim.trust.trust(paced.nodeId) >= victim.trust.initialTrust, true, "and lost no trust");
  await lab.stop();
});

Deno.test("subscriptions that break the schema are refused by the decoder (BAD_FIELD): a name over 255 bytes, a name twice, an empty name, more than 64 names", async () => {
  const lab = new TopicLab(13);
  const victim = await lab.add();
  const forged: [string, unknown][] = [
    ["256 bytes", [true, false, ["a".repeat(256)], []]],
    ["twice", [true, false, ["dup", "dup"], []]],
    ["empty", [false, false, [""], []]],
    ["65 names", [true, false, names(65), []]],
    ["twice in leave", [false, false, [], ["x", "x"]]],
  ];
  const peers: RawPeer[] = [];
  for (const [, value] of forged) {
    const peer = await lab.rawPeer(victim);
    peer.forgedSubscriptions(value);
    peers.push(peer);
  }
  const longest = await lab.rawPeer(victim);
  longest.subscriptions({ full: true, join: ["é".repeat(127) + "a"] }); // 255 bytes of UTF-8: within the bound
  await lab.run(500);
  peers.forEach((peer, i) => {
    assert.equal(penalties(victim, peer.nodeId, "BAD_FIELD"), 1, `${forged[i][0]}: refused as BAD_FIELD`);
    assert.ok(!counted(victim, peer, "dup") && !counted(victim, peer, "a".repeat(256)) && !counted(victim, peer, "t0"));
  });
  assert.ok(counted(victim, longest, "é".repeat(127) + "a"), "a 255-byte name is taken");
  assert.equal(penalties(victim, longest.nodeId, "BAD_FIELD"), 0);
  await lab.stop();
});

Deno.test("subscribing to more topics than maxTopics throws TOO_MANY_TOPICS, before start and while running; leaving one makes room", async () => {
  const tooMany = (e: unknown) => e instanceof KithError && e.code === "TOO_MANY_TOPICS";
  const idle = new KithNode({ config: { maxTopics: 2 } });
  idle.subscribe("a");
  idle.subscribe("a"); // a second subscription to the same topic takes no room
  idle.subscribe("b");
  assert.throws(() => idle.subscribe("c"), tooMany);
  const lab = new TopicLab(14);
  const node = (await lab.add({ maxTopics: 2 })).node;
  const a = node.subscribe("a");
  node.subscribe("b");
  node.subscribe(""); // the network-wide topic is no named topic
  node.subscribe(); // nor is everything this node delivers
  assert.throws(() => node.subscribe("c"), tooMany);
  a.unsubscribe();
  node.subscribe("c");
  assert.deepEqual(node.topics().map((t) => t.topic).sort(), ["b", "c"]);
  await lab.stop();
});

Deno.test("a peer that relays a topic's message while not in the topic is refused before any signature check and penalised WRONG_TOPIC; its own message from outside is a fanout publish, taken", async () => {
  const { lab, victim, raw } = await victimAndRaw(15);
  const box = inbox(victim);
  victim.node.subscribe(T);
  raw.subscriptions({ full: true, join: ["elsewhere"] });
  await lab.run(200);
  const checks = signatureChecks(victim);
  const relayed = message(lab, Identity.generate(), T, "relayed");
  raw.connection.send(relayed);
  await lab.run(200);
  assert.equal(victim.node.stats().topics.wrongTopic, 1);
  assert.equal(penalties(victim, raw.nodeId, "WRONG_TOPIC"), 1);
  assert.equal(signatureChecks(victim), checks, "refused before its signature was checked");
  assert.equal(box.length, 0);
  raw.connection.send(message(lab, raw.identity, T, "own"));
  await lab.runUntil(() => box.length === 1, "the fanout publish delivered");
  assert.equal(new TextDecoder().decode(box[0].data), "own");
  assert.equal(penalties(victim, raw.nodeId, "WRONG_TOPIC"), 1, "the fanout publish cost nothing");
  await lab.stop();
});

Deno.test("a message of a topic this node is not in costs its sender WRONG_TOPIC, but not within leaveGraceMs after this node left it", async () => {
  const { lab, victim, raw } = await victimAndRaw(16);
  raw.subscriptions({ full: true, join: [T] });
  await lab.run(200);
  raw.connection.send(message(lab, raw.identity, T, "never in"));
  await lab.run(200);
  assert.equal(penalties(victim, raw.nodeId, "WRONG_TOPIC"), 1, "a topic this node never joined");
  const subscription = victim.node.subscribe(T);
  await lab.run(200);
  subscription.unsubscribe();
  await lab.run(1_000);
  raw.connection.send(message(lab, raw.identity, T, "in flight")); // sent before it heard of the leave
  await lab.run(200);
  assert.equal(penalties(victim, raw.nodeId, "WRONG_TOPIC"), 1, "excused within the grace period");
  assert.equal(victim.node.stats().topics.droppedAfterLeave, 1);
  await lab.run(GRACE_MS);
  raw.connection.send(message(lab, raw.identity, T, "late"));
  await lab.run(200);
  assert.equal(penalties(victim, raw.nodeId, "WRONG_TOPIC"), 2, "penalised after it");
  assert.equal(victim.node.stats().topics.wrongTopic, 2);
  await lab.stop();
});

Deno.test("a peer's relay of a topic it left within leaveGraceMs is excused; after it, the relay costs WRONG_TOPIC", async () => {
  const { lab, victim, raw } = await victimAndRaw(17);
  victim.node.subscribe(T);
  raw.subscriptions({ full: true, join: [T] });
  await lab.runUntil(() => counted(victim, raw, T), "the peer in T");
  raw.subscriptions({ leave: [T] });
  await lab.runUntil(() => !counted(victim, raw, T), "the peer's leave");
  raw.connection.send(message(lab, Identity.generate(), T, "relayed in flight"));
  await lab.run(200);
  assert.equal(penalties(victim, raw.nodeId, "WRONG_TOPIC"), 0);
  assert.equal(victim.node.stats().topics.droppedAfterLeave, 1);
  await lab.run(GRACE_MS);
  raw.connection.send(message(lab, Identity.generate(), T, "relayed late"));
  await lab.run(200);
  assert.equal(penalties(victim, raw.nodeId, "WRONG_TOPIC"), 1);
  await lab.stop();
});

Deno.test("an honest member's messages still on their way when this node leaves the topic cost it nothing", async () => {
  const lab = new TopicLab(18);
  const publisher = await lab.add();
  const leaver = await lab.add();
  await lab.link(publisher, leaver);
  publisher.node.subscribe(T);
  const subscription = leaver.node.subscribe(T);
  await lab.runUntil(() => publisher.node.topicPeers(T).length === 1, "the leaver in T at the publisher");
  const trustBefore = leaver.trust.trust(publisher.identity.nodeId);
  for (let i = 0; i < 60; i++) {
    publisher.node.broadcast(`stream ${i}`, { topic: T });
    if (i === 30) subscription.unsubscribe();
    await lab.run(10);
  }
  await lab.run(1_000);
  const stats = leaver.node.stats().topics;
  assert.ok(stats.droppedAfterLeave > 0, "some of the stream was on its way after the leave (the race happened)");
  assert.equal(stats.wrongTopic, 0);
  assert.equal(penalties(leaver, publisher.identity.nodeId, "WRONG_TOPIC"), 0);
  assert.ok(leaver.trust.trust(publisher.identity.nodeId) >= trustBefore);
  assert.ok(isLinked(leaver, publisher));
  await lab.stop();
});

Deno.test("a topic's digest from a peer not in it, or of a topic this node is not in, is dropped unread and costs nothing; a member's is followed", async () => {
  const { lab, victim, raw } = await victimAndRaw(19);
  const member = await lab.rawPeer(victim);
  victim.node.subscribe(T);
  raw.subscriptions({ full: true, join: ["elsewhere"] });
  member.subscriptions({ full: true, join: [T] });
  await lab.runUntil(() => counted(victim, member, T), "the member in T");
  const asked = (peer: RawPeer, id: Uint8Array) =>
    peer.received.some((e) => {
      if (e.type !== MessageType.GOSSIP_MESSAGE) return false;
      const m = codec.verify(e, e.timestamp, { linkPeer: victim.identity.nodeId });
      return m.type === MessageType.GOSSIP_MESSAGE && m.payload.want.some((w) => toHex(w) === toHex(id));
    });
  const digest = (peer: RawPeer, topic: string, id: Uint8Array) =>
    peer.connection.send(
      createLinkMessage(peer.identity, MessageType.GOSSIP_MESSAGE, { have: [id], want: [], topic }, {
        timestamp: peer.timestamp(),
      }),
    );
  const ids = [1, 2, 3].map((n) => new Uint8Array(32).fill(n));
  digest(raw, T, ids[0]); // a non-member's digest of T
  digest(member, "elsewhere", ids[1]); // a digest of a topic this node is not in
  digest(member, T, ids[2]); // a member's digest of T
  await lab.run(2_000);
  assert.ok(!asked(raw, ids[0]) && !asked(member, ids[1]), "nothing was asked for the dropped digests");
  assert.ok(asked(member, ids[2]), "the member's digest was followed");
  assert.equal(victim.node.stats().topics.digestsDropped, 2);
  for (const peer of [raw, member]) assert.ok(victim.trust.trust(peer.nodeId) >= victim.trust.initialTrust);
  await lab.stop();
});

Deno.test("what this node drops unpenalised (digests of topics it is not in, messages from a kith that does not scope topics) is held to the per-peer rate: a flood of it costs RATE_LIMITED and, sustained, the link", async () => {
  const lab = new TopicLab(20);
  const victim = await lab.add();
  const digester = await lab.rawPeer(victim);
  const older = await lab.rawPeer(victim, "kith/0.0.9 direct/1"); // an older kith: no topics/1
  const wrong = message(lab, older.identity, "not-the-victims", "from an older kith");
  digester.subscriptions({ full: true, join: ["not-the-victims"] });
  // 2,000 envelopes a second each, twice the default per-peer rate (1,000 a second, a burst of 2,000), for 10 s.
  for (let tick = 0; tick < 1_000 && (digester.connection.isOpen || older.connection.isOpen); tick++) {
    for (let k = 0; k < 20; k++) {
      if (digester.connection.isOpen) {
        digester.connection.send(
          createLinkMessage(digester.identity, MessageType.GOSSIP_MESSAGE, {
            have: [new Uint8Array(32).fill(k)],
            want: [],
            topic: "not-the-victims",
          }, { timestamp: digester.timestamp() }),
        );
      }
      if (older.connection.isOpen) older.connection.send(wrong);
    }
    await lab.run(10);
  }
  for (const peer of [digester, older]) {
    assert.ok(!peer.connection.isOpen, "the flooder's link was cut");
    assert.ok(penalties(victim, peer.nodeId, "RATE_LIMITED") > 0);
    assert.equal(penalties(victim, peer.nodeId, "WRONG_TOPIC"), 0, "what it sent is still excused");
  }
  await lab.stop();
});
