/**
 * TopicDelivery (lib/catchup/delivery.ts) on a manual clock with real signed messages: exactly once against the
 * log, the recent ids and the causal buffer (also for a new delivery over the same log, as after a restart);
 * causal order by the predecessors a message names; delivery after the wait with what is missing named; the
 * buffer's bounds; the heads a node names when it publishes.
 */
import assert from "node:assert/strict";
import { bytesKey, toHex } from "../lib/bytes.ts";
import { type ApplicationMessage, TopicDelivery } from "../lib/catchup/delivery.ts";
import { type CausalConfig, DEFAULT_CAUSAL_CONFIG } from "../lib/catchup/causal.ts";
import { DEFAULT_TOPIC_RETENTION, MemoryTopicLog } from "../lib/catchup/log.ts";
import { ManualClock } from "../lib/clock.ts";
import { ProtocolError } from "../lib/errors.ts";
import { Identity } from "../lib/identity.ts";
import { createMessage, type Envelope, MessageCodec, MessageType } from "../lib/protocol/mod.ts";

const NOW = 1_700_000_000_000;
const codec = new MessageCodec();
const alice = Identity.generate();

interface Lab {
  clock: ManualClock;
  log: MemoryTopicLog;
  delivery: TopicDelivery;
  /** Delivered messages' first data byte, in delivery order. */
  order: number[];
  /** Missing predecessors (hex) by first data byte. */
  missing: Map<number, string[]>;
}

function lab(config: Partial<CausalConfig> = {}, log = new MemoryTopicLog(), clock = new ManualClock(NOW)): Lab {
  const order: number[] = [];
  const missing = new Map<number, string[]>();
  const delivery = new TopicDelivery({
    log,
    retention: () => DEFAULT_TOPIC_RETENTION,
    codec,
    clock,
    isIn: (topic) => topic === "chat",
    deliver: (message, _from, lacking) => {
      order.push(message.payload.data[0]);
      if (lacking.length > 0) missing.set(message.payload.data[0], lacking.map(toHex));
    },
    config,
    pruneIntervalMs: 0,
    logSink: () => {},
  });
  return { clock, log, delivery, order, missing };
}

function message(n: number, after: ApplicationMessage[] = [], topic = "chat", size = 1): ApplicationMessage {
  const data = new Uint8Array(size).fill(n);
  const payload = { topic, data, after: after.map((m) => m.id) };
  return createMessage(alice, MessageType.CUSTOM_DATA, payload, { timestamp: NOW + n });
}

function accept(lab: Lab, m: ApplicationMessage, from = "peer-a"): boolean {
  return lab.delivery.accept(m, codec.encode(m), from);
}

Deno.test("a topic message is taken once: a second copy, from any peer, is refused and not delivered again", () => {
  const l = lab();
  const m = message(1);
  assert.equal(accept(l, m), true);
  assert.equal(accept(l, m, "peer-b"), false);
  assert.deepEqual(l.order, [1]);
  assert.equal(l.log.has(m.id), true, "delivered messages are logged");
  assert.equal(l.delivery.stats.duplicates, 1);
});

Deno.test("a delivery made again over the same log (a restart) refuses what the log holds, and delivers what it does not", () => {
  const log = new MemoryTopicLog();
  const first = lab({}, log);
  const [a, b] = [message(1), message(2)];
  accept(first, a);
  first.delivery.stop();
  const again = lab({}, log);
  assert.equal(accept(again, a), false, "logged before the restart: not delivered twice");
  assert.equal(accept(again, b), true);
  assert.deepEqual(again.order, [2]);
});

Deno.test("a message that comes before its predecessor waits for it, then both are delivered in causal order", () => {
  const l = lab();
  const a = message(1);
  const b = message(2, [a]);
  const c = message(3, [b]);
  assert.equal(accept(l, c), true, "taken, and held");
  assert.equal(accept(l, b), true);
  assert.deepEqual(l.order, [], "neither is delivered before a");
  assert.equal(l.delivery.stats.pending, 2);
  assert.equal(accept(l, c), false, "a held message is not taken twice");
  assert.equal(l.log.has(c.id), false, "a held message is not logged until delivered");
  assert.equal(l.delivery.knows(c.id), true, "but known, so catch-up need not fetch it");
  assert.equal(l.delivery.knows(a.id), false);
  assert.equal(accept(l, a), true);
  assert.deepEqual(l.order, [1, 2, 3]);
  assert.equal(l.missing.size, 0, "nothing was missing");
  assert.equal(l.delivery.stats.pending, 0);
  assert.equal(l.delivery.stats.inOrder, 3);
});

Deno.test("a message whose predecessor never comes is delivered when causalWaitMs ends, naming what is missing", () => {
  const l = lab({ causalWaitMs: 5_000 });
  const lost = message(9);
  const b = message(2, [lost]);
  const c = message(3, [b]);
  accept(l, b);
  accept(l, c);
  assert.deepEqual(l.delivery.awaited(), [lost.id], "what catch-up could fetch");
  l.clock.advance(4_999);
  assert.deepEqual(l.order, []);
  l.clock.advance(1);
  assert.deepEqual(l.order, [2, 3], "b at the end of its wait; c, whose predecessor b then came, with it");
  assert.deepEqual(l.missing.get(2), [toHex(lost.id)]);
  assert.equal(l.missing.has(3), false);
  assert.equal(l.delivery.stats.deliveredMissing, 1);
  assert.equal(accept(l, lost), true, "the late predecessor is still delivered, once");
  assert.deepEqual(l.order, [2, 3, 9]);
});

Deno.test("the causal buffer is bounded in count, bytes and per peer: over a bound the message held longest is delivered at once, never dropped", () => {
  const l = lab({
    ...DEFAULT_CAUSAL_CONFIG,
    causalBufferMessages: 4,
    causalBufferPerPeer: 2,
    causalBufferBytes: 1 << 20,
  });
  const never = message(100);
  const orphans = Array.from({ length: 6 }, (_, i) => message(10 + i, [never]));
  for (const m of orphans.slice(0, 3)) accept(l, m, "attacker");
  assert.equal(l.delivery.stats.pending, 2, "one peer holds at most its share");
  assert.deepEqual(l.order, [10], "its oldest went out, with the predecessor missing");
  for (const m of orphans.slice(3)) accept(l, m, `honest-${m.payload.data[0]}`);
  assert.ok(l.delivery.stats.pending <= 4, "at most causalBufferMessages held");
  assert.deepEqual(l.order, [10, 11], "the buffer's oldest went out for the newcomer");
  assert.equal(l.delivery.stats.releasedEarly, 2);
  const bytes = lab({ causalBufferBytes: 3_000 });
  for (let i = 0; i < 3; i++) {
    bytes.delivery.accept(message(20 + i, [never], "chat", 1_000), new Uint8Array(1_200), "p");
  }
  assert.ok(bytes.delivery.stats.pendingBytes <= 3_000);
  assert.deepEqual(bytes.order, [20], "over the bytes bound the oldest went out");
});

Deno.test("a message older than its topic's retention is delivered at once: its predecessors are gone, not late", () => {
  const clock = new ManualClock(NOW + 2 * DEFAULT_TOPIC_RETENTION.maxAgeMs);
  const l = lab({}, new MemoryTopicLog(), clock);
  accept(l, message(2, [message(1)]));
  assert.deepEqual(l.order, [2]);
  assert.equal(l.missing.get(2)?.length, 1);
});

Deno.test("heads: what a node names when it publishes is its latest messages in the topic that nothing later names", () => {
  const l = lab();
  const a = message(1);
  const b = message(2, [a]);
  const c = message(3, [a]);
  accept(l, a);
  assert.deepEqual(l.delivery.heads("chat").map(bytesKey), [bytesKey(a.id)]);
  accept(l, b);
  accept(l, c);
  assert.deepEqual(l.delivery.heads("chat").map(bytesKey), [c, b].map((m) => bytesKey(m.id)), "two branches");
  const own = createMessage(alice, MessageType.CUSTOM_DATA, {
    topic: "chat",
    data: new Uint8Array([4]),
    after: l.delivery.heads("chat"),
  }, { timestamp: NOW + 4 });
  l.delivery.published(own);
  assert.deepEqual(l.delivery.heads("chat").map(bytesKey), [bytesKey(own.id)], "it names both: one head");
  assert.equal(l.log.has(own.id), true, "own messages are logged");
  assert.deepEqual(l.order, [1, 2, 3], "and not delivered to itself");
  const restarted = lab({}, l.log);
  assert.deepEqual(restarted.delivery.heads("chat").map(bytesKey), [bytesKey(own.id)], "read back from the log");
});

Deno.test("the network-wide topic is handed on from gossip but not logged, and not taken from catch-up; a topic the node is not in is refused", () => {
  const l = lab();
  assert.equal(l.delivery.acceptLive(message(1, [], ""), "peer"), true);
  assert.equal(l.log.topics().length, 0);
  assert.equal(accept(l, message(3, [], "")), false);
  assert.equal(accept(l, message(2, [], "elsewhere")), false);
  assert.deepEqual(l.order, [1]);
  assert.equal(l.delivery.stats.notMember, 2);
});

Deno.test("accept decodes the payload of a parsed envelope, and refuses one that breaks the schema with a ProtocolError", () => {
  const l = lab();
  const m = message(1);
  const encoded = codec.encode(m);
  const parsed: Envelope = codec.parse(encoded);
  assert.equal("payload" in parsed, false);
  // Handed over as a view into a larger buffer (a frame), as catch-up may: the log keeps a copy of its bytes only.
  const frame = new Uint8Array(encoded.length + 100);
  frame.set(encoded, 50);
  const view = frame.subarray(50, 50 + encoded.length);
  assert.equal(l.delivery.accept(codec.parse(view), view, "peer"), true);
  assert.deepEqual(l.order, [1]);
  const kept = l.log.get(m.id)!.envelope;
  assert.deepEqual(kept, encoded);
  assert.notEqual(kept.buffer, frame.buffer, "the frame is not kept alive by the log");
  const broken: Envelope = { ...parsed, payloadBytes: new Uint8Array([0x91, 0x01]) };
  assert.throws(() => l.delivery.accept(broken, encoded, "peer"), ProtocolError);
  assert.throws(() => l.delivery.accept({ ...parsed, type: MessageType.TRUST_UPDATE }, encoded, "peer"), ProtocolError);
});

Deno.test("with gossip's seen ids answering for the log, a message logged before a restart whose seen mark a crash lost is still not delivered twice", () => {
  const log = new MemoryTopicLog();
  const first = lab({}, log);
  const logged = message(1);
  accept(first, logged); // logged; its seen mark is what the crash loses
  first.delivery.stop();
  const clock = new ManualClock(NOW + 10);
  const order: number[] = [];
  let asked = 0;
  const counting = new Proxy(log, {
    get: (target, key) =>
      key === "has"
        ? (id: Uint8Array) => {
          asked++;
          return target.has(id);
        }
        : Reflect.get(target, key, target),
  });
  const delivery = new TopicDelivery({
    log: counting,
    retention: () => DEFAULT_TOPIC_RETENTION,
    codec,
    clock,
    isIn: (topic) => topic === "chat",
    deliver: (m) => order.push(m.payload.data[0]),
    markSeen: () => {},
    logCheckedThrough: clock.now() + codec.limits.maxClockSkewMs,
    pruneIntervalMs: 0,
    logSink: () => {},
  });
  assert.equal(delivery.acceptLive(logged, "peer-a"), false, "logged before the restart: not delivered again");
  assert.ok(asked >= 1, "asked the log");
  const later = createMessage(alice, MessageType.CUSTOM_DATA, { topic: "chat", data: new Uint8Array([7]), after: [] }, {
    timestamp: NOW + 10 + codec.limits.maxClockSkewMs + 1,
  });
  asked = 0;
  assert.equal(delivery.acceptLive(later, "peer-a"), true);
  assert.equal(asked, 0, "a message timestamped after the bound is new to the log by gossip's seen ids alone");
  assert.deepEqual(order, [7]);
  delivery.stop();
});
