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
 * Asking: one query to one peer per call of {@link TopicExchange.ask}, resolved with the records of its
 * answer once the address intake took them, or with none after a timeout, a disconnect or a stop. The peer
 * is one not yet asked about that topic while there is one (a search covers the node's peers, and so the
 * members two links away, before it asks one again), else any; the memory of who was asked is bounded.
 *
 * {@link TopicExchange} holds both sides for the peer manager, over the manager's state it is given.
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import type { Clock, TimerId } from "../clock.ts";
import type { PeerRecord } from "../protocol/mod.ts";
import { type RandomSource, shuffleInPlace } from "../random.ts";
import { BoundedMap } from "../ratelimit.ts";
import type { PeersConfig } from "./config.ts";
import { announceable, AnswerCache } from "./discovery.ts";
import type { ActivePeer, ActiveState } from "./types.ts";

/** Topics whose answers are cached at once; a prober naming more evicts the least recently asked. */
export const MAX_TOPIC_ANSWER_CACHES = 64;

/** Topics whose askers are remembered at once (the least recently asked forgotten first). */
export const MAX_TOPICS_ASKED = 64;

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

/** What {@link TopicExchange} works with: the peer manager's state and how it sends. */
export interface TopicExchangeContext {
  /** The configuration in force. */
  readonly config: Readonly<PeersConfig>;
  /** Time and timers. */
  readonly clock: Clock;
  /** Randomness: which peer is asked, the order of an answer. */
  readonly random: RandomSource;
  /** This node's id (hex): never a candidate. */
  readonly selfNodeId: string;
  /** The active peers by node id (read only here). */
  readonly active: ReadonlyMap<string, ActiveState>;
  /** The address an ordinary answer gives a peer (`""` when none). */
  addressOf(nodeId: string): string;
  /** The connected peers the topics layer knows to be in `topic`. */
  topicPeers(topic: string): readonly string[];
  /** Whether `peer` answers topic queries. */
  answersTopics(peer: ActivePeer): boolean;
  /** Sends `peer` a PEER_DISCOVERY about `topic`, noting the answer it owes (as the manager's own queries). */
  sendQuery(peer: ActiveState, topic: string, now: number): void;
}

/** Both sides of topic queries for the peer manager (see the module docs). */
export class TopicExchange {
  readonly #ctx: TopicExchangeContext;
  readonly #answers: TopicAnswerCaches;
  readonly #queries: TopicQueries;
  // topic -> the peers asked about it (node ids), at most the active peers each: who to ask first next time.
  readonly #asked = new BoundedMap<string, Set<string>>(MAX_TOPICS_ASKED);

  /** Takes the manager's state; nothing is sent until {@link TopicExchange.ask}. */
  constructor(context: TopicExchangeContext) {
    this.#ctx = context;
    this.#answers = new TopicAnswerCaches(context.config);
    this.#queries = new TopicQueries(context.clock, context.config.discoveryMinIntervalMs);
  }

  /**
   * The answer to `peer`'s query about `topic` for at most `limit` records, or undefined when its allowance
   * (one answer per `discoveryMinIntervalMs`) is spent: active peers in the topic with the addresses an
   * ordinary answer gives them, through the topic's cache; never the address book's entries.
   */
  answer(peer: ActiveState, topic: string, limit: number): PeerRecord[] | undefined {
    const { config, clock, active, random } = this.#ctx;
    const now = clock.now();
    if (!takeTopicAnswer(peer, now, config)) return undefined;
    return this.#answers.answer(topic, peer.nodeId, limit, now, (max) => {
      const members = new Set(this.#ctx.topicPeers(topic));
      const inTopic = [...active.values()].filter((p) => members.has(p.nodeId));
      const shuffle = <T>(items: T[]) => shuffleInPlace(items, random);
      return announceable("", max, now, inTopic, [], (id) => this.#ctx.addressOf(id), config, shuffle);
    });
  }

  /**
   * Asks one active peer that answers topic queries, not asked one within `discoveryMinIntervalMs` and with
   * none open, about `topic`, one not yet asked about it if there is one; resolves with its answer's records
   * (see {@link TopicExchange.answered}), or with none after `discoveryMinIntervalMs`. `undefined` when there
   * is no such peer now.
   */
  ask(topic: string): Promise<TopicPeerRecord[]> | undefined {
    const { config, clock, active, random } = this.#ctx;
    const now = clock.now();
    const askable = [...active.values()].filter((peer) =>
      now - peer.lastTopicDiscoveryAsked >= config.discoveryMinIntervalMs && !this.#queries.has(peer.nodeId) &&
      this.#ctx.answersTopics(peer)
    );
    if (askable.length === 0) return undefined;
    let asked = this.#asked.get(topic);
    if (!asked) this.#asked.set(topic, asked = new Set());
    for (const nodeId of asked) if (!active.has(nodeId)) asked.delete(nodeId); // gone: at most the active peers
    const fresh = askable.filter((peer) => !asked.has(peer.nodeId));
    const pool = fresh.length > 0 ? fresh : askable;
    if (asked.size >= active.size) asked.clear(); // every peer asked: a new round over them
    const peer = pool[Math.floor(random() * pool.length)];
    asked.add(peer.nodeId);
    peer.lastTopicDiscoveryAsked = now;
    const answer = this.#queries.start(peer.nodeId, topic);
    this.#ctx.sendQuery(peer, topic, now);
    return answer;
  }

  /**
   * `from` answered a query about `topic`: of the answer's records the dial policy permits (`dialable`), the
   * first `take` (what the address intake took), less `from` and this node, resolve the query.
   */
  answered(from: ActiveState, topic: string, dialable: readonly PeerRecord[], take: number): void {
    const records: TopicPeerRecord[] = [];
    for (const record of dialable.slice(0, take)) {
      const nodeId = toHex(record.nodeId);
      if (nodeId !== from.nodeId && nodeId !== this.#ctx.selfNodeId) records.push({ nodeId, address: record.address });
    }
    this.#queries.answered(from.nodeId, topic, records);
  }

  /** `nodeId` is gone: its open query resolves with no records. */
  dropped(nodeId: string): void {
    this.#queries.dropped(nodeId);
  }

  /** Resolves every open query with no records (the manager stops). */
  clear(): void {
    this.#queries.clear();
  }
}
