/**
 * Message ids seen, for deduplication before a signature is paid for: the
 * newest in memory, bounded, and all of them in storage (messages_seen).
 *
 * @module
 */
import type { Storage } from "../storage/types.ts";

/** Seen ids: a bounded in-memory cache in age order, backed by storage. */
export class SeenIds {
  readonly #storage: Storage;
  readonly #limit: number;
  // id key -> when first seen; insertion order is age order.
  readonly #seen = new Map<string, number>();

  /** Creates an empty cache of at most `limit` ids in memory over `storage`. */
  constructor(storage: Storage, limit: number) {
    this.#storage = storage;
    this.#limit = limit;
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
    return this.#storage.hasSeen(id);
  }

  /** Records the id as seen at `now`; with `persist`, in storage too, as sent by `from`. */
  add(key: string, id: Uint8Array, from: string, persist: boolean, now: number): void {
    this.#seen.set(key, now);
    if (this.#seen.size > this.#limit) this.#seen.delete(this.#seen.keys().next().value!);
    if (persist) this.#storage.recordSeen({ messageId: id, timestamp: now, senderId: from });
  }

  /** Drops from memory the ids seen `windowMs` or longer before `now`. */
  expire(now: number, windowMs: number): void {
    for (const [key, at] of this.#seen) {
      if (now - at < windowMs) break;
      this.#seen.delete(key);
    }
  }
}
