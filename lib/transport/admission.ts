/**
 * Admission of inbound connections: the rates of new connections (token buckets per IP address, per /24 or
 * /48 subnet, and in all), the transport-wide and per-IP limits on connections (handshaking ones included),
 * and the budget of refusals worth explaining with a DISCONNECT. All is decided at accept, before anything
 * is read, so a refused connection costs no signature check and no key agreement.
 *
 * @module
 */
import { networkGroup } from "../netgroup.ts";
import { BoundedMap, TokenBucket } from "../ratelimit.ts";
import type { TransportConfig } from "./config.ts";
import type { TransportStats } from "./types.ts";

/** Refusals explained with a DISCONNECT at once; past this (a flood) refused sockets are just closed. */
const MAX_EXPLAINED_REFUSALS = 32;
/**
 * Addresses and subnets whose buckets are remembered. One forgotten starts again with a full bucket, which
 * the subnet and global buckets still bound.
 */
const MAX_TRACKED_SOURCES = 4096;

/** What admission decided: let it in, no free slot (explain if cheap), or over a rate (just close). */
export type Admission = "admitted" | "full" | "rate";

/** Counts inbound connections by IP address into the transport's stats and decides who may come in. */
export class InboundSlots {
  readonly #config: Readonly<TransportConfig>;
  readonly #stats: TransportStats;
  readonly #byIp = new Map<string, number>();
  readonly #ipBuckets = new BoundedMap<string, TokenBucket>(MAX_TRACKED_SOURCES);
  readonly #subnetBuckets = new BoundedMap<string, TokenBucket>(MAX_TRACKED_SOURCES);
  #global: TokenBucket | undefined;
  #explaining = 0;

  /** Slots under `config`'s limits, counted in `stats` (inbound, peakInbound, refused, rateLimited). */
  constructor(config: Readonly<TransportConfig>, stats: TransportStats) {
    this.#config = config;
    this.#stats = stats;
  }

  /**
   * Whether one more connection from `ip` may come in at time `now` (ms): first the rates (the address's
   * bucket, its subnet's, the global one, each taken only when the one before allowed), then the slots. A
   * refusal is counted in `stats.refused`, a rate refusal also in `stats.rateLimited`.
   */
  admits(ip: string, now: number): Admission {
    if (!this.#withinRates(ip, now)) {
      this.#stats.refused++;
      this.#stats.rateLimited++;
      return "rate";
    }
    const fromIp = this.#byIp.get(ip) ?? 0;
    if (this.#stats.inbound < this.#config.maxInbound && fromIp < this.#config.maxConnectionsPerIp) return "admitted";
    this.#stats.refused++;
    return "full";
  }

  #withinRates(ip: string, now: number): boolean {
    const c = this.#config;
    const bucket = (map: BoundedMap<string, TokenBucket>, key: string, rate: number, burst: number) => {
      let found = map.get(key);
      if (found === undefined) map.set(key, found = new TokenBucket(rate, burst, now));
      return found;
    };
    this.#global ??= new TokenBucket(c.inboundRateGlobal, c.inboundBurstGlobal, now);
    return bucket(this.#ipBuckets, ip, c.inboundRatePerIp, c.inboundBurstPerIp).take(now) &&
      bucket(this.#subnetBuckets, networkGroup(ip).subnet, c.inboundRatePerSubnet, c.inboundBurstPerSubnet)
        .take(now) &&
      this.#global.take(now);
  }

  /** Counts a connection from `ip` in (`+1`) or out (`-1`). */
  count(ip: string, delta: number): void {
    this.#stats.inbound += delta;
    this.#stats.peakInbound = Math.max(this.#stats.peakInbound, this.#stats.inbound);
    const n = (this.#byIp.get(ip) ?? 0) + delta;
    if (n <= 0) this.#byIp.delete(ip);
    else this.#byIp.set(ip, n);
  }

  /**
   * Runs `explain` (a refusal's DISCONNECT) when few are in flight and returns its promise; under a flood
   * returns `undefined` and the caller just closes.
   */
  explainRefusal(explain: () => Promise<void>): Promise<void> | undefined {
    if (this.#explaining >= MAX_EXPLAINED_REFUSALS) return undefined;
    this.#explaining++;
    return explain().finally(() => this.#explaining--);
  }
}
