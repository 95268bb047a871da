/**
 * The per-topic metrics: at most MAX_TOPIC_LABELS topics by name (subscribed first, then the busiest, each
 * keeping its series while the node stays in it), the rest summed under `_other`, names escaped.
 */
import assert from "node:assert/strict";
import { renderMetrics } from "../lib/api_metrics.ts";
import {
  escapeLabelValue,
  MAX_TOPIC_LABELS,
  OTHER_TOPICS_LABEL,
  TopicLabels,
  type TopicTraffic,
} from "../lib/api_topic_labels.ts";
import { KithNode } from "../lib/node.ts";

const relayed = (n: number, traffic = (i: number) => i): TopicTraffic[] =>
  Array.from({ length: n }, (_, i) => ({ topic: `t${i}`, subscribed: false, traffic: traffic(i) }));

Deno.test("topic labels: at most the bound, subscribed topics first, then the busiest", () => {
  const labels = new TopicLabels(4);
  const topics = relayed(10);
  topics[0].subscribed = topics[1].subscribed = true; // the quietest two
  assert.deepEqual([...labels.choose(topics)].sort(), ["t0", "t1", "t8", "t9"]);
  assert.equal(new TopicLabels().choose(relayed(100)).size, MAX_TOPIC_LABELS);
});

Deno.test("topic labels: a topic keeps its label while listed; a left one's goes to the busiest unlabelled", () => {
  const labels = new TopicLabels(3);
  assert.deepEqual([...labels.choose(relayed(6))].sort(), ["t3", "t4", "t5"]);
  // t0 is now the busiest by far, but the labelled ones stay: their series must not hop.
  assert.deepEqual([...labels.choose(relayed(6, (i) => (i === 0 ? 1000 : i)))].sort(), ["t3", "t4", "t5"]);
  const withoutT4 = relayed(6, (i) => (i === 0 ? 1000 : i)).filter((t) => t.topic !== "t4");
  assert.deepEqual([...labels.choose(withoutT4)].sort(), ["t0", "t3", "t5"]);
});

Deno.test("topic labels: a newly subscribed topic takes the quietest relayed topic's label; subscribed ones keep theirs", () => {
  const labels = new TopicLabels(2);
  labels.choose(relayed(3));
  const topics = [...relayed(3), { topic: "mine", subscribed: true, traffic: 0 }];
  assert.deepEqual([...labels.choose(topics)].sort(), ["mine", "t2"]);
  const more = [...topics, { topic: "mine2", subscribed: true, traffic: 0 }, {
    topic: "mine3",
    subscribed: true,
    traffic: 9,
  }];
  assert.deepEqual([...labels.choose(more)].sort(), ["mine", "mine3"]);
  assert.deepEqual([...labels.choose(more)].sort(), ["mine", "mine3"], "no subscribed topic displaces another");
});

Deno.test("topic labels: a topic named like the sum's label is never labelled itself", () => {
  const chosen = new TopicLabels(5).choose([
    { topic: OTHER_TOPICS_LABEL, subscribed: true, traffic: 100 },
    ...relayed(2),
  ]);
  assert.deepEqual([...chosen].sort(), ["t0", "t1"]);
});

Deno.test("label values escape backslash, double quote and line feed", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

Deno.test("metrics of a node in more topics than the bound: named series for the bound, the rest under _other, hostile names escaped", async () => {
  const node = new KithNode({ config: { listenHost: "127.0.43.1", listenPort: 0, minPeers: 0 } });
  await node.start();
  try {
    const hostile = 'evil"} 1\nkith_fake_metric 1\n\\';
    const subscriptions = [hostile, ...Array.from({ length: 39 }, (_, i) => `topic-${i}`)].map((t) =>
      node.subscribe(t)
    );
    const text = renderMetrics(node, new TopicLabels());
    const lines = text.trimEnd().split("\n");
    // Every line is a comment or one well-formed sample: nothing a topic name holds breaks out of its label.
    const sample = /^[a-z_]+(\{[a-z_]+="(?:[^"\\\n]|\\[\\"n])*"(,[a-z_]+="(?:[^"\\\n]|\\[\\"n])*")*\})? [0-9.e+-]+$/;
    for (const line of lines) assert.ok(line.startsWith("# ") || sample.test(line), `malformed line: ${line}`);
    assert.ok(!lines.some((line) => line.startsWith("kith_fake_metric")));
    const topicsOf = (name: string) =>
      new Set(lines.filter((l) => l.startsWith(`${name}{`)).map((l) => /topic="((?:[^"\\]|\\.)*)"/.exec(l)![1]));
    const peers = topicsOf("kith_topic_peers");
    assert.equal(peers.size, MAX_TOPIC_LABELS + 1);
    assert.ok(peers.has(OTHER_TOPICS_LABEL));
    assert.ok(peers.has(escapeLabelValue(hostile)), "the hostile name is shown, escaped");
    assert.deepEqual(topicsOf("kith_topic_messages_total"), peers);
    assert.equal(lines.filter((l) => l.startsWith("kith_topic_messages_total{")).length, 7 * (MAX_TOPIC_LABELS + 1));
    assert.ok(lines.includes('kith_topics{kind="subscribed"} 40'));
    assert.ok(lines.includes(`kith_topic_peers{topic="${OTHER_TOPICS_LABEL}"} 0`));
    assert.ok(lines.includes('kith_topic_routing_total{outcome="wrong_topic"} 0'));
    for (const s of subscriptions) s.unsubscribe();
    const after = renderMetrics(node, new TopicLabels());
    assert.ok(!after.includes("kith_topic_peers{"), "no series for topics the node left");
  } finally {
    await node.stop();
  }
});
