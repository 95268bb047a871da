/**
 * {@link SqliteTopicLog}: the {@link TopicLog} contract in the node's SQLite database (the `topic_log` table
 * of lib/storage/schema.ts), so a node's topic logs survive restarts. Writes are buffered in memory and applied
 * in one transaction per flush interval or per `maxPendingWrites` writes, as {@link SqliteStorage} does, so
 * the message path never waits on the disk; reads see buffered writes (point reads at once, range reads by
 * flushing first).
 *
 * Retention by count and bytes is enforced on each append from counters kept in memory per topic, and a short
 * queue of each topic's oldest rows read from the database a page at a time, so that a full topic, where each
 * append drops its oldest message, costs one query per page of drops rather than one per append.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { bytesKey } from "../bytes.ts";
import { type Clock, systemClock } from "../clock.ts";
import { defaultLogSink } from "../log.ts";
import { migrate, type Row } from "../storage/schema.ts";
import { FlushTimer } from "../storage/retention.ts";
import { StorageError } from "../storage/types.ts";
import {
  DEFAULT_TOPIC_RETENTION,
  type LogEntry,
  type LogListOptions,
  type TopicLog,
  type TopicLogSummary,
  type TopicRetention,
} from "./log.ts";
import { compareItems, type SyncItem } from "./reconcile.ts";

/** Options of {@link SqliteTopicLog}. */
export interface SqliteTopicLogOptions {
  /** Each topic's bounds. Default {@link DEFAULT_TOPIC_RETENTION} for every topic. */
  retention?: (topic: string) => Readonly<TopicRetention>;
  /** Timers of the write buffer. Default: the system clock. */
  clock?: Clock;
  /** Longest a write waits in memory before its transaction, ms. Default 100; a crash loses at most this much. */
  flushIntervalMs?: number;
  /** Buffered writes that trigger a flush before the interval ends. Default 1,000. */
  maxPendingWrites?: number;
  /** Called when a background flush fails (the writes stay buffered). Default: logged to {@link defaultLogSink}. */
  onError?: (error: StorageError) => void;
}

/** One of a topic's oldest rows, as the eviction queue keeps it. */
interface OldRow extends SyncItem {
  readonly bytes: number;
}

/** What the log keeps in memory of one topic. */
interface TopicCounts {
  count: number;
  bytes: number;
  /** The topic's oldest rows in (timestamp, id) order: an exact prefix of the topic (nothing older is missing). */
  oldest: OldRow[];
  /** Whether `oldest` holds every row of the topic (then a newer append joins its end). */
  whole: boolean;
}

// A page read flushes the buffered writes first (so it is exact): a full topic pays a commit per page of drops.
const QUEUE_PAGE = 1_024;
const QUEUE_MAX = 2 * QUEUE_PAGE;

/**
 * A {@link TopicLog} in an SQLite file (WAL mode), with buffered writes. It opens its own connection to the
 * database the node's {@link SqliteStorage} uses (`kith.db`), and migrates it like the storage does.
 *
 * @example
 * ```ts
 * import { SqliteTopicLog } from "./sqlite_log.ts";
 * const dir = await Deno.makeTempDir();
 * const log = new SqliteTopicLog(`${dir}/kith.db`);
 * const id = new Uint8Array(32).fill(1);
 * log.append({ id, topic: "chat", timestamp: 1_000, origin: "ab", envelope: new Uint8Array(10) }, 2_000);
 * log.has(id); // true, before any flush
 * log.close(); // flushes
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteTopicLog implements TopicLog {
  /** Path of the database file. */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #retention: (topic: string) => Readonly<TopicRetention>;
  readonly #maxPending: number;
  readonly #onError: (error: StorageError) => void;
  readonly #sql: Record<
    | "insert"
    | "remove"
    | "get"
    | "has"
    | "items"
    | "list"
    | "listAfter"
    | "latest"
    | "ends"
    | "oldest"
    | "counts"
    | "expired"
    | "prune",
    StatementSync
  >;
  readonly #topics = new Map<string, TopicCounts>();
  // Buffered writes: appends by id key, and deletes of rows already in the database.
  readonly #pendingAppends = new Map<string, LogEntry>();
  readonly #pendingDeletes = new Map<string, Uint8Array>();
  readonly #flushTimer: FlushTimer;
  #closed = false;

  /**
   * Opens (creating and migrating if needed) the database at `path`.
   *
   * @throws {StorageError} `STORAGE_OPEN` when the file cannot be opened, `SCHEMA_TOO_NEW` when a newer kith wrote it
   */
  constructor(path: string, options: SqliteTopicLogOptions = {}) {
    this.path = path;
    this.#clock = options.clock ?? systemClock;
    this.#retention = options.retention ?? (() => DEFAULT_TOPIC_RETENTION);
    this.#maxPending = Math.max(1, options.maxPendingWrites ?? 1_000);
    this.#onError = options.onError ?? ((error) => defaultLogSink("error", error.message, { code: error.code }));
    this.#flushTimer = new FlushTimer(
      this.#clock,
      options.flushIntervalMs ?? 100,
      () => this.flush(),
      (error) => this.#onError(error as StorageError),
    );
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (error) {
      throw new StorageError("STORAGE_OPEN", `cannot open database ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
      migrate(db, path);
    } catch (error) {
      db.close();
      throw error instanceof StorageError
        ? error
        : new StorageError("STORAGE_OPEN", `cannot open database ${path}: ${(error as Error).message}`);
    }
    this.#db = db;
    this.#sql = {
      insert: db.prepare(
        "INSERT OR IGNORE INTO topic_log (id, topic, timestamp, origin, envelope) VALUES (?, ?, ?, ?, ?)",
      ),
      remove: db.prepare("DELETE FROM topic_log WHERE id = ?"),
      get: db.prepare("SELECT * FROM topic_log WHERE id = ?"),
      has: db.prepare("SELECT 1 AS found FROM topic_log WHERE id = ?"),
      items: db.prepare(
        "SELECT timestamp, id FROM topic_log WHERE topic = ? AND timestamp >= ? ORDER BY timestamp, id",
      ),
      list: db.prepare(
        "SELECT * FROM topic_log WHERE topic = ? AND timestamp >= ? ORDER BY timestamp, id LIMIT ?",
      ),
      listAfter: db.prepare(
        `SELECT * FROM topic_log WHERE topic = ? AND (timestamp > ? OR (timestamp = ? AND id > ?))
         ORDER BY timestamp, id LIMIT ?`,
      ),
      latest: db.prepare("SELECT * FROM topic_log WHERE topic = ? ORDER BY timestamp DESC, id DESC LIMIT ?"),
      ends: db.prepare("SELECT min(timestamp) AS oldest, max(timestamp) AS newest FROM topic_log WHERE topic = ?"),
      oldest: db.prepare(
        "SELECT timestamp, id, length(envelope) AS bytes FROM topic_log WHERE topic = ? ORDER BY timestamp, id LIMIT ?",
      ),
      counts: db.prepare("SELECT topic, count(*) AS n, total(length(envelope)) AS b FROM topic_log GROUP BY topic"),
      expired: db.prepare(
        "SELECT count(*) AS n, total(length(envelope)) AS b FROM topic_log WHERE topic = ? AND timestamp < ?",
      ),
      prune: db.prepare("DELETE FROM topic_log WHERE topic = ? AND timestamp < ?"),
    };
    for (const row of this.#sql.counts.all() as Row[]) {
      this.#topics.set(row.topic as string, { count: Number(row.n), bytes: Number(row.b), oldest: [], whole: false });
    }
    // Retention may have shrunk since the last run: the bounds hold from the start.
    for (const [topic, counts] of this.#topics) this.#enforce(topic, counts);
  }

  /** Writes buffered and not yet in a transaction. */
  get pendingWrites(): number {
    return this.#pendingAppends.size + this.#pendingDeletes.size;
  }

  #open(): void {
    if (this.#closed) throw new StorageError("STORAGE_CLOSED", `topic log ${this.path} is closed`);
  }

  append(entry: LogEntry, now: number): boolean {
    this.#open();
    const key = bytesKey(entry.id);
    const retention = this.#retention(entry.topic);
    if (entry.timestamp < now - retention.maxAgeMs) return false;
    if (entry.envelope.length > retention.maxBytes || retention.maxMessages === 0) return false;
    if (this.has(entry.id)) return false;
    let counts = this.#topics.get(entry.topic);
    if (counts === undefined) {
      counts = { count: 0, bytes: 0, oldest: [], whole: true };
      this.#topics.set(entry.topic, counts);
    }
    const stored: LogEntry = { ...entry, id: entry.id.slice(), envelope: entry.envelope.slice() };
    this.#pendingDeletes.delete(key);
    this.#pendingAppends.set(key, stored);
    counts.count++;
    counts.bytes += stored.envelope.length;
    const row: OldRow = { timestamp: stored.timestamp, id: stored.id, bytes: stored.envelope.length };
    const queue = counts.oldest;
    const last = queue[queue.length - 1];
    if (last !== undefined && compareItems(row, last) < 0) {
      queue.splice(lowerBound(queue, row), 0, row);
    } else if (counts.whole) queue.push(row);
    if (queue.length > QUEUE_MAX) {
      queue.length = QUEUE_PAGE;
      counts.whole = false;
    }
    const kept = !this.#enforce(entry.topic, counts, key);
    this.#buffered();
    return kept;
  }

  /** Drops the topic's oldest rows until it is within its count and byte bounds; true when `watch` was one. */
  #enforce(topic: string, counts: TopicCounts, watch?: string): boolean {
    const retention = this.#retention(topic);
    let dropped = false;
    while (counts.count > retention.maxMessages || counts.bytes > retention.maxBytes) {
      if (counts.oldest.length === 0) this.#refill(topic, counts);
      const oldest = counts.oldest.shift();
      if (oldest === undefined) break; // the counters and the table disagree: trust the table
      const key = bytesKey(oldest.id);
      if (!this.#pendingAppends.delete(key)) this.#pendingDeletes.set(key, oldest.id);
      if (key === watch) dropped = true;
      counts.count--;
      counts.bytes -= oldest.bytes;
    }
    if (counts.count <= 0) this.#topics.delete(topic);
    return dropped;
  }

  /** Reads a page of the topic's oldest rows (everything buffered written first, so the page is exact). */
  #refill(topic: string, counts: TopicCounts): void {
    this.flush();
    const rows = this.#sql.oldest.all(topic, QUEUE_PAGE) as Row[];
    counts.oldest = rows.map((row) => ({
      timestamp: Number(row.timestamp),
      id: new Uint8Array(row.id as Uint8Array),
      bytes: Number(row.bytes),
    }));
    counts.whole = rows.length < QUEUE_PAGE;
    if (counts.whole) {
      // The table is the truth: a counter off by a crash between flushes is set right here.
      counts.count = rows.length;
      counts.bytes = counts.oldest.reduce((n, row) => n + row.bytes, 0);
    }
  }

  #buffered(): void {
    if (this.pendingWrites >= this.#maxPending) this.#flushTimer.now();
    else this.#flushTimer.soon();
  }

  has(id: Uint8Array): boolean {
    this.#open();
    const key = bytesKey(id);
    if (this.#pendingAppends.has(key)) return true;
    if (this.#pendingDeletes.has(key)) return false;
    return this.#sql.has.get(id) !== undefined;
  }

  get(id: Uint8Array): LogEntry | undefined {
    this.#open();
    const key = bytesKey(id);
    const pending = this.#pendingAppends.get(key);
    if (pending !== undefined) return pending;
    if (this.#pendingDeletes.has(key)) return undefined;
    const row = this.#sql.get.get(id) as Row | undefined;
    return row && entryFromRow(row);
  }

  items(topic: string, since: number): SyncItem[] {
    this.flush();
    return (this.#sql.items.all(topic, since) as Row[]).map((row) => ({
      timestamp: Number(row.timestamp),
      id: new Uint8Array(row.id as Uint8Array),
    }));
  }

  list(topic: string, options: LogListOptions = {}): LogEntry[] {
    this.flush();
    const since = options.since ?? 0;
    const limit = options.limit ?? 1_000;
    const rows = options.afterId === undefined
      ? this.#sql.list.all(topic, since, limit)
      : this.#sql.listAfter.all(topic, since, since, options.afterId, limit);
    return (rows as Row[]).map(entryFromRow);
  }

  latest(topic: string, limit: number): LogEntry[] {
    this.flush();
    return (this.#sql.latest.all(topic, limit) as Row[]).map(entryFromRow);
  }

  summary(topic: string): TopicLogSummary {
    this.#open();
    const counts = this.#topics.get(topic);
    if (counts === undefined) return { topic, count: 0, bytes: 0, oldest: 0, newest: 0 };
    this.flush();
    const ends = this.#sql.ends.get(topic) as Row;
    return {
      topic,
      count: counts.count,
      bytes: counts.bytes,
      oldest: Number(ends.oldest ?? 0),
      newest: Number(ends.newest ?? 0),
    };
  }

  topics(): string[] {
    this.#open();
    return [...this.#topics.keys()];
  }

  prune(now: number): number {
    this.flush();
    let dropped = 0;
    this.#transaction(() => {
      for (const [topic, counts] of this.#topics) {
        const cutoff = now - this.#retention(topic).maxAgeMs;
        const expired = this.#sql.expired.get(topic, cutoff) as Row;
        const n = Number(expired.n);
        if (n === 0) continue;
        this.#sql.prune.run(topic, cutoff);
        dropped += n;
        counts.count -= n;
        counts.bytes -= Number(expired.b);
        counts.oldest = counts.oldest.filter((row) => row.timestamp >= cutoff);
        if (counts.count <= 0) this.#topics.delete(topic);
      }
    });
    return dropped;
  }

  /**
   * Writes every buffered change in one transaction. On failure the changes stay buffered and the error is thrown.
   *
   * @throws {StorageError} `STORAGE_WRITE`
   */
  flush(): void {
    this.#open();
    if (this.pendingWrites === 0) return;
    this.#transaction(() => {
      for (const e of this.#pendingAppends.values()) {
        this.#sql.insert.run(e.id, e.topic, e.timestamp, e.origin, e.envelope);
      }
      for (const id of this.#pendingDeletes.values()) this.#sql.remove.run(id);
    });
    this.#pendingAppends.clear();
    this.#pendingDeletes.clear();
    this.#flushTimer.cancel();
  }

  #transaction(work: () => void): void {
    try {
      this.#db.exec("BEGIN");
      work();
      this.#db.exec("COMMIT");
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // No transaction was open.
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new StorageError("STORAGE_WRITE", `cannot write topic log ${this.path}: ${reason}`, { cause: error });
    }
  }

  close(): void {
    if (this.#closed) return;
    try {
      this.flush();
    } finally {
      this.#flushTimer.stop();
      this.#closed = true;
      this.#db.close();
    }
  }
}

function entryFromRow(row: Row): LogEntry {
  return {
    id: new Uint8Array(row.id as Uint8Array),
    topic: row.topic as string,
    timestamp: Number(row.timestamp),
    origin: row.origin as string,
    envelope: new Uint8Array(row.envelope as Uint8Array),
  };
}

/** The index of the first row at or after `item` in (timestamp, id) order. */
function lowerBound(rows: readonly OldRow[], item: SyncItem): number {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareItems(rows[mid], item) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
