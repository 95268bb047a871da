/**
 * {@link SqliteStorage}: the {@link Storage} contract in an SQLite file
 * (node:sqlite, embedded: no FFI and nothing downloaded at run time). Writes
 * are buffered in memory and applied in one transaction per flush interval
 * or per `maxPendingWrites` writes, so the message path never waits on the
 * disk; reads see buffered writes at once.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { bytesKey } from "../bytes.ts";
import { type Clock, systemClock } from "../clock.ts";
import { defaultLogSink } from "../log.ts";
import {
  checkOptions,
  DEFAULTS,
  FlushTimer,
  PruneSchedule,
  resolveRetention,
  type RetentionLimits,
} from "./retention.ts";
import {
  addressFromRow,
  dhtContactFromRow,
  eventFromRow,
  migrate,
  peerFromRow,
  prepareStatements,
  type Row,
  seenFromRow,
  type Statements,
} from "./schema.ts";
import {
  type PruneResult,
  type SeenMessage,
  type Storage,
  StorageError,
  type StorageOptions,
  type StoredAddress,
  type StoredDhtContact,
  type StoredPeer,
  type TrustEvent,
} from "./types.ts";

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
 * import { SqliteStorage } from "./mod.ts";
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
  readonly #options: RetentionLimits & { flushIntervalMs: number; maxPendingWrites: number };
  readonly #coalesced: ReadonlySet<string>;
  readonly #onError: (error: StorageError) => void;
  readonly #schedule: PruneSchedule;
  readonly #statements: Statements;
  // Buffered writes. A peer mapped to null is a pending delete.
  readonly #pendingPeers = new Map<string, StoredPeer | null>();
  readonly #pendingAddresses = new Map<string, StoredAddress | null>();
  readonly #pendingEvents: TrustEvent[] = [];
  readonly #pendingEventIndex = new Map<string, number>();
  readonly #pendingSeen = new Map<string, SeenMessage>();
  readonly #pendingState = new Map<string, [string, number]>();
  #pendingCount = 0;
  readonly #flushTimer: FlushTimer;
  #closed = false;
  /** Seen ids dropped because the disk kept failing and the buffer reached its bound. */
  droppedSeen = 0;

  /**
   * Opens (creating if needed) the database at `path` and migrates it to
   * the schema version this build writes (`SCHEMA_VERSION`).
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
      ...resolveRetention(options),
      flushIntervalMs: options.flushIntervalMs ?? DEFAULTS.flushIntervalMs,
      maxPendingWrites: Math.max(1, options.maxPendingWrites ?? DEFAULTS.maxPendingWrites),
    };
    this.#coalesced = new Set(options.coalescedEventTypes ?? ["valid_message"]);
    this.#onError = options.onError ?? ((error) => defaultLogSink("error", error.message, { code: error.code }));
    this.#flushTimer = new FlushTimer(
      this.#clock,
      this.#options.flushIntervalMs,
      () => this.flush(),
      (error) => this.#onError(error as StorageError),
    );
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
    this.#statements = prepareStatements(db);
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
      this.#flushTimer.now();
    } else this.#flushTimer.soon();
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

  saveAddress(address: StoredAddress): void {
    this.#open();
    this.#pendingAddresses.set(address.nodeId, { ...address });
    this.#buffered();
  }

  listAddresses(options: { limit?: number } = {}): StoredAddress[] {
    this.flush();
    return (this.#statements.listAddresses.all(options.limit ?? -1) as Row[]).map(addressFromRow);
  }

  countAddresses(): number {
    this.flush();
    return Number((this.#statements.countAddresses.get() as Row).n);
  }

  saveDhtContacts(contacts: readonly StoredDhtContact[]): void {
    this.#open();
    const s = this.#statements;
    this.#transaction(() => {
      s.clearDhtContacts.run();
      for (const c of contacts) s.insertDhtContact.run(c.nodeId, c.address, c.lastSeen);
    });
  }

  listDhtContacts(): StoredDhtContact[] {
    this.#open();
    return (this.#statements.listDhtContacts.all() as Row[]).map(dhtContactFromRow);
  }

  deleteAddress(nodeId: string): void {
    this.#open();
    this.#pendingAddresses.set(nodeId, null);
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
    return (this.#statements.listSeen.all(since, limit) as Row[]).map(seenFromRow);
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
      for (const [nodeId, a] of this.#pendingAddresses) {
        if (a === null) s.deleteAddress.run(nodeId);
        else s.upsertAddress.run(a.nodeId, a.address, a.source, a.tried ? 1 : 0, a.lastSeen, a.lastSuccess, a.failures);
      }
      for (const e of this.#pendingEvents) {
        s.insertEvent.run(e.nodeId, e.eventType, e.trustDelta, e.trustAfter, e.timestamp, e.count);
      }
      for (const m of this.#pendingSeen.values()) s.insertSeen.run(m.messageId, m.timestamp, m.senderId);
      for (const [key, [value, at]] of this.#pendingState) s.setState.run(key, value, at);
    });
    this.#pendingPeers.clear();
    this.#pendingAddresses.clear();
    this.#pendingEvents.length = 0;
    this.#pendingEventIndex.clear();
    this.#pendingSeen.clear();
    this.#pendingState.clear();
    this.#pendingCount = 0;
    this.#flushTimer.cancel();
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
      this.#flushTimer.stop();
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
