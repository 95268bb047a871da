/**
 * Token buckets: a steady rate with a bounded burst, driven by an injected clock.
 *
 * @module
 */

/**
 * A token bucket. Each event takes a token; tokens refill at `ratePerSecond`
 * up to `burst`.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./ratelimit.ts";
 * const bucket = new TokenBucket(10, 20, 0);
 * let allowed = 0;
 * for (let i = 0; i < 100; i++) if (bucket.take(0)) allowed++;
 * console.log(allowed); // 20: the burst; then 10 more per second
 * ```
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  /**
   * Creates a bucket, full unless `tokens` says otherwise.
   *
   * @param ratePerSecond steady rate
   * @param burst most tokens held (the largest burst allowed)
   * @param now the current time, ms
   * @param tokens tokens held at first (default `burst`)
   */
  constructor(ratePerSecond: number, burst: number, now: number, tokens: number = burst) {
    this.#rate = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = Math.min(burst, tokens);
    this.#last = now;
  }

  /** Whether a token is there to take at time `now` (takes none). */
  available(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= 1;
  }

  /** Takes one token at time `now`; false when none is left. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Takes `count` tokens at time `now` if that many are there; false (taking none) when not. */
  takeMany(now: number, count: number): boolean {
    this.#refill(now);
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  /** Takes up to `count` whole tokens at time `now`; how many it took. */
  takeUpTo(now: number, count: number): number {
    this.#refill(now);
    const taken = Math.max(0, Math.min(count, Math.floor(this.#tokens)));
    this.#tokens -= taken;
    return taken;
  }

  /** Puts `count` tokens back (up to the burst): what was paid for turned out to be worth it. */
  refund(count: number): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, count));
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate);
      this.#last = now;
    }
  }
}

/**
 * A map with a size bound that forgets its least recently used entries.
 * Used wherever peers can make a node remember things (origins, ids).
 */
export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>();
  readonly #limit: number;

  /**
   * Creates an empty map.
   *
   * @param limit most entries kept
   */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The value under `key`, refreshing its recency. */
  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  /** Whether `key` is present (does not refresh recency). */
  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Sets `key`, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#limit) this.#map.delete(this.#map.keys().next().value!);
  }

  /** Removes `key`. */
  delete(key: K): void {
    this.#map.delete(key);
  }

  /** Number of entries. */
  get size(): number {
    return this.#map.size;
  }

  /** Entries from least to most recently used. */
  entries(): IterableIterator<[K, V]> {
    return this.#map.entries();
  }

  /** Values from least to most recently used. */
  values(): IterableIterator<V> {
    return this.#map.values();
  }
}
