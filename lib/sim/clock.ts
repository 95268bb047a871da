/**
 * A discrete-event virtual clock for simulations: timers in a binary heap,
 * fired in (time, insertion) order, so a run with the same seed and inputs
 * replays exactly.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A {@link Clock} whose time moves only as events are run.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./clock.ts";
 * const clock = new VirtualClock(0);
 * const fired: number[] = [];
 * clock.setTimeout(() => fired.push(clock.now()), 50);
 * clock.setTimeout(() => fired.push(clock.now()), 10);
 * clock.runUntil(100);
 * console.log(fired); // [10, 50]
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #heap: Timer[] = [];
  readonly #byId = new Map<number, Timer>();
  /** Events run so far. */
  eventsRun = 0;

  /**
   * A clock at `start`.
   *
   * @param start the initial time, ms
   */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current virtual time, ms. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now() + ms`. */
  setTimeout(fn: () => void, ms: number): TimerId {
    // Whole milliseconds, like Date.now(): message timestamps must be integers.
    const timer: Timer = { at: this.#now + Math.max(0, Math.round(ms)), seq: ++this.#seq, fn, cancelled: false };
    this.#push(timer);
    this.#byId.set(timer.seq, timer);
    return timer.seq;
  }

  /** Cancels a timer. */
  clearTimeout(id: TimerId): void {
    const timer = this.#byId.get(id as number);
    if (timer) {
      timer.cancelled = true;
      this.#byId.delete(id as number);
    }
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.#byId.size;
  }

  /** Runs every event due at or before `time`, then sets the clock to `time`. */
  runUntil(time: number): void {
    while (this.#heap.length > 0 && this.#heap[0].at <= time) {
      const timer = this.#pop()!;
      if (timer.cancelled) continue;
      this.#byId.delete(timer.seq);
      this.#now = timer.at;
      this.eventsRun++;
      timer.fn();
    }
    this.#now = Math.max(this.#now, time);
  }

  #less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  #pop(): Timer | undefined {
    const heap = this.#heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let smallest = i;
        if (l < heap.length && this.#less(heap[l], heap[smallest])) smallest = l;
        if (r < heap.length && this.#less(heap[r], heap[smallest])) smallest = r;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
        i = smallest;
      }
    }
    return top;
  }
}
