/**
 * How late messages reach this node (GossipStats.latenessMs), and how much
 * longer than its ask delay a missing message therefore waits before its
 * first ask. A pure estimator: every reading of the clock comes in as `now`.
 *
 * Each first copy that came unasked is timed as its age (now minus the
 * origin's timestamp) less the lowest age of that origin's messages in the
 * last LATENESS_HISTORY_MS, kept as one minimum per LATENESS_WINDOW_MS as
 * LEDBAT keeps its base delay: this cancels the origin's clock offset and
 * the path's own delay, and an overload shorter than the history is not
 * taken for the normal. Each origin's samples are smoothed as TCP smooths
 * round trips (RFC 6298's gains, the mean's doubled as one origin's samples
 * are few), and the node goes by the median over origins, so origins that
 * back-date their messages move it only when they are most of those heard
 * from. Samples and the wait are capped.
 *
 * @module
 */

/** One minimum age is kept per window this long, ms. */
export const LATENESS_WINDOW_MS = 60_000;
/** The reference is the lowest age over this long, ms: an overload shorter than it is not taken for the normal. */
export const LATENESS_HISTORY_MS = 10 * 60_000;
/** Gain of the smoothed mean (RFC 6298's 1/8, doubled: one origin's samples are few). */
const LATENESS_SMOOTHING = 1 / 4;
/** Gain of the smoothed mean deviation (RFC 6298's). */
const LATENESS_DEVIATION_SMOOTHING = 1 / 4;
/** Cap on a sample and on the extra wait, ms: a node never waits more than this beyond its ask delay. */
export const MAX_LATENESS_MS = 2_000;
/** Origins count toward the median while heard from this recently, ms. */
export const LATENESS_ACTIVE_MS = 30_000;
/**
 * A message this much later than its origin's quickest is not timed; the origin's reference starts afresh
 * from it. Queues do not grow this long on a live network, clocks that step (NTP, a suspended laptop) do.
 */
export const LATENESS_RESET_MS = 10_000;
/** Origins whose lateness is kept (the least recently heard from goes first). */
export const MAX_LATENESS_ORIGINS = 1_024;
/** Deviations added to the mean for the first ask's extra wait, as TCP's retransmission timeout adds four. */
export const LATENESS_DEVIATIONS = 4;

/** One origin's lateness. */
export interface OriginLateness {
  /** Lowest age in the current window, and when that window began. */
  lowest: number;
  windowStart: number;
  /** Earlier windows' lowest ages as [window start, lowest] pairs, oldest first, within the history. */
  history: number[];
  /** Smoothed excess and its mean deviation, ms; `samples` counts the samples taken. */
  mean: number;
  deviation: number;
  samples: number;
  lastSampleAt: number;
  /** The estimator's sample count when this origin last moved to the end of its order. */
  movedAt: number;
}

/** Lateness per origin, and the medians over origins that gossip reports and waits by. */
export class LatenessEstimator {
  // Per origin (hex), about least recently heard from first: an origin moves to the end only when it has not for
  // a quarter of MAX_LATENESS_ORIGINS samples, not at every sample (a Map's delete and set per message), so the
  // first is never one heard from in the last three quarters of that many samples.
  readonly #origins = new Map<string, OriginLateness>();
  #sampled = 0;

  /** Times a first copy of `origin`'s message that came unasked, `age` ms after its timestamp. */
  sample(origin: string, age: number, now: number): void {
    const sampled = ++this.#sampled;
    let entry = this.#origins.get(origin);
    if (entry === undefined) {
      if (this.#origins.size >= MAX_LATENESS_ORIGINS) this.#origins.delete(this.#origins.keys().next().value!);
      // The first message only sets the reference: whether it came late is not known yet.
      entry = {
        lowest: age,
        windowStart: now,
        history: [],
        mean: 0,
        deviation: 0,
        samples: 0,
        lastSampleAt: now,
        movedAt: sampled,
      };
      this.#origins.set(origin, entry);
      return;
    }
    if (sampled - entry.movedAt > MAX_LATENESS_ORIGINS / 4) {
      entry.movedAt = sampled;
      this.#origins.delete(origin); // least recently heard from first
      this.#origins.set(origin, entry);
    }
    if (now - entry.windowStart >= LATENESS_WINDOW_MS) {
      entry.history.push(entry.windowStart, entry.lowest);
      let drop = 0;
      while (drop < entry.history.length && entry.history[drop] < now - LATENESS_HISTORY_MS) drop += 2;
      if (drop > 0) entry.history.splice(0, drop);
      entry.lowest = age;
      entry.windowStart = now;
    } else if (age < entry.lowest) {
      entry.lowest = age;
    }
    let reference = entry.lowest;
    for (let i = 0; i < entry.history.length; i += 2) {
      if (entry.history[i] >= now - LATENESS_HISTORY_MS) reference = Math.min(reference, entry.history[i + 1]);
    }
    const rawExcess = age - reference;
    entry.lastSampleAt = now;
    if (rawExcess > LATENESS_RESET_MS) {
      // Far more than any queue: this node's clock stepped, or the origin's did. Start that origin afresh.
      entry.lowest = age;
      entry.windowStart = now;
      entry.history.length = 0;
      return;
    }
    const excess = Math.min(MAX_LATENESS_MS, Math.max(0, rawExcess));
    entry.deviation += (Math.abs(excess - entry.mean) - entry.deviation) * LATENESS_DEVIATION_SMOOTHING;
    entry.mean += (excess - entry.mean) * LATENESS_SMOOTHING;
    entry.samples++;
  }

  /** The median over active origins of each one's smoothed lateness, ms (GossipStats.latenessMs). */
  meanMs(now: number): number {
    return this.#median(now, (entry) => entry.mean);
  }

  /** The median over active origins of each one's smoothed mean deviation, ms. */
  deviationMs(now: number): number {
    return this.#median(now, (entry) => entry.deviation);
  }

  /** How much longer than the ask delay a missing message waits before its first ask, ms. */
  allowanceMs(now: number): number {
    return Math.min(MAX_LATENESS_MS, this.#median(now, (entry) => entry.mean + LATENESS_DEVIATIONS * entry.deviation));
  }

  /** The lower median of `of` over the origins sampled in the last LATENESS_ACTIVE_MS (0 if none). */
  #median(now: number, of: (entry: OriginLateness) => number): number {
    const values: number[] = [];
    for (const entry of this.#origins.values()) {
      if (entry.samples > 0 && now - entry.lastSampleAt <= LATENESS_ACTIVE_MS) values.push(of(entry));
    }
    if (values.length === 0) return 0;
    values.sort((a, b) => a - b);
    return values[(values.length - 1) >> 1];
  }
}
