/**
 * Per-origin trees (GossipConfig.originPrune, Plumtree's per-source trees):
 * which peer is this node's parent in each origin's tree, and the per-origin
 * PRUNEs sent and received on each link.
 *
 * @module
 */
import { BoundedMap } from "../ratelimit.ts";
import type { ConnectedPeer, GossipLink, GossipLinks } from "./links.ts";
import { addBounded } from "./missing.ts";

/**
 * Origins per peer and direction whose messages go as ids only (per-origin PRUNE). Beyond it the oldest
 * is forgotten: its messages come in full again, and the next duplicate prunes it again.
 */
export const MAX_ORIGIN_PRUNES = 256;
/** Gossip intervals a peer counts as some origin's parent after it last brought a message first. */
export const PARENT_MEMORY_INTERVALS = 10;
/**
 * Origins whose tree parent (the peer whose copy of their latest message came first) is remembered; beyond
 * it the least recently heard from is forgotten, and its duplicates do not prune until it is heard again.
 */
export const MAX_PARENTS_REMEMBERED = 4_096;

/** The per-origin trees this node is part of, as seen from its links. */
export class OriginTrees {
  readonly #intervalMs: number;
  // Origin (hex) -> the peer whose copy of its latest message came first: this node's parent in its tree.
  readonly #firstFrom = new BoundedMap<string, string>(MAX_PARENTS_REMEMBERED);

  /** Creates the trees of a node whose gossip interval is `intervalMs`. */
  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * The peer on `link` brought `origin`'s message first at `now`: it is the origin's parent here. If that
   * copy `answered` an ask (IWANT grafts the origin back at the peer asked), the peer pushes the origin in
   * full again. A copy that merely comes first from a peer asked to stop proves nothing: it may have crossed
   * the PRUNE.
   */
  broughtFirst(origin: string, nodeId: string, link: GossipLink, answered: boolean, now: number): void {
    if (answered) link.originsPrunedByUs?.delete(origin);
    this.#firstFrom.set(origin, nodeId);
    link.lastFirstAt = now;
  }

  /** Whether the peer on `link` brought a message first lately: some origin's parent here. */
  isRecentParent(link: GossipLink, now: number): boolean {
    return now - link.lastFirstAt < PARENT_MEMORY_INTERVALS * this.#intervalMs;
  }

  /**
   * A duplicate of a kept message of `origin` from `duplicateFrom`, a peer that pushes: at the second such
   * copy of that origin's messages from the peer, it is to be asked to send only their ids, as long as the
   * peer whose copy of that origin's latest message came first is connected and has not been asked the same.
   * That peer is this node's parent in the origin's tree; checking it means a message of the origin that
   * crossed a PRUNE in flight (first here by the pruned peer, then duplicated by the parent) cannot get the
   * parent pruned too and cut this node off. Returns the peer to send the per-origin PRUNE to (`connected`
   * finds it), or undefined.
   */
  pruneOnDuplicate(
    duplicateFrom: string,
    link: GossipLink,
    origin: string,
    links: GossipLinks,
    connected: () => ConnectedPeer | undefined,
  ): ConnectedPeer | undefined {
    if (link.originsPrunedByUs?.has(origin)) return undefined; // asked already; copies were on their way
    const first = this.#firstFrom.get(origin);
    if (first === undefined || first === duplicateFrom) return undefined;
    const firstLink = links.get(first);
    if (firstLink === undefined || firstLink.originsPrunedByUs?.has(origin)) return undefined;
    // Only at the second later copy of an origin's messages from this peer: an origin that publishes once
    // (most of them, in a network of many publishers) would get a PRUNE per duplicate and no tree to show
    // for it (see BENCHMARKS.md).
    if (!link.originsDuplicatedOnce?.has(origin)) {
      addBounded(link.originsDuplicatedOnce ??= new Set(), origin, MAX_ORIGIN_PRUNES);
      return undefined;
    }
    const active = connected();
    if (!active) return undefined;
    link.originsDuplicatedOnce.delete(origin);
    addBounded(link.originsPrunedByUs ??= new Set(), origin, MAX_ORIGIN_PRUNES);
    return active;
  }

  /** The peer on `link` sent a PRUNE naming a message of `origin`: it gets that origin's messages as ids. */
  prunedByPeer(link: GossipLink, origin: string): void {
    addBounded(link.originsPrunedByIt ??= new Set(), origin, MAX_ORIGIN_PRUNES);
  }

  /** The peer on `link` asked for a message of `origin`: it gets that origin's messages in full again. */
  graftedByPeer(link: GossipLink, origin: string): void {
    link.originsPrunedByIt?.delete(origin);
  }

  /** Whether `origin`'s messages go to the peer on `link` in full (if the link is eager). */
  pushesOrigin(link: GossipLink, origin: string): boolean {
    return !link.originsPrunedByIt?.has(origin);
  }
}
