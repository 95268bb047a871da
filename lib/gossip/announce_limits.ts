/**
 * Caps on what one peer's announcements (GOSSIP_MESSAGE `have`) may make
 * this node look at, as gossipsub's maxIHaveMessages and maxIHaveLength:
 * announcements per interval and ids per interval, per peer. They are
 * checked before any id is looked up, so a peer sending hundreds of
 * announcements of random ids a second within its envelope rate costs a
 * counter per announcement beyond them, not a lookup per id. Per-origin
 * PRUNEs (which carry the ids of the duplicates they answer) have a cap of
 * their own: an honest peer sends one per origin, in bursts when many
 * origins' trees settle at once.
 *
 * @module
 */
import { MAX_ORIGIN_PRUNES } from "./trees.ts";
import type { AnnouncementCounts } from "./types.ts";

// Defined with the other parts of a GossipLink below links.ts (no import cycle); importable from here too.
export type { AnnouncementCounts };

/**
 * Ids in per-origin PRUNEs taken from one peer per interval: twice the per-origin state kept per peer
 * (MAX_ORIGIN_PRUNES), beyond which more prunes would only cycle that state.
 */
export const MAX_PRUNED_IDS_PER_INTERVAL = 2 * MAX_ORIGIN_PRUNES;

/** The per-peer announcement caps (see `maxAnnouncementsPerInterval` and `maxAnnouncedIdsPerInterval`). */
export class AnnounceLimits {
  readonly #maxAnnouncements: number;
  readonly #maxIds: number;

  /** Caps of `maxAnnouncements` announcements and `maxIds` ids per peer per interval. */
  constructor(maxAnnouncements: number, maxIds: number) {
    this.#maxAnnouncements = maxAnnouncements;
    this.#maxIds = maxIds;
  }

  /**
   * How many of the `count` ids of an announcement from `link` may be looked at now: all of them while the
   * peer is within both caps, the rest of its id allowance for the announcement that crosses it, and 0
   * beyond (the announcement's ids are ignored; its PRUNE or asks, if any, still count). The count is taken.
   */
  admit(link: AnnouncementCounts, count: number): number {
    if (link.announcementsThisInterval >= this.#maxAnnouncements) return 0;
    const allowed = Math.min(count, this.#maxIds - link.announcedIdsThisInterval);
    if (allowed <= 0) return 0;
    link.announcementsThisInterval++;
    link.announcedIdsThisInterval += allowed;
    return allowed;
  }

  /** As {@link AnnounceLimits.admit}, for the ids of a per-origin PRUNE (see MAX_PRUNED_IDS_PER_INTERVAL). */
  admitPruned(link: AnnouncementCounts, count: number): number {
    const allowed = Math.max(0, Math.min(count, MAX_PRUNED_IDS_PER_INTERVAL - link.prunedIdsThisInterval));
    link.prunedIdsThisInterval += allowed;
    return allowed;
  }

  /** A new interval: every link's counts start again. */
  reset(links: Iterable<AnnouncementCounts>): void {
    for (const link of links) {
      link.announcementsThisInterval = 0;
      link.announcedIdsThisInterval = 0;
      link.askedThisInterval = 0;
      link.prunedIdsThisInterval = 0;
    }
  }
}
