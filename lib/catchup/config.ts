/**
 * Catch-up settings and errors: how often peers reconcile a topic, and the bounds on what one peer can make
 * this node do (sessions, rounds, ranges, ids in flight, bytes per second, ids claimed and not served).
 *
 * @module
 */
import { ConfigError, KithError } from "../errors.ts";
import { MAX_CATCHUP_FETCH_IDS, MAX_CATCHUP_MESSAGE_IDS, MAX_CATCHUP_RANGES } from "../protocol/mod.ts";
import { DEFAULT_RECONCILE_CONFIG, type ReconcileConfig } from "./reconcile.ts";

/** Settings of catch-up (lib/catchup/sync.ts). */
export interface CatchupConfig {
  /** Whether this node reconciles and serves topic logs at all. Default true. */
  enabled: boolean;
  /** A topic is reconciled with one of its peers this often, ms, besides on every new link and join. Default 30 s. */
  intervalMs: number;
  /** Peers a node reconciles with when it joins a topic. Default 3. */
  joinPeers: number;
  /** Reconciliation settings; `maxRanges + branches` must fit the wire's 512 ranges. */
  reconcile: ReconcileConfig;
  /** Sessions one peer may have open with this node at once (both roles). Default 4. */
  maxSessionsPerPeer: number;
  /**
   * Messages one session may take. Past it the session ends: the peer is penalised (`CATCHUP_DIVERGED`) when the
   * session learned fewer ids than it took rounds (a stall); else (a large difference) a new session carries on.
   * An honest pair needs about twice the tree's depth, plus a round per `maxRanges` ranges of a scattered
   * difference. Default 64.
   */
  maxRounds: number;
  /**
   * Ids one session sends in `have` (what the peer lacks); past it, a new session follows. Bounds what a peer
   * that lists nothing can make this node send. Default 4,096.
   */
  maxHaveIdsPerSession: number;
  /**
   * Ids sent in `have` to one peer per minute, over all its sessions, beyond those it then fetched from this
   * node (each body served gives one back, up to `maxHaveIdsPerSession` held): bounds what a peer that lists
   * nothing and fetches nothing makes this node send, while an honest peer catching up, which fetches what it
   * is told of, is held back only by the fetches themselves. Default 4,096 (135 KB a minute).
   */
  haveIdsPerMinute: number;
  /** A session silent this long is dropped, ms (no penalty: the link may be slow). Default 10 s. */
  sessionTimeoutMs: number;
  /** Sessions a peer may start per minute (twice this as a burst). Default 12. */
  sessionsPerMinute: number;
  /** Ids asked of one peer at once. Default 512. */
  maxInFlightIdsPerPeer: number;
  /** Ids in one fetch, at most 256. Default 256. */
  fetchBatch: number;
  /** A fetch unanswered this long counts its ids as not served, ms. Default 5 s. */
  fetchTimeoutMs: number;
  /** Ids this node wants, over all peers; past it new claims wait for a later session. Default 20,000. */
  maxWantedIds: number;
  /** Bytes of bodies served to one peer per second (the burst is the same, at least 224 KiB). Default 1 MiB. */
  serveBytesPerSecond: number;
  /** Fetches of one peer waiting for its byte allowance; past it they are refused (RATE_LIMITED). Default 4. */
  maxQueuedFetches: number;
  /**
   * Ids a peer may say it no longer holds after claiming them (retention dropped them meanwhile) without
   * blame: a burst of this many, refilled at a 32nd of it per second. Past it they count as not served.
   * Default 256.
   */
  missingAllowance: number;
  /** Ids claimed and not served (after the allowance) past which a peer is cut off. Default 512. */
  maxUnservedIds: number;
}

/** The default {@link CatchupConfig}. */
export const DEFAULT_CATCHUP_CONFIG: Readonly<CatchupConfig> = Object.freeze({
  enabled: true,
  intervalMs: 30_000,
  joinPeers: 3,
  reconcile: Object.freeze({ ...DEFAULT_RECONCILE_CONFIG, maxRanges: 224 }),
  maxSessionsPerPeer: 4,
  maxRounds: 64,
  maxHaveIdsPerSession: 4_096,
  haveIdsPerMinute: 4_096,
  sessionTimeoutMs: 10_000,
  sessionsPerMinute: 12,
  maxInFlightIdsPerPeer: 512,
  fetchBatch: 256,
  fetchTimeoutMs: 5_000,
  maxWantedIds: 20_000,
  serveBytesPerSecond: 1024 * 1024,
  maxQueuedFetches: 4,
  missingAllowance: 256,
  maxUnservedIds: 512,
});

/**
 * The full config from defaults and `overrides`.
 *
 * @throws {ConfigError} naming the first invalid key
 */
export function resolveCatchupConfig(overrides: Partial<CatchupConfig> = {}): Readonly<CatchupConfig> {
  const config = {
    ...DEFAULT_CATCHUP_CONFIG,
    ...overrides,
    reconcile: { ...DEFAULT_CATCHUP_CONFIG.reconcile, ...overrides.reconcile },
  };
  for (const [key, value] of Object.entries(config)) {
    if (key === "enabled" || key === "reconcile") continue;
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw new ConfigError(`catchup.${key}`, `catchup.${key} must be a positive integer, got ${value}`);
    }
  }
  const { maxRanges, branches, listThreshold } = config.reconcile;
  for (const [key, value] of Object.entries(config.reconcile)) {
    if (!Number.isSafeInteger(value) || value < 2) {
      throw new ConfigError(`catchup.reconcile.${key}`, `catchup.reconcile.${key} must be an integer of at least 2`);
    }
  }
  // An answer holds at most maxRanges + branches - 1 ranges and the rest of the order, each listing at most
  // listThreshold ids.
  if (
    maxRanges + branches > MAX_CATCHUP_RANGES || (maxRanges + branches + 1) * listThreshold > MAX_CATCHUP_MESSAGE_IDS
  ) {
    throw new ConfigError(
      "catchup.reconcile",
      `catchup.reconcile: maxRanges + branches must be at most ${MAX_CATCHUP_RANGES}, and one more times listThreshold at most ${MAX_CATCHUP_MESSAGE_IDS}`,
    );
  }
  if (config.fetchBatch > MAX_CATCHUP_FETCH_IDS) {
    throw new ConfigError("catchup.fetchBatch", `catchup.fetchBatch must be at most ${MAX_CATCHUP_FETCH_IDS}`);
  }
  if (typeof config.enabled !== "boolean") {
    throw new ConfigError("catchup.enabled", "catchup.enabled must be a boolean");
  }
  return Object.freeze({ ...config, reconcile: Object.freeze(config.reconcile) });
}

/** Codes of {@link CatchupError}. */
export type CatchupErrorCode =
  /** A session took more than `maxRounds` messages. */
  | "CATCHUP_DIVERGED"
  /** Ids a peer claimed were not served (silence, or past its allowance of ids it says it lost). */
  | "CATCHUP_UNSERVED"
  /** A body that is not one of the ids asked of that peer. */
  | "CATCHUP_UNSOLICITED"
  /** A body of another topic than the one fetched. */
  | "WRONG_TOPIC"
  /** A body older than this node's window for its topic: a race with retention, not blamed. */
  | "OUTSIDE_WINDOW"
  /** A body that is no application message, or over the topic's largest message. */
  | "BAD_FIELD"
  | "PAYLOAD_TOO_LARGE";

/** A catch-up message or body refused. */
export class CatchupError extends KithError {
  /** What was wrong. */
  declare readonly code: CatchupErrorCode;

  /** Creates an error with a code and one line for people. */
  constructor(code: CatchupErrorCode, message: string) {
    super(code, message);
    this.name = "CatchupError";
  }
}
