/**
 * Finding a topic's peers. A node in a topic with fewer than `minTopicPeers` connected peers in it (say, one
 * whose only peers are in no topic of its own) searches: it asks its sources for the topic's peers and dials
 * them into the peer manager's topic slots (`topicSlots`, outbound links beyond the outbound target, under
 * the dial policy, the per-IP and per-subnet bounds and the eviction rules of every outbound link).
 *
 * Sources sit behind {@link TopicPeerSource}: today peer exchange (a PEER_DISCOVERY naming the topic, answered
 * with the answerer's connected peers in it); the DHT's rendezvous (a lookup of the topic's key) is to be a
 * second source of the same shape, asked after the first.
 *
 * Bounded: a search runs when the topic is joined, when a publish from outside it found no peer in it
 * (NO_TOPIC_PEERS), and on the finder's rounds, each topic at most once per `topicSearchIntervalMs` (the
 * interval doubling, up to 16 times, while searches find nothing new); each asks at most `topicSearchPeers`
 * questions of each source; dials go only into free topic slots. A topic link whose peer is in none of the
 * topics this node wants (is in, or publishes to) is closed after a grace period, freeing its slot.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
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
}

/** A topic link is kept this long before it is judged, ms: the peer's subscriptions arrive just after it opens. */
export const TOPIC_LINK_GRACE_MS = 10_000;

/** The interval between searches of one topic doubles at most this many times (16 times the interval). */
const MAX_BACKOFF_DOUBLINGS = 4;

interface TopicSearch {
  nextAt: number;
  /** Searches in a row whose answers named no peer not already linked in the topic. */
  fruitless: number;
  /** Until when the topic is wanted for publishing from outside it (0: not). */
  publishUntil: number;
  /** Peers dialed for the topic lately (node id -> when), counted as its peers for a grace period. */
  dialed: Map<string, number>;
}

/** Finds peers for the topics this node is in or publishes to; see the module docs. */
export class TopicFinder {
  /** Counters. */
  readonly stats: TopicFinderStats = { searches: 0, questions: 0, candidates: 0, dials: 0, released: 0 };
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
      search = { nextAt: 0, fruitless: 0, publishUntil: 0, dialed: new Map() };
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
    for (const topic of this.#wanted(now)) this.#searchIfDue(topic, this.#state(topic), now);
  }

  #searchIfDue(topic: string, search: TopicSearch, now: number): void {
    const { config, peersIn, sources } = this.#options;
    if (now < search.nextAt || peersIn(topic).length >= config.minTopicPeers) return;
    let asked = 0;
    for (const source of sources) {
      for (let i = 0; i < config.topicSearchPeers; i++) {
        let answer: Promise<readonly TopicPeerCandidate[]> | undefined;
        try {
          answer = source.find(topic);
        } catch (error) {
          this.#options.log("error", "topic peer source failed", { source: source.name, ...errorFields(error) });
        }
        if (answer === undefined) break; // no one (more) to ask there now
        asked++;
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
    search.fruitless++; // until an answer names someone
    search.nextAt = now + config.topicSearchIntervalMs * 2 ** doublings;
  }

  /** An answer named `candidates` for `topic`: dials as many as the topic still lacks, into free slots. */
  #found(topic: string, candidates: readonly TopicPeerCandidate[]): void {
    if (!this.#running) return;
    this.stats.candidates += candidates.length;
    const { config, peersIn, links, clock } = this.#options;
    const search = this.#searches.get(topic);
    if (!search) return; // forgotten meanwhile
    const now = clock.now();
    const members = new Set(peersIn(topic));
    // Only a peer not yet linked in the topic makes a search worth repeating soon.
    if (candidates.some((c) => !members.has(c.nodeId))) {
      search.fruitless = 0;
      search.nextAt = Math.min(search.nextAt, now + config.topicSearchIntervalMs);
    }
    // Dials still on their way (or whose peer has yet to say its topics) count, so answers arriving together
    // do not each dial what the topic lacks.
    for (const [nodeId, at] of search.dialed) {
      if (now - at >= TOPIC_LINK_GRACE_MS) search.dialed.delete(nodeId);
      else members.add(nodeId);
    }
    let need = config.minTopicPeers - members.size;
    for (const candidate of candidates) {
      if (need <= 0) break;
      if (members.has(candidate.nodeId)) continue;
      if (links.dialTopicPeer(candidate.nodeId, candidate.address)) {
        search.dialed.set(candidate.nodeId, now);
        members.add(candidate.nodeId);
        this.stats.dials++;
        need--;
      }
    }
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
