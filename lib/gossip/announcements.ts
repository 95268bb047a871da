/**
 * Gossip's lazy side: announcements (IHAVE) received and sent, and the asks
 * (IWANT) for what they name. An announcement is capped per peer before any
 * id is looked at (`announce_limits.ts`), its ids are noted as missing when
 * this node lacks them (`missing.ts`), and PRUNE and IWANT in it change the
 * link (whole or per origin, `trees.ts`); ids of new messages are queued
 * for lazy peers and sent in announcement rounds, which also ask again for
 * what has not come; each ask grafts the link and makes a promise
 * (`promises.ts`), judged each repair round.
 *
 * @module
 */
import { bytesKey } from "../bytes.ts";
import type { Clock, TimerId } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
import { type GossipDigestPayload, MAX_DIGEST_IDS } from "../protocol/mod.ts";
import type { RandomSource } from "../random.ts";
import { AnnounceLimits } from "./announce_limits.ts";
import type { CopiesUnderCheck, CopyUnderCheck } from "./check.ts";
import type { GossipConfig } from "./config.ts";
import type { DeliveryDeficit } from "./deficit.ts";
import type { LatenessEstimator } from "./lateness.ts";
import { type ConnectedPeer, type GossipLink, type GossipLinks, PENALTY_INTERVAL_MS } from "./links.ts";
import { MissingTracker } from "./missing.ts";
import type { GossipOutbox } from "./outbox.ts";
import { AskPromises } from "./promises.ts";
import type { SeenIds } from "./seen.ts";
import type { GossipCounters } from "./stats.ts";
import type { MessageStore } from "./store.ts";
import type { OriginTrees } from "./trees.ts";
import type { GossipPeers, GossipSender } from "./types.ts";

/**
 * The ask delay is `wantTimeoutMs` stretched by up to this share, fixed per node at random: nodes cut off
 * together then do not all ask, and graft, at once.
 */
const ASK_DELAY_SPREAD = 0.5;

/** What announcements work with: the gossip layer's state, and the link policy they call back into. */
export interface AnnouncementParts {
  readonly config: Readonly<GossipConfig>;
  readonly clock: Clock;
  readonly log: LogSink;
  readonly peers: GossipPeers;
  readonly links: GossipLinks;
  readonly out: GossipOutbox;
  readonly store: MessageStore;
  readonly seen: SeenIds;
  readonly random: RandomSource;
  readonly checking: CopiesUnderCheck;
  readonly trees: OriginTrees;
  readonly lateness: LatenessEstimator;
  readonly counters: GossipCounters;
  readonly deficit: DeliveryDeficit;
  /** The link to `nodeId`, made if there is none. */
  link(nodeId: string): GossipLink;
  /** The connected peer `nodeId`, if it is connected. */
  active(nodeId: string): ConnectedPeer | undefined;
  /** Costs a peer trust, and its eager link. */
  penalise(nodeId: string, code: string): void;
  /** Makes the most trusted lazy peer (other than `except`) eager. */
  promoteLazyPeer(except: string): void;
}

/** Announcements in and out, asks, and the promises asks make. */
export class GossipAnnouncements {
  /** Announced ids not yet received, and the asks for them. */
  readonly missing: MissingTracker;
  readonly #parts: AnnouncementParts;
  readonly #limits: AnnounceLimits;
  readonly #promises = new AskPromises();
  #lazyTimer: TimerId | undefined;
  // When the lazy timer fires, ms.
  #lazyDue = Infinity;
  #running = false;

  /** Creates the lazy side of a gossip layer made of `parts`; announcement rounds run after {@link start}. */
  constructor(parts: AnnouncementParts) {
    this.#parts = parts;
    this.#limits = new AnnounceLimits(
      parts.config.maxAnnouncementsPerInterval,
      parts.config.maxAnnouncedIdsPerInterval,
    );
    // Nodes cut off from the eager links together hear the same announcements at about the same time; if all
    // asked at once, each would graft its own link back, and the extra links would be pruned again,
    // racing each other into new cuts. Spread per node, the first graft usually repairs the rest.
    const askDelayMs = Math.round(parts.config.wantTimeoutMs * (1 + parts.random() * ASK_DELAY_SPREAD));
    this.missing = new MissingTracker(parts.config.messageCacheSize, askDelayMs);
  }

  /** Lets announcement rounds run. */
  start(): void {
    this.#running = true;
  }

  /** Stops announcement rounds. Idempotent. */
  stop(): void {
    this.#running = false;
    if (this.#lazyTimer !== undefined) this.#parts.clock.clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
  }

  /** A copy of `key` arrived (from anyone): every promise of it is kept. */
  kept(key: string): void {
    this.#promises.kept(key);
  }

  /** The peer disconnected: its promises are dropped unscored. */
  forget(nodeId: string): void {
    this.#promises.forget(nodeId);
  }

  /** Every copy held during a check failed: the peers that sent copies are asked for the message. */
  checksExhausted(key: string, entry: CopyUnderCheck, now: number): void {
    for (const nodeId of entry.alsoFrom) {
      const link = this.#parts.links.get(nodeId);
      const missing = link && this.missing.entry(key, entry.id, nodeId, now);
      if (missing) this.missing.addAnnouncer(missing, nodeId, link.pushing);
    }
    if (this.missing.has(key)) this.scheduleLazy();
  }

  /** A repair round at `now`: the per-interval caps start again, and broken promises are judged. */
  round(now: number): void {
    this.#limits.reset(this.#parts.links.values());
    this.#judgePromises(now);
  }

  /** Queues `key` for the next lazy announcement to `peer`, whose link is `link`. */
  announce(peer: ConnectedPeer, link: GossipLink, key: string): void {
    if (link.pendingHave.length === 0) link.pendingSince = this.#parts.clock.now();
    link.pendingHave.push(key);
    if (link.pendingHave.length >= MAX_DIGEST_IDS) this.#parts.out.flushAnnouncements(peer, link);
    // A queue a small overlay holds is not due at the next round: waking for it then would find it held, and
    // each new id would bring that wake forward again (one wake per lazyIntervalMs while messages flow).
    const heldUntil = this.#parts.out.heldUntil(link);
    const { clock, config } = this.#parts;
    this.scheduleLazy(heldUntil === undefined ? undefined : Math.max(config.lazyIntervalMs, heldUntil - clock.now()));
  }

  /**
   * A link opened: the overlay may no longer be small, so queues it held are due at the next round, as
   * the round would have sent them had it woken for them.
   */
  linkOpened(): void {
    for (const link of this.#parts.links.values()) if (link.pendingHave.length > 0) return this.scheduleLazy();
  }

  /**
   * Makes sure an announcement round is due within `delayMs` (for queued ids, or missing ones to ask for
   * again; default `lazyIntervalMs`): a round due later is brought forward.
   */
  scheduleLazy(delayMs: number = this.#parts.config.lazyIntervalMs): void {
    if (!this.#running) return;
    const clock = this.#parts.clock;
    const due = clock.now() + delayMs;
    if (this.#lazyTimer !== undefined) {
      if (this.#lazyDue <= due) return;
      clock.clearTimeout(this.#lazyTimer);
    }
    this.#lazyDue = due;
    this.#lazyTimer = clock.setTimeout(() => {
      this.#lazyTimer = undefined;
      if (!this.#running) return;
      try {
        this.#lazyRound();
      } catch (error) {
        this.#parts.log("error", "gossip announcement round failed", errorFields(error));
      }
    }, delayMs);
  }

  /** Sends the queued announcements, and asks again for announced messages that have not come. */
  #lazyRound(): void {
    const { peers, out, checking, lateness, clock } = this.#parts;
    const missing = this.missing;
    const byId = new Map(peers.activePeers().map((p) => [p.nodeId, p]));
    const now = clock.now();
    const heldUntil = out.announceRound(byId, now);
    const asks = missing.planAsks(
      now,
      (nodeId) => byId.has(nodeId),
      (key) => checking.has(key),
      () => lateness.allowanceMs(now),
    );
    for (const [nodeId, want] of asks) this.#ask(byId.get(nodeId)!, want);
    if (missing.size > 0) this.scheduleLazy();
    // Only held queues: the next round when the first of them is due, not every lazyIntervalMs (a wake each).
    else if (heldUntil !== undefined) this.scheduleLazy(Math.max(this.#parts.config.lazyIntervalMs, heldUntil - now));
  }

  /** Asks `peer` for `want` (IWANT), which also grafts the link: it pushes to this node in full again. */
  #ask(peer: ConnectedPeer, want: Uint8Array[]): void {
    const { config, links, counters, lateness, clock, out } = this.#parts;
    const missing = this.missing;
    const link = this.#parts.link(peer.nodeId);
    if (!link.pushing) {
      links.setPushing(link, true, clock.now());
      counters.totals.grafts++;
    }
    counters.totals.requested += want.length;
    missing.noteAsked(want);
    // The ask's first id is promised (see promises.ts), unless the ask waits behind this node's own queue
    // or asks for more than half what an honest peer serves per interval.
    link.askedThisInterval += want.length;
    if (
      peer.connection.bufferedBytes <= config.sendHighWaterBytes &&
      link.askedThisInterval <= config.maxServedPerInterval / 2
    ) {
      const now = clock.now();
      const deadline = now + config.promiseTimeoutMs + lateness.allowanceMs(now);
      this.#promises.asked(peer.nodeId, bytesKey(want[0]), deadline);
    }
    out.sendLink(peer, { have: [], want });
  }

  /** A verified announcement, ask or PRUNE (GOSSIP_MESSAGE) from the peer on `link`. */
  onDigest(peer: GossipSender, link: GossipLink, digest: GossipDigestPayload): void {
    const { config, links, store, seen, checking, trees, out, clock, deficit } = this.#parts;
    const missing = this.missing;
    const stats = this.#parts.counters.totals;
    const now = clock.now();
    // The per-peer caps on announcements come before any id is looked at (see announce_limits.ts).
    let have = digest.have;
    if (have.length > 0) {
      const admitted = digest.prune
        ? this.#limits.admitPruned(link, have.length)
        : this.#limits.admit(link, have.length);
      stats.announcedIdsExamined += admitted;
      if (admitted < have.length) {
        stats.announcementsDropped++;
        have = have.slice(0, admitted);
      }
    }
    if (digest.prune && digest.have.length > 0) {
      // Per origin: it has these messages' origins from another peer; send it only their ids from now on.
      for (const id of have) {
        const stored = store.get(bytesKey(id));
        if (stored) trees.prunedByPeer(link, stored.origin);
      }
    } else if (digest.prune && link.eager) {
      // It has enough other peers pushing to it: push to another, more trusted, peer instead.
      link.eager = false;
      link.prunedUs = true;
      if (links.eagerCount() < config.fanout) this.#parts.promoteLazyPeer(peer.nodeId);
    }
    if (digest.want.length > 0) {
      link.eager = true; // asked: the peer grafted this link
      link.prunedUs = false;
      // ... and the origins of what it asked for: their messages go to it in full again.
      for (const id of digest.want) {
        const stored = store.get(bytesKey(id));
        if (stored) trees.graftedByPeer(link, stored.origin);
      }
    }
    // With no peer pushing to this node (a node that joined after its neighbours had chosen their eager
    // links, or lost its pushers), nothing is on its way: ask this announcer at once, which makes it push
    // from now on. Otherwise wait: the full copy is usually already on its way, and asking would graft a
    // needless link. (Asking at once below `fanout` pushers was measured to graft needless links at
    // start-up: see BENCHMARKS.md.)
    const askNow: Uint8Array[] = [];
    for (const id of have) {
      const key = bytesKey(id);
      const kept = store.get(key);
      if (kept) {
        out.markKnown(kept, peer.nodeId);
        // Announced, not pushed: withheld, if this node counts on the peer to push it (deficit.ts).
        if (!digest.prune) deficit.announced(link, kept, now);
      }
      // An id whose copy is under check is still noted as missing, with its announcers: if every copy
      // fails its check, they are asked for it (asks wait while a check runs).
      if (kept || seen.has(key)) continue;
      let entry = missing.get(key);
      if (!entry) {
        // The announcer's allowance of missing ids first, then the seen-id filter: storage is read only for
        // an id the filter may have (an id this node never stored costs no database lookup).
        if (!missing.canStart(peer.nodeId) || seen.hasSeenFiltered(key, id)) continue;
        entry = missing.entry(key, id, peer.nodeId, now);
        if (!entry) continue;
      }
      missing.addAnnouncer(entry, peer.nodeId, link.pushing);
      // A peer demoted for its delivery deficit is not asked at once: that would graft it straight back.
      if (
        links.pushers === 0 && !link.pushing && entry.asked === 0 && !checking.has(key) && now >= link.demotedUntil
      ) {
        missing.markAsked(entry, peer.nodeId, now);
        askNow.push(id);
      }
    }
    if (missing.size > 0) this.scheduleLazy();
    const active = this.#parts.active(peer.nodeId);
    if (!active) return;
    if (askNow.length > 0) this.#ask(active, askNow);
    if (out.serve(active, link, digest.want) > 0 && now - link.lastPenaltyAt >= PENALTY_INTERVAL_MS) {
      // Asked for a message it was already sent maxRetransmissions times: a little trust, at most once a
      // penalty interval, as for going over a rate limit.
      link.lastPenaltyAt = now;
      this.#parts.penalise(peer.nodeId, "RATE_LIMITED");
    }
  }

  /** Scores the promises broken by `now`, and penalises peers over the threshold, at most once a penalty interval. */
  #judgePromises(now: number): void {
    const { broken, overThreshold } = this.#promises.round(now);
    this.#parts.counters.totals.promisesBroken += broken;
    for (const nodeId of overThreshold) {
      const link = this.#parts.links.get(nodeId);
      if (!link || now - link.lastPromisePenaltyAt < PENALTY_INTERVAL_MS) continue;
      link.lastPromisePenaltyAt = now;
      this.#parts.penalise(nodeId, "BROKEN_PROMISE");
    }
  }
}
