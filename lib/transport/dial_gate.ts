/**
 * The transport's side of the dial policy: the last check before a socket is opened, whoever asked for
 * the dial (the peer manager filters hearsay earlier; this catches everything else). Refusals throw
 * `DIAL_REFUSED`, are counted in the transport's stats and logged once per address at debug. Host names
 * the policy names are resolved here, and the address connected to is one the policy permits.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { DialGuard, type DialPolicy } from "../dial_policy.ts";
import type { LogSink } from "../log.ts";
import { BoundedMap } from "../ratelimit.ts";
import { TransportError, type TransportStats } from "./types.ts";

/** Refused addresses remembered, so each is logged once. */
const REFUSED_DIALS_LOGGED = 1_000;

/** Resolves a host name to its IP addresses (the system resolver by default). */
export type ResolveHost = (name: string) => Promise<string[]>;

/** The system resolver (`getaddrinfo`, so /etc/hosts counts). */
export async function systemResolve(name: string): Promise<string[]> {
  return (await lookup(name, { all: true, verbatim: true })).map((entry) => entry.address);
}

/** A transport's dial-policy check, with its counter and log. */
export class DialGate {
  readonly #guard: DialGuard;
  readonly #policy: DialPolicy;
  readonly #stats: TransportStats;
  readonly #log: LogSink;
  readonly #resolve: ResolveHost;
  readonly #logged = new BoundedMap<string, true>(REFUSED_DIALS_LOGGED);

  /**
   * A gate for `policy`, counting refusals in `stats.dialsRefused`.
   *
   * @throws {ConfigError} when a range of the policy is malformed
   */
  constructor(policy: DialPolicy, stats: TransportStats, log: LogSink, resolve: ResolveHost = systemResolve) {
    this.#guard = new DialGuard(policy, "transport.dialPolicy");
    this.#policy = policy;
    this.#stats = stats;
    this.#log = log;
    this.#resolve = resolve;
  }

  /** Whether the policy permits `address` (`host:port`). */
  permits(address: string): boolean {
    return this.#guard.permits(address);
  }

  /** Throws `DIAL_REFUSED` unless the policy permits `address` (`host:port`). */
  check(address: string): void {
    const refusal = this.#guard.check(address);
    if (refusal !== undefined) throw this.#refuse(address, refusal);
  }

  /**
   * The IP address to connect to for `host` (of `address`, already checked): `host` itself when it is an
   * IP address; for a host name the policy names, the first resolved address the policy permits.
   *
   * @throws {TransportError} `CONNECT_FAILED` when the name does not resolve, `DIAL_REFUSED` when no address passes
   */
  async target(host: string, address: string, isName: boolean): Promise<string> {
    if (!isName) return host;
    let addresses: string[];
    try {
      addresses = await this.#resolve(host);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TransportError("CONNECT_FAILED", `cannot resolve ${host}: ${reason}`, undefined, { cause: error });
    }
    const permitted = addresses.find((candidate) => this.#guard.checkIp(candidate) === undefined);
    if (permitted === undefined) {
      throw this.#refuse(address, `${host} resolves to ${addresses.join(", ") || "nothing"}, none permitted`);
    }
    return permitted;
  }

  #refuse(address: string, why: string): TransportError {
    this.#stats.dialsRefused++;
    if (!this.#logged.has(address)) {
      this.#logged.set(address, true);
      this.#log("debug", "dial refused by the dial policy", { address, why, policy: this.#policy.preset });
    }
    return new TransportError(
      "DIAL_REFUSED",
      `${address} is refused by the ${this.#policy.preset} dial policy: ${why}`,
    );
  }
}
