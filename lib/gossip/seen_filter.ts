/**
 * A Bloom filter over the ids this node has recorded as seen in storage,
 * in front of the database: an announced id the filter has never had
 * costs no database lookup. Ids older than the in-memory seen set (which
 * holds only the newest `messageCacheSize`) would otherwise each cost a
 * SQLite read, and ids nobody ever sent (a peer announcing random ids) one
 * each too.
 *
 * Two generations: ids go into the current one; when it holds its capacity,
 * or is older than the dedup window, it becomes the previous one and the
 * previous one is dropped. A lookup asks both. A filter never misses an id
 * it holds (no false negatives), and says "maybe" for an id it does not
 * hold about 1% of the time (then the database is asked). An id dropped
 * with an old generation while still in the database is taken for unseen:
 * that costs an ask for a message this node has, whose copy is then
 * deduplicated by the database on arrival (a lost saving, never a wrong
 * delivery).
 *
 * Generations start small and double as they fill, up to the capacity, so
 * a node that sees few messages (a simulated one among thousands) pays
 * little memory for the filter.
 *
 * The bit positions come from a hash keyed with a random seed per node, so
 * a peer cannot choose ids that hit bits set by real ones.
 *
 * @module
 */
import type { RandomSource } from "../random.ts";

/**
 * Ids per generation. Two generations of 2^17 ids at 10 bits and 7 hashes each (about 1% false positives)
 * take 320 KiB at most, and cover the dedup window at up to about 200 new messages a second (beyond it, the oldest
 * generation goes early: see the module docs).
 */
export const SEEN_FILTER_CAPACITY = 1 << 17;
/** Bits per id: with {@link SEEN_FILTER_HASHES} hashes, about 1% false positives at capacity. */
const BITS_PER_ID = 10;
/** Hashes per id. */
export const SEEN_FILTER_HASHES = 7;

/** Ids the first generation holds: each generation that fills holds twice as many as the last, up to the capacity. */
const FIRST_GENERATION = 1_024;

/** One generation: a bit array and the ids added to it. */
interface Generation {
  bits: Uint32Array;
  /** Bits in `bits` used. */
  bitCount: number;
  /** Ids it holds before the next generation starts. */
  capacity: number;
  count: number;
  startedAt: number;
}

/** Two-generation Bloom filter of seen id keys (see the module docs). */
export class SeenFilter {
  readonly #capacity: number;
  readonly #windowMs: number;
  readonly #seed1: number;
  readonly #seed2: number;
  #current: Generation;
  #previous: Generation | undefined;
  // The last key's two hashes (fields, not a pair per call: this runs per announced id).
  #h1 = 0;
  #h2 = 0;

  /** Creates an empty filter of `capacity` ids per generation, each generation at most `windowMs` old. */
  constructor(windowMs: number, random: RandomSource, now: number, capacity = SEEN_FILTER_CAPACITY) {
    this.#capacity = capacity;
    this.#windowMs = windowMs;
    this.#seed1 = Math.floor(random() * 0x1_0000_0000) >>> 0;
    this.#seed2 = Math.floor(random() * 0x1_0000_0000) >>> 0;
    this.#current = this.#generation(Math.min(FIRST_GENERATION, capacity), now);
  }

  #generation(capacity: number, now: number): Generation {
    const bitCount = Math.max(64, capacity * BITS_PER_ID);
    return { bits: new Uint32Array(Math.ceil(bitCount / 32)), bitCount, capacity, count: 0, startedAt: now };
  }

  /** Bytes of the bit arrays held. */
  get bytes(): number {
    return this.#current.bits.byteLength + (this.#previous?.bits.byteLength ?? 0);
  }

  /** Adds the id `key` (a bytesKey string) seen at `now`. */
  add(key: string, now: number): void {
    const current = this.#current;
    const full = current.count >= current.capacity;
    if (full || now - current.startedAt >= this.#windowMs) {
      this.#previous = current;
      this.#current = this.#generation(full ? Math.min(this.#capacity, 2 * current.capacity) : current.capacity, now);
    }
    const generation = this.#current;
    generation.count++;
    this.#hash(key);
    const h1 = this.#h1, h2 = this.#h2, bits = generation.bits, bitCount = generation.bitCount;
    for (let i = 0; i < SEEN_FILTER_HASHES; i++) {
      const bit = ((h1 + Math.imul(i, h2)) >>> 0) % bitCount;
      bits[bit >>> 5] |= 1 << (bit & 31);
    }
  }

  /** Whether `key` may have been added: false means it certainly was not (in the generations kept). */
  mayHave(key: string): boolean {
    this.#hash(key);
    const h1 = this.#h1, h2 = this.#h2;
    return this.#test(this.#current, h1, h2) || (this.#previous !== undefined && this.#test(this.#previous, h1, h2));
  }

  #test(generation: Generation, h1: number, h2: number): boolean {
    const bits = generation.bits, bitCount = generation.bitCount;
    for (let i = 0; i < SEEN_FILTER_HASHES; i++) {
      const bit = ((h1 + Math.imul(i, h2)) >>> 0) % bitCount;
      if ((bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  /** Two 32-bit hashes of every character of `key`, keyed by the seeds (murmur3's mixing steps). */
  #hash(key: string): void {
    let a = this.#seed1, b = this.#seed2 ^ 0x9e3779b9;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      a = Math.imul(a ^ c, 0xcc9e2d51);
      a = (a << 15) | (a >>> 17);
      b = Math.imul(b ^ c, 0x1b873593);
      b = (b << 13) | (b >>> 19);
    }
    a ^= a >>> 16;
    a = Math.imul(a, 0x85ebca6b);
    a ^= a >>> 13;
    b ^= b >>> 16;
    b = Math.imul(b, 0xc2b2ae35);
    b ^= b >>> 16;
    this.#h1 = a >>> 0;
    // An odd step, so the positions of one id do not repeat.
    this.#h2 = (b | 1) >>> 0;
  }
}
