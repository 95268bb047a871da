/**
 * Who is in which topic, as each connected peer said (TOPIC_SUBSCRIPTIONS): its set, whether it relays every
 * topic, the topics it left lately (for a grace period), an index from topic to its peers, and a bound on how
 * fast a peer may change its set. Bounded: at most MAX_TOPICS_PER_PEER topics a peer, checked before anything
 * is changed.
 *
 * @module
 */
import { KithError } from "../errors.ts";
import { MAX_TOPICS_PER_PEER, type TopicSubscriptionsPayload } from "../protocol/mod.ts";
import { TokenBucket } from "../ratelimit.ts";
import type { TopicsConfig } from "./config.ts";

/** Topics one peer left lately that are remembered for the grace period; older ones are forgotten first. */
const MAX_RECENTLY_LEFT = 16;

/** A peer's subscription message was refused: `TOO_MANY_TOPICS` or `RATE_LIMITED` (the code of the penalty). */
export class SubscriptionError extends KithError {
  /** Creates the error with its code and a line saying why. */
  constructor(code: "TOO_MANY_TOPICS" | "RATE_LIMITED", message: string) {
    super(code, message);
    this.name = "SubscriptionError";
  }
}

interface PeerState {
  topics: Set<string>;
  all: boolean;
  /** It has sent a subscription message on this link. */
  told: boolean;
  changes: TokenBucket;
  /** Topic -> when it left it. */
  left: Map<string, number>;
}

/** The topics of every connected peer that told this node its subscriptions. */
export class PeerTopics {
  readonly #config: Pick<TopicsConfig, "subscriptionChangeBurst" | "subscriptionChangesPerSecond" | "leaveGraceMs">;
  readonly #peers = new Map<string, PeerState>();
  readonly #byTopic = new Map<string, Set<string>>();
  readonly #relaysAll = new Set<string>();

  /** Creates an empty table with these bounds. */
  constructor(
    config: Pick<TopicsConfig, "subscriptionChangeBurst" | "subscriptionChangesPerSecond" | "leaveGraceMs">,
  ) {
    this.#config = config;
  }

  /**
   * Applies a peer's TOPIC_SUBSCRIPTIONS at `now`. A full set replaces what the peer had; otherwise `join` and
   * `leave` change it. Checked before anything changes: the names it adds and removes must fit the peer's
   * allowance of changes, and its set must stay within MAX_TOPICS_PER_PEER.
   *
   * @throws {SubscriptionError} `RATE_LIMITED` over the allowance, `TOO_MANY_TOPICS` over the bound
   */
  apply(nodeId: string, payload: TopicSubscriptionsPayload, now: number): void {
    let state = this.#peers.get(nodeId);
    if (!state) {
      const { subscriptionChangesPerSecond: rate, subscriptionChangeBurst: burst } = this.#config;
      state = {
        topics: new Set(),
        all: false,
        told: false,
        changes: new TokenBucket(rate, burst, now),
        left: new Map(),
      };
      this.#peers.set(nodeId, state);
    }
    // The first whole set on a link is free: it is what the peer is in, not a change (its own pacing counts
    // only changes too). Every later message is charged by the names it carries, one at least.
    const first = !state.told && payload.full;
    state.told = true;
    // At least one token a message, so empty ones (which change nothing but cost a decode) are bounded too.
    const names = payload.join.length + payload.leave.length + (payload.all !== state.all ? 1 : 0);
    const cost = first ? 0 : Math.max(1, names);
    if (cost > 0 && !state.changes.takeMany(now, cost)) {
      throw new SubscriptionError(
        "RATE_LIMITED",
        `changed its topics faster than ${this.#config.subscriptionChangesPerSecond} a second`,
      );
    }
    const next = payload.full ? new Set<string>() : new Set(state.topics);
    for (const topic of payload.leave) next.delete(topic);
    for (const topic of payload.join) next.add(topic);
    if (next.size > MAX_TOPICS_PER_PEER) {
      throw new SubscriptionError("TOO_MANY_TOPICS", `would be in ${next.size} topics, over ${MAX_TOPICS_PER_PEER}`);
    }
    for (const topic of state.topics) {
      if (next.has(topic)) continue;
      this.#unindex(topic, nodeId);
      state.left.delete(topic);
      state.left.set(topic, now);
      if (state.left.size > MAX_RECENTLY_LEFT) state.left.delete(state.left.keys().next().value!);
    }
    for (const topic of next) {
      if (state.topics.has(topic)) continue;
      let members = this.#byTopic.get(topic);
      if (!members) this.#byTopic.set(topic, members = new Set());
      members.add(nodeId);
      state.left.delete(topic);
    }
    state.topics = next;
    if (payload.all) this.#relaysAll.add(nodeId);
    else this.#relaysAll.delete(nodeId);
    state.all = payload.all;
  }

  /** Whether the peer is in `topic`: it said so, or it relays every topic. Every peer is in `""`. */
  isIn(nodeId: string, topic: string): boolean {
    if (topic === "") return true;
    const state = this.#peers.get(nodeId);
    return state !== undefined && (state.all || state.topics.has(topic));
  }

  /** Whether the peer left `topic` less than the grace period before `now`. */
  leftLately(nodeId: string, topic: string, now: number): boolean {
    const at = this.#peers.get(nodeId)?.left.get(topic);
    return at !== undefined && now - at < this.#config.leaveGraceMs;
  }

  /** The topics the peer said it is in (not counting `all`). */
  topicsOf(nodeId: string): ReadonlySet<string> {
    return this.#peers.get(nodeId)?.topics ?? new Set();
  }

  /** Whether the peer relays every topic. */
  relaysAll(nodeId: string): boolean {
    return this.#relaysAll.has(nodeId);
  }

  /** Peers in `topic` by their own word, then those that relay every topic (each once). */
  peersIn(topic: string): string[] {
    const members = [...(this.#byTopic.get(topic) ?? [])];
    for (const nodeId of this.#relaysAll) if (!this.#byTopic.get(topic)?.has(nodeId)) members.push(nodeId);
    return members;
  }

  /** Every topic some peer is in (by its own word), with how many peers are. */
  topicCounts(): Map<string, number> {
    return new Map([...this.#byTopic].map(([topic, members]) => [topic, members.size]));
  }

  /**
   * The peer is on a new link (a newer one replaced its old one): its set stands, and the first whole set it
   * sends over the new link is free, as on any first link.
   */
  newLink(nodeId: string): void {
    const state = this.#peers.get(nodeId);
    if (state) state.told = false;
  }

  /** The peer disconnected: everything about it is dropped. */
  forget(nodeId: string): void {
    const state = this.#peers.get(nodeId);
    if (!state) return;
    for (const topic of state.topics) this.#unindex(topic, nodeId);
    this.#relaysAll.delete(nodeId);
    this.#peers.delete(nodeId);
  }

  #unindex(topic: string, nodeId: string): void {
    const members = this.#byTopic.get(topic);
    members?.delete(nodeId);
    if (members?.size === 0) this.#byTopic.delete(topic);
  }
}
