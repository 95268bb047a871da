import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ManualClock } from "../lib/clock.ts";
import {
  MemoryStorage,
  SCHEMA_MIGRATIONS,
  SCHEMA_VERSION,
  SqliteStorage,
  type Storage,
  StorageError,
  type StorageOptions,
  type StoredPeer,
} from "../lib/storage/mod.ts";

const T0 = 1_700_000_000_000;

function peer(nodeId: string, trustScore: number, lastSeen = T0): StoredPeer {
  return {
    nodeId,
    address: "127.0.0.1:7400",
    publicKey: new Uint8Array(32).fill(nodeId.charCodeAt(0)),
    firstSeen: T0 - 1000,
    lastSeen,
    trustScore,
    trustUpdatedAt: lastSeen,
    validCount: 3,
    invalidCount: 1,
    timeoutCount: 0,
    failures: 0,
  };
}
const id = (n: number) => Uint8Array.from({ length: 32 }, (_, i) => (n >> (8 * (i % 4))) & 0xff);

interface Backend {
  name: string;
  open(options: StorageOptions & { clock: ManualClock }): { storage: Storage; reopen?: () => Storage; cleanup(): void };
}

const backends: Backend[] = [
  {
    name: "MemoryStorage",
    open: (options) => ({ storage: new MemoryStorage(options), cleanup() {} }),
  },
  {
    name: "SqliteStorage",
    open: (options) => {
      const dir = Deno.makeTempDirSync();
      const path = `${dir}/kith.db`;
      return {
        storage: new SqliteStorage(path, options),
        reopen: () => new SqliteStorage(path, options),
        cleanup: () => Deno.removeSync(dir, { recursive: true }),
      };
    },
  },
];

/** The contract every Storage keeps, run against each backend. */
for (const backend of backends) {
  const contract = (name: string, fn: (s: Storage, clock: ManualClock, reopen?: () => Storage) => void) =>
    Deno.test(`${backend.name}: ${name}`, () => {
      const clock = new ManualClock(T0);
      const { storage, reopen, cleanup } = backend.open({ clock, pruneIntervalMs: 0 });
      try {
        fn(storage, clock, reopen);
      } finally {
        storage.close();
        cleanup();
      }
    });

  contract("peers round-trip, replace on save, and list by trust then recency", (s) => {
    s.savePeer(peer("a", 0.5));
    s.savePeer(peer("b", 0.9));
    s.savePeer(peer("c", 0.5, T0 + 10));
    assert.deepEqual(s.getPeer("b"), peer("b", 0.9));
    s.savePeer({ ...peer("a", 0.2), address: "[::1]:9" });
    assert.equal(s.getPeer("a")?.address, "[::1]:9");
    assert.deepEqual(s.listPeers().map((p) => p.nodeId), ["b", "c", "a"]);
    assert.deepEqual(s.listPeers({ limit: 2 }).map((p) => p.nodeId), ["b", "c"]);
    assert.equal(s.countPeers(), 3);
    s.deletePeer("c");
    assert.equal(s.getPeer("c"), undefined);
    assert.equal(s.countPeers(), 2);
    assert.equal(s.getPeer("zzz"), undefined);
  });

  contract(
    "address-book entries round-trip apart from trust rows, list tried first, and are deleted when evicted",
    (s, _clock, reopen) => {
      const entry = (nodeId: string, tried: boolean, lastSeen: number) => ({
        nodeId,
        address: "127.0.9.1:7400",
        source: tried ? "" : "v4:127.0.8",
        tried,
        lastSeen,
        lastSuccess: tried ? lastSeen : 0,
        failures: 0,
      });
      s.saveAddress(entry("new-old", false, T0));
      s.saveAddress(entry("new-recent", false, T0 + 5));
      s.saveAddress(entry("tried", true, T0 - 100));
      assert.deepEqual(s.listAddresses().map((a) => a.nodeId), ["tried", "new-recent", "new-old"]);
      assert.deepEqual(s.listAddresses({ limit: 1 }), [entry("tried", true, T0 - 100)]);
      assert.equal(s.countPeers(), 0, "hearsay writes no trust row");
      s.deleteAddress("new-old");
      assert.equal(s.countAddresses(), 2);
      if (reopen) {
        s.close();
        const again = reopen();
        assert.deepEqual(again.listAddresses().map((a) => a.nodeId), ["tried", "new-recent"]);
        again.close();
      }
    },
  );

  contract("a stored peer is a copy: changing the caller's object changes nothing", (s) => {
    const p = peer("a", 0.5);
    s.savePeer(p);
    p.trustScore = 0;
    p.publicKey![0] = 99;
    assert.equal(s.getPeer("a")?.trustScore, 0.5);
    assert.equal(s.getPeer("a")?.publicKey?.[0], "a".charCodeAt(0));
  });

  contract("trust events list newest first, per peer, with a limit", (s) => {
    for (let i = 0; i < 5; i++) {
      s.recordTrustEvent({
        nodeId: "a",
        eventType: `timeout`,
        trustDelta: -0.05,
        trustAfter: 0.5 - 0.05 * (i + 1),
        timestamp: T0 + i,
        count: 1,
      });
    }
    s.recordTrustEvent({
      nodeId: "b",
      eventType: "timeout",
      trustDelta: -0.05,
      trustAfter: 0.45,
      timestamp: T0,
      count: 1,
    });
    const events = s.listTrustEvents("a", { limit: 3 });
    assert.deepEqual(events.map((e) => e.timestamp), [T0 + 4, T0 + 3, T0 + 2]);
    assert.ok(Math.abs(events[0].trustAfter - 0.25) < 1e-12);
    assert.equal(s.listTrustEvents("b").length, 1);
  });

  contract("seen ids: recorded once, found, listed by time, and pruned after the dedup window", (s) => {
    s.recordSeen({ messageId: id(1), timestamp: T0, senderId: "a" });
    s.recordSeen({ messageId: id(1), timestamp: T0 + 5, senderId: "b" }); // duplicate: ignored
    s.recordSeen({ messageId: id(2), timestamp: T0 + 60_000, senderId: "a" });
    assert.equal(s.hasSeen(id(1)), true);
    assert.equal(s.hasSeen(id(3)), false);
    assert.equal(s.countSeen(), 2);
    const listed = s.listSeenSince(T0, 10);
    assert.deepEqual(listed.map((m) => m.senderId), ["a", "a"]);
    assert.deepEqual(listed[0].messageId, id(1));
    assert.equal(s.listSeenSince(T0 + 1, 10).length, 1);
    // Default dedup window: 10 minutes.
    assert.deepEqual(s.prune(T0 + 10 * 60_000), { seenMessages: 0, trustEvents: 0 });
    assert.deepEqual(s.prune(T0 + 10 * 60_000 + 1), { seenMessages: 1, trustEvents: 0 });
    assert.equal(s.hasSeen(id(1)), false);
    assert.equal(s.hasSeen(id(2)), true);
  });

  contract("trust events are pruned after their retention", (s) => {
    s.recordTrustEvent({
      nodeId: "a",
      eventType: "timeout",
      trustDelta: -0.05,
      trustAfter: 0.45,
      timestamp: T0,
      count: 1,
    });
    s.recordTrustEvent({
      nodeId: "a",
      eventType: "timeout",
      trustDelta: -0.05,
      trustAfter: 0.4,
      timestamp: T0 + 1000,
      count: 1,
    });
    const week = 7 * 24 * 3_600_000;
    assert.equal(s.prune(T0 + week + 1).trustEvents, 1);
    assert.deepEqual(s.listTrustEvents("a").map((e) => e.timestamp), [T0 + 1000]);
  });

  contract("network state stores and replaces values", (s) => {
    assert.equal(s.getState("k"), undefined);
    s.setState("k", "v1");
    s.setState("k", "v2");
    assert.equal(s.getState("k"), "v2");
  });

  contract("close is idempotent and use after close is a StorageError", (s) => {
    s.close();
    s.close();
    assert.throws(() => s.savePeer(peer("a", 0.5)), StorageError);
  });

  contract("the prune schedule runs on the injected clock", (s, clock) => {
    // This store was opened with the schedule off; open one with it on.
    s.close();
    const scheduled = backend.open({ clock, pruneIntervalMs: 60_000, seenRetentionMs: 1000 });
    try {
      scheduled.storage.recordSeen({ messageId: id(9), timestamp: T0, senderId: "a" });
      clock.advance(59_999);
      assert.equal(scheduled.storage.hasSeen(id(9)), true);
      clock.advance(1);
      assert.equal(scheduled.storage.hasSeen(id(9)), false);
    } finally {
      scheduled.storage.close();
      scheduled.cleanup();
    }
    assert.equal(clock.pendingTimers, 0, "close cancels the schedule");
  });
}

Deno.test("SqliteStorage: reads see buffered writes before the flush; the flush interval writes them in one go", () => {
  const clock = new ManualClock(T0);
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/kith.db`;
    const storage = new SqliteStorage(path, { clock, pruneIntervalMs: 0, flushIntervalMs: 100 });
    const reader = new DatabaseSync(path);
    const countOnDisk = () => Number((reader.prepare("SELECT count(*) AS n FROM peers").get() as { n: number }).n);
    storage.savePeer(peer("a", 0.5));
    storage.setState("k", "v");
    assert.equal(storage.getPeer("a")?.trustScore, 0.5);
    assert.equal(storage.getState("k"), "v");
    assert.equal(storage.pendingWrites, 2);
    assert.equal(countOnDisk(), 0);
    clock.advance(99);
    assert.equal(countOnDisk(), 0);
    clock.advance(1);
    assert.equal(countOnDisk(), 1);
    assert.equal(storage.pendingWrites, 0);
    reader.close();
    storage.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage: reaching maxPendingWrites flushes without waiting for the interval", () => {
  const clock = new ManualClock(T0);
  const dir = Deno.makeTempDirSync();
  try {
    const storage = new SqliteStorage(`${dir}/kith.db`, {
      clock,
      pruneIntervalMs: 0,
      flushIntervalMs: 10_000,
      maxPendingWrites: 10,
    });
    for (let i = 0; i < 10; i++) storage.recordSeen({ messageId: id(i), timestamp: T0, senderId: "a" });
    clock.advance(0);
    assert.equal(storage.pendingWrites, 0);
    storage.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage: everything pending is flushed on close and survives reopening", () => {
  const clock = new ManualClock(T0);
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/kith.db`;
    const first = new SqliteStorage(path, { clock, pruneIntervalMs: 0, flushIntervalMs: 60_000 });
    first.savePeer(peer("a", 0.7));
    first.recordSeen({ messageId: id(1), timestamp: T0, senderId: "a" });
    first.recordTrustEvent({
      nodeId: "a",
      eventType: "timeout",
      trustDelta: -0.05,
      trustAfter: 0.7,
      timestamp: T0,
      count: 1,
    });
    first.setState("k", "v");
    first.close();
    const second = new SqliteStorage(path, { clock, pruneIntervalMs: 0 });
    assert.deepEqual(second.getPeer("a"), peer("a", 0.7));
    assert.equal(second.hasSeen(id(1)), true);
    assert.equal(second.listTrustEvents("a").length, 1);
    assert.equal(second.getState("k"), "v");
    assert.equal(second.integrityCheck(), "ok");
    second.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage: consecutive valid_message events of a peer coalesce into one row with a count", () => {
  const clock = new ManualClock(T0);
  const dir = Deno.makeTempDirSync();
  try {
    const storage = new SqliteStorage(`${dir}/kith.db`, { clock, pruneIntervalMs: 0 });
    for (let i = 0; i < 50; i++) {
      storage.recordTrustEvent({
        nodeId: "a",
        eventType: "valid_message",
        trustDelta: 0.001,
        trustAfter: 0.5 + 0.001 * (i + 1),
        timestamp: T0 + i,
        count: 1,
      });
    }
    storage.recordTrustEvent({
      nodeId: "a",
      eventType: "timeout",
      trustDelta: -0.05,
      trustAfter: 0.5,
      timestamp: T0 + 60,
      count: 1,
    });
    storage.recordTrustEvent({
      nodeId: "a",
      eventType: "valid_message",
      trustDelta: 0.001,
      trustAfter: 0.501,
      timestamp: T0 + 70,
      count: 1,
    });
    const events = storage.listTrustEvents("a");
    assert.deepEqual(events.map((e) => [e.eventType, e.count]), [["valid_message", 1], ["timeout", 1], [
      "valid_message",
      50,
    ]]);
    assert.ok(Math.abs(events[2].trustDelta - 0.05) < 1e-9);
    assert.equal(events[2].timestamp, T0 + 49);
    storage.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage: a version-1 database (the design's schema) is migrated, keeping its rows", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/kith.db`;
    const old = new DatabaseSync(path);
    old.exec(SCHEMA_MIGRATIONS[0]);
    old.exec("PRAGMA user_version = 1");
    old.prepare("INSERT INTO peers (node_id, address, public_key, last_seen, trust_score) VALUES (?, ?, ?, ?, ?)")
      .run("a", "10.0.0.1:7400", null, T0, 0.42);
    old.close();
    const storage = new SqliteStorage(path, { pruneIntervalMs: 0 });
    const migrated = storage.getPeer("a")!;
    assert.equal(migrated.trustScore, 0.42);
    // Version 3 moved the address to the address book, as hearsay (new) with no source.
    assert.deepEqual(storage.listAddresses().map((e) => [e.nodeId, e.address, e.tried]), [[
      "a",
      "10.0.0.1:7400",
      false,
    ]]);
    assert.equal(migrated.firstSeen, T0);
    assert.equal(migrated.trustUpdatedAt, T0);
    assert.equal(migrated.validCount, 0);
    storage.close();
    const check = new DatabaseSync(path);
    assert.equal((check.prepare("PRAGMA user_version").get() as { user_version: number }).user_version, SCHEMA_VERSION);
    const indexes = (check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
      .all() as { name: string }[]).map((r) => r.name).sort();
    assert.deepEqual(indexes, [
      "messages_seen_by_time",
      "peers_by_trust",
      "topic_log_by_topic",
      "trust_events_by_node",
      "trust_events_by_time",
    ]);
    check.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage: a database from a newer kith is refused with one line naming it", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/kith.db`;
    const future = new DatabaseSync(path);
    future.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    future.close();
    assert.throws(() => new SqliteStorage(path), (e: unknown) => {
      assert.ok(e instanceof StorageError);
      assert.equal(e.code, "SCHEMA_TOO_NEW");
      assert.ok(e.message.includes(path) && !e.message.includes("\n"));
      return true;
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage: a file that is not a database is refused with STORAGE_OPEN", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(
      `${dir}/kith.db`,
      "this is not an sqlite database, just text that is long enough".repeat(20),
    );
    assert.throws(
      () => new SqliteStorage(`${dir}/kith.db`),
      (e: unknown) => e instanceof StorageError && e.code === "STORAGE_OPEN",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

const fixture = new URL("./fixtures/storage_writer.ts", import.meta.url).pathname;

Deno.test("SqliteStorage: SIGKILL mid-stream loses nothing that was flushed and leaves an intact file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/kith.db`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${dir}`, `--allow-write=${dir}`, fixture, path],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    // The writer prints the number of records durable after each flush.
    let flushedRecords = 0, flushes = 0, text = "";
    const reader = child.stdout.getReader();
    const decoder = new TextDecoder();
    while (flushes < 100) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
      const lines = text.split("\n");
      text = lines.pop()!;
      for (const line of lines) {
        flushedRecords = Number(line);
        flushes++;
      }
    }
    child.kill("SIGKILL");
    const status = await child.status;
    await reader.cancel();
    assert.equal(status.signal, "SIGKILL");
    assert.ok(flushes >= 100 && flushedRecords > 0, `only ${flushes} flushes seen`);
    const storage = new SqliteStorage(path, { pruneIntervalMs: 0 });
    try {
      assert.equal(storage.integrityCheck(), "ok");
      for (let i = 0; i < flushedRecords; i++) {
        const messageId = new Uint8Array(32);
        new DataView(messageId.buffer).setUint32(0, i);
        assert.ok(storage.hasSeen(messageId), `record ${i} of ${flushedRecords} flushed before the kill is missing`);
      }
      assert.ok(storage.countSeen() >= flushedRecords);
      assert.equal(storage.getPeer("writer")?.validCount, storage.countSeen() - 1);
    } finally {
      storage.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage: a path outside the granted directory gives one clear line, no stack trace", async () => {
  const allowed = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    const script = `import { SqliteStorage } from ${
      JSON.stringify(new URL("../lib/storage/mod.ts", import.meta.url).href)
    };
      try { new SqliteStorage(Deno.args[0]).close(); console.log("opened"); }
      catch (e) { console.error("kith: " + e.message); Deno.exit(1); }`;
    await Deno.writeTextFile(`${allowed}/open.ts`, script);
    const run = (path: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-check", "--allow-read=" + allowed, "--allow-write=" + allowed, `${allowed}/open.ts`, path],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
    const ok = await run(`${allowed}/kith.db`);
    assert.equal(new TextDecoder().decode(ok.stdout).trim(), "opened", new TextDecoder().decode(ok.stderr));
    const denied = await run(`${outside}/kith.db`);
    const stderr = new TextDecoder().decode(denied.stderr).trim();
    assert.equal(denied.code, 1);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(
      stderr,
      new RegExp(`cannot open database ${outside}/kith.db: permission denied \\(run with --allow-read=`),
    );
  } finally {
    await Deno.remove(allowed, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("both backends keep at most maxTrustEvents, dropping the oldest", () => {
  for (const backend of backends) {
    const clock = new ManualClock(T0);
    const { storage, cleanup } = backend.open({ clock, pruneIntervalMs: 0, maxTrustEvents: 1500 });
    try {
      for (let i = 0; i < 5000; i++) {
        storage.recordTrustEvent({
          nodeId: "a",
          eventType: "timeout",
          trustDelta: 0,
          trustAfter: 0.5,
          timestamp: T0 + i,
          count: 1,
        });
      }
      storage.prune(T0); // SQLite trims by count when it prunes
      const events = storage.listTrustEvents("a", { limit: 10_000 });
      assert.equal(events.length, 1500, backend.name);
      assert.equal(events.at(-1)!.timestamp, T0 + 3500, backend.name);
    } finally {
      storage.close();
      cleanup();
    }
  }
});
