/**
 * Catch-up between KithNodes on the simulated network (lib/catchup/sync.ts): a node that was away receives
 * what its topic's peers hold, two halves that were apart converge, and each side fetches only what it lacks.
 * Gossip's own repair window is cut to 5 s in most tests, so that only catch-up can bring back what is older; the
 * away node's test keeps the default, so that repair brings the newest back first and delivery has to order them.
 */
import assert from "node:assert/strict";
import { toHex } from "../lib/bytes.ts";
import { MessageCodec } from "../lib/protocol/mod.ts";
import { causalOrder, predecessorsInLog } from "../lib/sim/causal_order.ts";
import { type SimNode, startSimNode } from "../lib/sim/node.ts";
import { FIXED, inbox, isLinked, TopicLab } from "./_topic_lab.ts";
import type { SimNodeOptions } from "./_sim_lab.ts";

const TOPIC = "chat";
/** Gossip repairs only the last 5 s, so what is older than that comes back by catch-up or not at all. */
const SHORT_REPAIR: SimNodeOptions = { gossip: { repairWindowMs: 5_000 } };

function logIds(node: SimNode): Set<string> {
  return new Set(node.node.components.topicLog.items(TOPIC, 0).map((item) => toHex(item.id)));
}

async function unlink(lab: TopicLab, a: SimNode, b: SimNode): Promise<void> {
  await a.peers.activePeer(b.identity.nodeId)?.connection.close();
  await lab.runUntil(() => !isLinked(a, b) && !isLinked(b, a), "the link to close");
}

/** Publishes `count` messages from `node`, spread over `spanMs` of virtual time. */
async function publish(lab: TopicLab, node: SimNode, count: number, spanMs: number): Promise<void> {
  const step = spanMs / count;
  for (let i = 0; i < count; i++) {
    node.node.broadcast(`message ${node.index}/${i}`, { topic: TOPIC });
    await lab.run(step);
  }
}

Deno.test("a node away for 60 s while 300 messages of its topic were published receives all of them, once each and in causal order, after it links again", async () => {
  const lab = new TopicLab(25);
  // No topic slots: a node short of topic peers would find the others through its peers and dial them while b
  // is to be away.
  const away = { topicSlots: 0 };
  // Gossip's own repair (its default window) brings the newest messages back first, before catch-up brings the
  // older ones they name: delivery has to put them in order.
  const [a, b, c] = [await lab.add(away), await lab.add(away), await lab.add(away)];
  for (const node of [a, b, c]) node.node.subscribe(TOPIC);
  const received = inbox(b);
  await lab.link(a, b);
  await lab.link(a, c);
  await lab.run(500);
  await unlink(lab, a, b);
  // Two publishers in the topic, interleaved: each message names the heads its publisher had seen, the other's
  // messages among them.
  for (let i = 0; i < 300; i++) {
    (i % 2 === 0 ? a : c).node.broadcast(`message ${i}`, { topic: TOPIC });
    await lab.run(200);
  }
  assert.equal(received.length, 0);
  await lab.run(10_000);
  // b links to both publishers at once: it fetches from each, and their bodies come interleaved, out of order.
  void b.node.connect(a.address);
  void b.node.connect(c.address);
  await lab.runUntil(() => received.length >= 300, "300 deliveries", 10_000);
  await lab.run(2_000);
  assert.equal(received.length, 300, "each message once");
  assert.equal(new Set(received.map((m) => m.id)).size, 300);
  assert.deepEqual(logIds(b), logIds(a));
  const order = causalOrder(received, predecessorsInLog(b.node.components.topicLog, new MessageCodec(), TOPIC));
  assert.ok(order.naming >= 299, `messages name predecessors (${order.naming})`);
  assert.ok(order.checked >= 299, `predecessors checked (${order.checked})`);
  assert.equal(order.outOfOrder, 0, "every message after the predecessors it names");
  assert.equal(order.deliveredWithMissing, 0, "none delivered with a predecessor missing");
  assert.ok(order.inCausalOrder);
  assert.ok(b.node.stats().topicDelivery.waited > 0, "some came before their predecessors, and waited");
  const stats = b.node.stats().catchup;
  assert.ok(stats.fetched > 0 && stats.fetched < 300, `catch-up fetched what gossip did not repair (${stats.fetched})`);
  assert.equal(stats.refused, 0);
  assert.ok(stats.reconcileBytesReceived + stats.reconcileBytesSent > 0);
  await lab.stop();
});

Deno.test("two halves apart for a minute, each publishing, hold the same set within seconds of one link between them coming back", async () => {
  const lab = new TopicLab(26);
  const nodes: SimNode[] = [];
  for (let i = 0; i < 4; i++) nodes.push(await lab.add({}, SHORT_REPAIR));
  for (const node of nodes) node.node.subscribe(TOPIC);
  const [a1, a2, b1, b2] = nodes;
  await lab.link(a1, a2);
  await lab.link(b1, b2);
  // The halves publish apart: a1 and b1 each 120 messages over a minute.
  for (let i = 0; i < 120; i++) {
    a1.node.broadcast(`a ${i}`, { topic: TOPIC });
    b1.node.broadcast(`b ${i}`, { topic: TOPIC });
    await lab.run(500);
  }
  await lab.run(10_000);
  assert.equal(logIds(a2).size, 120);
  assert.equal(logIds(b2).size, 120);
  await lab.link(a2, b2); // the heal: one link between the halves
  // a1 and b1 are two hops from what they lack: their neighbours reconcile with them once they caught up,
  // well before the periodic round (30 s).
  await lab.runUntil(() => nodes.every((node) => logIds(node).size === 240), "every node with 240", 5_000);
  const reference = logIds(a1);
  for (const node of nodes) assert.deepEqual(logIds(node), reference, `node ${node.index}`);
  await lab.stop();
});

Deno.test("a node restarted with its log (as on SQLite) catches up what was published while it was down, and delivers only what it never had", async () => {
  const lab = new TopicLab(27);
  const [a, b] = [await lab.add({}, SHORT_REPAIR), await lab.add({}, SHORT_REPAIR)];
  a.node.subscribe(TOPIC);
  b.node.subscribe(TOPIC);
  await lab.link(a, b);
  await publish(lab, a, 20, 2_000);
  await lab.run(1_000);
  assert.equal(logIds(b).size, 20);
  b.crash();
  await lab.run(1_000);
  await publish(lab, a, 30, 30_000);
  await lab.run(10_000);
  const back = await startSimNode(lab.network, b.index, lab.random, FIXED, "default", SHORT_REPAIR.gossip, {
    identity: b.identity,
    storage: b.storage,
    topicLog: b.topicLog,
  });
  lab.nodes[b.index] = back;
  back.node.subscribe(TOPIC);
  const received = inbox(back);
  await lab.link(back, a);
  await lab.runUntil(() => logIds(back).size === 50, "the 30 missed are caught up", 10_000);
  await lab.run(2_000);
  assert.deepEqual(logIds(back), logIds(a));
  assert.equal(received.length, 30, "the 20 it had before its restart are not delivered again");
  await lab.stop();
});
