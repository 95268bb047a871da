/**
 * Promises of announcers (gossipsub's IWANT promises, scored as its P7
 * behaviour penalty): when this node asks a peer for a message the peer
 * announced, the peer has promised it. If no copy of the message arrives
 * (from that peer or any other) within the deadline, the promise is broken.
 * Broken promises add to a peer's score, which halves every 30 s; while
 * the score is over a threshold the peer is penalised, at most once a
 * second. A peer that announces ids it never serves then loses trust and
 * its link, however cheap its announcements were.
 *
 * Only the announcer is blamed, and only for what is its doing:
 * - a copy that arrives in time keeps the promise even if this node then
 *   drops it (over the sender's rate, its own check queue full, or the
 *   message too old by now): the peer kept its word;
 * - promises of a link that closes are dropped unscored, whoever closed it;
 * - an ask sent while this node's own queue to the peer was long makes no
 *   promise (it may wait behind that queue), nor one sent once this node
 *   has asked the peer this interval for half its serving budget
 *   (`maxServedPerInterval`: an honest server drops asks beyond it);
 * - the deadline grows with the lateness of messages here (an overloaded
 *   node, or network, gets answers late as it gets everything late);
 * - one promise per ask, on its first id (an honest server answers in
 *   order); the threshold absorbs the rare message that left an honest
 *   announcer's store between its announcement and the ask.
 *
 * @module
 */

/** Open promises per peer; asks beyond it make none (the peer has enough open to be judged by). */
export const MAX_PROMISES_PER_PEER = 64;
/**
 * A peer's broken-promise score above which it is penalised: with the score halving every
 * {@link BROKEN_PROMISE_HALF_LIFE_MS}, more than 3 broken within about that long. An honest peer breaks one
 * only when a message it announced left its store before the ask; one that serves nothing breaks every
 * ask (one or more a second) and is over it within seconds.
 */
export const BROKEN_PROMISE_THRESHOLD = 3;
/** The time in which a peer's broken-promise score halves, ms. */
export const BROKEN_PROMISE_HALF_LIFE_MS = 30_000;

/** Outstanding promises by message, broken-promise scores by peer. */
export class AskPromises {
  // id key -> asked peer -> deadline (ms).
  readonly #byKey = new Map<string, Map<string, number>>();
  readonly #open = new Map<string, number>();
  readonly #score = new Map<string, number>();
  #lastRound: number | undefined;

  /** Promises outstanding. */
  get size(): number {
    let n = 0;
    for (const count of this.#open.values()) n += count;
    return n;
  }

  /** A peer's broken-promise score (0 for none). */
  score(nodeId: string): number {
    return this.#score.get(nodeId) ?? 0;
  }

  /** `nodeId` was asked for `key` and should deliver it by `deadline`. */
  asked(nodeId: string, key: string, deadline: number): void {
    const open = this.#open.get(nodeId) ?? 0;
    if (open >= MAX_PROMISES_PER_PEER) return;
    let peers = this.#byKey.get(key);
    if (peers?.has(nodeId)) return;
    if (!peers) this.#byKey.set(key, peers = new Map());
    peers.set(nodeId, deadline);
    this.#open.set(nodeId, open + 1);
  }

  /** A copy of `key` arrived (from anyone): every promise of it is kept. */
  kept(key: string): void {
    const peers = this.#byKey.get(key);
    if (!peers) return;
    this.#byKey.delete(key);
    for (const nodeId of peers.keys()) this.#release(nodeId);
  }

  #release(nodeId: string): void {
    const open = this.#open.get(nodeId) ?? 0;
    if (open <= 1) this.#open.delete(nodeId);
    else this.#open.set(nodeId, open - 1);
  }

  /** The peer's link closed: its promises are dropped unscored, and its score forgotten. */
  forget(nodeId: string): void {
    if (this.#open.has(nodeId)) {
      for (const [key, peers] of this.#byKey) {
        if (peers.delete(nodeId) && peers.size === 0) this.#byKey.delete(key);
      }
      this.#open.delete(nodeId);
    }
    this.#score.delete(nodeId);
  }

  /**
   * An interval passed at `now`: scores decay, then promises past their deadline are broken and scored.
   * Returns how many broke, and the peers whose score is now over {@link BROKEN_PROMISE_THRESHOLD}.
   */
  round(now: number): { broken: number; overThreshold: string[] } {
    const decay = Math.pow(0.5, Math.max(0, now - (this.#lastRound ?? now)) / BROKEN_PROMISE_HALF_LIFE_MS);
    this.#lastRound = now;
    for (const [nodeId, score] of this.#score) {
      const decayed = score * decay;
      if (decayed < 0.01) this.#score.delete(nodeId);
      else this.#score.set(nodeId, decayed);
    }
    let broken = 0;
    for (const [key, peers] of this.#byKey) {
      for (const [nodeId, deadline] of peers) {
        if (now < deadline) continue;
        peers.delete(nodeId);
        this.#release(nodeId);
        this.#score.set(nodeId, this.score(nodeId) + 1);
        broken++;
      }
      if (peers.size === 0) this.#byKey.delete(key);
    }
    const overThreshold: string[] = [];
    for (const [nodeId, score] of this.#score) if (score > BROKEN_PROMISE_THRESHOLD) overThreshold.push(nodeId);
    return { broken, overThreshold };
  }
}
