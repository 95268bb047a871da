/**
 * What a later full copy of a kept message (a duplicate) changes on the
 * link it came by: its sender pushes to this node; beyond a bound on such
 * peers it is told PRUNE for the whole link, below it PRUNE for the
 * message's origin only (per-origin trees, `trees.ts`).
 *
 * @module
 */
import { keyBytes } from "../bytes.ts";
import type { ConnectedPeer, GossipLink, GossipLinks } from "./links.ts";
import type { GossipOutbox } from "./outbox.ts";
import type { GossipCounters } from "./stats.ts";
import type { StoredMessage } from "./store.ts";
import type { OriginTrees } from "./trees.ts";

/**
 * Peers pushing to this node, as a multiple of `fanout`, beyond which a duplicate gets a whole-link PRUNE.
 * Twice the average: at the average itself, pruned senders would keep moving between nodes that are all
 * at their bound.
 */
const MAX_PUSHERS_PER_FANOUT = 2;

/** What the duplicate policy works with: the gossip layer's links, trees, outbox and counters. */
export interface DuplicateParts {
  readonly config: { readonly fanout: number; readonly originPrune: boolean };
  readonly links: GossipLinks;
  readonly trees: OriginTrees;
  readonly out: GossipOutbox;
  readonly counters: GossipCounters;
  /** The connected peer `nodeId`, if it is connected. */
  active(nodeId: string): ConnectedPeer | undefined;
}

/**
 * A second full copy: the sender pushes to this node. While more than MAX_PUSHERS_PER_FANOUT times
 * `fanout` peers do (after grafts, or by the luck of who chose whom), the sender is told PRUNE and pushes
 * only ids from then on, and pushes to another peer instead. Links are directed: each node decides who
 * pushes to it (PRUNE, and IWANT to graft) and keeps `fanout` links it pushes on. Pruning whole links
 * down to a single pusher, a tree, was measured and churned (see the module docs and BENCHMARKS.md);
 * below the bound, and for a peer that is a recent parent in some origin's tree, duplicates prune per
 * origin.
 */
export function pruneOnDuplicate(
  parts: DuplicateParts,
  duplicateFrom: string,
  link: GossipLink,
  key: string,
  kept: StoredMessage | undefined,
  now: number,
): void {
  parts.links.setPushing(link, true, now);
  // With per-origin trees, a peer that brought something first lately is some origin's parent here: a
  // PRUNE of the whole link would cut those trees and leave their messages to asks, so it is pruned per
  // origin only, and the duplicates it sends stop as each origin's tree settles.
  const parent = parts.config.originPrune && parts.trees.isRecentParent(link, now);
  if (parts.links.pushers <= MAX_PUSHERS_PER_FANOUT * parts.config.fanout || parent) {
    if (!kept || !parts.config.originPrune) return;
    const to = parts.trees.pruneOnDuplicate(
      duplicateFrom,
      link,
      kept.origin,
      parts.links,
      () => parts.active(duplicateFrom),
    );
    if (to === undefined) return;
    parts.counters.totals.originPrunes++;
    parts.out.sendLink(to, { have: [keyBytes(key)], want: [], prune: true });
    return;
  }
  parts.links.setPushing(link, false, now);
  const active = parts.active(duplicateFrom);
  if (active) {
    parts.counters.totals.prunes++;
    parts.out.sendLink(active, { have: [], want: [], prune: true });
  }
}
