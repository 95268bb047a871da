/**
 * A topic member whose link is replaced while it stays connected (the transport keeping a newer duplicate
 * link, TCP's duplicate rule), on the simulator's network and virtual clock: the topic's overlay follows the
 * member to its new link.
 */
import assert from "node:assert/strict";
import { inbox, isLinked, TopicLab } from "./_topic_lab.ts";

const T = "weather";

Deno.test("after the transport replaces a member's link, the topic's messages go on by gossip both ways over the new link", async () => {
  const lab = new TopicLab(5);
  // Two members only: no third one could carry the messages around a dead link.
  const a = await lab.add(), b = await lab.add();
  await lab.link(a, b);
  const [boxA, boxB] = [inbox(a), inbox(b)];
  for (const n of [a, b]) n.node.subscribe(T);
  await lab.runUntil(() => [a, b].every((n) => n.node.topicPeers(T).length === 1), "each member knows the other");
  a.node.broadcast("before", { topic: T });
  await lab.runUntil(() => boxB.length === 1, "a message over the first link");

  const old = a.transport.connection(b.identity.nodeId)!;
  assert.ok(a.transport.replaceLink(b.identity.nodeId), "a link to replace");
  await lab.runUntil(() => !old.isOpen, "the link replaced");
  assert.ok(isLinked(a, b) && isLinked(b, a), "each is still the other's peer");
  assert.deepEqual([a, b].map((n) => n.node.topicPeers(T).length), [1, 1], "and still in the topic for the other");

  const fromA = [], fromB = [];
  for (let i = 0; i < 5; i++) {
    fromA.push(a.node.broadcast(`a ${i}`, { topic: T }));
    fromB.push(b.node.broadcast(`b ${i}`, { topic: T }));
    await lab.run(50);
  }
  // A second: ten gossip rounds, and far less than catch-up's round (30 s), which would fetch them anyway.
  await lab.run(1_000);
  assert.deepEqual(boxB.slice(1).map((m) => m.id), fromA, "b got a's messages after the replacement");
  assert.deepEqual(boxA.map((m) => m.id), fromB, "a got b's messages after the replacement");
  for (const n of [a, b]) assert.equal(n.node.stats().catchup.fetched, 0, "by gossip, not fetched by catch-up");
  await lab.stop();
});
