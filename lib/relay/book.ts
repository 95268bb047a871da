/**
 * A relay's bookkeeping, as pure logic on an injected clock and randomness: who holds a reservation, which
 * circuits are being set up or spliced, the one-use tokens their legs present, and every hard limit of
 * {@link RelayConfig} (reservations in total and per IP, circuits in total and per reservation, request rates
 * per IP). The sockets are elsewhere (`server.ts`, `splice.ts`); this decides.
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import { RELAY_TOKEN_BYTES, RelayStatus } from "../protocol/mod.ts";
import { randomBytes, type RandomSource } from "../random.ts";
import { BoundedMap, TokenBucket } from "../ratelimit.ts";
import type { RelayConfig } from "./config.ts";

/** IPs whose request rates are tracked (the oldest is forgotten beyond). */
const MAX_TRACKED_IPS = 4096;

/** A reservation: the relay circuits to `nodeId` until `expiresAt`. */
export interface Reservation {
  /** The reserved node. */
  nodeId: string;
  /** The IP its control link comes from. */
  ip: string;
  /** When it ends, ms. */
  expiresAt: number;
  /** Circuits to it open now. */
  circuits: number;
}

/** A circuit from `initiator` to `responder` through this relay. */
export interface Circuit {
  /** Its number, for logs. */
  id: number;
  /** The node that asked (RELAY_CONNECT); its leg runs the handshake as initiator. */
  initiator: string;
  /** The reserved node it reaches. */
  responder: string;
  /** The initiator's leg token (hex). */
  initiatorToken: string;
  /** The responder's leg token (hex). */
  responderToken: string;
  /** When it was granted, ms. */
  createdAt: number;
  /** Which legs have arrived. */
  arrived: { initiator: boolean; responder: boolean };
  /** Whether both legs arrived and the bytes flow. */
  spliced: boolean;
}

/** The answer to a request: a {@link RelayStatus} and, when granted, what was granted. */
export type Decision<T> = { status: typeof RelayStatus.OK; value: T } | { status: number };

/** Counters of a relay. */
export interface RelayStats {
  /** Reservations held now. */
  reservations: number;
  /** Circuits open now (set up or spliced). */
  circuits: number;
  /** Reservations granted (renewals included). */
  reservationsGranted: number;
  /** Reservations refused, by limit or rate. */
  reservationsRefused: number;
  /** Circuits granted. */
  circuitsGranted: number;
  /** Circuits refused, by limit, rate or a missing reservation. */
  circuitsRefused: number;
  /** Circuits spliced (both legs arrived). */
  circuitsSpliced: number;
  /** Circuits closed at their byte limit. */
  circuitsCutAtBytes: number;
  /** Circuits closed at their duration limit. */
  circuitsCutAtDuration: number;
  /** Legs refused (unknown, reused or expired token). */
  legsRefused: number;
  /** Bytes carried by all circuits. */
  bytesRelayed: number;
}

/** Why a circuit ended (for counters and logs). */
export type CircuitEnd = "closed" | "bytes" | "duration" | "setup-timeout" | "reservation-ended";

/** The relay's reservations, circuits, tokens and limits. */
export class RelayBook {
  /** Counters. */
  readonly stats: RelayStats = {
    reservations: 0,
    circuits: 0,
    reservationsGranted: 0,
    reservationsRefused: 0,
    circuitsGranted: 0,
    circuitsRefused: 0,
    circuitsSpliced: 0,
    circuitsCutAtBytes: 0,
    circuitsCutAtDuration: 0,
    legsRefused: 0,
    bytesRelayed: 0,
  };
  readonly #config: Readonly<RelayConfig>;
  readonly #random: RandomSource;
  readonly #reservations = new Map<string, Reservation>();
  readonly #perIp = new Map<string, number>();
  readonly #circuits = new Map<number, Circuit>();
  readonly #byToken = new Map<string, { circuit: Circuit; side: "initiator" | "responder" }>();
  readonly #rates = new BoundedMap<string, TokenBucket>(MAX_TRACKED_IPS);
  #nextId = 1;

  /** A book under `config`'s limits; tokens drawn from `random`. */
  constructor(config: Readonly<RelayConfig>, random: RandomSource) {
    this.#config = config;
    this.#random = random;
  }

  /** Whether `ip` may make one more request now (takes from its bucket). */
  #withinRate(ip: string, now: number): boolean {
    let bucket = this.#rates.get(ip);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.#config.requestRatePerIp, this.#config.requestBurstPerIp, now);
      this.#rates.set(ip, bucket);
    }
    return bucket.take(now);
  }

  /** The reservation of `nodeId`, if it holds one that has not expired at `now`. */
  reservation(nodeId: string, now: number): Reservation | undefined {
    const found = this.#reservations.get(nodeId);
    if (found && found.expiresAt <= now) {
      this.release(nodeId);
      return undefined;
    }
    return found;
  }

  /**
   * A reservation (or its renewal) for `nodeId`, whose control link comes from `ip`: refused over the IP's
   * request rate, or when the reservations in total or from `ip` are at their limits.
   */
  reserve(nodeId: string, ip: string, now: number): Decision<Reservation> {
    if (!this.#withinRate(ip, now)) return this.#refuseReservation(RelayStatus.RATE_LIMITED);
    const existing = this.reservation(nodeId, now);
    if (existing && existing.ip === ip) {
      existing.expiresAt = now + this.#config.reservationTtlMs;
      this.stats.reservationsGranted++;
      return { status: RelayStatus.OK, value: existing };
    }
    if (existing) this.release(nodeId); // the node moved: its old IP's count is freed
    if (this.#reservations.size >= this.#config.maxReservations) {
      return this.#refuseReservation(RelayStatus.RESOURCE_LIMIT);
    }
    if ((this.#perIp.get(ip) ?? 0) >= this.#config.maxReservationsPerIp) {
      return this.#refuseReservation(RelayStatus.RESOURCE_LIMIT);
    }
    const reservation: Reservation = { nodeId, ip, expiresAt: now + this.#config.reservationTtlMs, circuits: 0 };
    this.#reservations.set(nodeId, reservation);
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    this.stats.reservations = this.#reservations.size;
    this.stats.reservationsGranted++;
    return { status: RelayStatus.OK, value: reservation };
  }

  #refuseReservation(status: number): { status: number } {
    this.stats.reservationsRefused++;
    return { status };
  }

  /** Ends `nodeId`'s reservation (its control link closed, or it expired). Its circuits stay until they end. */
  release(nodeId: string): void {
    const found = this.#reservations.get(nodeId);
    if (!found) return;
    this.#reservations.delete(nodeId);
    const left = (this.#perIp.get(found.ip) ?? 1) - 1;
    if (left <= 0) this.#perIp.delete(found.ip);
    else this.#perIp.set(found.ip, left);
    this.stats.reservations = this.#reservations.size;
  }

  /**
   * A circuit from `initiator` (whose control link comes from `ip`) to `target`: refused over the IP's
   * request rate, when `target` holds no reservation, or when circuits in total or to `target` are at their
   * limits. Granted, it holds two fresh one-use tokens, one per leg.
   */
  connect(initiator: string, ip: string, target: string, now: number): Decision<Circuit> {
    if (!this.#withinRate(ip, now)) return this.#refuseCircuit(RelayStatus.RATE_LIMITED);
    const reservation = this.reservation(target, now);
    if (!reservation || target === initiator) return this.#refuseCircuit(RelayStatus.NO_RESERVATION);
    if (this.#circuits.size >= this.#config.maxCircuits) return this.#refuseCircuit(RelayStatus.RESOURCE_LIMIT);
    if (reservation.circuits >= this.#config.maxCircuitsPerReservation) {
      return this.#refuseCircuit(RelayStatus.RESOURCE_LIMIT);
    }
    const circuit: Circuit = {
      id: this.#nextId++,
      initiator,
      responder: target,
      initiatorToken: toHex(randomBytes(this.#random, RELAY_TOKEN_BYTES)),
      responderToken: toHex(randomBytes(this.#random, RELAY_TOKEN_BYTES)),
      createdAt: now,
      arrived: { initiator: false, responder: false },
      spliced: false,
    };
    reservation.circuits++;
    this.#circuits.set(circuit.id, circuit);
    this.#byToken.set(circuit.initiatorToken, { circuit, side: "initiator" });
    this.#byToken.set(circuit.responderToken, { circuit, side: "responder" });
    this.stats.circuits = this.#circuits.size;
    this.stats.circuitsGranted++;
    return { status: RelayStatus.OK, value: circuit };
  }

  #refuseCircuit(status: number): { status: number } {
    this.stats.circuitsRefused++;
    return { status };
  }

  /**
   * The circuit and side a leg presenting `token` (hex) belongs to, once: a token is spent by its first use,
   * and refused after the circuit's setup time. `undefined` (counted as a refused leg) otherwise.
   */
  claim(token: string, now: number): { circuit: Circuit; side: "initiator" | "responder" } | undefined {
    const found = this.#byToken.get(token);
    if (!found || now - found.circuit.createdAt > this.#config.circuitSetupMs) {
      this.stats.legsRefused++;
      return undefined;
    }
    this.#byToken.delete(token);
    found.circuit.arrived[found.side] = true;
    return found;
  }

  /** Marks `circuit` spliced (both legs there). */
  spliced(circuit: Circuit): void {
    circuit.spliced = true;
    this.stats.circuitsSpliced++;
  }

  /** Counts `bytes` carried by a circuit. */
  carried(bytes: number): void {
    this.stats.bytesRelayed += bytes;
  }

  /** Forgets `circuit` (and any token of it not yet used), freeing its slots; `why` is counted. */
  end(circuit: Circuit, why: CircuitEnd): void {
    if (!this.#circuits.delete(circuit.id)) return;
    this.#byToken.delete(circuit.initiatorToken);
    this.#byToken.delete(circuit.responderToken);
    const reservation = this.#reservations.get(circuit.responder);
    if (reservation && reservation.circuits > 0) reservation.circuits--;
    this.stats.circuits = this.#circuits.size;
    if (why === "bytes") this.stats.circuitsCutAtBytes++;
    if (why === "duration") this.stats.circuitsCutAtDuration++;
  }

  /** The circuits not spliced within the setup time at `now` (for the caller to end). */
  stale(now: number): Circuit[] {
    return [...this.#circuits.values()].filter((c) => !c.spliced && now - c.createdAt > this.#config.circuitSetupMs);
  }

  /** The circuits open now. */
  circuits(): Circuit[] {
    return [...this.#circuits.values()];
  }
}
