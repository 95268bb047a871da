/**
 * How long the backends keep what they keep, and when they prune and flush: the
 * defaults of the numeric {@link StorageOptions}, their validation, the prune
 * schedule, and the flush timer of buffered writes (SqliteStorage and the
 * SQLite topic log). Shared so that the backends bound the store alike.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { StorageOptions } from "./types.ts";

/** Defaults of the numeric storage options (the last two are SqliteStorage's). */
export const DEFAULTS = {
  seenRetentionMs: 10 * 60_000,
  trustEventRetentionMs: 7 * 24 * 3_600_000,
  maxTrustEvents: 100_000,
  pruneIntervalMs: 60_000,
  flushIntervalMs: 100,
  maxPendingWrites: 1_000,
};

/** The numeric options of {@link StorageOptions}, validated, with defaults filled in. */
export interface RetentionLimits {
  /** See {@link StorageOptions.seenRetentionMs}. */
  seenRetentionMs: number;
  /** See {@link StorageOptions.trustEventRetentionMs}. */
  trustEventRetentionMs: number;
  /** See {@link StorageOptions.maxTrustEvents}. */
  maxTrustEvents: number;
  /** See {@link StorageOptions.pruneIntervalMs}. */
  pruneIntervalMs: number;
}

/**
 * Throws when a numeric option is given and is not a non-negative integer.
 *
 * @throws {RangeError} naming the option
 */
export function checkOptions(options: Readonly<Partial<Record<keyof typeof DEFAULTS, number>>>): void {
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new RangeError(`storage option ${key} must be a non-negative integer, got ${value}`);
    }
  }
}

/** The retention limits of `options`, defaults for those not given. */
export function resolveRetention(options: StorageOptions): RetentionLimits {
  return {
    seenRetentionMs: options.seenRetentionMs ?? DEFAULTS.seenRetentionMs,
    trustEventRetentionMs: options.trustEventRetentionMs ?? DEFAULTS.trustEventRetentionMs,
    maxTrustEvents: options.maxTrustEvents ?? DEFAULTS.maxTrustEvents,
    pruneIntervalMs: options.pruneIntervalMs ?? DEFAULTS.pruneIntervalMs,
  };
}

/** Runs `prune` every `intervalMs` on `clock` until stopped; never when `intervalMs` is 0. */
export class PruneSchedule {
  #timer: TimerId | undefined;
  #stopped = false;
  /** Starts the schedule: the first prune comes one interval from now. */
  constructor(clock: Clock, intervalMs: number, prune: () => void) {
    if (intervalMs === 0) return;
    const tick = () => {
      if (this.#stopped) return;
      prune();
      this.#timer = clock.setTimeout(tick, intervalMs);
    };
    this.#timer = clock.setTimeout(tick, intervalMs);
    this.stop = () => {
      this.#stopped = true;
      if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    };
  }
  /** Stops the schedule. Idempotent. */
  stop(): void {}
}

/**
 * When a backend's buffered writes are flushed: `soon()` within `intervalMs` of the first unflushed write,
 * `now()` off the caller's stack (a full buffer); a flush that throws is reported to `onError` and tried again
 * after the interval, until {@link FlushTimer.stop}.
 */
export class FlushTimer {
  #timer: TimerId | undefined;
  #stopped = false;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #flush: () => void;
  readonly #onError: (error: unknown) => void;

  /** A timer with nothing scheduled yet. */
  constructor(clock: Clock, intervalMs: number, flush: () => void, onError: (error: unknown) => void) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#flush = flush;
    this.#onError = onError;
  }

  /** Schedules a flush within the interval, unless one is scheduled already. */
  soon(): void {
    this.#schedule(this.#intervalMs);
  }

  /** Schedules a flush at once (off the caller's stack), ahead of one scheduled later. */
  now(): void {
    this.#schedule(0);
  }

  /** Cancels the scheduled flush (one just ran). */
  cancel(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Cancels the scheduled flush and schedules none again. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.cancel();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) {
      if (delayMs > 0) return;
      this.#clock.clearTimeout(this.#timer);
    }
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      try {
        this.#flush();
      } catch (error) {
        this.#onError(error);
        this.#schedule(this.#intervalMs);
      }
    }, delayMs);
  }
}
