import assert from "node:assert/strict";
import { simulate, type SimulationOptions } from "../scripts/simulate.ts";

// The topic workload at CI size: 200 nodes in 10 topics of Zipf popularity, 3 each, a tenth of the messages
// published from outside their topic (fanout).
const base: SimulationOptions = {
  nodes: 200,
  degree: 8,
  messages: 30,
  seed: 5,
  loss: 0,
  ttl: 12,
  rate: 20,
  minLatencyMs: 10,
  maxLatencyMs: 80,
  profile: "default",
  settleMs: 10_000,
  topicWorkload: {
    topics: 10,
    topicsPerNode: 3,
    zipf: 1,
    outsidePublishers: 0.1,
    topicDials: 4,
    singleOverlay: false,
  },
};

Deno.test("simulated topics: every subscriber gets its topics' messages, and nodes outside a topic receive almost none", async () => {
  const result = await simulate(base);
  const topics = result.topics!;
  assert.equal(result.delivery_ratio, 1, "delivery to the topics' subscribers");
  assert.ok(topics.published_outside > 0, "some messages were published from outside their topic");
  assert.equal(topics.publish_failures, 0);
  assert.ok(topics.non_member.share_of_deliveries < 0.01, JSON.stringify(topics.non_member));
  assert.equal(topics.non_member.delivered, 0, "no non-member's application got a message of a topic it is not in");
  assert.equal(result.honest_peers_disconnected, 0);
  assert.equal(topics.routing.wrongTopic, 0, "no honest peer sent a message of a topic its receiver is not in");
});

Deno.test("simulated topics: the same workload in one overlay reaches every node, which the scoped run's figure would show", async () => {
  // The control for the test above: with every message in the network-wide topic, as before topics scoped the
  // network, non-members receive several copies per delivery to a member, so the assertion above would fail.
  const result = await simulate({ ...base, topicWorkload: { ...base.topicWorkload!, singleOverlay: true } });
  assert.equal(result.delivery_ratio, 1);
  assert.ok(result.topics!.non_member.share_of_deliveries > 1, JSON.stringify(result.topics!.non_member));
  assert.ok(result.topics!.non_member.delivered > 0);
});

Deno.test("simulated topics with a third of the nodes Byzantine: the result is a pure function of the seed", async () => {
  const options = { ...base, nodes: 90, messages: 12, byzantine: 0.33 };
  const first = JSON.stringify(await simulate(options));
  const second = JSON.stringify(await simulate(options));
  assert.equal(first, second);
  const result = JSON.parse(first);
  assert.ok(result.delivery_ratio >= 0.99, `honest delivery ${result.delivery_ratio}`);
  assert.equal(result.honest_peers_disconnected, 0);
  assert.ok(result.malicious_links_cut.count > 0, "the attackers' links were cut");
});

Deno.test("simulated attackers with --byzantine-spam-rounds 1 send valid spam in their first round only, and are still cut", async () => {
  const options = { ...base, nodes: 120, messages: 12, byzantine: 0.33 };
  const unbounded = await simulate(options);
  const once = await simulate({ ...options, byzantineSpamRounds: 1 });
  const later = (result: typeof once) => result.malicious_spam!.by_round.slice(1).reduce((a, b) => a + b, 0);
  assert.ok(unbounded.malicious_spam!.by_round[0] > 0, JSON.stringify(unbounded.malicious_spam));
  assert.ok(later(unbounded) > 0, "by default attackers send a new spam message every round");
  assert.ok(once.malicious_spam!.by_round[0] > 0, JSON.stringify(once.malicious_spam));
  assert.equal(later(once), 0, JSON.stringify(once.malicious_spam));
  // Forgeries and lies still go out every round: links are still cut, honest ones never.
  assert.ok(once.malicious_links_cut.count > 0);
  assert.equal(once.honest_peers_disconnected, 0);
  assert.ok(once.delivery_ratio >= 0.99, `honest delivery ${once.delivery_ratio}`);
});

Deno.test("simulated nodes sharing a memo of valid signature checks give the same result, byte for byte", async () => {
  const options = { ...base, nodes: 90, messages: 12, byzantine: 0.33 };
  const plain = JSON.stringify(await simulate(options));
  assert.equal(JSON.stringify(await simulate({ ...options, memoSignatures: true })), plain);
});
