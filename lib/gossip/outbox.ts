/**
 * What gossip sends a peer, and the bookkeeping each send needs: kept
 * messages pushed in full (deferred while the peer's queue is over its high
 * water mark), link messages (announcements, digests, asks, PRUNEs), and
 * the known-to-have marks that keep a peer from hearing of a message twice.
 *
 * @module
 */
import { bytesKey, keyBytes } from "../bytes.ts";
import type { Clock } from "../clock.ts";
import type { Identity } from "../identity.ts";
import { createLinkMessage, type GossipDigestPayload, MAX_DIGEST_IDS, MessageType } from "../protocol/mod.ts";
import { type RandomSource, shuffleInPlace } from "../random.ts";
import type { ConnectedPeer, GossipLink, GossipLinks } from "./links.ts";
import type { GossipCounters } from "./stats.ts";
import { knows, markKnown, type MessageStore, type StoredMessage, wireBytes } from "./store.ts";

/** The parts of GossipConfig the outbox goes by. */
export interface OutboxConfig {
  /** A peer with more bytes queued than this gets new messages on the next interval instead. */
  readonly sendHighWaterBytes: number;
  /** Most deferred sends held; beyond it repair covers the rest. */
  readonly maxDeferred: number;
  /** Messages served per peer per interval in answer to `want`. */
  readonly maxServedPerInterval: number;
  /** Bytes served per peer per interval in answer to `want`. */
  readonly maxServedBytesPerInterval: number;
  /** Times one kept message is sent to one peer in answer to `want`. */
  readonly maxRetransmissions: number;
  /** The gossip interval (repair rounds), ms. */
  readonly intervalMs: number;
  /** Eager links per node (an overlay with no more links than this and lazyFanout is small: announceRound). */
  readonly fanout: number;
  /** Lazy peers announced to per round, at least. */
  readonly lazyFanout: number;
  /** The share of lazy peers announced to per round, percent. */
  readonly lazyPercent: number;
  /** Peers sent a repair digest each round. */
  readonly repairFanout: number;
}

/**
 * Times per interval one link's queued ids go out early, with a message pushed to it: with the announcement
 * rounds (4 per interval), a repair digest and PRUNEs, well within what a peer takes (maxAnnouncementsPerInterval).
 */
export const MAX_EARLY_FLUSHES_PER_INTERVAL = 4;

/**
 * Longest a small overlay's queued ids wait for a message pushed to the same peer to carry them, as a share of
 * the gossip interval (see GossipOutbox.announceRound): 750 ms at the default interval of 1 s, before the next
 * repair round would have told the peer of them.
 */
export const ANNOUNCE_HOLD_SHARE = 0.75;

/** A small overlay's queue of this many ids goes out at the next announcement round, without waiting. */
export const ANNOUNCE_HOLD_IDS = 32;

/** Sends to peers on gossip's behalf, counting what it sends. */
export class GossipOutbox {
  readonly #identity: Identity;
  readonly #clock: Clock;
  readonly #store: MessageStore;
  readonly #links: GossipLinks;
  readonly #counters: GossipCounters;
  readonly #config: OutboxConfig;
  readonly #random: RandomSource;
  #deferred: { nodeId: string; key: string }[] = [];
  readonly #topic: string;

  /** Creates an outbox signing link messages as `identity` and sending kept messages from `store`. */
  constructor(
    identity: Identity,
    clock: Clock,
    store: MessageStore,
    links: GossipLinks,
    counters: GossipCounters,
    config: OutboxConfig,
    random: RandomSource,
    topic = "",
  ) {
    this.#topic = topic;
    this.#identity = identity;
    this.#clock = clock;
    this.#store = store;
    this.#links = links;
    this.#counters = counters;
    this.#config = config;
    this.#random = random;
  }

  /** Whether the peer is known to have the kept message. */
  knows(stored: StoredMessage, nodeId: string): boolean {
    return knows(stored, nodeId, this.#links.get(nodeId)?.slot ?? -1);
  }

  /** Notes that the peer has the kept message. */
  markKnown(stored: StoredMessage, nodeId: string): void {
    markKnown(stored, nodeId, this.#links.get(nodeId)?.slot ?? -1);
  }

  /** Sends a GOSSIP_MESSAGE link message (ids, asks, PRUNE) of this overlay's topic, made now. */
  sendLink(peer: ConnectedPeer, payload: GossipDigestPayload): void {
    const digest = this.#topic === "" ? payload : { ...payload, topic: this.#topic };
    peer.connection.send(
      createLinkMessage(this.#identity, MessageType.GOSSIP_MESSAGE, digest, { timestamp: this.#clock.now() }),
    );
  }

  /** Pushes a kept message in full, or defers it to the next round while the peer's queue is high. */
  sendStored(peer: ConnectedPeer, stored: StoredMessage, key: string): void {
    this.markKnown(stored, peer.nodeId);
    if (peer.connection.bufferedBytes > this.#config.sendHighWaterBytes) {
      if (this.#deferred.length < this.#config.maxDeferred) this.#deferred.push({ nodeId: peer.nodeId, key });
      return;
    }
    if (peer.connection.sendEncoded(wireBytes(stored))) {
      this.#counters.totals.forwarded++;
      this.#counters.count(stored.type, "forwarded");
      this.#flushEarly(peer);
    }
  }

  /**
   * Sends the ids queued for `peer` now, with the message just pushed to it (queued in the same turn, they
   * share its record: one sealed record and one wake at each end instead of a record of their own at the
   * next announcement round). Only when that round would announce to every link anyway (no more links than
   * lazyFanout), so who hears of what is unchanged, only sooner; at most MAX_EARLY_FLUSHES_PER_INTERVAL
   * times per link per interval.
   */
  #flushEarly(peer: ConnectedPeer): void {
    const link = this.#links.get(peer.nodeId);
    if (!link || link.pendingHave.length === 0 || this.#links.size > this.#config.lazyFanout) return;
    if (link.earlyFlushesThisInterval >= MAX_EARLY_FLUSHES_PER_INTERVAL) return;
    link.earlyFlushesThisInterval++;
    this.flushAnnouncements(peer, link);
  }

  /**
   * Answers the peer's ask (`want`) with the kept messages it names whose TTL allows a hop: each at most
   * once per interval and maxRetransmissions times in all, at most maxServedPerInterval messages and
   * (about) maxServedBytesPerInterval bytes per interval. Small asks must not buy large answers: the
   * other asks are dropped (counted in wantsDropped). Returns how many asked beyond maxRetransmissions,
   * which an honest peer, asking each announcer once, does not.
   */
  serve(peer: ConnectedPeer, link: GossipLink, want: readonly Uint8Array[]): number {
    let dropped = 0, repeated = 0;
    for (const id of want) {
      const key = bytesKey(id);
      const stored = this.#store.get(key);
      if (!stored || stored.forwardTtl < 1) continue;
      const times = link.servedTimes?.get(key) ?? 0;
      if (link.servedNow?.has(key)) dropped++;
      else if (times >= this.#config.maxRetransmissions) {
        dropped++;
        repeated++;
      } else if (
        link.servedThisInterval >= this.#config.maxServedPerInterval ||
        link.servedBytesThisInterval >= this.#config.maxServedBytesPerInterval
      ) dropped++;
      else {
        link.servedThisInterval++;
        link.servedBytesThisInterval += stored.length;
        (link.servedTimes ??= new Map()).set(key, times + 1);
        (link.servedNow ??= new Set()).add(key);
        this.markKnown(stored, peer.nodeId);
        if (peer.connection.sendEncoded(wireBytes(stored))) {
          this.#counters.totals.served++;
          this.#counters.count(stored.type, "forwarded");
        }
      }
    }
    this.#counters.totals.wantsDropped += dropped;
    return repeated;
  }

  /**
   * Starts a new interval of the serving budgets and the early flushes; forgets retransmission counts of
   * messages no longer kept.
   */
  resetServing(): void {
    for (const link of this.#links.values()) {
      link.earlyFlushesThisInterval = 0;
      link.servedThisInterval = 0;
      link.servedBytesThisInterval = 0;
      link.servedNow = undefined;
      if (link.servedTimes === undefined) continue;
      for (const key of link.servedTimes.keys()) if (!this.#store.has(key)) link.servedTimes.delete(key);
      if (link.servedTimes.size === 0) link.servedTimes = undefined;
    }
  }

  /** Retries the deferred sends to peers still connected (`byId`) whose messages are still kept. */
  retryDeferred(byId: ReadonlyMap<string, ConnectedPeer>): void {
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const { nodeId, key } of deferred) {
      const peer = byId.get(nodeId);
      const stored = this.#store.get(key);
      if (!peer || !stored) continue;
      if (peer.connection.bufferedBytes > this.#config.sendHighWaterBytes) {
        if (this.#deferred.length < this.#config.maxDeferred) this.#deferred.push({ nodeId, key });
      } else if (peer.connection.sendEncoded(wireBytes(stored))) {
        this.#counters.totals.forwarded++;
        this.#counters.count(stored.type, "forwarded");
      }
    }
  }

  /**
   * An announcement round: of the links with ids queued to connected peers (`byId`), a random subset of
   * max(lazyFanout, lazyPercent%) is sent its ids; the others' queues are dropped (they hear of those ids in
   * the next repair digest). Chosen afresh each round, which peers hear of a message differs from node to
   * node and round to round, so no peer is left out for long and none can count on being told. A small
   * overlay's short queues may wait for a later round instead (#announceSmall); returns when the first is due.
   */
  announceRound(byId: ReadonlyMap<string, ConnectedPeer>, now: number): number | undefined {
    const due: [ConnectedPeer, GossipLink][] = [];
    for (const [nodeId, link] of this.#links.entries()) {
      if (link.pendingHave.length === 0) continue;
      const peer = byId.get(nodeId);
      if (peer) due.push([peer, link]);
      else link.pendingHave = [];
    }
    if (this.#isSmall()) return this.#announceSmall(due, now);
    const announceTo = Math.max(this.#config.lazyFanout, Math.ceil(due.length * this.#config.lazyPercent / 100));
    if (due.length > announceTo) shuffleInPlace(due, this.#random);
    for (let i = 0; i < due.length; i++) {
      if (i < announceTo) this.flushAnnouncements(due[i][0], due[i][1]);
      else due[i][1].pendingHave = [];
    }
    return undefined;
  }

  /**
   * When `link`'s queue, as it is now, is due to go alone if no push carries it first: a small overlay's short
   * queue waits until then (#announceSmall). Undefined when the next announcement round would send it.
   */
  heldUntil(link: GossipLink): number | undefined {
    if (!this.#isSmall() || link.pendingHave.length >= ANNOUNCE_HOLD_IDS) return undefined;
    return link.pendingSince + ANNOUNCE_HOLD_SHARE * this.#config.intervalMs;
  }

  /** Whether the overlay is small: no more links than lazyFanout (each is sent its ids) and fanout. */
  #isSmall(): boolean {
    return this.#links.size <= Math.min(this.#config.lazyFanout, this.#config.fanout);
  }

  /**
   * The announcement round of a small overlay (no more links than lazyFanout, so every link is sent its ids,
   * nor than fanout, so each link starts eager). There the ids are for repair only, and a queue sent alone costs a record and a wake at each end for a
   * few ids: a queue younger than ANNOUNCE_HOLD_SHARE of the gossip interval with fewer than ANNOUNCE_HOLD_IDS ids waits instead,
   * to go out with the next message pushed to the peer (#flushEarly) or at a later round. Meanwhile the
   * peer may announce the same ids to this node, which drops them from the queue. Returns when the first
   * held queue is due, or undefined when none was held.
   */
  #announceSmall(due: [ConnectedPeer, GossipLink][], now: number): number | undefined {
    let heldUntil: number | undefined;
    for (const [peer, link] of due) {
      const until = link.pendingSince + ANNOUNCE_HOLD_SHARE * this.#config.intervalMs;
      if (now < until && link.pendingHave.length < ANNOUNCE_HOLD_IDS) heldUntil = Math.min(heldUntil ?? until, until);
      else this.flushAnnouncements(peer, link);
    }
    return heldUntil;
  }

  /**
   * A repair round's digests: to a random `repairFanout` of the `active` peers, the ids kept during the
   * last interval (older ones were in earlier rounds' digests, or in the full digest a peer gets when it
   * connects, so each round costs what is new, not the store); to each peer still catching up, the next
   * digest of everything kept. `openLink` makes a peer's link before its digest is sent.
   */
  repairRound(active: readonly ConnectedPeer[], openLink: (nodeId: string) => void): void {
    const digestTo = shuffleInPlace([...active], this.#random).slice(0, this.#config.repairFanout);
    this.#store.startRound();
    if (digestTo.length > 0 && this.#store.size > 0) {
      const recent = this.#store.keptLastInterval();
      const small = this.#isSmall();
      for (const peer of digestTo) {
        openLink(peer.nodeId);
        // In a small overlay every queued id is announced (no queue is dropped), so the digest leaves those to
        // their announcement, which may ride with a push: else it would be a record of their own each round.
        const pending = small ? this.#links.get(peer.nodeId)?.pendingHave : undefined;
        this.sendDigest(peer, recent, pending !== undefined && pending.length > 0 ? new Set(pending) : undefined);
      }
    }
    let all: [string, StoredMessage][] | undefined;
    for (const peer of active) {
      const link = this.#links.get(peer.nodeId);
      if (!link?.catchingUp) continue;
      all ??= [...this.#store.entries()];
      link.catchingUp = this.sendDigest(peer, all) === MAX_DIGEST_IDS;
    }
  }

  /** Sends the link's queued announcements of messages the peer is still not known to have. */
  flushAnnouncements(peer: ConnectedPeer, link: GossipLink): void {
    const have: Uint8Array[] = [];
    for (const key of link.pendingHave) {
      // Checked now, not when queued: the peer may have announced or sent it meanwhile.
      const stored = this.#store.get(key);
      if (!stored || this.knows(stored, peer.nodeId)) continue;
      this.markKnown(stored, peer.nodeId);
      have.push(keyBytes(key));
    }
    link.pendingHave = [];
    if (have.length === 0) return;
    this.#counters.totals.digestsSent++;
    this.#counters.totals.announced += have.length;
    this.sendLink(peer, { have, want: [] });
  }

  /**
   * Sends `peer` a digest of kept messages in `entries` it is not known to have (and not in `skip`), newest
   * first, and returns how many ids it announced (at most MAX_DIGEST_IDS).
   */
  sendDigest(peer: ConnectedPeer, entries: [string, StoredMessage][], skip?: ReadonlySet<string>): number {
    const have: Uint8Array[] = [];
    for (let i = entries.length - 1; i >= 0 && have.length < MAX_DIGEST_IDS; i--) {
      const [key, stored] = entries[i];
      if (stored.forwardTtl < 1 || this.knows(stored, peer.nodeId) || stored.origin === peer.nodeId) continue;
      if (skip?.has(key)) continue;
      have.push(keyBytes(key));
      this.markKnown(stored, peer.nodeId);
    }
    if (have.length === 0) return 0;
    this.#counters.totals.digestsSent++;
    this.#counters.totals.announced += have.length;
    this.sendLink(peer, { have, want: [] });
    return have.length;
  }
}
