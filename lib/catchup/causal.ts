/**
 * The causal buffer: messages that came before some of their predecessors (the ids their origin named in
 * `after`), held until those are delivered, for at most `causalWaitMs`, within bounds on count and bytes, in
 * total and per sending peer. Whatever leaves the buffer early, by the wait ending or by the bounds, is handed
 * on with the predecessors still missing: the buffer reorders, it never drops, so a peer that sends messages
 * whose predecessors never come can delay them by the wait at most and pins no memory past it.
 *
 * Pure data structure: the caller passes the time and handles what is released.
 *
 * @module
 */
import { bytesKey } from "../bytes.ts";

/** Bounds of a {@link CausalBuffer}. */
export interface CausalConfig {
  /**
   * Longest a message waits for its predecessors, ms; then it is delivered with those still missing named.
   * Default 10,000: longer than gossip's repair of a lost message (a round or two of `gossipIntervalMs`) and a
   * catch-up fetch, short enough that an application sees a message whose predecessor is gone for good soon.
   * 0: never wait (delivery in arrival order, with the missing predecessors named).
   */
  causalWaitMs: number;
  /**
   * Most messages held at once. Default 2,048; over it the one held longest is delivered at once. A quarter of
   * it (one peer's share) is above what gossip's repair sends a rejoining node ahead of catch-up (256 ids a
   * round), so those wait for their predecessors instead of being pushed out with them missing.
   */
  causalBufferMessages: number;
  /** Most bytes of messages held at once. Default 8 MiB; over it the one held longest is delivered at once. */
  causalBufferBytes: number;
  /**
   * Most messages held at once that came from one peer. Default 512 (a quarter of the buffer): a peer that fills its share only hurries
   * its own messages out, never other peers'.
   */
  causalBufferPerPeer: number;
}

/** The default {@link CausalConfig}. */
export const DEFAULT_CAUSAL_CONFIG: Readonly<CausalConfig> = Object.freeze({
  causalWaitMs: 10_000,
  causalBufferMessages: 2_048,
  causalBufferBytes: 8 * 1024 * 1024,
  causalBufferPerPeer: 512,
});

/** One held message. */
export interface Held<T> {
  /** Its id's key (lib/bytes.ts bytesKey). */
  readonly key: string;
  /** What the caller holds with it. */
  readonly value: T;
  /** The peer it came from. */
  readonly from: string;
  /** Its size, counted against `causalBufferBytes`. */
  readonly bytes: number;
  /** When it is delivered whatever is missing, ms. */
  readonly deadline: number;
  /** Keys of the predecessors not delivered yet, with their ids. */
  readonly waiting: Map<string, Uint8Array>;
}

/** Why a held message left the buffer. */
export type ReleaseCause = "ready" | "timeout" | "bounds";

/** A message released by the buffer, with the predecessors it still lacks (empty when all came). */
export interface Released<T> {
  /** The held message. */
  readonly held: Held<T>;
  /** Ids of the predecessors it lacks. */
  readonly missing: Uint8Array[];
  /** Why it left. */
  readonly cause: ReleaseCause;
}

/**
 * Messages waiting for their predecessors, in the order they came (which is the order of their deadlines, as
 * every message waits the same time).
 */
export class CausalBuffer<T> {
  readonly #config: Readonly<CausalConfig>;
  readonly #held = new Map<string, Held<T>>();
  // Predecessor key -> keys of the held messages waiting for it.
  readonly #waiters = new Map<string, Set<string>>();
  readonly #perPeer = new Map<string, number>();
  #bytes = 0;

  /** Creates an empty buffer with these bounds. */
  constructor(config: Readonly<CausalConfig>) {
    this.#config = config;
  }

  /** Messages held. */
  get size(): number {
    return this.#held.size;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether a message with this id key is held. */
  has(key: string): boolean {
    return this.#held.has(key);
  }

  /** The earliest deadline of a held message, or undefined when none is held. */
  get nextDeadline(): number | undefined {
    return this.#held.values().next().value?.deadline;
  }

  /** The ids the held messages wait for that are not held themselves (for a caller that can fetch them), at most `limit`. */
  awaited(limit: number): Uint8Array[] {
    const ids = new Map<string, Uint8Array>();
    for (const held of this.#held.values()) {
      for (const [key, id] of held.waiting) {
        if (ids.size >= limit) return [...ids.values()];
        if (!this.#held.has(key)) ids.set(key, id);
      }
    }
    return [...ids.values()];
  }

  /**
   * Holds a message until the predecessors in `waiting` (not empty) are delivered, or its wait ends; returns
   * what the bounds push out to make room (delivered by the caller, with what they still lack).
   */
  hold(key: string, value: T, from: string, bytes: number, waiting: Uint8Array[], now: number): Released<T>[] {
    const released: Released<T>[] = [];
    const pushOut = (victim: Held<T> | undefined) => {
      if (victim !== undefined) released.push(this.#remove(victim, "bounds"));
    };
    while ((this.#perPeer.get(from) ?? 0) >= this.#config.causalBufferPerPeer) {
      pushOut(this.#oldestFrom(from));
    }
    while (
      this.#held.size > 0 &&
      (this.#held.size >= this.#config.causalBufferMessages || this.#bytes + bytes > this.#config.causalBufferBytes)
    ) {
      pushOut(this.#held.values().next().value);
    }
    const held: Held<T> = {
      key,
      value,
      from,
      bytes,
      deadline: now + this.#config.causalWaitMs,
      waiting: new Map(waiting.map((id) => [bytesKey(id), id])),
    };
    this.#held.set(key, held);
    this.#bytes += bytes;
    this.#perPeer.set(from, (this.#perPeer.get(from) ?? 0) + 1);
    for (const waited of held.waiting.keys()) {
      let set = this.#waiters.get(waited);
      if (set === undefined) this.#waiters.set(waited, set = new Set());
      set.add(key);
    }
    return released;
  }

  /** A message was delivered: the held messages it was the last missing predecessor of are released, ready. */
  delivered(key: string): Released<T>[] {
    const waiting = this.#waiters.get(key);
    if (waiting === undefined) return [];
    this.#waiters.delete(key);
    const released: Released<T>[] = [];
    for (const heldKey of waiting) {
      const held = this.#held.get(heldKey);
      if (held === undefined) continue;
      held.waiting.delete(key);
      if (held.waiting.size === 0) released.push(this.#remove(held, "ready"));
    }
    return released;
  }

  /** Releases every held message whose wait ended by `now`. */
  expire(now: number): Released<T>[] {
    const released: Released<T>[] = [];
    for (const held of this.#held.values()) {
      if (held.deadline > now) break;
      released.push(this.#remove(held, "timeout"));
    }
    return released;
  }

  /** Releases everything held (the node stops: held messages are not in the log, and can be fetched again). */
  clear(): void {
    this.#held.clear();
    this.#waiters.clear();
    this.#perPeer.clear();
    this.#bytes = 0;
  }

  #oldestFrom(from: string): Held<T> | undefined {
    for (const held of this.#held.values()) if (held.from === from) return held;
    return undefined;
  }

  #remove(held: Held<T>, cause: ReleaseCause): Released<T> {
    this.#held.delete(held.key);
    this.#bytes -= held.bytes;
    const left = (this.#perPeer.get(held.from) ?? 1) - 1;
    if (left === 0) this.#perPeer.delete(held.from);
    else this.#perPeer.set(held.from, left);
    for (const waited of held.waiting.keys()) {
      const set = this.#waiters.get(waited);
      set?.delete(held.key);
      if (set?.size === 0) this.#waiters.delete(waited);
    }
    return { held, missing: [...held.waiting.values()], cause };
  }
}
