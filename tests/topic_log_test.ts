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
