/**
 * A first-in first-out queue of keys, for the bounded maps that evict their oldest entry.
 *
 * Taking a Map's oldest key with `map.keys().next()` walks past every entry deleted since V8 last compacted
 * the Map's table: a map held at its bound, one entry in and one out per message, pays for thousands of such
 * holes each time (about 8 µs at 10,000 entries against under 1 µs with this queue; BENCHMARKS.md). A map
 * that keeps its keys here too, in the same order, finds its oldest key at once.
 *
 * @module
 */

/** Keys in the order they were pushed: a growing ring buffer. */
export class KeyQueue<K> {
  #items: (K | undefined)[] = new Array(16);
  #head = 0;
  #size = 0;

  /** Keys queued. */
  get size(): number {
    return this.#size;
  }

  /** Adds `key` at the end. */
  push(key: K): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = key;
    this.#size++;
  }

  /** The oldest key, left queued; undefined when empty. */
  peek(): K | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  /** Removes and returns the oldest key; undefined when empty. */
  shift(): K | undefined {
    if (this.#size === 0) return undefined;
    const key = this.#items[this.#head];
    this.#items[this.#head] = undefined; // not held past its turn
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#size--;
    return key;
  }

  // Doubles the ring (its length stays a power of two, for the masks above), oldest key first.
  #grow(): void {
    const items: (K | undefined)[] = new Array(this.#items.length * 2);
    for (let i = 0; i < this.#size; i++) items[i] = this.#items[(this.#head + i) & (this.#items.length - 1)];
    this.#items = items;
    this.#head = 0;
  }
}
