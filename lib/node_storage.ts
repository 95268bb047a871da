/**
 * What a node keeps, opened first at start: its identity (given, the data directory's key file, or fresh), the data
 * directory's lock, and its storage (given, the data directory's database, or memory). `KithNode` calls
 * {@link openKept} at start.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import { DataDirLock } from "./data_dir_lock.ts";
import { Identity, loadOrCreateIdentity } from "./identity.ts";
import type { LogSink } from "./log.ts";
import type { NodeLayers, NodeOptions } from "./node_options.ts";
import { MemoryStorage, SqliteStorage, type Storage } from "./storage/mod.ts";

/** How a node's own storage is opened. */
export interface StorageOpening {
  /** The node's clock. */
  clock: Clock;
  /** Longest a write waits in memory before reaching SQLite, ms. */
  flushIntervalMs: number;
  /** How long seen message ids are kept (gossip's dedup window), ms. */
  seenRetentionMs?: number;
  /** Where storage errors go. */
  log: LogSink;
}

/**
 * Steps 1 and 2 of a node's start: its identity, the data directory's lock (one node per directory), its storage.
 * Each is recorded in `layers` as soon as it is made, so that a start failing part-way closes what it opened.
 */
export async function openKept(
  layers: NodeLayers,
  options: NodeOptions,
  opening: StorageOpening,
): Promise<{ identity: Identity; storage: Storage }> {
  const identity = layers.identity = options.identity ??
    (options.dataDir ? (await loadOrCreateIdentity(options.dataDir)).identity : Identity.generate());
  // One node per data directory: a second one would share the identity and fight the first for its links.
  if (options.dataDir && !options.storage) layers.lock = await DataDirLock.acquire(options.dataDir);
  const storage = layers.storage = options.storage ?? openStorage(options.dataDir, opening);
  return { identity, storage };
}

/**
 * The storage of a node given none: the data directory's database (`kith.db`), or memory without a data
 * directory; storage errors go to `log`.
 */
export function openStorage(
  dataDir: string | undefined,
  options: { clock: Clock; flushIntervalMs: number; seenRetentionMs?: number; log: LogSink },
): Storage {
  const { clock, flushIntervalMs, seenRetentionMs, log } = options;
  if (!dataDir) return new MemoryStorage({ clock, seenRetentionMs });
  return new SqliteStorage(`${dataDir}/kith.db`, {
    clock,
    flushIntervalMs,
    seenRetentionMs,
    onError: (error) => log("error", error.message, { code: error.code }),
  });
}
