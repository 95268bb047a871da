/**
 * Message ids seen, for deduplication before a signature is paid for: the
 * newest in memory, bounded, and all of them in storage (messages_seen),
 * with a Bloom filter of the stored ones in front of storage for lookups
 * that must not cost a database read each (announced ids).
 *
 * @module
 */
import { bytesKey } from "../bytes.ts";
import { KeyQueue } from "../key_queue.ts";
import type { Storage } from "../storage/types.ts";
import { SEEN_FILTER_CAPACITY, type SeenFilter } from "./seen_filter.ts";

/** Seen ids: a bounded in-memory cache in age order, backed by storage. */
export class SeenIds {
  readonly #storage: Storage;
  readonly #limit: number;
  // id key -> when first seen; insertion order is age order.
  readonly #seen = new Map<string, number>();
  // The keys of #seen in its insertion order: the oldest is taken from here (see KeyQueue for why).
  readonly #order = new KeyQueue<string>();
  readonly #filter: SeenFilter;
  #storageLookups = 0;

  /**
   * Creates an empty cache of at most `limit` ids in memory over `storage`, with `filter` in front of it,
   * loaded with the ids stored since `since` (the dedup window: those kept from before a restart).
   */
  constructor(storage: Storage, limit: number, filter: SeenFilter, since: number, now: number) {
    this.#storage = storage;
    this.#limit = limit;
    this.#filter = filter;
    for (const seen of storage.listSeenSince(since, SEEN_FILTER_CAPACITY)) filter.add(bytesKey(seen.messageId), now);
  }

  /** Seen-id lookups that went to storage. */
  get storageLookups(): number {
    return this.#storageLookups;
  }

  /** Ids in memory. */
  get size(): number {
    return this.#seen.size;
  }

  /** Whether `key` is in memory (storage not asked). */
  has(key: string): boolean {
    return this.#seen.has(key);
  }

  /** Whether the id was seen: in memory, or else in storage. */
  hasSeen(key: string, id: Uint8Array): boolean {
    if (this.#seen.has(key)) return true;
    this.#storageLookups++;
    return this.#storage.hasSeen(id);
  }

  /**
   * Whether the id was seen, asking storage only when the filter says it may have been (about 1% of ids
   * never seen): for announced ids, which a peer chooses freely and sends by the hundred.
   */
  hasSeenFiltered(key: string, id: Uint8Array): boolean {
    if (this.#seen.has(key)) return true;
    if (!this.#filter.mayHave(key)) return false;
    this.#storageLookups++;
    return this.#storage.hasSeen(id);
  }

  /** Records the id as seen at `now`; with `persist`, in storage too, as sent by `from`. */
  add(key: string, id: Uint8Array, from: string, persist: boolean, now: number): void {
    const size = this.#seen.size;
    this.#seen.set(key, now); // a key seen again keeps its place, as in the Map
    if (this.#seen.size > size) this.#order.push(key);
    if (this.#seen.size > this.#limit) this.#seen.delete(this.#order.shift()!);
    if (persist) {
      this.#storage.recordSeen({ messageId: id, timestamp: now, senderId: from });
      this.#filter.add(key, now);
    }
  }

  /** Drops from memory the ids seen `windowMs` or longer before `now`. */
  expire(now: number, windowMs: number): void {
    for (let key = this.#order.peek(); key !== undefined; key = this.#order.peek()) {
      if (now - this.#seen.get(key)! < windowMs) break;
      this.#seen.delete(key);
      this.#order.shift();
    }
  }
}
