/**
 * Admission of inbound connections: the transport-wide and per-IP limits on
 * connections (handshaking ones included), and the budget of refusals worth
 * explaining with a DISCONNECT.
 *
 * @module
 */
import type { TransportConfig } from "./config.ts";
import type { TransportStats } from "./types.ts";

/** Refusals explained with a DISCONNECT at once; past this (a flood) refused sockets are just closed. */
const MAX_EXPLAINED_REFUSALS = 32;

/** Counts inbound connections by IP address into the transport's stats and decides who may come in. */
export class InboundSlots {
  readonly #config: Readonly<TransportConfig>;
  readonly #stats: TransportStats;
  readonly #byIp = new Map<string, number>();
  #explaining = 0;

  /** Slots under `config`'s limits, counted in `stats` (inbound, peakInbound, refused). */
  constructor(config: Readonly<TransportConfig>, stats: TransportStats) {
    this.#config = config;
    this.#stats = stats;
  }

  /** Whether one more connection from `ip` fits; a refusal is counted in `stats.refused`. */
  admits(ip: string): boolean {
    const fromIp = this.#byIp.get(ip) ?? 0;
    if (this.#stats.inbound < this.#config.maxInbound && fromIp < this.#config.maxConnectionsPerIp) return true;
    this.#stats.refused++;
    return false;
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
