/**
 * Topic queries in peer exchange: a PEER_DISCOVERY naming a topic asks for peers the answerer knows to be in
 * it, which are its connected peers whose subscriptions say so (the node's topics layer tells the peer
 * manager through a callback, so this layer does not depend on it).
 *
 * Answering: a peer's topic queries are answered at most once per `discoveryMinIntervalMs` (apart from its
 * ordinary ones, at the same interval), with at most what it asked for and `announcementSize`, only active
 * peers' dialable addresses (never the address book's), and through a cache per topic that follows the
 * ordinary answer's rules (`addressCacheMs`, rebuilt sooner only while not full), so a topic query tells a
 * prober nothing faster than an ordinary one: the ordinary answer puts the same active peers first.
 *
 * Asking: one query to one peer per call of {@link TopicQueries.start}, resolved with the records of its
 * answer once the address intake took them, or with none after a timeout, a disconnect or a stop.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { PeerRecord } from "../protocol/mod.ts";
import { BoundedMap } from "../ratelimit.ts";
import type { PeersConfig } from "./config.ts";
import { AnswerCache } from "./discovery.ts";
import type { ActiveState } from "./types.ts";

/** Topics whose answers are cached at once; a prober naming more evicts the least recently asked. */
export const MAX_TOPIC_ANSWER_CACHES = 64;

/** A peer named in an answer to a topic query: its node id (hex) and the address to dial. */
export interface TopicPeerRecord {
  /** Node id (hex). */
  readonly nodeId: string;
  /** Its announced listening address `host:port`, permitted by the dial policy. */
  readonly address: string;
}

/** Whether `peer`'s PEER_DISCOVERY naming a topic is answered at `now`; if so, records the answer. */
export function takeTopicAnswer(
  peer: ActiveState,
  now: number,
  config: Pick<PeersConfig, "discoveryMinIntervalMs">,
): boolean {
  if (now - peer.lastTopicDiscoveryAnswered < config.discoveryMinIntervalMs) return false;
  peer.lastTopicDiscoveryAnswered = now;
  return true;
}

/** One {@link AnswerCache} per topic asked about, at most {@link MAX_TOPIC_ANSWER_CACHES}. */
export class TopicAnswerCaches {
  readonly #caches = new BoundedMap<string, AnswerCache>(MAX_TOPIC_ANSWER_CACHES);
  readonly #config: Pick<PeersConfig, "addressCacheMs" | "discoveryMinIntervalMs">;

  /** Creates no cache yet. */
  constructor(config: Pick<PeersConfig, "addressCacheMs" | "discoveryMinIntervalMs">) {
    this.#config = config;
  }

  /** Up to `limit` records of peers in `topic` for `requester`; `build(max)` makes a fresh answer when due. */
  answer(
    topic: string,
    requester: string,
    limit: number,
    now: number,
    build: (max: number) => PeerRecord[],
  ): PeerRecord[] {
    let cache = this.#caches.get(topic);
    if (!cache) this.#caches.set(topic, cache = new AnswerCache(this.#config));
    return cache.answer(requester, limit, now, build);
  }
}

interface PendingQuery {
  readonly topic: string;
  readonly resolve: (records: TopicPeerRecord[]) => void;
  readonly timer: TimerId;
}

/** This node's topic queries awaiting their answers: at most one per peer. */
export class TopicQueries {
  readonly #pending = new Map<string, PendingQuery>();
  readonly #clock: Clock;
  readonly #timeoutMs: number;

  /** Queries unanswered after `timeoutMs` resolve with no records. */
  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** Whether a query to `nodeId` awaits its answer. */
  has(nodeId: string): boolean {
    return this.#pending.has(nodeId);
  }

  /** Notes a query to `nodeId` about `topic`; resolves with its answer's records. */
  start(nodeId: string, topic: string): Promise<TopicPeerRecord[]> {
    this.#settle(nodeId, []);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => this.#settle(nodeId, []), this.#timeoutMs);
      this.#pending.set(nodeId, { topic, resolve, timer });
    });
  }

  /** `nodeId` answered a query about `topic` with `records` (those the intake took and the dial policy permits). */
  answered(nodeId: string, topic: string, records: TopicPeerRecord[]): void {
    if (this.#pending.get(nodeId)?.topic === topic) this.#settle(nodeId, records);
  }

  /** `nodeId` is gone: its query, if any, resolves with no records. */
  dropped(nodeId: string): void {
    this.#settle(nodeId, []);
  }

  /** Resolves every query with no records and clears their timers. */
  clear(): void {
    for (const nodeId of [...this.#pending.keys()]) this.#settle(nodeId, []);
  }

  #settle(nodeId: string, records: TopicPeerRecord[]): void {
    const query = this.#pending.get(nodeId);
    if (!query) return;
    this.#pending.delete(nodeId);
    this.#clock.clearTimeout(query.timer);
    query.resolve(records);
  }
}
