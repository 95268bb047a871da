/**
 * Address intake: how many of the peer records a peer sends this node takes.
 * An answer to this node's own PEER_DISCOVERY is taken once, up to the count
 * asked for (a peer may owe two answers at once: an ordinary one and one to a
 * query naming a topic); anything else (unsolicited announcements, a HANDSHAKE_ACK's
 * list, a second "answer") draws on the peer's address token bucket, as
 * Bitcoin Core's addr rate limit does: one address per `addressIntervalMs`
 * (0.1/s by default), at most `addressBurst` saved up, starting with one
 * announcement's worth. Records over the budget are dropped unread, and an
 * announcement with no budget at all is dropped before its checks.
 *
 * @module
 */
import { MAX_PEER_LIST } from "../protocol/mod.ts";
import { TokenBucket } from "../ratelimit.ts";
import type { PeersConfig } from "./config.ts";

/** Counters of the intake. */
export interface IntakeStats {
  /** Records taken as answers to this node's requests. */
  solicited: number;
  /** Records taken unsolicited, within a peer's rate. */
  unsolicited: number;
  /** Records dropped: over a peer's rate, or past what an answer was asked for. */
  dropped: number;
}

interface PeerIntake {
  bucket: TokenBucket;
  /** Records asked for by each outstanding PEER_DISCOVERY. */
  asked: number;
  /** Answers outstanding (at most {@link MAX_OUTSTANDING_ANSWERS}); 0 when none is. */
  answers: number;
  askedAt: number;
}

/** Answers a peer may owe this node at once: one ordinary PEER_DISCOVERY and one naming a topic. */
const MAX_OUTSTANDING_ANSWERS = 2;

/** Per-peer address budgets. State lives as long as the peer's entry (see {@link AddressIntake.drop}). */
export class AddressIntake {
  readonly stats: IntakeStats = { solicited: 0, unsolicited: 0, dropped: 0 };
  readonly #peers = new Map<string, PeerIntake>();
  readonly #config: Pick<PeersConfig, "addressIntervalMs" | "addressBurst" | "peerTimeoutMs">;

  /** Creates the intake. */
  constructor(config: Pick<PeersConfig, "addressIntervalMs" | "addressBurst" | "peerTimeoutMs">) {
    this.#config = config;
  }

  #state(nodeId: string, now: number): PeerIntake {
    let state = this.#peers.get(nodeId);
    if (!state) {
      const { addressIntervalMs, addressBurst } = this.#config;
      const start = Math.min(addressBurst, MAX_PEER_LIST);
      const bucket = new TokenBucket(1000 / addressIntervalMs, addressBurst, now, start);
      state = { bucket, asked: 0, answers: 0, askedAt: 0 };
      this.#peers.set(nodeId, state);
    }
    return state;
  }

  /** Notes that this node asked `nodeId` for up to `limit` records at `now`. */
  asked(nodeId: string, limit: number, now: number): void {
    const state = this.#state(nodeId, now);
    if (!this.#outstanding(state, now)) state.answers = 0;
    state.asked = state.answers > 0 ? Math.max(state.asked, limit) : limit;
    state.answers = Math.min(MAX_OUTSTANDING_ANSWERS, state.answers + 1);
    state.askedAt = now;
  }

  #outstanding(state: PeerIntake, now: number): boolean {
    // An answer later than a peer timeout is no longer one.
    return state.answers > 0 && now - state.askedAt <= this.#config.peerTimeoutMs;
  }

  /** Whether a PEER_ANNOUNCEMENT from `nodeId` could be taken at all now (checked before its verification). */
  wants(nodeId: string, now: number): boolean {
    const state = this.#state(nodeId, now);
    return this.#outstanding(state, now) || state.bucket.available(now);
  }

  /**
   * How many of the first `count` records of a PEER_ANNOUNCEMENT (or HANDSHAKE_ACK list, `answer` false)
   * from `nodeId` to take: an outstanding request's count, once per request, else one token per record.
   */
  take(nodeId: string, count: number, now: number, answer = true): number {
    const state = this.#state(nodeId, now);
    let taken = 0;
    if (answer && this.#outstanding(state, now)) {
      taken = Math.min(count, state.asked);
      state.answers--;
      this.stats.solicited += taken;
    } else {
      while (taken < count && state.bucket.take(now)) taken++;
      this.stats.unsolicited += taken;
    }
    this.stats.dropped += count - taken;
    return taken;
  }

  /** Forgets `nodeId`'s budget (its connection closed; a reconnect starts from one announcement's worth). */
  drop(nodeId: string): void {
    this.#peers.delete(nodeId);
  }
}
