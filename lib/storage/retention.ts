/**
 * How long the backends keep what they keep, and when they prune: the
 * defaults of the numeric {@link StorageOptions}, their validation, and the
 * prune schedule. Shared so that both backends bound the store alike.
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
