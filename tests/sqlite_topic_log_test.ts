/**
 * SqliteTopicLog (lib/catchup/sqlite_log.ts): the TopicLog contract on a temporary SQLite file (removed after
 * each test), checked against MemoryTopicLog as the reference, and what only a file gives: buffered writes seen
 * before a flush, and the log as it was after a restart.
 */
import assert from "node:assert/strict";
import { type LogEntry, MemoryTopicLog, type TopicRetention } from "../lib/catchup/log.ts";
import { SqliteTopicLog } from "../lib/catchup/sqlite_log.ts";
import { ManualClock } from "../lib/clock.ts";

function entry(n: number, timestamp: number, topic = "chat", size = 10): LogEntry {
  const id = new Uint8Array(32);
  id[0] = n >> 8;
  id[1] = n & 255;
  id[2] = 0xee;
  return { id, topic, timestamp, origin: "ab", envelope: new Uint8Array(size).fill(n & 255) };
}

async function withFile(run: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kith-topic-log-" });
  try {
    await run(`${dir}/kith.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SqliteTopicLog keeps each topic in (timestamp, id) order whatever the arrival order, and refuses a second append", async () => {
  await withFile((path) => {
    const clock = new ManualClock(0);
    const log = new SqliteTopicLog(path, { clock });
    for (const [n, t] of [[3, 30], [1, 10], [2, 20], [4, 10]]) assert.equal(log.append(entry(n, t), 100), true);
    assert.deepEqual(log.list("chat").map((e) => e.id[1]), [1, 4, 2, 3]);
    assert.deepEqual(log.items("chat", 20).map((i) => i.timestamp), [20, 30]);
    assert.deepEqual(log.list("chat", { since: 10, limit: 2 }).map((e) => e.id[1]), [1, 4]);
    assert.equal(log.append(entry(2, 20), 100), false, "a second append of an id is refused");
    assert.deepEqual(log.get(entry(3, 30).id)?.envelope, entry(3, 30).envelope);
    assert.deepEqual(log.summary("chat"), { topic: "chat", count: 4, bytes: 40, oldest: 10, newest: 30 });
    log.close();
  });
});

Deno.test("SqliteTopicLog serves buffered appends before any flush, and writes them in one transaction when the interval ends", async () => {
  await withFile((path) => {
    const clock = new ManualClock(0);
    const log = new SqliteTopicLog(path, { clock, flushIntervalMs: 100 });
    log.append(entry(1, 10), 100);
    assert.equal(log.pendingWrites, 1);
    assert.equal(log.has(entry(1, 10).id), true, "a point read sees the buffered append");
    assert.equal(log.get(entry(1, 10).id)?.timestamp, 10);
    clock.advance(100);
    assert.equal(log.pendingWrites, 0, "the interval's flush wrote it");
    log.close();
  });
});

Deno.test("SqliteTopicLog holds after a restart what was flushed, with its counters, and applies a retention that shrank meanwhile", async () => {
  await withFile((path) => {
    const first = new SqliteTopicLog(path, { clock: new ManualClock(0) });
    for (let n = 0; n < 5; n++) first.append(entry(n, 100 + n, "a"), 200);
    first.append(entry(9, 150, "b", 7), 200);
    first.close();
    const again = new SqliteTopicLog(path, { clock: new ManualClock(0) });
    assert.deepEqual(again.topics().sort(), ["a", "b"]);
    assert.deepEqual(again.summary("a"), { topic: "a", count: 5, bytes: 50, oldest: 100, newest: 104 });
    assert.equal(again.has(entry(3, 103, "a").id), true);
    assert.equal(again.append(entry(3, 103, "a"), 200), false, "held across the restart: not taken twice");
    again.close();
    const smaller = (topic: string): TopicRetention => ({
      maxMessages: topic === "a" ? 2 : 100,
      maxBytes: 1_000,
      maxAgeMs: 10_000,
    });
    const shrunk = new SqliteTopicLog(path, { clock: new ManualClock(0), retention: smaller });
    assert.deepEqual(shrunk.list("a").map((e) => e.timestamp), [103, 104], "the oldest went at open");
    assert.equal(shrunk.summary("b").count, 1);
    shrunk.close();
  });
});

Deno.test("SqliteTopicLog drops past its bounds exactly as MemoryTopicLog does, across many pages of drops and out-of-order appends", async () => {
  await withFile((path) => {
    const retention = (topic: string): TopicRetention =>
      topic === "count"
        ? { maxMessages: 2_500, maxBytes: 1 << 30, maxAgeMs: 1e9 }
        : { maxMessages: 100_000, maxBytes: 5_000, maxAgeMs: 1e9 };
    const sqlite = new SqliteTopicLog(path, { clock: new ManualClock(0), retention, maxPendingWrites: 64 });
    const memory = new MemoryTopicLog(retention);
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let n = 0; n < 12_000; n++) {
      const topic = n % 3 === 0 ? "bytes" : "count";
      // Mostly rising timestamps with some late arrivals, some older than everything held.
      const timestamp = 10_000 + n * 10 - (next() % 4 === 0 ? next() % 5_000 : 0);
      const e = entry(n, timestamp, topic, 10 + (next() % 40));
      assert.equal(sqlite.append(e, 30_000), memory.append(e, 30_000), `append ${n}`);
    }
    for (const topic of ["count", "bytes"]) {
      assert.deepEqual(sqlite.summary(topic), memory.summary(topic), topic);
      assert.deepEqual(
        sqlite.items(topic, 0).map((i) => i.id.join()),
        memory.items(topic, 0).map((i) => i.id.join()),
        topic,
      );
    }
    sqlite.close();
  });
});

Deno.test("SqliteTopicLog refuses a message older than its topic's age bound and prunes by age", async () => {
  await withFile((path) => {
    const retention = (): TopicRetention => ({ maxMessages: 100, maxBytes: 1_000, maxAgeMs: 50 });
    const log = new SqliteTopicLog(path, { clock: new ManualClock(0), retention });
    for (let n = 0; n < 3; n++) log.append(entry(n, 100 + n), 110);
    assert.equal(log.append(entry(20, 50), 110), false, "older than maxAgeMs at append");
    assert.equal(log.prune(151), 1, "the message at 100 is past 50 ms at 151");
    assert.deepEqual(log.list("chat").map((e) => e.timestamp), [101, 102]);
    assert.equal(log.summary("chat").count, 2);
    assert.equal(log.prune(1_000), 2);
    assert.deepEqual(log.topics(), []);
    log.close();
  });
});
