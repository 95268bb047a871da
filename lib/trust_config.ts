/**
 * Trust's settings: {@link TrustConfig} with each field's default and trade-off, the penalty of each
 * `ProtocolError` code, and their validation. The model that applies them is `lib/trust.ts`.
 *
 * @module
 */
import { ConfigError, type ProtocolErrorCode } from "./errors.ts";

/** Trust parameters. Every field documents its default and trade-off. */
export interface TrustConfig {
  /**
   * Trust of a peer never seen before. Default 0.5. Lower makes new identities (Sybils) weaker but
   * slows honest newcomers; it is also the point decay returns to.
   */
  initialTrust: number;
  /** Gain per valid message. Default 0.001: 100 valid messages undo one invalid one. */
  validMessageDelta: number;
  /**
   * Valid messages credited per peer per decay interval; more earn nothing. Default 100 (+0.1 a minute at
   * most), so volume cannot buy trust: a flooder inside the rate limit would otherwise gain faster than
   * its rate-limit penalties take away.
   */
  maxValidCreditsPerInterval: number;
  /**
   * Loss per invalid message whose code has no entry in {@link TrustConfig.penaltiesByCode}. Default 0.1.
   */
  invalidMessagePenalty: number;
  /** Loss per timeout (a peer silent past its heartbeat deadline). Default 0.05. */
  timeoutPenalty: number;
  /**
   * Fraction of the distance to `initialTrust` recovered each decay interval. Default 0.01. Higher
   * forgives (and forgets good behaviour) faster.
   */
  decayRate: number;
  /** Length of a decay interval, ms. Default 60,000. Also the window of the recommendation limits. */
  decayIntervalMs: number;
  /**
   * Below this a peer is disconnected and not redialed until decay lifts it back. Default 0.3: three
   * plain invalid messages (or two forged signatures) from a new peer.
   */
  minTrustThreshold: number;
  /**
   * Weight of a recommendation (the design's 0.1), and the most the recommended component of one peer may
   * reach (one full recommendation from a fully trusted recommender). Higher lets recommendations order more
   * dials; they never touch earned trust, reputation or eviction whatever this is.
   */
  recommendationWeight: number;
  /**
   * A recommender's EARNED trust must be at least this (and at least the threshold, and above
   * `initialTrust`) for its recommendations to count. Default 0.55: a fresh identity recommends nothing
   * until it has earned trust by valid behaviour, and being recommended earns nothing, so it never gets there
   * that way.
   */
  minRecommenderTrust: number;
  /**
   * Most that recommendations may add to one peer's recommended component per decay interval, from all
   * recommenders together. Default 0.1. Bounds what a ring of colluding recommenders can pump.
   */
  maxRecommendationBoostPerInterval: number;
  /**
   * Window over which the reputation's trend compares trust, ms. Default 600,000 (10 minutes).
   */
  trendWindowMs: number;
  /**
   * Penalty per invalid-input code, overriding {@link DEFAULT_PENALTIES}. Codes are ProtocolError codes
   * or the gossip layer's own (`RATE_LIMITED`, `SPAM`).
   */
  penaltiesByCode: Readonly<Record<string, number>>;
  /**
   * Peers whose state is kept in memory (least recently used leave first; their scores stay in storage
   * and are reloaded on demand). Default 10,000. Bounds memory against floods of identities.
   */
  maxTrackedPeers: number;
}

/**
 * Penalty by code. A forged or mismatched signature is deliberate and costs
 * most; garbage costs the design's 0.1; a stale or future timestamp can be an
 * honest clock problem and costs little.
 */
export const DEFAULT_PENALTIES: Readonly<
  Record<
    | ProtocolErrorCode
    | "RATE_LIMITED"
    | "SPAM"
    | "BROKEN_PROMISE"
    | "WRONG_TOPIC"
    | "TOO_MANY_TOPICS"
    | "CATCHUP_UNSERVED"
    | "CATCHUP_DIVERGED"
    | "CATCHUP_UNSOLICITED"
    | "RELAY_FAILED"
    | "PUNCH_ADDRESS",
    number
  >
> = Object
  .freeze({
    BAD_SIGNATURE: 0.2,
    UNSIGNED: 0.2,
    BAD_PUBLIC_KEY: 0.2,
    ORIGIN_MISMATCH: 0.2,
    BAD_ID: 0.15,
    MALFORMED: 0.1,
    BAD_FIELD: 0.1,
    UNKNOWN_TYPE: 0.1,
    PAYLOAD_TOO_LARGE: 0.1,
    FRAME_TOO_LARGE: 0.1,
    FRAME_EMPTY: 0.1,
    SPAM: 0.1,
    RATE_LIMITED: 0.05,
    // Announced messages not served when asked, steadily (gossip's promises.ts: a threshold passed first).
    BROKEN_PROMISE: 0.1,
    // A message of a topic this node never said it is in, or relayed by a peer not in it (lib/topics/): what a
    // node that ignores topics, or floods them, sends; a race with a leave is excused before this is charged.
    WRONG_TOPIC: 0.1,
    // A subscription message naming more topics than a peer may be in.
    TOO_MANY_TOPICS: 0.1,
    // Catch-up (lib/catchup/): ids a peer claimed and did not serve, once per fetch (an id it says retention
    // dropped is excused within an allowance); past a bound the peer is cut off as well.
    CATCHUP_UNSERVED: 0.05,
    // A reconciliation session that did not settle within its rounds: an honest peer settles in a few.
    CATCHUP_DIVERGED: 0.1,
    // A fetched body that is not one of the ids asked of that peer.
    CATCHUP_UNSOLICITED: 0.1,
    // A relay that granted a circuit and did not splice it, or dropped a spliced one well before its limits
    // (lib/relay/client.ts): small, since a far end that crashed looks the same.
    RELAY_FAILED: 0.05,
    // A HOLE_PUNCH naming an address at another host than the relay sees the sender at (lib/relay/punch.ts):
    // what a peer aiming this node's dials at a third host sends; an honest one names its own observed host.
    PUNCH_ADDRESS: 0.1,
    UNSUPPORTED_VERSION: 0.02,
    STALE_TIMESTAMP: 0.02,
    FUTURE_TIMESTAMP: 0.02,
    // A record that fails authentication may be an on-path attacker's doing, not the peer's: the link is
    // closed, and the peer is not blamed.
    DECRYPT_FAILED: 0,
  });

/** The design's defaults. */
export const DEFAULT_TRUST_CONFIG: Readonly<TrustConfig> = Object.freeze({
  initialTrust: 0.5,
  validMessageDelta: 0.001,
  maxValidCreditsPerInterval: 100,
  invalidMessagePenalty: 0.1,
  timeoutPenalty: 0.05,
  decayRate: 0.01,
  decayIntervalMs: 60_000,
  minTrustThreshold: 0.3,
  recommendationWeight: 0.1,
  minRecommenderTrust: 0.55,
  maxRecommendationBoostPerInterval: 0.1,
  trendWindowMs: 600_000,
  penaltiesByCode: DEFAULT_PENALTIES,
  maxTrackedPeers: 10_000,
});

const UNIT_KEYS = [
  "initialTrust",
  "validMessageDelta",
  "invalidMessagePenalty",
  "timeoutPenalty",
  "decayRate",
  "minTrustThreshold",
  "recommendationWeight",
  "minRecommenderTrust",
  "maxRecommendationBoostPerInterval",
] as const;

/**
 * The full config from defaults and `overrides`.
 *
 * @throws {ConfigError} naming the first invalid key
 */
export function resolveTrustConfig(overrides: Partial<TrustConfig> = {}): TrustConfig {
  const config = { ...DEFAULT_TRUST_CONFIG, ...overrides };
  for (const key of UNIT_KEYS) {
    const value = config[key];
    if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
      throw new ConfigError(`trust.${key}`, `trust.${key} must be a number in [0, 1], got ${value}`);
    }
  }
  for (const key of ["decayIntervalMs", "trendWindowMs", "maxTrackedPeers", "maxValidCreditsPerInterval"] as const) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigError(`trust.${key}`, `trust.${key} must be a positive integer, got ${value}`);
    }
  }
  for (const [code, penalty] of Object.entries(config.penaltiesByCode)) {
    if (typeof penalty !== "number" || !(penalty >= 0 && penalty <= 1)) {
      throw new ConfigError(
        `trust.penaltiesByCode.${code}`,
        `trust.penaltiesByCode.${code} must be in [0, 1], got ${penalty}`,
      );
    }
  }
  return config;
}
