/**
 * Time, injected. Core logic (trust, storage flushing, later peers and
 * gossip) reads the time and sets timers only through a {@link Clock}, so
 * tests and simulations can run hours of protocol time in milliseconds and
 * get the same result every time.
 *
 * @module
 */

/** Handle of a timer set through a {@link Clock}. */
export type TimerId = number;

/** Wall-clock time and timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer from {@link Clock.setTimeout}; unknown ids are ignored. */
  clearTimeout(id: TimerId): void;
}

/** The real clock: `Date.now()` and the runtime's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  // Typed through `unknown`: when node: modules are in the graph, the
  // checker sees Node's timer types, but Deno's timers return numbers.
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerId,
  clearTimeout: (id) => clearTimeout(id as unknown as Parameters<typeof clearTimeout>[0]),
};

/**
 * A clock that moves only when told to. Timers fire in due-time order (ties
 * in the order they were set) during {@link ManualClock.advance}.
 *
 * @example
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock(1_000);
 * let fired = false;
 * clock.setTimeout(() => fired = true, 500);
 * clock.advance(499); // fired === false
 * clock.advance(1);   // fired === true, clock.now() === 1_500
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<TimerId, { at: number; seq: number; fn: () => void }>();

  /**
   * Creates a clock stopped at `start`.
   *
   * @param start the initial time, ms since the epoch (default 0)
   */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current virtual time. */
  now(): number {
    return this.#now;
  }

  /** Sets a timer due at `now() + ms` (at least now). */
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), seq: id, fn });
    return id;
  }

  /** Cancels a pending timer. */
  clearTimeout(id: TimerId): void {
    this.#timers.delete(id);
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, at its due time. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let nextId: TimerId | undefined;
      let next: { at: number; seq: number; fn: () => void } | undefined;
      for (const [id, timer] of this.#timers) {
        if (
          timer.at <= end &&
          (next === undefined || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))
        ) {
          next = timer;
          nextId = id;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(nextId!);
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
  }
}
