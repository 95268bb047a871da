/**
 * Persistent state: the address book of peers with their trust, the ids of
 * messages already seen, the trust events that explain every score, and
 * small key/value network state.
 *
 * {@link SqliteStorage} is the default (node:sqlite, embedded: no FFI and
 * nothing downloaded at run time). Writes are buffered in memory and applied
 * in one transaction per flush interval or per `maxPendingWrites` writes, so
 * the message path never waits on the disk; reads see buffered writes at
 * once. {@link MemoryStorage} keeps the same contract in memory, for tests
 * and simulation. Both prune old seen-message ids and trust events on a
 * schedule so the store stays bounded under a sustained stream.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { bytesKey, keyBytes } from "./bytes.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import { KithError } from "./errors.ts";
import { defaultLogSink } from "./log.ts";

/** A peer in the address book. */
export interface StoredPeer {
  /** Node id, lowercase hex SHA-256 of the public key. */
  nodeId: string;
  /** Listening address `host:port`, or `""` when unknown. */
  address: string;
  /** Ed25519 public key, when known. */
  publicKey: Uint8Array | null;
  /** When the peer was first recorded, ms since the epoch. */
  firstSeen: number;
  /** When the peer was last heard from, ms since the epoch. */
  lastSeen: number;
  /** Trust score in [0, 1]. */
  trustScore: number;
  /** When trust decay was last applied to `trustScore`, ms since the epoch. */
  trustUpdatedAt: number;
  /** Valid messages received from the peer, ever. */
  validCount: number;
  /** Invalid messages received from the peer, ever. */
  invalidCount: number;
  /** Timeouts recorded for the peer, ever. */
  timeoutCount: number;
  /** Consecutive failed dials (reset by a successful connection). */
  failures: number;
}

/** One change of a peer's trust, kept to explain the score. */
export interface TrustEvent {
  /** Whose trust changed. */
  nodeId: string;
  /** What happened: `valid_message`, `invalid_message:BAD_SIGNATURE`, `timeout`, `decay`, `recommendation`, ... */
  eventType: string;
  /** Change in trust (after clamping to [0, 1]). */
  trustDelta: number;
  /** Trust after the change. */
  trustAfter: number;
  /** When, ms since the epoch (the latest, for coalesced events). */
  timestamp: number;
  /** How many events this row stands for (coalesced events of one type), at least 1. */
  count: number;
}

/** A message id recorded for deduplication. */
export interface SeenMessage {
  /** The 32-byte message id. */
  messageId: Uint8Array;
  /** When it was first seen (or its origin timestamp), ms since the epoch. */
  timestamp: number;
  /** Node id of the peer it first came from. */
  senderId: string;
}

/** What a prune removed. */
export interface PruneResult {
  /** Seen-message ids removed. */
  seenMessages: number;
  /** Trust events removed. */
  trustEvents: number;
}

/**
 * The design's storage extension point: anything that keeps this contract
 * can back a node. Writes may be buffered; reads always see them.
 */
export interface Storage {
  /** Inserts or replaces a peer. */
  savePeer(peer: StoredPeer): void;
  /** The peer with this id, if known. */
  getPeer(nodeId: string): StoredPeer | undefined;
  /** Known peers, highest trust first (ties: most recently seen first), at most `limit`. */
  listPeers(options?: { limit?: number }): StoredPeer[];
  /** Number of known peers. */
  countPeers(): number;
  /** Forgets a peer (its trust events stay until pruned). */
  deletePeer(nodeId: string): void;
  /** Appends a trust event. */
  recordTrustEvent(event: TrustEvent): void;
  /** A peer's trust events, newest first, at most `limit` (default 100). */
  listTrustEvents(nodeId: string, options?: { limit?: number }): TrustEvent[];
  /** Records a message id as seen; a second record of the same id is ignored. */
  recordSeen(message: SeenMessage): void;
  /** Whether the id was recorded and not yet pruned. */
  hasSeen(messageId: Uint8Array): boolean;
  /** Seen ids with `timestamp >= since`, oldest first, at most `limit`. */
  listSeenSince(since: number, limit: number): SeenMessage[];
  /** Number of seen ids kept. */
  countSeen(): number;
  /** Stores a small value under `key`. */
  setState(key: string, value: string): void;
  /** The value stored under `key`. */
  getState(key: string): string | undefined;
  /** Removes seen ids and trust events older than their retention, as of `now`. */
  prune(now: number): PruneResult;
  /** Writes everything buffered. */
  flush(): void;
  /** Flushes, stops timers and releases the store. Idempotent. */
  close(): void;
}

/** Options shared by the storage implementations. Every field has a default. */
export interface StorageOptions {
  /** Time source and timers. Default: the system clock. */
  clock?: Clock;
  /**
   * How long seen-message ids are kept, ms: the dedup window. Default 10 minutes; keep it above the
   * protocol's maximum message age (5 minutes) so a replay is always either a duplicate or stale.
   */
  seenRetentionMs?: number;
  /** How long trust events are kept, ms. Default 7 days. */
  trustEventRetentionMs?: number;
  /**
   * Most trust events kept in all; the oldest go first. Default 100,000. MemoryStorage enforces it on
   * every write, SqliteStorage at each prune.
   */
  maxTrustEvents?: number;
  /** How often pruning runs, ms. Default 60 seconds. 0 disables the schedule (call prune yourself). */
  pruneIntervalMs?: number;
}

/** Options of {@link SqliteStorage}. */
export interface SqliteStorageOptions extends StorageOptions {
  /**
   * Longest a write waits in memory before its transaction, ms. Default 100. Longer means fewer, larger
   * transactions; a crash loses at most this much.
   */
  flushIntervalMs?: number;
  /** Buffered writes that trigger a flush before the interval ends. Default 1,000. */
  maxPendingWrites?: number;
  /**
   * SQLite `synchronous` mode. `"normal"` (default) survives a process crash with every committed
   * transaction, and an OS crash or power loss with integrity intact but possibly the last transactions
   * lost; `"full"` syncs every transaction, surviving power loss at a cost in throughput.
   */
  synchronous?: "normal" | "full";
  /** Event types whose consecutive buffered events for one peer are merged into one row. Default `valid_message`. */
  coalescedEventTypes?: readonly string[];
  /** Called when a background flush or prune fails (the data stays buffered). Default: logged to {@link defaultLogSink}. */
  onError?: (error: StorageError) => void;
}

/** Storage could not be opened, migrated or written. */
export class StorageError extends KithError {
  /**
   * Creates a storage error.
   *
   * @param code `STORAGE_OPEN`, `SCHEMA_TOO_NEW`, `STORAGE_WRITE` or `STORAGE_CLOSED`
   * @param message one line naming the file and what to do
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "StorageError";
  }
}

const DEFAULTS = {
  seenRetentionMs: 10 * 60_000,
  trustEventRetentionMs: 7 * 24 * 3_600_000,
  maxTrustEvents: 100_000,
  pruneIntervalMs: 60_000,
  flushIntervalMs: 100,
  maxPendingWrites: 1_000,
};

function checkOptions(options: SqliteStorageOptions): void {
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new RangeError(`storage option ${key} must be a non-negative integer, got ${value}`);
    }
  }
}

/** Runs `prune` every `intervalMs` on `clock` until stopped. */
class PruneSchedule {
  #timer: TimerId | undefined;
  #stopped = false;
  constructor(clock: Clock, intervalMs: number, prune: () => void) {
    if (intervalMs === 0) return;
    const tick = () => {
      if (this.#stopped) return;
      prune();
      this.#timer = clock.setTimeout(tick, intervalMs);
    };
    this.#timer = clock.setTimeout(tick, intervalMs);
    this.stop = () => {
      this.#stopped = true;
      if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    };
  }
  stop(): void {}
}

function comparePeers(a: StoredPeer, b: StoredPeer): number {
  return b.trustScore - a.trustScore || b.lastSeen - a.lastSeen || (a.nodeId < b.nodeId ? -1 : 1);
}

/**
 * The in-memory implementation of {@link Storage}: same contract, nothing
 * on disk. For tests, simulation, and nodes that want no persistence.
 */
export class MemoryStorage implements Storage {
  readonly #peers = new Map<string, StoredPeer>();
  // Events before #eventsHead are dropped; compacted in batches so that
  // trimming the oldest event is O(1) amortised, not an O(n) shift.
  readonly #events: TrustEvent[] = [];
  #eventsHead = 0;
  // id key -> when and from whom: not a SeenMessage with its own id copy (about 250 bytes less per id; a
  // node keeps one per message in the dedup window), and an object of two fields, not a tuple (an array
  // and its elements cost about 25 bytes more).
  readonly #seen = new Map<string, { timestamp: number; senderId: string }>();
  readonly #state = new Map<string, string>();
  readonly #clock: Clock;
  readonly #options: Required<StorageOptions>;
  readonly #schedule: PruneSchedule;
  #closed = false;

  /** Creates an empty store. */
  constructor(options: StorageOptions = {}) {
    checkOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#options = { ...DEFAULTS, ...options, clock: this.#clock };
    this.#schedule = new PruneSchedule(this.#clock, this.#options.pruneIntervalMs, () => this.prune(this.#clock.now()));
  }

  #open(): void {
    if (this.#closed) throw new StorageError("STORAGE_CLOSED", "storage is closed");
  }

  savePeer(peer: StoredPeer): void {
    this.#open();
    this.#peers.set(peer.nodeId, { ...peer, publicKey: peer.publicKey?.slice() ?? null });
  }
  getPeer(nodeId: string): StoredPeer | undefined {
    this.#open();
    const peer = this.#peers.get(nodeId);
    return peer && { ...peer };
  }
  listPeers(options: { limit?: number } = {}): StoredPeer[] {
    this.#open();
    return [...this.#peers.values()].sort(comparePeers).slice(0, options.limit ?? Infinity).map((p) => ({ ...p }));
  }
  countPeers(): number {
    this.#open();
    return this.#peers.size;
  }
  deletePeer(nodeId: string): void {
    this.#open();
    this.#peers.delete(nodeId);
  }
  recordTrustEvent(event: TrustEvent): void {
    this.#open();
    this.#events.push({ ...event });
    if (this.#events.length - this.#eventsHead > this.#options.maxTrustEvents) this.#eventsHead++;
    if (this.#eventsHead > 1024 && this.#eventsHead * 2 > this.#events.length) {
      this.#events.splice(0, this.#eventsHead);
      this.#eventsHead = 0;
    }
  }
  listTrustEvents(nodeId: string, options: { limit?: number } = {}): TrustEvent[] {
    this.#open();
    const out: TrustEvent[] = [];
    const limit = options.limit ?? 100;
    for (let i = this.#events.length - 1; i >= this.#eventsHead && out.length < limit; i--) {
      if (this.#events[i].nodeId === nodeId) out.push({ ...this.#events[i] });
    }
    return out;
  }
  recordSeen(message: SeenMessage): void {
    this.#open();
    const key = bytesKey(message.messageId);
    if (!this.#seen.has(key)) this.#seen.set(key, { timestamp: message.timestamp, senderId: message.senderId });
  }
  hasSeen(messageId: Uint8Array): boolean {
    this.#open();
    return this.#seen.has(bytesKey(messageId));
  }
  listSeenSince(since: number, limit: number): SeenMessage[] {
    this.#open();
    return [...this.#seen].filter(([, { timestamp }]) => timestamp >= since)
      .map(([key, { timestamp, senderId }]) => ({ messageId: keyBytes(key), timestamp, senderId }))
      .sort((a, b) => a.timestamp - b.timestamp)
      .slice(0, limit);
  }
  countSeen(): number {
    this.#open();
    return this.#seen.size;
  }
  setState(key: string, value: string): void {
    this.#open();
    this.#state.set(key, value);
  }
  getState(key: string): string | undefined {
    this.#open();
    return this.#state.get(key);
  }
  prune(now: number): PruneResult {
    this.#open();
    const seenBefore = now - this.#options.seenRetentionMs;
    let seenMessages = 0;
    for (const [key, { timestamp }] of this.#seen) {
      if (timestamp < seenBefore) {
        this.#seen.delete(key);
        seenMessages++;
      }
    }
    const eventsBefore = now - this.#options.trustEventRetentionMs;
    const live = this.#events.slice(this.#eventsHead);
    const kept = live.filter((e) => e.timestamp >= eventsBefore);
    const trustEvents = live.length - kept.length;
    this.#events.length = 0;
    this.#events.push(...kept);
    this.#eventsHead = 0;
    return { seenMessages, trustEvents };
  }
  flush(): void {
    this.#open();
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#schedule.stop();
  }
}

/**
 * Schema migrations, in order: element `i` brings a database from version
 * `i` to version `i + 1`. Version 1 is the design's four tables; version 2
 * adds what real use needs (peer counters and decay time, coalesced event
 * counts, indexes for pruning and lookups). Never edit a released step; add one.
 */
export const SCHEMA_MIGRATIONS: readonly string[] = [
  `CREATE TABLE peers (
     node_id TEXT PRIMARY KEY,
     address TEXT NOT NULL,
     public_key BLOB,
     last_seen INTEGER NOT NULL,
     trust_score REAL NOT NULL
   );
   CREATE TABLE messages_seen (
     message_id BLOB PRIMARY KEY,
     timestamp INTEGER NOT NULL,
     sender_id TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE trust_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     node_id TEXT NOT NULL,
     event_type TEXT NOT NULL,
     trust_delta REAL NOT NULL,
     timestamp INTEGER NOT NULL
   );
   CREATE TABLE network_state (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   );`,
  `ALTER TABLE peers ADD COLUMN first_seen INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN trust_updated_at INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN valid_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN invalid_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN timeout_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
   UPDATE peers SET first_seen = last_seen, trust_updated_at = last_seen;
   ALTER TABLE trust_events ADD COLUMN trust_after REAL NOT NULL DEFAULT 0;
   ALTER TABLE trust_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
   CREATE INDEX peers_by_trust ON peers (trust_score DESC, last_seen DESC);
   CREATE INDEX messages_seen_by_time ON messages_seen (timestamp);
   CREATE INDEX trust_events_by_node ON trust_events (node_id, id);
   CREATE INDEX trust_events_by_time ON trust_events (timestamp);`,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION: number = SCHEMA_MIGRATIONS.length;

type Row = Record<string, unknown>;

function peerFromRow(row: Row): StoredPeer {
  return {
    nodeId: row.node_id as string,
    address: row.address as string,
    publicKey: row.public_key ? new Uint8Array(row.public_key as Uint8Array) : null,
    firstSeen: Number(row.first_seen),
    lastSeen: Number(row.last_seen),
    trustScore: Number(row.trust_score),
    trustUpdatedAt: Number(row.trust_updated_at),
    validCount: Number(row.valid_count),
    invalidCount: Number(row.invalid_count),
    timeoutCount: Number(row.timeout_count),
    failures: Number(row.failures),
  };
}

function eventFromRow(row: Row): TrustEvent {
  return {
    nodeId: row.node_id as string,
    eventType: row.event_type as string,
    trustDelta: Number(row.trust_delta),
    trustAfter: Number(row.trust_after),
    timestamp: Number(row.timestamp),
    count: Number(row.count),
  };
}

function describeOpenError(path: string, error: unknown): StorageError {
  const reason = error instanceof Error ? error.message : String(error);
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    const slash = path.lastIndexOf("/");
    const dir = slash > 0 ? path.slice(0, slash) : ".";
    return new StorageError(
      "STORAGE_OPEN",
      `cannot open database ${path}: permission denied (run with --allow-read=${dir} --allow-write=${dir})`,
      { cause: error },
    );
  }
  return new StorageError("STORAGE_OPEN", `cannot open database ${path}: ${reason}`, { cause: error });
}

/**
 * {@link Storage} in an SQLite file, in WAL mode, with buffered writes.
 *
 * @example
 * ```ts
 * import { SqliteStorage } from "./storage.ts";
 * const dir = await Deno.makeTempDir();
 * const storage = new SqliteStorage(`${dir}/kith.db`, { pruneIntervalMs: 0 });
 * storage.setState("bootstrapped", "yes");
 * storage.getState("bootstrapped"); // "yes", before any flush
 * storage.close(); // flushes
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteStorage implements Storage {
  /** Path of the database file. */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #options: Required<Omit<SqliteStorageOptions, "clock" | "onError" | "synchronous" | "coalescedEventTypes">>;
  readonly #coalesced: ReadonlySet<string>;
  readonly #onError: (error: StorageError) => void;
  readonly #schedule: PruneSchedule;
  readonly #statements: Record<string, StatementSync>;
  // Buffered writes. A peer mapped to null is a pending delete.
  readonly #pendingPeers = new Map<string, StoredPeer | null>();
  readonly #pendingEvents: TrustEvent[] = [];
  readonly #pendingEventIndex = new Map<string, number>();
  readonly #pendingSeen = new Map<string, SeenMessage>();
  readonly #pendingState = new Map<string, [string, number]>();
  #pendingCount = 0;
  #flushTimer: TimerId | undefined;
  #closed = false;
  /** Seen ids dropped because the disk kept failing and the buffer reached its bound. */
  droppedSeen = 0;

  /**
   * Opens (creating if needed) the database at `path` and migrates it to
   * {@link SCHEMA_VERSION}.
   *
   * @throws {StorageError} `STORAGE_OPEN` when the file cannot be opened
   * (permissions, not a database), `SCHEMA_TOO_NEW` when it was written by a
   * newer kith.
   */
  constructor(path: string, options: SqliteStorageOptions = {}) {
    checkOptions(options);
    this.path = path;
    this.#clock = options.clock ?? systemClock;
    this.#options = {
      seenRetentionMs: options.seenRetentionMs ?? DEFAULTS.seenRetentionMs,
      trustEventRetentionMs: options.trustEventRetentionMs ?? DEFAULTS.trustEventRetentionMs,
      maxTrustEvents: options.maxTrustEvents ?? DEFAULTS.maxTrustEvents,
      pruneIntervalMs: options.pruneIntervalMs ?? DEFAULTS.pruneIntervalMs,
      flushIntervalMs: options.flushIntervalMs ?? DEFAULTS.flushIntervalMs,
      maxPendingWrites: Math.max(1, options.maxPendingWrites ?? DEFAULTS.maxPendingWrites),
    };
    this.#coalesced = new Set(options.coalescedEventTypes ?? ["valid_message"]);
    this.#onError = options.onError ?? ((error) => defaultLogSink("error", error.message, { code: error.code }));
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (error) {
      throw describeOpenError(path, error);
    }
    try {
      db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"};
               PRAGMA busy_timeout = 5000;`);
      migrate(db, path);
    } catch (error) {
      db.close();
      throw error instanceof StorageError ? error : describeOpenError(path, error);
    }
    this.#db = db;
    this.#statements = {
      upsertPeer: db.prepare(
        `INSERT INTO peers (node_id, address, public_key, first_seen, last_seen, trust_score, trust_updated_at,
                            valid_count, invalid_count, timeout_count, failures)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, public_key = excluded.public_key,
           first_seen = excluded.first_seen, last_seen = excluded.last_seen, trust_score = excluded.trust_score,
           trust_updated_at = excluded.trust_updated_at, valid_count = excluded.valid_count,
           invalid_count = excluded.invalid_count, timeout_count = excluded.timeout_count, failures = excluded.failures`,
      ),
      deletePeer: db.prepare("DELETE FROM peers WHERE node_id = ?"),
      getPeer: db.prepare("SELECT * FROM peers WHERE node_id = ?"),
      listPeers: db.prepare("SELECT * FROM peers ORDER BY trust_score DESC, last_seen DESC, node_id LIMIT ?"),
      countPeers: db.prepare("SELECT count(*) AS n FROM peers"),
      insertEvent: db.prepare(
        "INSERT INTO trust_events (node_id, event_type, trust_delta, trust_after, timestamp, count) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      listEvents: db.prepare("SELECT * FROM trust_events WHERE node_id = ? ORDER BY id DESC LIMIT ?"),
      insertSeen: db.prepare("INSERT OR IGNORE INTO messages_seen (message_id, timestamp, sender_id) VALUES (?, ?, ?)"),
      hasSeen: db.prepare("SELECT 1 AS found FROM messages_seen WHERE message_id = ?"),
      listSeen: db.prepare(
        "SELECT * FROM messages_seen WHERE timestamp >= ? ORDER BY timestamp, message_id LIMIT ?",
      ),
      countSeen: db.prepare("SELECT count(*) AS n FROM messages_seen"),
      setState: db.prepare(
        `INSERT INTO network_state (key, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      ),
      getState: db.prepare("SELECT value FROM network_state WHERE key = ?"),
      pruneSeen: db.prepare("DELETE FROM messages_seen WHERE timestamp < ?"),
      pruneEventsByTime: db.prepare("DELETE FROM trust_events WHERE timestamp < ?"),
      pruneEventsByCount: db.prepare(
        "DELETE FROM trust_events WHERE id <= (SELECT max(id) FROM trust_events) - ?",
      ),
    };
    this.#schedule = new PruneSchedule(this.#clock, this.#options.pruneIntervalMs, () => {
      try {
        this.prune(this.#clock.now());
      } catch (error) {
        this.#onError(error instanceof StorageError ? error : writeError(this.path, error));
      }
    });
  }

  /** Writes buffered and not yet in a transaction. */
  get pendingWrites(): number {
    return this.#pendingCount;
  }

  #open(): void {
    if (this.#closed) throw new StorageError("STORAGE_CLOSED", `storage ${this.path} is closed`);
  }

  #buffered(): void {
    this.#pendingCount++;
    if (this.#pendingCount >= this.#options.maxPendingWrites) {
      // Flush soon, off the caller's stack; if the disk is failing, bound
      // memory by dropping the least important buffered data (seen ids).
      if (this.#pendingCount >= 10 * this.#options.maxPendingWrites && this.#pendingSeen.size > 0) {
        this.droppedSeen += this.#pendingSeen.size;
        this.#pendingCount -= this.#pendingSeen.size;
        this.#pendingSeen.clear();
      }
      this.#scheduleFlush(0);
    } else if (this.#flushTimer === undefined) {
      this.#scheduleFlush(this.#options.flushIntervalMs);
    }
  }

  #scheduleFlush(delayMs: number): void {
    if (this.#flushTimer !== undefined) {
      if (delayMs > 0) return;
      this.#clock.clearTimeout(this.#flushTimer);
    }
    this.#flushTimer = this.#clock.setTimeout(() => {
      this.#flushTimer = undefined;
      try {
        this.flush();
      } catch (error) {
        this.#onError(error as StorageError);
        if (!this.#closed) this.#scheduleFlush(this.#options.flushIntervalMs);
      }
    }, delayMs);
  }

  savePeer(peer: StoredPeer): void {
    this.#open();
    this.#pendingPeers.set(peer.nodeId, { ...peer, publicKey: peer.publicKey?.slice() ?? null });
    this.#buffered();
  }

  getPeer(nodeId: string): StoredPeer | undefined {
    this.#open();
    const pending = this.#pendingPeers.get(nodeId);
    if (pending !== undefined) return pending === null ? undefined : { ...pending };
    const row = this.#statements.getPeer.get(nodeId) as Row | undefined;
    return row && peerFromRow(row);
  }

  listPeers(options: { limit?: number } = {}): StoredPeer[] {
    this.flush();
    return (this.#statements.listPeers.all(options.limit ?? -1) as Row[]).map(peerFromRow);
  }

  countPeers(): number {
    this.flush();
    return Number((this.#statements.countPeers.get() as Row).n);
  }

  deletePeer(nodeId: string): void {
    this.#open();
    this.#pendingPeers.set(nodeId, null);
    this.#buffered();
  }

  recordTrustEvent(event: TrustEvent): void {
    this.#open();
    if (this.#coalesced.has(event.eventType)) {
      const key = `${event.nodeId}\0${event.eventType}`;
      const index = this.#pendingEventIndex.get(key);
      if (index !== undefined) {
        const merged = this.#pendingEvents[index];
        merged.trustDelta += event.trustDelta;
        merged.trustAfter = event.trustAfter;
        merged.timestamp = event.timestamp;
        merged.count += event.count;
        return;
      }
      this.#pendingEventIndex.set(key, this.#pendingEvents.length);
    } else {
      // A different event ends the run of coalesced ones for this peer, so
      // the order of events stays true.
      for (const type of this.#coalesced) this.#pendingEventIndex.delete(`${event.nodeId}\0${type}`);
    }
    this.#pendingEvents.push({ ...event });
    this.#buffered();
  }

  listTrustEvents(nodeId: string, options: { limit?: number } = {}): TrustEvent[] {
    this.flush();
    return (this.#statements.listEvents.all(nodeId, options.limit ?? 100) as Row[]).map(eventFromRow);
  }

  recordSeen(message: SeenMessage): void {
    this.#open();
    const key = bytesKey(message.messageId);
    if (this.#pendingSeen.has(key)) return;
    this.#pendingSeen.set(key, { ...message, messageId: message.messageId.slice() });
    this.#buffered();
  }

  hasSeen(messageId: Uint8Array): boolean {
    this.#open();
    if (this.#pendingSeen.has(bytesKey(messageId))) return true;
    return this.#statements.hasSeen.get(messageId) !== undefined;
  }

  listSeenSince(since: number, limit: number): SeenMessage[] {
    this.flush();
    return (this.#statements.listSeen.all(since, limit) as Row[]).map((row) => ({
      messageId: new Uint8Array(row.message_id as Uint8Array),
      timestamp: Number(row.timestamp),
      senderId: row.sender_id as string,
    }));
  }

  countSeen(): number {
    this.flush();
    return Number((this.#statements.countSeen.get() as Row).n);
  }

  setState(key: string, value: string): void {
    this.#open();
    this.#pendingState.set(key, [value, this.#clock.now()]);
    this.#buffered();
  }

  getState(key: string): string | undefined {
    this.#open();
    const pending = this.#pendingState.get(key);
    if (pending !== undefined) return pending[0];
    const row = this.#statements.getState.get(key) as Row | undefined;
    return row?.value as string | undefined;
  }

  prune(now: number): PruneResult {
    this.flush();
    return this.#transaction(() => {
      const seenMessages = Number(this.#statements.pruneSeen.run(now - this.#options.seenRetentionMs).changes);
      let trustEvents = Number(
        this.#statements.pruneEventsByTime.run(now - this.#options.trustEventRetentionMs).changes,
      );
      trustEvents += Number(this.#statements.pruneEventsByCount.run(this.#options.maxTrustEvents).changes);
      return { seenMessages, trustEvents };
    });
  }

  /**
   * Writes every buffered change in one transaction. On failure the changes
   * stay buffered and the error is thrown.
   *
   * @throws {StorageError} `STORAGE_WRITE`
   */
  flush(): void {
    this.#open();
    if (this.#pendingCount === 0) return;
    const s = this.#statements;
    this.#transaction(() => {
      for (const [nodeId, peer] of this.#pendingPeers) {
        if (peer === null) s.deletePeer.run(nodeId);
        else {
          s.upsertPeer.run(
            peer.nodeId,
            peer.address,
            peer.publicKey,
            peer.firstSeen,
            peer.lastSeen,
            peer.trustScore,
            peer.trustUpdatedAt,
            peer.validCount,
            peer.invalidCount,
            peer.timeoutCount,
            peer.failures,
          );
        }
      }
      for (const e of this.#pendingEvents) {
        s.insertEvent.run(e.nodeId, e.eventType, e.trustDelta, e.trustAfter, e.timestamp, e.count);
      }
      for (const m of this.#pendingSeen.values()) s.insertSeen.run(m.messageId, m.timestamp, m.senderId);
      for (const [key, [value, at]] of this.#pendingState) s.setState.run(key, value, at);
    });
    this.#pendingPeers.clear();
    this.#pendingEvents.length = 0;
    this.#pendingEventIndex.clear();
    this.#pendingSeen.clear();
    this.#pendingState.clear();
    this.#pendingCount = 0;
    if (this.#flushTimer !== undefined) {
      this.#clock.clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
  }

  #transaction<T>(work: () => T): T {
    this.#open();
    try {
      this.#db.exec("BEGIN");
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // No transaction was open.
      }
      throw writeError(this.path, error);
    }
  }

  /** Runs `PRAGMA integrity_check`; `"ok"` when the file is sound. */
  integrityCheck(): string {
    this.#open();
    return String((this.#db.prepare("PRAGMA integrity_check").get() as Row).integrity_check);
  }

  close(): void {
    if (this.#closed) return;
    this.#schedule.stop();
    try {
      this.flush();
    } finally {
      if (this.#flushTimer !== undefined) this.#clock.clearTimeout(this.#flushTimer);
      this.#closed = true;
      this.#db.close();
    }
  }
}

function writeError(path: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StorageError("STORAGE_WRITE", `cannot write database ${path}: ${reason}`, { cause: error });
}

function migrate(db: DatabaseSync, path: string): void {
  const version = Number((db.prepare("PRAGMA user_version").get() as Row).user_version);
  if (version > SCHEMA_VERSION) {
    throw new StorageError(
      "SCHEMA_TOO_NEW",
      `database ${path} has schema version ${version}, newer than this kith supports (${SCHEMA_VERSION}); upgrade kith or use another data directory`,
    );
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.exec("BEGIN");
    try {
      db.exec(SCHEMA_MIGRATIONS[v]);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw new StorageError(
        "STORAGE_OPEN",
        `cannot migrate database ${path} from schema version ${v} to ${v + 1}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
