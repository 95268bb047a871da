/**
 * Counters of catch-up: sessions, rounds, bytes of reconciliation and of bodies both ways, what was fetched,
 * refused and not served.
 *
 * @module
 */

/** Counters of catch-up (`stats().catchup`). */
export interface CatchupStats {
  /** Sessions this node started. */
  sessionsStarted: number;
  /** Sessions peers started that this node took. */
  sessionsAnswered: number;
  /** Sessions that settled every range. */
  sessionsCompleted: number;
  /** Sessions ended past `maxRounds` (each cost the peer trust). */
  sessionsDiverged: number;
  /** Sessions past `maxRounds` that learned ids as they went (a large difference): a new one carries on. */
  sessionsContinued: number;
  /** Sessions dropped silent. */
  sessionsTimedOut: number;
  /** Sessions peers started that this node refused (over bounds, or of a topic it is not in). */
  sessionsRefused: number;
  /** CATCHUP_RECONCILE messages sent and taken, over all sessions. */
  rounds: number;
  /** Bytes of CATCHUP_RECONCILE sent (encoded envelopes). */
  reconcileBytesSent: number;
  /** Bytes of CATCHUP_RECONCILE received. */
  reconcileBytesReceived: number;
  /** Bytes of CATCHUP_FETCH and CATCHUP_BODIES sent. */
  bodyBytesSent: number;
  /** Bytes of CATCHUP_FETCH and CATCHUP_BODIES received. */
  bodyBytesReceived: number;
  /** Fetched messages that passed every check and were new to the sink. */
  fetched: number;
  /** Fetched bodies refused by a check (each cost the peer trust, unless a race with retention). */
  refused: number;
  /** Ids claimed by a peer and not served (silence, or past its allowance of lost ids). */
  unserved: number;
  /** Ids a peer said it no longer holds, within its allowance. */
  lost: number;
  /** Bodies this node served. */
  served: number;
  /** Ids a session would have sent in `have` that the peer's allowance (`haveIdsPerMinute`) held back. */
  haveWithheld: number;
  /** Peers cut off for not serving what they claimed. */
  cutOff: number;
}

/** Catch-up counters at zero. */
export function emptyCatchupStats(): CatchupStats {
  return {
    sessionsStarted: 0,
    sessionsAnswered: 0,
    sessionsCompleted: 0,
    sessionsDiverged: 0,
    sessionsContinued: 0,
    sessionsTimedOut: 0,
    sessionsRefused: 0,
    rounds: 0,
    reconcileBytesSent: 0,
    reconcileBytesReceived: 0,
    bodyBytesSent: 0,
    bodyBytesReceived: 0,
    fetched: 0,
    refused: 0,
    unserved: 0,
    lost: 0,
    served: 0,
    haveWithheld: 0,
    cutOff: 0,
  };
}
