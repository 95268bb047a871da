/**
 * Finding a topic's peers. A node in a topic with fewer than `minTopicPeers` connected peers in it (say, one
 * whose only peers are in no topic of its own) searches: it asks its sources for the topic's peers and dials
 * them into the peer manager's topic slots (`topicSlots`, outbound links beyond the outbound target, under
 * the dial policy, the per-IP and per-subnet bounds and the eviction rules of every outbound link).
 *
 * A topic at `minTopicPeers` is searched on, one dial per answer, until it has {@link SPARE_TOPIC_PEERS}
 * more: members that reached the minimum among themselves (a triangle at 2) would otherwise never look for
 * the rest, and a topic's overlay stayed in pieces (BENCHMARKS.md, "Topic discovery").
 *
 * Sources sit behind {@link TopicPeerSource}, asked in order: peer exchange (a PEER_DISCOVERY naming the
 * topic, answered with the answerer's connected peers in it: members two links away), then the DHT's
 * rendezvous (the providers of the topic's key: members anywhere), one lookup a search. Candidates are tried
 * in a random order, so answers naming the same members (the DHT's, latest provider first) spread a topic's
 * dials over them rather than all onto the first.
 *
 * Bounded: a search runs when the topic is joined, when a publish from outside it found no peer in it
 * (NO_TOPIC_PEERS), and on the finder's rounds, each topic at most once per `topicSearchIntervalMs`. The
 * interval doubles, up to 16 times, until a peer the search dialed joins the topic (names in answers are
 * hearsay and do not count), but only once each of the source's answerers was asked (`reach`: a node's peers
 * are asked in turn, so the search covers the members two links away first). A search asks at most
 * `topicSearchPeers` questions of each source (a source may ask fewer); it dials at most what the topic lacks
 * of `minTopicPeers`, or one towards the spare, and only into free topic slots. When a topic under
 * `minTopicPeers` finds the slots all taken, at most one topic link a search is closed to make room, one
 * whose peer is only in topics that keep `minTopicPeers` without it. A topic link whose peer is in none of
 * the topics this node wants (is in, or publishes to) is closed after a grace period, freeing its slot.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
import { type RandomSource, shuffleInPlace } from "../random.ts";
import type { TopicsConfig } from "./config.ts";

/** A peer a source says is in a topic: its node id (hex) and the address to dial. */
export interface TopicPeerCandidate {
  /** Node id (hex). */
  readonly nodeId: string;
  /** Listening address `host:port`. */
  readonly address: string;
}

/**
 * Where candidates for a topic come from. Each call of `find` asks one question (of one peer, or one lookup)
 * and resolves with what it found, possibly nothing; `undefined` means the source cannot ask now (no one to
 * ask), so the search is not counted as done.
 */
export interface TopicPeerSource {
  /** A short name for logs. */
  readonly name: string;
  /** Questions a search asks of it at most (default `topicSearchPeers`): one for a lookup that any node answers alike. */
  readonly questions?: number;
  /**
   * How many different answerers it has now (peer exchange: the connected peers, each asked once before any
   * again): searches that find no one do not back off before that many questions were asked of it.
   */
  reach?(): number;
  /** One question about `topic`'s peers. */
  find(topic: string): Promise<readonly TopicPeerCandidate[]> | undefined;
}

/** What the finder dials through: the peer manager's topic slots. */
export interface TopicLinks {
  /** Dials the candidate into a free topic slot; whether the dial started. */
  dialTopicPeer(nodeId: string, address: string): boolean;
  /** The links holding topic slots, with when each became active. */
  topicLinks(): readonly { nodeId: string; since: number }[];
  /** Closes a topic link, freeing its slot. */
  releaseTopicLink(nodeId: string): void;
}

/** What the finder is made of. */
export interface TopicFinderOptions {
  /** The settings in force. */
  config: Pick<TopicsConfig, "minTopicPeers" | "topicSearchIntervalMs" | "topicSearchPeers" | "topicFanoutTtlMs">;
  /** Time and timers. */
  clock: Clock;
  /** Where a source's failure is logged. */
  log: LogSink;
  /** The sources, asked in this order. */
  sources: readonly TopicPeerSource[];
  /** The topic slots. */
  links: TopicLinks;
  /** The named topics this node is in. */
  joined(): readonly string[];
  /** The connected peers (node ids) in `topic`. */
  peersIn(topic: string): readonly string[];
  /** Interval of the finder's rounds (retries and releases), ms. */
  roundMs: number;
  /** Most topics remembered as searched or published to; the oldest is forgotten first. */
  maxTopics: number;
  /** The peer manager's `topicSlots`: when all are taken, a topic under the minimum may free one. */
  topicSlots: number;
  /** Randomness: the order candidates are tried in (default: as answered). */
  random?: RandomSource;
}

/** Counters of the finder. */
export interface TopicFinderStats {
  /** Searches run (each asks up to `topicSearchPeers` questions of each source). */
  searches: number;
  /** Questions asked of sources. */
  questions: number;
  /** Candidates the answers named. */
  candidates: number;
  /** Dials started into topic slots. */
  dials: number;
  /** Topic links closed because their peer was in none of this node's topics. */
  released: number;
  /** Topic links closed to make room for a topic under `minTopicPeers` (their peer's topics kept the minimum). */
  rebalanced: number;
}

/** A topic link is kept this long before it is judged, ms: the peer's subscriptions arrive just after it opens. */
export const TOPIC_LINK_GRACE_MS = 10_000;

/** The interval between searches of one topic doubles at most this many times (16 times the interval). */
const MAX_BACKOFF_DOUBLINGS = 4;

/**
 * A topic is searched on, more gently (one dial an answer), until it has this many peers beyond
 * `minTopicPeers` (see the module docs).
 */
export const SPARE_TOPIC_PEERS = 1;

interface TopicSearch {
  nextAt: number;
  /** Searches in a row since one of the topic's dials became a peer in it (that backed off). */
  fruitless: number;
  /** Questions asked of each source (by index) since the search last backed off. */
  sinceBackoff: number[];
  /** Until when the topic is wanted for publishing from outside it (0: not). */
  publishUntil: number;
  /** Peers dialed for the topic lately (node id -> when), counted as its peers for a grace period. */
  dialed: Map<string, number>;
  /** Whether a topic link was closed for it since its last search (at most one a search). */
  rebalanced: boolean;
}

/** Finds peers for the topics this node is in or publishes to; see the module docs. */
export class TopicFinder {
  /** Counters. */
  readonly stats: TopicFinderStats = {
    searches: 0,
    questions: 0,
    candidates: 0,
    dials: 0,
    released: 0,
    rebalanced: 0,
  };
  readonly #options: TopicFinderOptions;
  readonly #searches = new Map<string, TopicSearch>();
  #timer: TimerId | undefined;
  #running = false;

  /** Creates the finder; {@link TopicFinder.start} starts its rounds. */
  constructor(options: TopicFinderOptions) {
    this.#options = options;
  }

  /** Starts the rounds. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule();
  }

  /** Stops the rounds; answers still on their way are ignored. Idempotent. */
  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * This node joined `topic`, or (`publishing`) failed to publish to it from outside for want of a peer in it:
   * searches it now if it needs peers and is due.
   */
  want(topic: string, publishing = false): void {
    if (!this.#running || topic === "") return;
    const now = this.#options.clock.now();
    const search = this.#state(topic);
    if (publishing) search.publishUntil = now + this.#options.config.topicFanoutTtlMs;
    this.#searchIfDue(topic, search, now);
  }

  /** A peer connected: topics that found no one to ask are searched now, if due. */
  peerConnected(): void {
    if (!this.#running) return;
    this.#searchWanted(this.#options.clock.now());
  }

  /** One round: searches the topics in need that are due, and releases topic links no topic wants. */
  round(): void {
    if (!this.#running) return;
    const now = this.#options.clock.now();
    this.#searchWanted(now);
    this.#releaseUnwanted(now);
  }

  #state(topic: string): TopicSearch {
    let search = this.#searches.get(topic);
    if (!search) {
      search = { nextAt: 0, fruitless: 0, sinceBackoff: [], publishUntil: 0, dialed: new Map(), rebalanced: false };
      this.#searches.set(topic, search);
      if (this.#searches.size > this.#options.maxTopics) this.#forgetOne();
    }
    return search;
  }

  /** Forgets the oldest remembered topic this node neither is in nor publishes to (else the oldest). */
  #forgetOne(): void {
    const joined = new Set(this.#options.joined());
    const now = this.#options.clock.now();
    for (const [topic, search] of this.#searches) {
      if (!joined.has(topic) && search.publishUntil < now) {
        this.#searches.delete(topic);
        return;
      }
    }
    this.#searches.delete(this.#searches.keys().next().value!);
  }

  /** The topics this node wants peers in: those it is in, and those it publishes to from outside. */
  #wanted(now: number): Set<string> {
    const wanted = new Set(this.#options.joined());
    for (const [topic, search] of this.#searches) if (search.publishUntil >= now) wanted.add(topic);
    return wanted;
  }

  #searchWanted(now: number): void {
    for (const topic of this.#wanted(now)) {
      const search = this.#state(topic);
      this.#noteJoined(topic, search, now);
      this.#searchIfDue(topic, search, now);
    }
  }

  /**
   * Forgets the topic's dials past the grace period; a dialed peer now in the topic makes its searches worth
   * repeating soon. Only that does: a name in an answer is hearsay, and one naming peers that never join (a
   * Sybil's) would otherwise keep the search at its fastest.
   */
  #noteJoined(topic: string, search: TopicSearch, now: number): void {
    if (search.dialed.size === 0) return;
    const members = new Set(this.#options.peersIn(topic));
    for (const [nodeId, at] of search.dialed) {
      if (members.has(nodeId)) {
        search.dialed.delete(nodeId);
        search.fruitless = 0;
        search.sinceBackoff = [];
        search.nextAt = Math.min(search.nextAt, now + this.#options.config.topicSearchIntervalMs);
      } else if (now - at >= TOPIC_LINK_GRACE_MS) search.dialed.delete(nodeId);
    }
  }

  #searchIfDue(topic: string, search: TopicSearch, now: number): void {
    const { config, peersIn, sources } = this.#options;
    if (now < search.nextAt || peersIn(topic).length >= this.#target()) return;
    let asked = 0;
    for (const [index, source] of sources.entries()) {
      for (let i = 0; i < Math.min(source.questions ?? Infinity, config.topicSearchPeers); i++) {
        let answer: Promise<readonly TopicPeerCandidate[]> | undefined;
        try {
          answer = source.find(topic);
        } catch (error) {
          this.#options.log("error", "topic peer source failed", { source: source.name, ...errorFields(error) });
        }
        if (answer === undefined) break; // no one (more) to ask there now
        asked++;
        search.sinceBackoff[index] = (search.sinceBackoff[index] ?? 0) + 1;
        answer.then(
          (candidates) => this.#found(topic, candidates),
          (error) =>
            this.#options.log("error", "topic peer source failed", { source: source.name, ...errorFields(error) }),
        );
      }
    }
    if (asked === 0) return; // not searched: tried again when a peer connects, or next round
    this.stats.searches++;
    this.stats.questions += asked;
    const doublings = Math.min(search.fruitless, MAX_BACKOFF_DOUBLINGS);
    // Backs off (until a peer it dials joins) once every source was asked as often as it has answerers.
    if (sources.every((source, i) => (search.sinceBackoff[i] ?? 0) >= (source.reach?.() ?? 0))) {
      search.fruitless++;
      search.sinceBackoff = [];
    }
    search.nextAt = now + config.topicSearchIntervalMs * 2 ** doublings;
    search.rebalanced = false;
  }

  /** Peers in a topic past which it is not searched. */
  #target(): number {
    const min = this.#options.config.minTopicPeers;
    return min === 0 ? 0 : min + SPARE_TOPIC_PEERS;
  }

  /**
   * An answer named `candidates` for `topic`: dials, into free slots, as many as the topic lacks of
   * `minTopicPeers`, or one while it is short of the target.
   */
  #found(topic: string, candidates: readonly TopicPeerCandidate[]): void {
    if (!this.#running) return;
    this.stats.candidates += candidates.length;
    const { config, peersIn, links, clock } = this.#options;
    const search = this.#searches.get(topic);
    if (!search) return; // forgotten meanwhile
    const now = clock.now();
    this.#noteJoined(topic, search, now);
    const members = new Set(peersIn(topic));
    // Dials still on their way (or whose peer has yet to say its topics) count, so answers arriving together
    // do not each dial what the topic lacks.
    for (const nodeId of search.dialed.keys()) members.add(nodeId);
    const short = members.size < config.minTopicPeers;
    let need = short ? config.minTopicPeers - members.size : Math.min(1, this.#target() - members.size);
    const fresh = candidates.filter((c) => !members.has(c.nodeId));
    if (this.#options.random) shuffleInPlace(fresh, this.#options.random);
    for (const candidate of fresh) {
      if (need <= 0) break;
      let dialed = links.dialTopicPeer(candidate.nodeId, candidate.address);
      if (!dialed && short && !search.rebalanced && this.#makeRoom(topic, now)) {
        search.rebalanced = true;
        dialed = links.dialTopicPeer(candidate.nodeId, candidate.address);
      }
      if (dialed) {
        search.dialed.set(candidate.nodeId, now);
        members.add(candidate.nodeId);
        this.stats.dials++;
        need--;
      }
    }
  }

  /**
   * When every topic slot is taken, closes one topic link (past its grace period) whose peer is only in
   * wanted topics that keep `minTopicPeers` peers without it, the one whose topics have most to spare;
   * whether it closed one. Not for a link in `topic` itself, which needs its peers.
   */
  #makeRoom(topic: string, now: number): boolean {
    const { links, peersIn, config, topicSlots } = this.#options;
    const held = links.topicLinks();
    if (held.length < topicSlots) return false; // a slot is free, or a dial in flight holds it
    const wanted = [...this.#wanted(now)].map((t) => ({ topic: t, peers: new Set(peersIn(t)) }));
    let best: { nodeId: string; spare: number } | undefined;
    for (const link of held) {
      if (now - link.since < TOPIC_LINK_GRACE_MS) continue;
      let spare = Infinity;
      for (const { topic: t, peers } of wanted) {
        if (!peers.has(link.nodeId)) continue;
        spare = t === topic ? -1 : Math.min(spare, peers.size - 1 - config.minTopicPeers);
      }
      if (spare >= 0 && (!best || spare > best.spare)) best = { nodeId: link.nodeId, spare };
    }
    if (!best) return false;
    links.releaseTopicLink(best.nodeId);
    this.stats.rebalanced++;
    return true;
  }

  /** Closes topic links older than the grace period whose peer is in none of the wanted topics. */
  #releaseUnwanted(now: number): void {
    const { links, peersIn } = this.#options;
    const held = links.topicLinks().filter((link) => now - link.since >= TOPIC_LINK_GRACE_MS);
    if (held.length === 0) return;
    const useful = new Set<string>();
    for (const topic of this.#wanted(now)) for (const nodeId of peersIn(topic)) useful.add(nodeId);
    for (const link of held) {
      if (useful.has(link.nodeId)) continue;
      links.releaseTopicLink(link.nodeId);
      this.stats.released++;
    }
  }

  #schedule(): void {
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#running) return;
      try {
        this.round();
      } catch (error) {
        this.#options.log("error", "topic finder round failed", errorFields(error));
      }
      this.#schedule();
    }, this.#options.roundMs);
  }
}
