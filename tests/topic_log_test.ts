import assert from "node:assert/strict";
import { type LogEntry, MemoryTopicLog } from "../lib/catchup/log.ts";

function entry(n: number, timestamp: number, topic = "chat", size = 10): LogEntry {
  const id = new Uint8Array(32);
  id[0] = n >> 8;
  id[1] = n & 255;
  return { id, topic, timestamp, origin: "ab", envelope: new Uint8Array(size) };
}

Deno.test("MemoryTopicLog keeps each topic in (timestamp, id) order whatever the arrival order", () => {
  const log = new MemoryTopicLog();
  for (const [n, t] of [[3, 30], [1, 10], [2, 20], [4, 10]]) assert.equal(log.append(entry(n, t), 100), true);
  assert.deepEqual(log.list("chat").map((e) => e.id[1]), [1, 4, 2, 3]);
  assert.deepEqual(log.items("chat", 20).map((i) => i.timestamp), [20, 30]);
  assert.equal(log.append(entry(2, 20), 100), false, "a second append of an id is refused");
});

Deno.test("MemoryTopicLog drops a topic's oldest messages past its count and byte bounds, and refuses old ones", () => {
  const log = new MemoryTopicLog((topic) =>
    topic === "small"
      ? { maxMessages: 2, maxBytes: 1_000, maxAgeMs: 50 }
      : { maxMessages: 100, maxBytes: 25, maxAgeMs: 1_000 }
  );
  for (let n = 0; n < 3; n++) log.append(entry(n, 100 + n, "small"), 110);
  assert.deepEqual(log.list("small").map((e) => e.timestamp), [101, 102]);
  assert.equal(log.has(entry(0, 100, "small").id), false);
  for (let n = 10; n < 13; n++) log.append(entry(n, 100 + n, "big"), 110);
  assert.equal(log.summary("big").count, 2, "three 10-byte envelopes exceed 25 bytes");
  assert.equal(log.summary("big").bytes, 20);
  assert.equal(log.append(entry(20, 50, "small"), 110), false, "older than maxAgeMs at append");
  assert.equal(log.prune(160), 2, "both small-topic messages are past 50 ms at 160");
  assert.deepEqual(log.topics(), ["big"]);
});

Deno.test("MemoryTopicLog holds thousands of messages out of timestamp order in order, through its bounds and pruning", () => {
  // Enough messages, late by up to 3,000 places, for the topic's entries to span many chunks, split and drop.
  const log = new MemoryTopicLog(() => ({ maxMessages: 5_000, maxBytes: 1 << 30, maxAgeMs: 1_000_000 }));
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const held: LogEntry[] = [];
  for (let n = 0; n < 20_000; n++) {
    const e = entry(n, 10_000 + n + Math.floor(random() * 3_000) * (random() < 0.5 ? -1 : 0));
    assert.equal(log.append(e, 20_000), true);
    held.push(e);
  }
  const order = (a: LogEntry, b: LogEntry) => a.timestamp - b.timestamp || a.id[0] - b.id[0] || a.id[1] - b.id[1];
  // The bound drops the oldest by (timestamp, id) at each append: what is left is not simply the newest 5,000
  // of all, as a late old message dropped at once never displaced anything. Rebuild the expected set the same way.
  const expected: LogEntry[] = [];
  for (const e of held) {
    let at = expected.length;
    while (at > 0 && order(expected[at - 1], e) > 0) at--;
    expected.splice(at, 0, e);
    if (expected.length > 5_000) expected.shift();
  }
  const listed = log.list("chat", { limit: 10_000 });
  assert.deepEqual(listed.map((e) => e.id), expected.map((e) => e.id));
  assert.deepEqual(log.latest("chat", 300).map((e) => e.id), expected.slice(-300).reverse().map((e) => e.id));
  const summary = log.summary("chat");
  assert.equal(summary.count, 5_000);
  assert.equal(summary.oldest, expected[0].timestamp);
  assert.equal(summary.newest, expected.at(-1)!.timestamp);
  assert.equal(log.has(expected[0].id), true);
  assert.equal(log.has(held.find((e) => !expected.includes(e))!.id), false);
  const cutoff = expected[2_500].timestamp;
  const older = expected.filter((e) => e.timestamp < cutoff).length;
  assert.equal(log.prune(cutoff + 1_000_000), older);
  assert.deepEqual(log.items("chat", 0).map((i) => i.id), expected.slice(older).map((e) => e.id));
});
