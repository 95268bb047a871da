/**
 * Topic logs in a node (issue 25), on the simulator's network and virtual clock: live gossip goes through the
 * delivery path (logged, predecessors named, exactly once across a reconnect and a restart), history, the
 * replay-then-live seam of `subscribe(topic, { since })`, and `missing` on a message whose predecessor never
 * came. One test runs a node on a data directory, to show the SQLite log kept across a real restart.
 */
import assert from "node:assert/strict";
import { toHex } from "../lib/bytes.ts";
import { entryMessage } from "../lib/catchup/mod.ts";
import { Identity } from "../lib/identity.ts";
import { KithNode, type ReceivedMessage } from "../lib/node.ts";
import { createMessage, DisconnectReason, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { type SimNode, startSimNode } from "../lib/sim/node.ts";
import { FIXED, isLinked, TopicLab } from "./_topic_lab.ts";

const T = "ledger";
const codec = new MessageCodec();

async function pair(seed: number) {
  const lab = new TopicLab(seed);
  const a = await lab.add();
  const b = await lab.add();
  await lab.link(a, b);
  const got: ReceivedMessage[] = [];
  a.node.subscribe(T);
  b.node.subscribe(T, (m) => got.push(m));
  await lab.runUntil(() => a.node.topicPeers(T).length === 1 && b.node.topicPeers(T).length === 1, "both in T");
  return { lab, a, b, got };
}

/** The predecessors a logged message names, as hex. */
function afterOf(node: SimNode, id: string): string[] {
  const entry = node.node.components.topicLog.get(Uint8Array.from(id.match(/../g)!.map((h) => parseInt(h, 16))))!;
  return (entryMessage(codec, entry).payload.after ?? []).map(toHex);
}

Deno.test("topic messages gossip delivers are logged with their predecessors named, and reach the application once across a reconnect and a restart", async () => {
  const { lab, a, b, got } = await pair(11);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(a.node.broadcast(`entry ${i}`, { topic: T }));
    await lab.run(50);
  }
  await lab.runUntil(() => got.length === 3, "three deliveries");
  assert.deepEqual(got.map((m) => m.id), ids);
  assert.deepEqual(afterOf(b, ids[1]), [ids[0]], "each names the one before: its origin's head in T");
  assert.deepEqual(afterOf(b, ids[2]), [ids[1]]);
  assert.deepEqual(b.node.history(T).map((m) => m.id), ids);
  assert.ok(b.node.history(T).every((m) => m.replayed && m.from === ""));
  assert.equal(b.node.stats().topicLog.messages, 3);
  assert.equal(a.node.stats().topicLog.messages, 3, "the publisher logs its own messages");

  // Every logged envelope again, as catch-up would hand them over after a reconnect: none is new.
  const resend = (to: SimNode) =>
    ids.map((id) => {
      const entry = a.node.components.topicLog.get(Uint8Array.from(id.match(/../g)!.map((h) => parseInt(h, 16))))!;
      return to.node.components.topicDelivery.accept(codec.parse(entry.envelope), entry.envelope, a.identity.nodeId);
    });
  void b.peers.activePeer(a.identity.nodeId)!.connection.close(DisconnectReason.SHUTDOWN, "test");
  await lab.runUntil(() => !isLinked(a, b) && !isLinked(b, a), "the link closed");
  await lab.link(a, b);
  assert.deepEqual(resend(b), [false, false, false]);

  // A restart: same identity, storage and log, a fresh process state.
  b.crash();
  await lab.run(100);
  const again = await startSimNode(lab.network, b.index, lab.random, FIXED, "default", {}, {
    identity: b.identity,
    storage: b.storage,
    topicLog: b.topicLog,
  });
  lab.nodes[b.index] = again;
  const after: ReceivedMessage[] = [];
  again.node.subscribe(T, (m) => after.push(m));
  await lab.link(again, a);
  await lab.runUntil(() => again.node.topicPeers(T).length === 1, "back in T");
  assert.deepEqual(resend(again), [false, false, false], "the log answers for what was delivered before the restart");
  const next = a.node.broadcast("entry 3", { topic: T });
  await lab.runUntil(() => after.length === 1, "the next message");
  assert.deepEqual(after.map((m) => m.id), [next]);
  assert.deepEqual(afterOf(again, next), [ids[2]]);
  assert.equal(again.node.stats().topicDelivery.duplicates, 3);
  await lab.stop();
});

Deno.test("subscribe(topic, { since }) replays the log page by page, then live messages, with no gap and no duplicate at the seam", async () => {
  const { lab, a, b, got } = await pair(12);
  for (let i = 0; i < 300; i++) {
    a.node.broadcast(`entry ${i}`, { topic: T });
    await lab.run(10);
  }
  await lab.runUntil(() => got.length === 300, "300 deliveries");
  const since = got[20].timestamp;
  const expected = b.node.history(T, { since, limit: 10_000 }).map((m) => m.id);
  const subscription = b.node.subscribe(T, { since });
  const iterator = subscription[Symbol.asyncIterator]();
  const seen: ReceivedMessage[] = [];
  const take = async (n: number) => {
    for (let i = 0; i < n; i++) seen.push((await iterator.next()).value as ReceivedMessage);
  };
  await take(10);
  // Mid-replay: two live messages, and one older than the replay's position (as catch-up may bring).
  const live = [a.node.broadcast("live 0", { topic: T }), a.node.broadcast("live 1", { topic: T })];
  await lab.runUntil(() => got.length === 302, "the live messages");
  const stranger = Identity.generate();
  const late = createMessage(stranger, MessageType.CUSTOM_DATA, { topic: T, data: new Uint8Array([1]) }, {
    timestamp: since + 1,
  });
  assert.equal(b.node.components.topicDelivery.accept(late, codec.encode(late), a.identity.nodeId), true);
  await take(expected.length - 10 + 3);
  const ids = seen.map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, "no duplicate");
  assert.deepEqual(ids.slice(0, expected.length), expected, "the replay, in log order");
  assert.deepEqual(ids.slice(expected.length).sort(), [...live, toHex(late.id)].sort(), "then what came meanwhile");
  assert.ok(seen.slice(0, expected.length).every((m) => m.replayed));
  const more = a.node.broadcast("live 2", { topic: T });
  const [next] = await Promise.all([iterator.next(), lab.run(200)]);
  assert.equal((next.value as ReceivedMessage).id, more, "and live from then on");
  assert.equal(subscription.dropped, 0);
  subscription.unsubscribe();
  await lab.stop();
});

Deno.test("a message whose predecessor never comes reaches the application after causalWaitMs, naming it missing", async () => {
  const { lab, a, b, got } = await pair(13);
  const stranger = Identity.generate();
  const gone = createMessage(stranger, MessageType.CUSTOM_DATA, { topic: T, data: new Uint8Array([0]) });
  const orphan = createMessage(stranger, MessageType.CUSTOM_DATA, {
    topic: T,
    data: new Uint8Array([1]),
    after: [gone.id],
  }, { timestamp: lab.clock.now() });
  b.node.components.topicDelivery.accept(orphan, codec.encode(orphan), a.identity.nodeId);
  await lab.run(b.node.config.causalWaitMs - 100);
  assert.equal(got.length, 0, "held while its predecessor may still come");
  assert.equal(b.node.stats().topicDelivery.pending, 1);
  await lab.run(200);
  assert.deepEqual(got.map((m) => m.missing), [[toHex(gone.id)]]);
  await lab.stop();
});

Deno.test("a node on a data directory keeps its topic log in kith.db across a restart, and takes nothing twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kith-topic-history-" });
  const config = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 0 };
  const stranger = Identity.generate();
  const messages = [0, 1, 2].map((i) =>
    createMessage(stranger, MessageType.CUSTOM_DATA, { topic: T, data: new Uint8Array([i]) }, {
      timestamp: Date.now() - 1_000 + i,
    })
  );
  try {
    const first = new KithNode({ config, dataDir: dir });
    await first.start();
    first.subscribe(T);
    for (const m of messages) assert.equal(first.components.topicDelivery.accept(m, codec.encode(m), "peer"), true);
    await first.stop();
    const second = new KithNode({ config, dataDir: dir });
    await second.start();
    const got: ReceivedMessage[] = [];
    second.subscribe(T, (m) => got.push(m));
    assert.deepEqual(second.history(T).map((m) => m.id), messages.map((m) => toHex(m.id)));
    for (const m of messages) assert.equal(second.components.topicDelivery.accept(m, codec.encode(m), "peer"), false);
    assert.equal(got.length, 0);
    await second.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a topic message catch-up delivered is not delivered again when gossip brings it after a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kith-topic-history-" });
  const config = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 0 };
  const stranger = Identity.generate();
  const message = createMessage(stranger, MessageType.CUSTOM_DATA, { topic: T, data: new Uint8Array([7]) }, {
    timestamp: Date.now() - 1_000,
  });
  const encoded = codec.encode(message);
  try {
    const first = new KithNode({ config, dataDir: dir });
    await first.start();
    first.subscribe(T);
    // As catch-up hands a fetched message over.
    assert.equal(first.components.topicDelivery.accept(codec.parse(encoded), encoded, stranger.nodeId), true);
    await first.stop();
    const second = new KithNode({ config, dataDir: dir });
    await second.start();
    const got: ReceivedMessage[] = [];
    second.subscribe(T, (m) => got.push(m));
    const overlay = second.components.topics.gossipOf(T)!;
    // The same message by gossip, from a peer: a duplicate before its signature, not a second delivery.
    overlay.receive({ nodeId: stranger.nodeId }, codec.parse(encoded));
    assert.equal(overlay.stats.duplicates, 1);
    for (let i = 0; i < 20 && got.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(got.length, 0);
    assert.equal(second.components.topicDelivery.stats.accepted, 0);
    await second.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
