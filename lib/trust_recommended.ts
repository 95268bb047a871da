/**
 * The recommended part of trust (issue 21, item 7): what trusted neighbours
 * said of a peer, kept apart from the trust this node earned in it. Bounded
 * per peer, per interval and in count, decaying to 0, in memory only: a flood
 * of recommended ids creates no storage rows and no trust state. Who may
 * recommend, and what the part is used for, is lib/trust.ts's decision.
 *
 * @module
 */

/** The limits of {@link Recommendations}; the trust config's fields of the same meaning. */
export interface RecommendationLimits {
  /** The most one peer's recommended part may reach, and the weight of one recommendation. */
  recommendationWeight: number;
  /** The most all recommenders together may add to one peer per interval. */
  maxRecommendationBoostPerInterval: number;
  /** Fraction of the part lost each interval. */
  decayRate: number;
  /** Length of an interval, ms: the decay step and the window of the limits. */
  decayIntervalMs: number;
  /** Peers whose part is kept (least recently used forgotten first). */
  maxTrackedPeers: number;
}

interface RecommendedState {
  /** In [0, recommendationWeight], decay applied up to `decayedAt`. */
  value: number;
  /** Time up to which decay (towards 0) has been applied, ms. */
  decayedAt: number;
  /** Start of the interval in which the limits are counted. */
  windowStart: number;
  /** Added in that interval. */
  inWindow: number;
  /** Recommenders that added to it in that interval. */
  by: Set<string>;
}

/** The recommended parts of peers, by node id. */
export class Recommendations {
  readonly #limits: Readonly<RecommendationLimits>;
  // Least recently used first.
  readonly #states = new Map<string, RecommendedState>();

  /** Creates an empty set of recommended parts under `limits`. */
  constructor(limits: Readonly<RecommendationLimits>) {
    this.#limits = limits;
  }

  /** Peers whose part is held (at most `maxTrackedPeers`). */
  get size(): number {
    return this.#states.size;
  }

  /** The recommended part of `nodeId` at `now`; 0 for a peer nobody recommended. */
  get(nodeId: string, now: number): number {
    const state = this.#states.get(nodeId);
    if (state === undefined) return 0;
    this.#decay(state, now);
    return state.value;
  }

  /**
   * Adds `recommendedTrust x recommenderTrust x weight` to `subjectId`'s part, at most once per recommender per
   * interval, at most `maxRecommendationBoostPerInterval` from all together per interval, never past
   * `recommendationWeight`. The caller has checked that the recommender may recommend.
   *
   * @returns what was added
   */
  add(
    recommenderId: string,
    subjectId: string,
    recommendedTrust: number,
    recommenderTrust: number,
    now: number,
  ): number {
    const limits = this.#limits;
    let subject = this.#states.get(subjectId);
    if (subject !== undefined) {
      this.#states.delete(subjectId);
      this.#decay(subject, now);
    } else {
      subject = { value: 0, decayedAt: now, windowStart: now, inWindow: 0, by: new Set() };
      if (this.#states.size >= limits.maxTrackedPeers) this.#states.delete(this.#states.keys().next().value!);
    }
    this.#states.set(subjectId, subject);
    if (subject.by.has(recommenderId)) return 0;
    const weight = limits.recommendationWeight;
    const boost = Math.min(
      recommendedTrust * recommenderTrust * weight,
      limits.maxRecommendationBoostPerInterval - subject.inWindow,
      weight - subject.value,
    );
    if (!(boost > 0)) return 0;
    subject.by.add(recommenderId);
    subject.value += boost;
    subject.inWindow += boost;
    return boost;
  }

  /** Decays a part towards 0 (hearsay is forgotten), and rolls its limit window. */
  #decay(state: RecommendedState, now: number): void {
    const interval = this.#limits.decayIntervalMs;
    if (now < state.decayedAt) state.decayedAt = now; // the clock went back: never decay backwards
    const steps = Math.floor((now - state.decayedAt) / interval);
    if (steps > 0) {
      state.decayedAt += steps * interval;
      state.value *= (1 - this.#limits.decayRate) ** steps;
    }
    if (now - state.windowStart >= interval || now < state.windowStart) {
      state.windowStart = now;
      state.inWindow = 0;
      state.by.clear();
    }
  }
}
