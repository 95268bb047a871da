/**
 * Gossip's state of each link to a connected peer: counters, rate limit,
 * known-to-have slot, eager or lazy, per-origin prunes both ways and the
 * ids waiting for its next announcement; and the counts over all links
 * (eager links, peers pushing here) that the link policy decides by.
 *
 * @module
 */
import type { Connection } from "../transport/types.ts";
import type { RandomSource } from "../random.ts";
import type { TokenBucket } from "../ratelimit.ts";
import type { GossipPeerStats } from "./stats.ts";
import type { AnnouncementCounts, DeficitCounts } from "./types.ts";

/** A peer over a rate limit loses trust at most this often, ms: one burst costs one penalty, not one per envelope. */
export const PENALTY_INTERVAL_MS = 1_000;

/**
 * A connected peer as gossip sends to it: only its id and connection, narrower than lib/peers/'s
 * ActivePeer (which a node passes in).
 */
export type ConnectedPeer = { readonly nodeId: string; readonly connection: Connection };

/**
 * Added to a peer's trust when choosing the most trusted lazy peer: far below any trust difference that
 * means something, so it only breaks ties, at random.
 */
const TIE_BREAK = 1e-6;

/** Gossip's state of the link to one connected peer. */
export interface GossipLink extends GossipPeerStats, AnnouncementCounts, DeficitCounts {
  /** Its per-peer rate limit. */
  bucket: TokenBucket;
  /** Its bit in kept messages' known-to-have masks, or -1 when all KNOWN_SLOTS are taken. */
  slot: number;
  /** It sent PRUNE: not made eager again unless it asks (IWANT). */
  prunedUs: boolean;
  /** Origins (hex) it asked, by PRUNE with ids, to get only as ids; oldest first, at most MAX_ORIGIN_PRUNES (trees.ts). */
  originsPrunedByIt: Set<string> | undefined;
  /** Origins (hex) this node asked it, by PRUNE with ids, to stop pushing; oldest first, same bound. */
  originsPrunedByUs: Set<string> | undefined;
  /** Origins (hex) of which it has sent one later copy: the next later copy of the same origin prunes. */
  originsDuplicatedOnce: Set<string> | undefined;
  /** It connected when more was kept than one digest holds: it gets the rest in the next repair rounds. */
  catchingUp: boolean;
  /** Ids (keys) to announce at the next lazy flush; at most MAX_DIGEST_IDS (a full batch is sent at once). */
  pendingHave: string[];
  /** When the oldest id of `pendingHave` was queued, ms (a small overlay's queue waits for a push: outbox.ts). */
  pendingSince: number;
  /** Times this interval its queued ids went out with a message pushed to it, before the announcement round. */
  earlyFlushesThisInterval: number;
  /** Messages served to it in answer to `want` this interval. */
  servedThisInterval: number;
  /** Bytes of messages served to it in answer to `want` this interval. */
  servedBytesThisInterval: number;
  /**
   * Times each kept message (key) was sent to it in answer to `want`, for the retransmission limit; made
   * on first use, entries of messages no longer kept dropped each interval.
   */
  servedTimes: Map<string, number> | undefined;
  /** Keys served to it this interval: asked again before the interval ends, they are not sent again. */
  servedNow: Set<string> | undefined;
  /** When it was last penalised for going over a rate limit (at most once per PENALTY_INTERVAL_MS). */
  lastPenaltyAt: number;
  /** When it was last penalised for broken promises (at most once per PENALTY_INTERVAL_MS). */
  lastPromisePenaltyAt: number;
  /** Whether this node dialed the peer: outbound links are the node's own choice, so some eager links go to them. */
  outbound: boolean;
}

/** The links by node id, in the order they were made, with the number of peers pushing to this node. */
export class GossipLinks {
  readonly #links = new Map<string, GossipLink>();
  // Links whose state says the peer pushes full copies to this node (kept by setPushing; duplicates need it).
  #pushers = 0;

  /** Peers that push full copies to this node, as far as it knows. */
  get pushers(): number {
    return this.#pushers;
  }

  /** The link to `nodeId`, if there is one. */
  get(nodeId: string): GossipLink | undefined {
    return this.#links.get(nodeId);
  }

  /** Links by node id, oldest first. */
  entries(): IterableIterator<[string, GossipLink]> {
    return this.#links.entries();
  }

  /** Links, oldest first. */
  values(): IterableIterator<GossipLink> {
    return this.#links.values();
  }

  /** How many links there are. */
  get size(): number {
    return this.#links.size;
  }

  /** Makes the link to `nodeId` at `now`, lazy or `eager`, with its rate limit and known-to-have slot. */
  open(nodeId: string, bucket: TokenBucket, slot: number, eager: boolean, outbound: boolean, now: number): GossipLink {
    const link: GossipLink = {
      outbound,
      bucket,
      slot,
      pendingHave: [],
      pendingSince: now,
      earlyFlushesThisInterval: 0,
      // Made on first use: most links of a node with many peers never prune (an empty Set costs more than a field).
      originsPrunedByIt: undefined,
      originsPrunedByUs: undefined,
      originsDuplicatedOnce: undefined,
      lastFirstAt: -Infinity,
      eager,
      pushing: false,
      pushingSince: -Infinity,
      pushedThisWindow: 0,
      withheldThisWindow: 0,
      windowStart: now,
      demotedUntil: -Infinity,
      prunedUs: false,
      catchingUp: false,
      servedThisInterval: 0,
      servedBytesThisInterval: 0,
      servedTimes: undefined,
      servedNow: undefined,
      lastPenaltyAt: -Infinity,
      lastPromisePenaltyAt: -Infinity,
      announcementsThisInterval: 0,
      announcedIdsThisInterval: 0,
      askedThisInterval: 0,
      prunedIdsThisInterval: 0,
      received: 0,
      duplicates: 0,
      firsts: 0,
      invalid: 0,
      rateLimited: 0,
    };
    this.#links.set(nodeId, link);
    return link;
  }

  /** Drops the link to `nodeId` (it disconnected), and its place among the pushers. */
  close(nodeId: string): GossipLink | undefined {
    const link = this.#links.get(nodeId);
    if (link) this.setPushing(link, false, -Infinity);
    this.#links.delete(nodeId);
    return link;
  }

  /** Sets whether a peer pushes full copies to this node (from `now` on), keeping the count of such peers. */
  setPushing(link: GossipLink, pushing: boolean, now: number): void {
    if (link.pushing === pushing) return;
    this.#pushers += pushing ? 1 : -1;
    link.pushing = pushing;
    if (pushing) link.pushingSince = now;
  }

  /** Links this node pushes new messages on in full. */
  eagerCount(): number {
    let count = 0;
    for (const link of this.#links.values()) if (link.eager) count++;
    return count;
  }

  /** Eager links to peers this node dialed. */
  eagerOutboundCount(): number {
    let count = 0;
    for (const link of this.#links.values()) if (link.eager && link.outbound) count++;
    return count;
  }

  /**
   * Whether a new link starts eager: while fewer than `fanout` are, or, for a peer this node dialed, while fewer
   * than `minOutbound` eager links are outbound (gossipsub's D_out). In the second case the least trusted inbound
   * eager link is made lazy, so the eager count stays at `fanout`: a burst of inbound Sybils at start-up cannot
   * hold every eager link, since the peers this node chose itself take some back as they connect.
   */
  admitEager(
    outbound: boolean,
    fanout: number,
    minOutbound: number,
    trustOf: (nodeId: string) => number,
  ): boolean {
    if (this.eagerCount() < fanout) return true;
    if (!outbound || this.eagerOutboundCount() >= Math.min(minOutbound, fanout)) return false;
    let worst: GossipLink | undefined, worstTrust = Infinity;
    for (const [nodeId, link] of this.#links) {
      if (!link.eager || link.outbound) continue;
      const trust = trustOf(nodeId);
      if (trust < worstTrust) [worst, worstTrust] = [link, trust];
    }
    if (!worst) return false;
    worst.eager = false;
    return true;
  }

  /**
   * Makes the most trusted lazy link (other than to `except`, not one that pruned this node, nor one demoted
   * for its delivery deficit at `now`: deficit.ts) eager. The node passes earned trust (lib/trust.ts):
   * recommendations never win a peer an eager link.
   */
  promoteLazy(
    except: string,
    trustOf: (nodeId: string) => number,
    random: RandomSource,
    minOutbound = 0,
    now = -Infinity,
  ): void {
    // Below the outbound minimum, an outbound lazy link wins over any inbound one (by more than any trust).
    const preferOutbound = this.eagerOutboundCount() < minOutbound;
    let best: GossipLink | undefined, bestTrust = -1;
    for (const [nodeId, link] of this.#links) {
      if (link.eager || link.prunedUs || nodeId === except || now < link.demotedUntil) continue;
      const trust = trustOf(nodeId) + random() * TIE_BREAK + (preferOutbound && link.outbound ? 2 : 0);
      if (trust > bestTrust) [best, bestTrust] = [link, trust];
    }
    if (best) best.eager = true;
  }

  /** The counters of the link to `nodeId`, while it is connected. */
  stats(nodeId: string): Readonly<GossipPeerStats> | undefined {
    const link = this.#links.get(nodeId);
    return link &&
      {
        received: link.received,
        duplicates: link.duplicates,
        firsts: link.firsts,
        lastFirstAt: link.lastFirstAt,
        invalid: link.invalid,
        rateLimited: link.rateLimited,
        eager: link.eager,
        pushing: link.pushing,
      };
  }
}
