/**
 * The publish-to-delivery latency histogram of a node's application messages.
 *
 * @module
 */

/** Bucket bounds (ms) of the delivery latency histogram. */
export const LATENCY_BUCKETS_MS: readonly number[] = [1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

/** A cumulative histogram: counts of observations at or below each bound, plus their count and sum. */
export interface LatencySnapshot {
  /** `[bound ms, cumulative count]` pairs, ascending. */
  buckets: [number, number][];
  /** Observations. */
  count: number;
  /** Sum of observations, ms. */
  sum: number;
}

/** A cumulative latency histogram over {@link LATENCY_BUCKETS_MS}. */
export class LatencyHistogram {
  readonly #counts = new Array(LATENCY_BUCKETS_MS.length).fill(0);
  #count = 0;
  #sum = 0;
  /** Records one observation, ms. */
  record(ms: number): void {
    const value = Math.max(0, ms);
    this.#count++;
    this.#sum += value;
    const i = LATENCY_BUCKETS_MS.findIndex((bound) => value <= bound);
    if (i >= 0) this.#counts[i]++;
  }
  /** The histogram so far. */
  snapshot(): LatencySnapshot {
    let cumulative = 0;
    const buckets = LATENCY_BUCKETS_MS.map((bound, i) => [bound, cumulative += this.#counts[i]] as [number, number]);
    return { buckets, count: this.#count, sum: this.#sum };
  }
}
