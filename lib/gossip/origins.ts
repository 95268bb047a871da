/**
 * Per-origin rate limits. Origin identities cost nothing to make, so a new
 * origin does not start with a full burst of its own: its bucket starts
 * empty and fills at the steady rate, and until it could have filled, what
 * its own bucket cannot pay comes from one bucket shared by all new
 * origins. Many fresh origins together get one origin's burst, not one
 * each.
 *
 * @module
 */
import { TokenBucket } from "../ratelimit.ts";

interface OriginEntry {
  readonly bucket: TokenBucket;
  /** When this node first saw the origin, ms. */
  readonly since: number;
  /** The take at which it last moved to the map's end (the most recently used). */
  movedAt: number;
}

/** The rate limits on new messages by origin (hex id), with the shared bucket for new origins. */
export class OriginLimits {
  // Least recently used first, about: an origin moves to the end only when it has not moved for a quarter of
  // `#limit` takes, not at every message (a Map's delete and set per message cost more than the limit itself).
  // So the first is never one used in the last three quarters of the limit's takes.
  readonly #entries = new Map<string, OriginEntry>();
  readonly #limit: number;
  #takes = 0;
  readonly #fresh: TokenBucket;
  readonly #rate: number;
  readonly #burst: number;
  // How long a new origin's own bucket takes to fill, ms: until then it may draw on the shared one.
  readonly #freshForMs: number;

  /**
   * Creates the limits.
   *
   * @param rate steady messages per second per origin (and for all new origins together)
   * @param burst most messages held per origin (and for all new origins together)
   * @param limit most origins remembered (a forgotten origin is new again)
   * @param now the current time, ms
   */
  constructor(rate: number, burst: number, limit: number, now: number) {
    this.#rate = rate;
    this.#burst = burst;
    this.#freshForMs = (burst / rate) * 1000;
    this.#limit = limit;
    this.#fresh = new TokenBucket(rate, burst, now);
  }

  /** Takes one message of `origin` at `now`; false when it is over its rate (or new origins are over theirs). */
  take(origin: string, now: number): boolean {
    const takes = ++this.#takes;
    let entry = this.#entries.get(origin);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.#rate, this.#burst, now, 0), since: now, movedAt: takes };
      this.#entries.set(origin, entry);
      if (this.#entries.size > this.#limit) this.#entries.delete(this.#entries.keys().next().value!);
    } else if (takes - entry.movedAt > this.#limit / 4) {
      entry.movedAt = takes;
      this.#entries.delete(origin);
      this.#entries.set(origin, entry);
    }
    if (entry.bucket.take(now)) return true;
    return now - entry.since < this.#freshForMs && this.#fresh.take(now);
  }
}
