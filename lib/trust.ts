/**
 * Trust and reputation: how much this node believes each peer, why, and
 * what follows for connecting to it.
 *
 * The design's dynamics, each configurable ({@link TrustConfig}):
 *
 * ```
 * initial trust           0.5
 * valid message          +0.001
 * invalid message        -0.1   (by ProtocolError code: a forgery costs more, clock skew less)
 * timeout                -0.05
 * decay, every interval   trust <- trust + (initial - trust) x decay_rate   (rate 0.01)
 * recommendation boost    recommended_trust x recommender_trust x 0.1  (kept apart, see below)
 * reputation              trust x 0.6 + trend x 0.2 + stats x 0.2
 * ```
 *
 * Earned and recommended trust are kept apart (issue 21, item 7). A peer's
 * trust ({@link TrustModel.trust}) is earned: only this node's own
 * observations of the peer move it (valid and invalid input, timeouts,
 * decay). What neighbours recommend goes to a separate, bounded component
 * ({@link TrustModel.recommended}, at most `recommendationWeight`, decaying to
 * 0, held in memory only and never written to the peers table;
 * lib/trust_recommended.ts). Only a peer
 * whose EARNED trust passes the recommender bar may recommend, so a
 * recommendation never makes a recommender and chains of recommended
 * identities cannot grow. Who reads what:
 *
 * - disconnect and dial thresholds, reputation, eviction (lib/peers/eviction.ts,
 *   after its other protections), eager promotion (lib/gossip/links.ts) and the
 *   trust this node reports in its own TRUSTED_PEERS_RESPONSE: earned trust only;
 * - dial order (lib/peers/dialer.ts): the recommended component only breaks ties
 *   between candidates of equal diversity and equal earned trust (in practice
 *   strangers, all at `initialTrust`), so a recommended id never outranks a peer
 *   that earned anything, and never beats an honest stranger on anything else.
 *
 * Every score stays in [0, 1]; every change is recorded as a trust event in
 * storage, and scores, counters and decay time survive a restart (they live
 * in the peers table). Decay is applied lazily from the injected clock: when
 * a peer is next looked at, the whole intervals elapsed since its last decay
 * are applied at once, which equals applying them one by one.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import type { Storage, StoredPeer, TrustEvent } from "./storage/types.ts";
import { resolveTrustConfig, type TrustConfig } from "./trust_config.ts";
import { Recommendations } from "./trust_recommended.ts";

// The settings, importable from here as before they had a file of their own.
export { DEFAULT_PENALTIES, DEFAULT_TRUST_CONFIG, resolveTrustConfig, type TrustConfig } from "./trust_config.ts";

/** The parts of a reputation, each in [0, 1]. */
export interface ReputationBreakdown {
  /** The weighted sum: trust x 0.6 + trend x 0.2 + stats x 0.2. */
  reputation: number;
  /** Current trust. */
  trust: number;
  /**
   * Direction of trust over the last one to two trend windows: 0.5 flat, 1 when it rose by 0.1 or more,
   * 0 when it fell by 0.1 or more, linear between.
   */
  trend: number;
  /**
   * Behaviour record with a prior: (valid + 1) / (valid + 1 + 1 + 10 x invalid + 5 x timeouts). A new
   * peer scores 0.5; one invalid message weighs as much as ten valid ones.
   */
  stats: number;
}

/** Trust state of one peer, as the trust manager sees it. */
export interface PeerTrustState {
  /** Node id (hex). */
  readonly nodeId: string;
  /** Trust in [0, 1], decay applied up to `decayedAt`. */
  trust: number;
  /** Time up to which decay has been applied, ms. */
  decayedAt: number;
  /** Valid messages, ever. */
  validCount: number;
  /** Invalid messages, ever. */
  invalidCount: number;
  /** Timeouts, ever. */
  timeoutCount: number;
  /** Trust at the start of the previous trend window, and when. */
  trendAnchor: { at: number; trust: number };
  /** Trust at the start of the current trend window, and when. */
  trendCurrent: { at: number; trust: number };
  /** Start of the decay interval in which the valid-message credit is counted. */
  creditWindowStart: number;
  /** Valid messages credited in that interval. */
  creditsInWindow: number;
}

/**
 * What the peer manager and gossip need from a trust model. {@link TrustManager}
 * is the default; an application may subclass it or provide its own (the
 * design's "Custom Trust Metrics").
 */
export interface TrustModel {
  /** Trust a peer given to a stranger (a peer this node has never observed). */
  readonly initialTrust: number;
  /**
   * EARNED trust of a peer in [0, 1]: from this node's own observations only (initial trust for strangers).
   * Recommendations never change it.
   */
  trust(nodeId: string): number;
  /**
   * The recommended component of a peer, in [0, recommendation weight]: what trusted neighbours said of it.
   * A weak tie-breaker for dial order only; 0 for a peer nobody recommended.
   */
  recommended(nodeId: string): number;
  /** Reputation of a peer in [0, 1]. */
  reputation(nodeId: string): number;
  /** A valid message arrived from the peer. */
  recordValid(nodeId: string): void;
  /** An invalid input arrived from the peer; `code` selects the penalty. */
  recordInvalid(nodeId: string, code?: string): void;
  /** The peer timed out. */
  recordTimeout(nodeId: string): void;
  /**
   * `recommenderId` says it trusts `subjectId` at `recommendedTrust`; returns what was added to the subject's
   * recommended component (never to its earned trust).
   */
  recordRecommendation(recommenderId: string, subjectId: string, recommendedTrust: number): number;
  /** Whether the peer's trust is below the threshold (disconnect it). */
  shouldDisconnect(nodeId: string): boolean;
  /** Whether the peer may be dialed (trust at or above the threshold). */
  canDial(nodeId: string): boolean;
  /**
   * `nodeIds` ordered lowest reputation (earned) first. The peer manager protects peers by several other
   * criteria before it reads this (lib/peers/eviction.ts).
   */
  evictionOrder(nodeIds: Iterable<string>): string[];
}

/** Options of {@link TrustManager}. */
export interface TrustManagerOptions {
  /** Where scores and events persist. */
  storage: Storage;
  /** Time source. Default: the system clock. */
  clock?: Clock;
  /** Overrides of {@link DEFAULT_TRUST_CONFIG}. */
  config?: Partial<TrustConfig>;
  /** This node's id: recommendations about it are ignored. */
  localNodeId?: string;
}

/** How far below initial trust a stranger may fall before the threshold applies to it (see disconnectThreshold). */
const STRANGER_MARGIN = 0.01;

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/**
 * The default {@link TrustModel}: the design's trust dynamics with
 * persistence, lazy decay, Sybil-resistant recommendations and an
 * explainable reputation.
 *
 * @example
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * import { MemoryStorage } from "./storage/mod.ts";
 * import { TrustManager } from "./trust.ts";
 * const clock = new ManualClock(0);
 * const trust = new TrustManager({ storage: new MemoryStorage({ clock }), clock });
 * trust.recordInvalid("peer-a", "BAD_SIGNATURE"); // 0.5 -> 0.3
 * trust.recordInvalid("peer-a", "MALFORMED");     // 0.3 -> 0.2
 * trust.shouldDisconnect("peer-a");               // true
 * clock.advance(60_000);                          // one decay step: 0.2 -> 0.203
 * ```
 */
export class TrustManager implements TrustModel {
  /** The configuration in force. */
  readonly config: Readonly<TrustConfig>;
  /** The storage scores and events go to. */
  protected readonly storage: Storage;
  /** The time source. */
  protected readonly clock: Clock;
  readonly #localNodeId: string | undefined;
  // Insertion order is recency of use: the first entry is evicted first.
  readonly #peers = new Map<string, PeerTrustState>();
  readonly #recommended: Recommendations;
  /**
   * Called after each change of a peer's earned trust, with its cause (the trust event's type). For the
   * node's application events; an exception it throws is swallowed, as trust must not fail on a listener.
   */
  onChange: ((nodeId: string, before: number, after: number, cause: string) => void) | undefined;

  /**
   * Creates a trust manager over `options.storage`.
   *
   * @throws {ConfigError} when a config value is invalid
   */
  constructor(options: TrustManagerOptions) {
    this.config = Object.freeze(resolveTrustConfig(options.config));
    this.storage = options.storage;
    this.clock = options.clock ?? systemClock;
    this.#localNodeId = options.localNodeId;
    this.#recommended = new Recommendations(this.config);
  }

  /**
   * The state of a peer with decay applied up to now, loaded from storage
   * or created at initial trust. Marks it most recently used.
   */
  protected state(nodeId: string): PeerTrustState {
    const now = this.clock.now();
    let state = this.#peers.get(nodeId);
    if (state !== undefined) {
      this.#peers.delete(nodeId);
    } else {
      const stored = this.storage.getPeer(nodeId);
      const trust = stored?.trustScore ?? this.config.initialTrust;
      const decayedAt = stored ? stored.trustUpdatedAt : now;
      state = {
        nodeId,
        trust,
        decayedAt,
        validCount: stored?.validCount ?? 0,
        invalidCount: stored?.invalidCount ?? 0,
        timeoutCount: stored?.timeoutCount ?? 0,
        trendAnchor: { at: now, trust },
        trendCurrent: { at: now, trust },
        creditWindowStart: now,
        creditsInWindow: 0,
      };
      if (this.#peers.size >= this.config.maxTrackedPeers) {
        this.#peers.delete(this.#peers.keys().next().value!);
      }
    }
    this.#peers.set(nodeId, state);
    this.#applyDecay(state, now);
    this.#rollWindows(state, now);
    return state;
  }

  #applyDecay(state: PeerTrustState, now: number): void {
    const interval = this.config.decayIntervalMs;
    if (now < state.decayedAt) {
      state.decayedAt = now; // the clock went back: restart counting, never decay backwards
      return;
    }
    const steps = Math.floor((now - state.decayedAt) / interval);
    if (steps === 0) return;
    state.decayedAt += steps * interval;
    const initial = this.config.initialTrust;
    const before = state.trust;
    state.trust = clamp01(initial + (before - initial) * (1 - this.config.decayRate) ** steps);
    if (state.trust !== before) this.#changed(state, "decay", state.trust - before, steps);
  }

  #rollWindows(state: PeerTrustState, now: number): void {
    if (now - state.trendCurrent.at >= this.config.trendWindowMs) {
      state.trendAnchor = state.trendCurrent;
      state.trendCurrent = { at: now, trust: state.trust };
    }
    if (now - state.creditWindowStart >= this.config.decayIntervalMs) {
      state.creditWindowStart = now;
      state.creditsInWindow = 0;
    }
  }

  /** Records an event and writes the peer's trust fields through to storage. */
  #changed(state: PeerTrustState, eventType: string, delta: number, count = 1): void {
    const now = this.clock.now();
    const event: TrustEvent = {
      nodeId: state.nodeId,
      eventType,
      trustDelta: delta,
      trustAfter: state.trust,
      timestamp: now,
      count,
    };
    this.storage.recordTrustEvent(event);
    try {
      this.onChange?.(state.nodeId, state.trust - delta, state.trust, eventType);
    } catch {
      // a listener's failure is the listener's: trust bookkeeping goes on
    }
    const stored: StoredPeer = this.storage.getPeer(state.nodeId) ?? {
      nodeId: state.nodeId,
      address: "",
      publicKey: null,
      firstSeen: now,
      lastSeen: 0,
      trustScore: state.trust,
      trustUpdatedAt: state.decayedAt,
      validCount: 0,
      invalidCount: 0,
      timeoutCount: 0,
      failures: 0,
    };
    this.storage.savePeer({
      ...stored,
      trustScore: state.trust,
      trustUpdatedAt: state.decayedAt,
      validCount: state.validCount,
      invalidCount: state.invalidCount,
      timeoutCount: state.timeoutCount,
    });
  }

  #adjust(state: PeerTrustState, delta: number, eventType: string): void {
    const before = state.trust;
    state.trust = clamp01(before + delta);
    this.#changed(state, eventType, state.trust - before);
  }

  get initialTrust(): number {
    return this.config.initialTrust;
  }

  trust(nodeId: string): number {
    return this.state(nodeId).trust;
  }

  recommended(nodeId: string): number {
    return this.#recommended.get(nodeId, this.clock.now());
  }

  /**
   * Whether `nodeId` may recommend: its EARNED trust is at or above the threshold and
   * `minRecommenderTrust`, and above `initialTrust` (it earned something here). Being recommended never
   * gets a peer there, so a recommendation never makes a recommender.
   */
  canRecommend(nodeId: string): boolean {
    const earned = this.trust(nodeId);
    return earned >= Math.max(this.config.minTrustThreshold, this.config.minRecommenderTrust) &&
      earned > this.config.initialTrust;
  }

  recordValid(nodeId: string): void {
    const state = this.state(nodeId);
    state.validCount++;
    if (state.creditsInWindow >= this.config.maxValidCreditsPerInterval) return;
    state.creditsInWindow++;
    this.#adjust(state, this.config.validMessageDelta, "valid_message");
  }

  /** The penalty for an invalid input with `code` (the default penalty for unknown codes). */
  penaltyFor(code?: string): number {
    return (code !== undefined ? this.config.penaltiesByCode[code] : undefined) ?? this.config.invalidMessagePenalty;
  }

  recordInvalid(nodeId: string, code?: string): void {
    const state = this.state(nodeId);
    state.invalidCount++;
    this.#adjust(state, -this.penaltyFor(code), code ? `invalid_message:${code}` : "invalid_message");
  }

  recordTimeout(nodeId: string): void {
    const state = this.state(nodeId);
    state.timeoutCount++;
    this.#adjust(state, -this.config.timeoutPenalty, "timeout");
  }

  /**
   * Applies the design's transitive trust, boost = recommended x recommender
   * x weight, to the subject's recommended component, never to its earned
   * trust, under these limits: the recommender's EARNED trust must pass
   * {@link TrustManager.canRecommend}; it adds to a given peer at most once
   * per decay interval; all recommendations together add at most
   * `maxRecommendationBoostPerInterval` to a peer per interval; and the
   * component never exceeds `recommendationWeight`. It decays towards 0 as
   * trust decays towards the initial value, lives in memory only (at most
   * `maxTrackedPeers` peers, least recently used forgotten first), and records
   * no trust event. Recommendations of oneself, of this node, or out of [0, 1]
   * are ignored.
   *
   * @returns what was added to the subject's recommended component (0 when ignored)
   */
  recordRecommendation(recommenderId: string, subjectId: string, recommendedTrust: number): number {
    if (
      recommenderId === subjectId || subjectId === this.#localNodeId || typeof recommendedTrust !== "number" ||
      !(recommendedTrust >= 0 && recommendedTrust <= 1)
    ) return 0;
    if (!this.canRecommend(recommenderId)) return 0;
    return this.#recommended.add(
      recommenderId,
      subjectId,
      recommendedTrust,
      this.trust(recommenderId),
      this.clock.now(),
    );
  }

  /**
   * The reputation of a state, in [0, 1]. Override to change the metric (the
   * design's "Custom Trust Metrics"); {@link TrustManager.reputation} and
   * {@link TrustManager.evictionOrder} use it.
   */
  protected computeReputation(state: PeerTrustState): ReputationBreakdown {
    const trend = clamp01(0.5 + (state.trust - state.trendAnchor.trust) / 0.2);
    const stats = (state.validCount + 1) / (state.validCount + 2 + 10 * state.invalidCount + 5 * state.timeoutCount);
    return { reputation: clamp01(state.trust * 0.6 + trend * 0.2 + stats * 0.2), trust: state.trust, trend, stats };
  }

  reputation(nodeId: string): number {
    return this.computeReputation(this.state(nodeId)).reputation;
  }

  /**
   * The reputation with its parts, the recommended component (not part of the reputation) and the latest
   * trust events: why a peer scores what it does.
   */
  explain(nodeId: string, eventLimit = 20): ReputationBreakdown & { recommended: number; events: TrustEvent[] } {
    return {
      ...this.computeReputation(this.state(nodeId)),
      recommended: this.recommended(nodeId),
      events: this.storage.listTrustEvents(nodeId, { limit: eventLimit }),
    };
  }

  /**
   * The trust under which a peer is disconnected and not dialed:
   * `minTrustThreshold`, but never above `initialTrust - 0.01`. With the
   * defaults (0.3 and 0.5) that is 0.3. Where the threshold is at or above
   * the initial trust (the high-security preset: 0.5 and 0.3), strangers at
   * initial trust could otherwise never connect and the network could not
   * form; they stay, on probation, until they lose trust.
   */
  get disconnectThreshold(): number {
    return Math.min(this.config.minTrustThreshold, this.config.initialTrust - STRANGER_MARGIN);
  }

  shouldDisconnect(nodeId: string): boolean {
    return this.trust(nodeId) < this.disconnectThreshold;
  }

  canDial(nodeId: string): boolean {
    return !this.shouldDisconnect(nodeId);
  }

  evictionOrder(nodeIds: Iterable<string>): string[] {
    return [...nodeIds]
      .map((nodeId) => ({ nodeId, reputation: this.reputation(nodeId) }))
      .sort((a, b) => a.reputation - b.reputation || (a.nodeId < b.nodeId ? -1 : 1))
      .map((entry) => entry.nodeId);
  }

  /** Number of peers whose state is held in memory (at most `maxTrackedPeers`). */
  get trackedPeers(): number {
    return this.#peers.size;
  }

  /** Number of peers whose recommended component is held in memory (at most `maxTrackedPeers`). */
  get trackedRecommended(): number {
    return this.#recommended.size;
  }
}
