/**
 * The connected peers of one topic's overlay, as its gossip layer sees them: the members by node id, each
 * with the link it is reached on. When the transport keeps a newer duplicate link (TCP's duplicate rule), the
 * peer manager's replaced-peer event reaches `TopicOverlays.peerReplaced`, which puts the member back on
 * its new link; a view that kept the closed one would leave the member cut off from the topic both ways.
 *
 * @module
 */
import type { GossipPeers } from "../gossip/mod.ts";
import type { Connection } from "../transport/types.ts";

/** A connected peer as the overlays see it. */
export type TopicPeer = { readonly nodeId: string; readonly connection: Connection };

/** The members of one topic's overlay, each on its live link. */
export class TopicView implements GossipPeers {
  readonly #members = new Map<string, TopicPeer>();
  #list: TopicPeer[] | undefined;

  /** Members in the view. */
  get size(): number {
    return this.#members.size;
  }

  /** Node ids of the members. */
  ids(): IterableIterator<string> {
    return this.#members.keys();
  }

  /** Whether `nodeId` is a member. */
  has(nodeId: string): boolean {
    return this.#members.has(nodeId);
  }

  /** The members, each on its link. */
  activePeers(): readonly TopicPeer[] {
    return this.#list ??= [...this.#members.values()];
  }

  /** Adds a member on `peer`'s link. */
  add(peer: TopicPeer): void {
    this.#members.set(peer.nodeId, peer);
    this.#list = undefined;
  }

  /** Removes a member; whether it was one. */
  delete(nodeId: string): boolean {
    this.#list = undefined;
    return this.#members.delete(nodeId);
  }
}
