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
 * The layer's files, lowest first: `types.ts` (the {@link Storage}
 * interface, its records and options, {@link StorageError}), `retention.ts`
 * (option defaults and the prune schedule both backends share), `schema.ts`
 * (the SQLite tables, migrations, statements and row mapping), `memory.ts`
 * ({@link MemoryStorage}), `sqlite.ts` ({@link SqliteStorage}).
 *
 * @example Either backend behind the one contract
 * ```ts
 * import { ManualClock } from "../clock.ts";
 * import { MemoryStorage, SqliteStorage, type Storage } from "./mod.ts";
 *
 * const clock = new ManualClock(1_700_000_000_000);
 * const dir = await Deno.makeTempDir();
 * const stores: Storage[] = [
 *   new MemoryStorage({ clock, pruneIntervalMs: 0 }),
 *   new SqliteStorage(`${dir}/kith.db`, { clock, pruneIntervalMs: 0 }),
 * ];
 * for (const storage of stores) {
 *   const messageId = new Uint8Array(32).fill(7);
 *   storage.recordSeen({ messageId, timestamp: clock.now(), senderId: "peer-a" });
 *   console.log(storage.hasSeen(messageId)); // true, before any flush
 *   clock.advance(11 * 60_000); // past the default 10-minute dedup window
 *   console.log(storage.prune(clock.now()).seenMessages); // 1
 *   storage.close();
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export {
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
export { SCHEMA_MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";
export { MemoryStorage } from "./memory.ts";
export { SqliteStorage, type SqliteStorageOptions } from "./sqlite.ts";
