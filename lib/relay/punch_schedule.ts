/**
 * When to dial in a hole-punching exchange, as pure logic on times given to it (DCUtR's schedule):
 *
 * ```
 * initiator (asked for the circuit)           responder
 * CONNECT(addresses) at t0          ------>
 *                                   <------   CONNECT answer(addresses)
 * answer at t1: rtt = t1 - t0
 * SYNC at t1                        ------>   SYNC arrives about t1 + rtt/2: dials at once
 * dials at t1 + rtt/2
 * ```
 *
 * so that both ends' SYNs leave at about the same moment and each NAT has a mapping for the other's by
 * the time it arrives (TCP simultaneous open). A failed attempt is retried after a growing pause, up to
 * `attempts` in all; then the link stays relayed.
 *
 * @module
 */

/** What the initiator does next. */
export type PunchStep =
  | { kind: "send-connect"; attempt: number }
  | { kind: "dial"; attempt: number; atMs: number; rttMs: number }
  | { kind: "retry"; attempt: number; atMs: number }
  | { kind: "give-up" }
  | { kind: "done" };

/** Pause before retry `n` (1-based: the pause after the first failure is retryPauseMs(1)), ms. */
export function retryPauseMs(n: number, baseMs = 500, capMs = 8_000): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, n - 1));
}

/** The initiator's schedule for one relayed link: attempts, round trips, dial moments, retries. */
export class PunchSchedule {
  readonly #attempts: number;
  #attempt = 0;
  #sentAt: number | undefined;
  #state: "idle" | "connecting" | "dialing" | "waiting" | "done" | "given-up" = "idle";

  /** A schedule of at most `attempts` attempts. */
  constructor(attempts: number) {
    this.#attempts = attempts;
  }

  /** The attempt under way (0 before the first). */
  get attempt(): number {
    return this.#attempt;
  }

  /** Whether the schedule has ended (punched or given up). */
  get finished(): boolean {
    return this.#state === "done" || this.#state === "given-up";
  }

  /** Begins the next attempt at `now`: send CONNECT. Only from idle or after a retry pause. */
  begin(now: number): PunchStep {
    if (this.finished || this.#state === "connecting" || this.#state === "dialing") return { kind: "give-up" };
    this.#attempt++;
    this.#sentAt = now;
    this.#state = "connecting";
    return { kind: "send-connect", attempt: this.#attempt };
  }

  /**
   * The responder answered `attempt` at `now`: send SYNC, and dial at half the measured round trip from
   * now. An answer to another attempt, or out of turn, is ignored (undefined).
   */
  answered(attempt: number, now: number): PunchStep | undefined {
    if (this.#state !== "connecting" || attempt !== this.#attempt || this.#sentAt === undefined) return undefined;
    const rttMs = Math.max(0, now - this.#sentAt);
    this.#state = "dialing";
    return { kind: "dial", attempt, atMs: now + rttMs / 2, rttMs };
  }

  /** Attempt `attempt` ended at `now`: done on success; else a retry after a pause, or give up. */
  ended(attempt: number, succeeded: boolean, now: number): PunchStep {
    if (attempt !== this.#attempt || this.finished) {
      return this.finished ? { kind: this.#state === "done" ? "done" : "give-up" } : { kind: "give-up" };
    }
    if (succeeded) {
      this.#state = "done";
      return { kind: "done" };
    }
    if (this.#attempt >= this.#attempts) {
      this.#state = "given-up";
      return { kind: "give-up" };
    }
    this.#state = "waiting";
    return { kind: "retry", attempt: this.#attempt + 1, atMs: now + retryPauseMs(this.#attempt) };
  }
}
