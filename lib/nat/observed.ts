/**
 * The addresses peers say they see this node at (OBSERVED_ADDRESS, as libp2p's identify), and the one this
 * node may trust: a host that peers of several different network groups agree on.
 *
 * Why network groups and not peers: one operator can run any number of identities, but rarely in many
 * subnets; counting each subnet once makes a thousand Sybils in one /24 one voice, as the per-subnet peer
 * bounds do. Each peer has one report (its latest), so one peer can never vote twice either.
 *
 * Agreement is on the host (the IP), not the port: behind a NAT every outbound link is mapped to its own
 * port, so peers never agree on one. The address {@link ObservedAddresses.confirmed} gives is the agreed
 * host with this node's listening port (libp2p's address translation): the address a dial-back checks.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "../address.ts";
import type { Clock } from "../clock.ts";

/** Settings of {@link ObservedAddresses}. */
export interface ObservedConfig {
  /** Distinct network groups (subnets) that must report one host before it is trusted. Default 3. */
  minGroups: number;
  /** A report older than this is forgotten, ms. Default 30 minutes. */
  ttlMs: number;
  /** Most reports kept (one per peer); the oldest goes first. Default 64. */
  maxReports: number;
}

/** The defaults of {@link ObservedConfig}. */
export const DEFAULT_OBSERVED_CONFIG: Readonly<ObservedConfig> = Object.freeze({
  minGroups: 3,
  ttlMs: 30 * 60_000,
  maxReports: 64,
});

/** One peer's latest report. */
export interface ObservedReport {
  /** The reporting peer's node id. */
  reporter: string;
  /** Its network group (subnet), as admission groups it. */
  group: string;
  /** The address it sees this node at, `host:port`. */
  address: string;
  /** The host of that address. */
  host: string;
  /** When it was received, ms. */
  at: number;
}

/** The addresses peers report for this node, and the host several network groups agree on. */
export class ObservedAddresses {
  /** The settings in force. */
  readonly config: Readonly<ObservedConfig>;
  readonly #clock: Clock;
  readonly #listenPort: () => number;
  // By reporter, oldest first (a new report moves its reporter to the end).
  readonly #reports = new Map<string, ObservedReport>();
  #confirmed: string | undefined;
  /** Called when {@link ObservedAddresses.confirmed} changes (to an address or to undefined). */
  onChange: ((confirmed: string | undefined) => void) | undefined;

  /**
   * A collector on `clock`; `listenPort` gives the port this node listens on (joined to the agreed host).
   *
   * @throws {RangeError} for a setting out of range
   */
  constructor(clock: Clock, listenPort: () => number, config: Partial<ObservedConfig> = {}) {
    const resolved = { ...DEFAULT_OBSERVED_CONFIG, ...config };
    if (!Number.isSafeInteger(resolved.minGroups) || resolved.minGroups < 1) {
      throw new RangeError("minGroups must be an integer >= 1");
    }
    if (!Number.isSafeInteger(resolved.maxReports) || resolved.maxReports < resolved.minGroups) {
      throw new RangeError("maxReports must be an integer >= minGroups");
    }
    if (!(resolved.ttlMs > 0)) throw new RangeError("ttlMs must be > 0");
    this.config = Object.freeze(resolved);
    this.#clock = clock;
    this.#listenPort = listenPort;
  }

  /**
   * Takes `reporter`'s report that it sees this node at `address`; it replaces that peer's earlier one.
   * Returns false (and keeps nothing) for an address that is not `host:port`.
   */
  report(reporter: string, group: string, address: string): boolean {
    const parsed = parseHostPort(address);
    if (parsed === undefined || parsed.family === "dns") return false; // a socket sees an IP, never a name
    this.#reports.delete(reporter);
    this.#reports.set(reporter, { reporter, group, address, host: parsed.host, at: this.#clock.now() });
    while (this.#reports.size > this.config.maxReports) this.#reports.delete(this.#reports.keys().next().value!);
    this.#update();
    return true;
  }

  /** Forgets `reporter`'s report (its link closed and its word is no longer fresh). */
  forget(reporter: string): void {
    if (this.#reports.delete(reporter)) this.#update();
  }

  /** The reports kept now (stale ones dropped), oldest first. */
  reports(): ObservedReport[] {
    this.#expire();
    return [...this.#reports.values()];
  }

  /** What `reporter` last said it sees this node at, if it said so and that is still fresh. */
  reportOf(reporter: string): string | undefined {
    this.#expire();
    return this.#reports.get(reporter)?.address;
  }

  /**
   * The trusted address: the host reported by at least `minGroups` network groups (the one reported by most
   * groups, the most recent report breaking a tie), with this node's listening port; undefined when no
   * host is agreed on.
   */
  confirmed(): string | undefined {
    this.#update();
    return this.#confirmed;
  }

  /** The agreed host alone (see {@link ObservedAddresses.confirmed}). */
  confirmedHost(): string | undefined {
    const address = this.confirmed();
    return address === undefined ? undefined : parseHostPort(address)?.host;
  }

  #expire(): boolean {
    const cutoff = this.#clock.now() - this.config.ttlMs;
    let dropped = false;
    for (const [reporter, report] of this.#reports) {
      if (report.at >= cutoff) continue;
      this.#reports.delete(reporter);
      dropped = true;
    }
    return dropped;
  }

  #update(): void {
    this.#expire();
    const groups = new Map<string, { groups: Set<string>; latest: number }>();
    for (const report of this.#reports.values()) {
      const entry = groups.get(report.host) ?? { groups: new Set<string>(), latest: 0 };
      entry.groups.add(report.group);
      entry.latest = Math.max(entry.latest, report.at);
      groups.set(report.host, entry);
    }
    let best: { host: string; count: number; latest: number } | undefined;
    for (const [host, entry] of groups) {
      const count = entry.groups.size;
      if (count < this.config.minGroups) continue;
      if (!best || count > best.count || (count === best.count && entry.latest > best.latest)) {
        best = { host, count, latest: entry.latest };
      }
    }
    const port = this.#listenPort();
    const next = best && port > 0 ? formatHostPort(best.host, port) : undefined;
    if (next === this.#confirmed) return;
    this.#confirmed = next;
    this.onChange?.(next);
  }
}
