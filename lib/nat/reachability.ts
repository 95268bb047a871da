/**
 * The asking side of the reachability check (as libp2p's AutoNAT): this node asks a few peers, each from its
 * own network group, to dial its candidate address back, and concludes:
 * - `public`: at least `quorum` of them reached it, each proven twice: the peer says its handshake reached
 *   this node's identity, and this node's own listener saw that peer's dial-back handshake complete since it
 *   asked (a peer cannot claim a dial it did not make);
 * - `private`: at least `quorum` failed and none reached it;
 * - `unknown`: no candidate address, too few peers, or a check that decided nothing (the previous verdict
 *   for the same address stands meanwhile).
 *
 * It checks again every `recheckIntervalMs` after a verdict, every `retryIntervalMs` after a check that
 * decided nothing, and soon after the candidate address changes. Clock and randomness are injected.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import type { Clock, TimerId } from "../clock.ts";
import { type DialBackRequestPayload, type DialBackResponsePayload, DialBackStatus } from "../protocol/mod.ts";
import { type RandomSource, shuffleInPlace } from "../random.ts";
import type { NatConfig } from "./config.ts";

/** What a node concludes about its own reachability. */
export type ReachabilityState = "unknown" | "public" | "private";

/** A connected peer that can be asked (it announced `nat/1`). */
export interface DialBackPeer {
  /** Its node id. */
  nodeId: string;
  /** Its network group (subnet). */
  group: string;
  /** The host it says it sees this node at (its OBSERVED_ADDRESS), when it said. */
  sees: string | undefined;
  /** Sends it a request over its link. */
  send(request: DialBackRequestPayload): void;
}

/** What {@link Reachability} needs. */
export interface ReachabilityOptions {
  /** Time source and timers. */
  clock: Clock;
  /** Randomness (which peers are asked). */
  random: RandomSource;
  /** Settings. */
  config: Readonly<NatConfig>;
  /** The address to check (the forced `--advertise`, else the confirmed observed one), if any. */
  candidate: () => string | undefined;
  /** The peers that may be asked now. */
  peers: () => DialBackPeer[];
  /** Called when the state or the address checked changes. */
  onChange?: (state: ReachabilityState, address: string | undefined) => void;
}

/** Counters of the asking side. */
export interface ReachabilityStats {
  /** Checks started (with at least one peer asked). */
  checks: number;
  /** DIAL_BACK_REQUESTs sent. */
  requestsSent: number;
  /** Answers REACHED whose dial-back this node's listener saw. */
  reached: number;
  /** Answers REACHED without a dial-back seen by this node: not believed. */
  unproven: number;
  /** Answers UNREACHABLE. */
  unreachable: number;
  /** Answers refused, rate limited, unknown, or none before the timeout. */
  noVerdict: number;
}

interface Pending {
  nodeId: string;
  group: string;
  sentAt: number;
  answer: number | undefined;
}

/** The reachability check of one node. */
export class Reachability {
  /** Counters. */
  readonly stats: ReachabilityStats = {
    checks: 0,
    requestsSent: 0,
    reached: 0,
    unproven: 0,
    unreachable: 0,
    noVerdict: 0,
  };
  readonly #options: ReachabilityOptions;
  #state: ReachabilityState = "unknown";
  #address: string | undefined;
  #checkedAt: number | undefined;
  #timer: TimerId | undefined;
  #deadline: TimerId | undefined;
  #running = false;
  #nextRequestId = 1;
  // The check in flight: its address and its requests by id.
  #round: { address: string; pending: Map<number, Pending> } | undefined;
  // When each peer's dial-back handshake last reached this node's listener.
  readonly #dialedBackAt = new Map<string, number>();

  /** A check with `options`; {@link Reachability.start} runs it. */
  constructor(options: ReachabilityOptions) {
    this.#options = options;
  }

  /** The verdict. */
  get state(): ReachabilityState {
    return this.#state;
  }

  /** The address the verdict is about (the one checked), if any. */
  get address(): string | undefined {
    return this.#address;
  }

  /** When the last check ended, ms; undefined before one has. */
  get checkedAt(): number | undefined {
    return this.#checkedAt;
  }

  /** Starts: a first check as soon as there is a candidate and peers (checked now, then on each trigger). */
  start(): void {
    this.#running = true;
    this.#schedule(0);
  }

  /** Stops every timer; answers arriving later are ignored. */
  stop(): void {
    this.#running = false;
    this.#clear();
    this.#round = undefined;
  }

  /** The candidate address may have changed (a new confirmed observation): check it soon if it did. */
  candidateChanged(): void {
    if (!this.#running || this.#options.candidate() === this.#address) return;
    if (this.#round) return; // the check in flight ends first; its end looks at the candidate again
    this.#schedule(0);
  }

  /** A peer that can be asked connected: check now if the last attempt found too few. */
  peerConnected(): void {
    if (this.#running && !this.#round && this.#state === "unknown" && this.#checkedAt === undefined) this.#schedule(0);
  }

  /** This node's listener completed a dial-back handshake from `nodeId` (the proof of a REACHED answer). */
  dialedBack(nodeId: string): void {
    if (!this.#round || ![...this.#round.pending.values()].some((p) => p.nodeId === nodeId)) return;
    this.#dialedBackAt.set(nodeId, this.#options.clock.now());
    this.#evaluate(false);
  }

  /** Takes `nodeId`'s answer. Answers to no request of the check in flight are ignored. */
  response(nodeId: string, payload: DialBackResponsePayload): void {
    const pending = this.#round?.pending.get(payload.requestId);
    if (!pending || pending.nodeId !== nodeId || pending.answer !== undefined) return;
    pending.answer = payload.status;
    this.#evaluate(false);
  }

  #clear(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    if (this.#deadline !== undefined) this.#options.clock.clearTimeout(this.#deadline);
    this.#timer = this.#deadline = undefined;
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#check();
    }, delayMs);
  }

  /** Starts a check: one request to each of up to `peersPerCheck` peers of distinct network groups. */
  #check(): void {
    if (!this.#running || this.#round) return;
    const { config, clock, random } = this.#options;
    const address = this.#options.candidate();
    if (address === undefined) {
      this.#conclude("unknown", undefined);
      return; // the next confirmed address triggers a check
    }
    const host = parseHostPort(address)?.host;
    // A peer that sees this node at another host would refuse: the answerer dials only the asker's own IP.
    const candidates = shuffleInPlace(
      this.#options.peers().filter((peer) => peer.sees === undefined || parseHostPort(peer.sees)?.host === host),
      random,
    );
    const chosen: DialBackPeer[] = [];
    const groups = new Set<string>();
    for (const peer of candidates) {
      if (chosen.length >= config.peersPerCheck) break;
      if (groups.has(peer.group)) continue;
      groups.add(peer.group);
      chosen.push(peer);
    }
    if (chosen.length < config.quorum) {
      // Too few groups to ever reach a quorum: wait for more peers.
      if (address !== this.#address) this.#conclude("unknown", address);
      this.#schedule(config.retryIntervalMs);
      return;
    }
    this.stats.checks++;
    const now = clock.now();
    const pending = new Map<number, Pending>();
    this.#round = { address, pending };
    for (const peer of chosen) {
      const requestId = this.#nextRequestId;
      this.#nextRequestId = (this.#nextRequestId + 1) % 0x1_0000_0000;
      pending.set(requestId, { nodeId: peer.nodeId, group: peer.group, sentAt: now, answer: undefined });
      this.#dialedBackAt.delete(peer.nodeId);
      this.stats.requestsSent++;
      peer.send({ requestId, address });
    }
    this.#deadline = clock.setTimeout(() => {
      this.#deadline = undefined;
      this.#evaluate(true);
    }, config.checkTimeoutMs);
  }

  /** Counts the answers of the check in flight; ends it once they decide, or at its deadline (`final`). */
  #evaluate(final: boolean): void {
    const round = this.#round;
    if (!round) return;
    const { quorum } = this.#options.config;
    const reached = new Set<string>(), failed = new Set<string>();
    let open = 0;
    for (const p of round.pending.values()) {
      const proven = (this.#dialedBackAt.get(p.nodeId) ?? -Infinity) >= p.sentAt;
      if (p.answer === DialBackStatus.REACHED && proven) reached.add(p.group);
      else if (p.answer === DialBackStatus.UNREACHABLE) failed.add(p.group);
      // A REACHED answer whose handshake has not been seen yet may still be proven (two sockets, two orders).
      else if (p.answer === undefined || p.answer === DialBackStatus.REACHED) open++;
    }
    const decided = reached.size >= quorum || open === 0;
    if (!decided && !final) return;
    this.#round = undefined;
    if (this.#deadline !== undefined) this.#options.clock.clearTimeout(this.#deadline);
    this.#deadline = undefined;
    for (const p of round.pending.values()) {
      const proven = (this.#dialedBackAt.get(p.nodeId) ?? -Infinity) >= p.sentAt;
      if (p.answer === DialBackStatus.REACHED && proven) this.stats.reached++;
      else if (p.answer === DialBackStatus.REACHED) this.stats.unproven++;
      else if (p.answer === DialBackStatus.UNREACHABLE) this.stats.unreachable++;
      else this.stats.noVerdict++;
    }
    const { config } = this.#options;
    let state: ReachabilityState;
    if (reached.size >= quorum) state = "public";
    else if (failed.size >= quorum && reached.size === 0) state = "private";
    else state = round.address === this.#address ? this.#state : "unknown";
    this.#checkedAt = this.#options.clock.now();
    this.#conclude(state, round.address);
    // The address may have changed while the check ran: check the new one at once.
    const changed = this.#options.candidate() !== round.address;
    this.#schedule(changed ? 0 : state === "unknown" ? config.retryIntervalMs : config.recheckIntervalMs);
  }

  #conclude(state: ReachabilityState, address: string | undefined): void {
    if (state === this.#state && address === this.#address) return;
    this.#state = state;
    this.#address = address;
    this.#options.onChange?.(state, address);
  }
}
