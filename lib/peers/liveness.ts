/**
 * Liveness: when a silent peer is timed out, when it is sent a HEARTBEAT,
 * and what a HEARTBEAT reply measures. Pure functions of a peer's state and the time.
 *
 * @module
 */
import type { PeersConfig } from "./config.ts";
import type { ActiveState } from "./types.ts";

/** A peer's HEARTBEAT requests are answered at most once per this interval, ms (so they cannot be used to flood). */
export const HEARTBEAT_ANSWER_INTERVAL_MS = 1_000;

/** Whether `peer` has been silent for the peer timeout. */
export function isTimedOut(peer: ActiveState, now: number, config: Pick<PeersConfig, "peerTimeoutMs">): boolean {
  return now - peer.lastHeard >= config.peerTimeoutMs;
}

/**
 * Whether `peer` is due a HEARTBEAT: nothing heard from it, nor sent to it, for the heartbeat interval; or,
 * to measure its round trip whatever the traffic, never probed yet or not probed for the RTT probe interval.
 */
export function isHeartbeatDue(
  peer: ActiveState,
  now: number,
  config: Pick<PeersConfig, "heartbeatIntervalMs"> & Partial<Pick<PeersConfig, "rttProbeIntervalMs">>,
): boolean {
  if (now - Math.max(peer.lastHeard, peer.lastPingAt) >= config.heartbeatIntervalMs) return true;
  const probe = config.rttProbeIntervalMs ?? 0;
  return probe > 0 && (peer.pingSeq === 0 || now - peer.lastPingAt >= probe);
}

/** Records a HEARTBEAT sent to `peer` at `now`; returns its sequence number. */
export function notePing(peer: ActiveState, now: number): number {
  peer.lastPingAt = now;
  peer.pingSeq++;
  peer.pingSentAt = now;
  return peer.pingSeq;
}

/** Takes a HEARTBEAT reply: if it answers the outstanding ping, measures the round trip. */
export function notePong(peer: ActiveState, seq: number, now: number): void {
  if (seq === peer.pingSeq && peer.pingSentAt > 0) {
    peer.rttMs = now - peer.pingSentAt;
    peer.minRttMs = Math.min(peer.minRttMs ?? Infinity, peer.rttMs);
    peer.pingSentAt = 0;
  }
}

/** Whether `peer`'s HEARTBEAT request at `now` is answered; if so, records the answer. */
export function takeHeartbeatAnswer(peer: ActiveState, now: number): boolean {
  if (now - peer.lastHeartbeatAnswered < HEARTBEAT_ANSWER_INTERVAL_MS) return false;
  peer.lastHeartbeatAnswered = now;
  return true;
}
