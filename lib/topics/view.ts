/**
 * The connected peers of one topic's overlay, as its gossip layer sees them: the members by node id, each
 * with the link it is reached on now.
 *
 * A member's link can be replaced without the peer ever leaving: when the transport keeps a newer duplicate
 * link (TCP's duplicate rule), the peer stays connected through the new one and no peer-connected or
 * disconnected event is raised. The old link is closed, and anything sent on it is dropped unsent; a view
 * that kept it would leave the member cut off from the topic in both directions, with no push, no
 * announcement and no ask, for as long as the peer stays (its messages then came only by catch-up, seconds
 * later, and every message naming them waited in the causal buffer). So a member whose link is no longer
 * open is looked up again among the connected peers, and its live link taken.
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
  readonly #connected: () => readonly TopicPeer[];
  #list: TopicPeer[] | undefined;

  /** A view whose members' replaced links are found again among `connected()`. */
  constructor(connected: () => readonly TopicPeer[]) {
    this.#connected = connected;
  }

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

  /**
   * The members, each on its live link. A member whose link closed is looked up among the connected peers
   * (it may be on a newer link); one no longer connected stays until the node's disconnect reaches the view.
   */
  activePeers(): readonly TopicPeer[] {
    const list = this.#list ??= [...this.#members.values()];
    for (const peer of list) if (!peer.connection.isOpen) return this.#relink();
    return list;
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

  /** Takes the live link of each member whose link closed, where the peer is still connected on another. */
  #relink(): TopicPeer[] {
    const live = new Map<string, TopicPeer>();
    for (const peer of this.#connected()) live.set(peer.nodeId, peer);
    for (const [nodeId, peer] of this.#members) {
      if (peer.connection.isOpen) continue;
      const now = live.get(nodeId);
      if (now !== undefined && now.connection !== peer.connection && now.connection.isOpen) {
        this.#members.set(nodeId, now);
      }
    }
    return this.#list = [...this.#members.values()];
  }
}
