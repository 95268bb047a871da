/**
 * The delivery deficit of peers this node counts on to push to it (after
 * gossipsub v1.1's P3, mesh message delivery deficit). Links are directed
 * in kith: whether a peer pushes to this node is this node's belief
 * (`GossipLink.pushing`: it pushed a copy, or was grafted by an ask, and was
 * not PRUNEd since), and an honest peer is quiet for good reasons: it got a
 * message from this node first (then it sends nothing back), this node
 * pruned it for that message's origin (per-origin trees), or it made this
 * node lazy on its side. So the deficit does not count what the peer did
 * not send; it counts what the peer evidently held and chose not to push:
 *
 * - withheld: a message of an origin this node has not pruned on the link,
 *   that the peer announced (IHAVE, repair digest) while this node counted
 *   on it to push, within {@link EVIDENCE_WINDOW_MS} of this node's first
 *   copy, or announced before this node had it (its announcers, judged when
 *   the message arrives and its origin is known); a copy that answers this
 *   node's ask is no push (the peer announced it, and is counted so);
 * - pushed: a full copy it sent unasked, first or a duplicate within
 *   {@link EVIDENCE_WINDOW_MS} of the first, of a message this node had not
 *   sent it (an echo of this node's own push earns nothing).
 *
 * An honest pusher withholds nothing; one whose view changed (it made this
 * node lazy) withholds everything, and so does a peer that took an eager
 * link to swallow what it gets. At the end of each window
 * (`deliveryDeficitWindowMs`), a peer counted on for the whole window (the
 * activation) that withheld at least `deliveryDeficitMinWithheld` messages
 * and pushed under `deliveryDeficitPercent`% of what it pushed and withheld
 * is demoted. No trust is taken: silence is no proof of malice, and an
 * honest peer whose view changed must not be framed. Counting is O(1) per
 * copy or announced id; judging is once per window per link, in the repair
 * round.
 *
 * Demotion, for one window: this node stops counting on the peer to push
 * (then, when no peer pushes any more, an announcement from another peer is
 * asked for at once, and the ask grafts that peer; the demoted one is not
 * asked at once), and it also stops pushing to the peer, handing its eager
 * link to the most trusted lazy peer (an outbound one while eager links to
 * peers this node dialed are under `minOutboundEager`), not to the demoted
 * one. That second half is a choice: the deficit is about what the peer
 * sends here, and it may still forward this node's copies to others. But a
 * peer that announces instead of pushing treats the link as lazy on its
 * side, and one that took an eager link to swallow what it gets (the attack
 * this closes) would otherwise hold it for good, eating this node's own
 * publications too; an honest peer loses only an ask's delay for messages
 * it gets only from here, and its ask (IWANT) grafts the link straight
 * back, as for any lazy peer.
 *
 * @module
 */
import type { GossipLink } from "./links.ts";
import type { StoredMessage } from "./store.ts";

// Defined with the other parts of a GossipLink below links.ts (no import cycle); importable from here too.
export type { DeficitCounts } from "./types.ts";

/**
 * A copy, or an announcement, counts only within this long of this node's own first copy, ms: a peer that
 * pushes or announces at once holds the message at about the time this node got it, while later ids are
 * catch-up or repair of older messages, and later copies may be echoes.
 */
export const EVIDENCE_WINDOW_MS = 3_000;

/** The parts of GossipConfig the deficit goes by. */
export interface DeficitConfig {
  /** Pushed share under which a peer is demoted, percent; 0 turns the deficit off. */
  readonly deliveryDeficitPercent: number;
  /** The window (and activation), ms. */
  readonly deliveryDeficitWindowMs: number;
  /** Withheld messages in a window before a peer is judged. */
  readonly deliveryDeficitMinWithheld: number;
  /** The gossip interval: announcements within it of the graft that made a peer push are not counted. */
  readonly intervalMs: number;
}

/** The counting and judging of delivery deficits. */
export class DeliveryDeficit {
  readonly #config: DeficitConfig;
  /** Whether the deficit is on (`deliveryDeficitPercent` > 0). */
  readonly enabled: boolean;

  /** The deficit as `config` sets it. */
  constructor(config: DeficitConfig) {
    this.#config = config;
    this.enabled = config.deliveryDeficitPercent > 0;
  }

  /**
   * Whether this node expects the peer on `link` to push `origin`'s messages at `now`: it counts on it to
   * push, has for longer than a gossip interval (ids it queued before the graft reached it are still
   * announced), has not pruned it for the origin, and has not demoted it.
   */
  expects(link: GossipLink, origin: string, now: number): boolean {
    return this.enabled && link.pushing && now - link.pushingSince >= this.#config.intervalMs &&
      now >= link.demotedUntil && !link.originsPrunedByUs?.has(origin);
  }

  /** The peer on `link` pushed a full copy, unasked, at `now`, of a message this node first had at `firstAt`. */
  pushed(link: GossipLink, firstAt: number, now: number): void {
    if (this.enabled && now - firstAt <= EVIDENCE_WINDOW_MS) link.pushedThisWindow++;
  }

  /** The peer on `link` announced the kept message `stored` at `now` (or its copy answered an ask). */
  announced(link: GossipLink, stored: StoredMessage, now: number): void {
    if (now - stored.storedAt <= EVIDENCE_WINDOW_MS && this.expects(link, stored.origin, now)) {
      link.withheldThisWindow++;
    }
  }

  /** The peer on `link` had announced a message of `origin` before this node got it, at `now`. */
  announcedBefore(link: GossipLink, origin: string, now: number): void {
    if (this.expects(link, origin, now)) link.withheldThisWindow++;
  }

  /**
   * Ends the windows that are over at `now`: returns whether the peer on `link` is to be demoted, and starts
   * its next window.
   */
  judge(link: GossipLink, now: number): boolean {
    if (!this.enabled || now - link.windowStart < this.#config.deliveryDeficitWindowMs) return false;
    const { pushedThisWindow: pushed, withheldThisWindow: withheld } = link;
    const activated = link.pushing && link.pushingSince <= link.windowStart && now >= link.demotedUntil;
    link.windowStart = now;
    link.pushedThisWindow = 0;
    link.withheldThisWindow = 0;
    return activated && withheld >= this.#config.deliveryDeficitMinWithheld &&
      pushed * 100 < this.#config.deliveryDeficitPercent * (pushed + withheld);
  }

  /** Marks the peer on `link` demoted at `now`, for one window. */
  demote(link: GossipLink, now: number): void {
    link.demotedUntil = now + this.#config.deliveryDeficitWindowMs;
  }
}
