/**
 * Reconciliation sessions with peers: one per (peer, topic, session id, role), each a {@link Reconciler} over a
 * snapshot of the topic's log for an agreed window, stepped by CATCHUP_RECONCILE messages until every range is
 * settled. What a step finds goes two ways: ids the peer holds and this node lacks are claims (the fetcher
 * asks that peer for them), ids this node holds and the peer lacks are sent in the next message's `have` so
 * that the peer can ask for them too.
 *
 * A session's window is the later of the two sides' oldest retained timestamps: the responder answers with
 * the window it used, and the initiator adopts it (its first fingerprint may then differ, which costs a split).
 *
 * Bounds per peer: sessions open at once (`maxSessionsPerPeer`), sessions started per minute, messages per
 * session (`maxRounds`: past it the session ends and the peer is penalised `CATCHUP_DIVERGED`, as an honest
 * peer settles a log in twice its depth and a few), ranges and ids per message (the wire schema's), and ids
 * sent in `have` (`maxHaveIdsPerSession` a session; over all sessions `haveIdsPerMinute` beyond what the
 * peer fetched: {@link ReconcileSessions.served} gives them back), so a peer that lists nothing and fetches
 * nothing cannot make this node send its whole log's ids again and again.
 *
 * @module
 */
import { type CatchupReconcilePayload, MAX_CATCHUP_MESSAGE_IDS } from "../protocol/mod.ts";
import type { RandomSource } from "../random.ts";
import { TokenBucket } from "../ratelimit.ts";
import type { CatchupConfig } from "./config.ts";
import type { TopicLog } from "./log.ts";
import { Reconciler } from "./reconcile.ts";
import type { CatchupStats } from "./stats.ts";
import { decodeRanges, encodeRanges } from "./wire.ts";

/** What the sessions work with. */
export interface SessionParts {
  /** The settings in force. */
  config: Readonly<CatchupConfig>;
  /** The topic log reconciled. */
  log: TopicLog;
  /** The oldest timestamp this node keeps of `topic` as of `now`. */
  windowStart(topic: string, now: number): number;
  /** Whether this node is in `topic`. */
  isIn(topic: string): boolean;
  /** Sends a CATCHUP_RECONCILE to `peer`. */
  send(peer: string, payload: CatchupReconcilePayload): void;
  /** `peer` holds `ids` of `topic` (this node may lack them). */
  claim(peer: string, topic: string, ids: readonly Uint8Array[]): void;
  /** Costs `peer` trust by `code`. */
  penalise(peer: string, code: string): void;
  /** Session ids. */
  random: RandomSource;
  /** Counters. */
  stats: CatchupStats;
}

/** Topics that may wait for a session with one peer (the most a node is in). */
const MAX_QUEUED_TOPICS = 64;

/** Sessions this node started (`mine`) or the peer did. */
function count(sessions: Map<string, Session>, mine: boolean): number {
  let n = 0;
  for (const session of sessions.values()) if (session.mine === mine) n++;
  return n;
}

interface Session {
  readonly topic: string;
  readonly id: number;
  /** Whether this node started it. */
  readonly mine: boolean;
  since: number;
  reconciler: Reconciler;
  rounds: number;
  lastAt: number;
  /** Ids learned either way (need and have): what the session achieved. */
  learned: number;
  /** Ids sent in `have`, at most `maxHaveIdsPerSession`. */
  haveSent: number;
  /** Whether a new session should follow this one at once (it learned more than it could send, or ran long). */
  again: boolean;
  /** Whether the peer has answered yet (the initiator adopts its window then). */
  answered: boolean;
}

/** The sessions of one node with all its peers. */
export class ReconcileSessions {
  readonly #parts: SessionParts;
  // peer -> session key ("m:<id>" for this node's, "t:<id>" for the peer's) -> session
  readonly #byPeer = new Map<string, Map<string, Session>>();
  readonly #starts = new Map<string, TokenBucket>();
  readonly #ownStarts = new Map<string, TokenBucket>();
  // peer -> ids it may still be sent in `have` (refilled over time and by what it fetches)
  readonly #haveAllowance = new Map<string, TokenBucket>();
  // peer -> topics to reconcile with it once one of its sessions ends (this node's own, past the bound)
  readonly #queued = new Map<string, Set<string>>();

  /** Sessions over `parts`. */
  constructor(parts: SessionParts) {
    this.#parts = parts;
  }

  /** Whether a session about `topic` with `peer` is open. */
  has(peer: string, topic: string): boolean {
    for (const session of this.#byPeer.get(peer)?.values() ?? []) if (session.topic === topic) return true;
    return false;
  }

  /** Sessions open now, over all peers. */
  get open(): number {
    let n = 0;
    for (const sessions of this.#byPeer.values()) n += sessions.size;
    return n;
  }

  /**
   * Starts a session about `topic` with `peer`; false when one is open. When this node already has its most
   * sessions with the peer, the topic waits for one of them to end.
   */
  start(peer: string, topic: string, now: number): boolean {
    const { config, random, stats } = this.#parts;
    const sessions = this.#sessionsOf(peer);
    if (this.has(peer, topic)) return false;
    let mine = this.#ownStarts.get(peer);
    if (!mine) {
      this.#ownStarts.set(
        peer,
        mine = new TokenBucket(config.sessionsPerMinute / 60, 2 * config.sessionsPerMinute, now),
      );
    }
    // This node starts no more sessions than its peer takes (the same allowance): the periodic round retries.
    if (!mine.available(now)) return false;
    if (count(sessions, true) >= config.maxSessionsPerPeer) {
      let queued = this.#queued.get(peer);
      if (!queued) this.#queued.set(peer, queued = new Set());
      if (queued.size < MAX_QUEUED_TOPICS) queued.add(topic);
      return false;
    }
    const since = this.#parts.windowStart(topic, now);
    const reconciler = new Reconciler(this.#parts.log.items(topic, since), config.reconcile);
    mine.take(now);
    const id = Math.floor(random() * 2 ** 32) >>> 0;
    const session: Session = {
      topic,
      id,
      mine: true,
      since,
      reconciler,
      rounds: 1,
      lastAt: now,
      answered: false,
      learned: 0,
      haveSent: 0,
      again: false,
    };
    sessions.set(`m:${id}`, session);
    stats.sessionsStarted++;
    stats.rounds++;
    this.#parts.send(peer, {
      topic,
      session: id,
      reply: false,
      since,
      ranges: encodeRanges(reconciler.initiate()),
      have: [],
    });
    return true;
  }

  /** Takes a CATCHUP_RECONCILE from `peer` (already decoded and checked by the schema). */
  receive(peer: string, payload: CatchupReconcilePayload, now: number): void {
    const { config, stats } = this.#parts;
    const sessions = this.#sessionsOf(peer);
    const key = `${payload.reply ? "m" : "t"}:${payload.session}`;
    let session = sessions.get(key);
    if (session !== undefined && session.topic !== payload.topic) {
      // A session's topic never changes: the peer is confused or lying; end it.
      this.#end(peer, sessions, key, now);
      this.#parts.penalise(peer, "BAD_FIELD");
      return;
    }
    if (session === undefined) {
      // An answer to a session this node ended (timed out, or past its rounds) is late, not hostile.
      if (payload.reply) return;
      if (payload.ranges.length === 0) return; // the end of a session this node already dropped
      session = this.#open(peer, sessions, key, payload, now);
      if (session === undefined) return;
    }
    session.lastAt = now;
    // What the peer says it holds and this node lacks, whatever else happens to the session.
    if (payload.have.length > 0) this.#parts.claim(peer, session.topic, payload.have);
    session.learned += payload.have.length;
    if (payload.ranges.length === 0) {
      this.#end(peer, sessions, key, now);
      stats.sessionsCompleted++;
      return;
    }
    if (session.mine && !session.answered) {
      session.answered = true;
      if (payload.since > session.since) {
        // The peer keeps less: reconcile over its window, which the rest of its answers assume.
        session.since = payload.since;
        session.reconciler = new Reconciler(this.#parts.log.items(session.topic, session.since), config.reconcile);
      }
    }
    session.rounds++;
    stats.rounds++;
    if (session.rounds > config.maxRounds) {
      // A session that learns ids as it goes is a large difference, not a stall: the next one carries on.
      if (session.learned >= session.rounds) {
        session.again = true;
        stats.sessionsContinued++;
      } else {
        stats.sessionsDiverged++;
        this.#parts.penalise(peer, "CATCHUP_DIVERGED");
      }
      this.#end(peer, sessions, key, now);
      return;
    }
    const step = session.reconciler.reconcile(decodeRanges(payload.ranges));
    if (step.need.length > 0) this.#parts.claim(peer, session.topic, step.need);
    const room = Math.max(0, Math.min(MAX_CATCHUP_MESSAGE_IDS, config.maxHaveIdsPerSession - session.haveSent));
    const allowed = this.#allowance(peer, now).takeUpTo(now, Math.min(room, step.have.length));
    const have = step.have.slice(0, allowed);
    if (allowed < Math.min(room, step.have.length)) {
      // The peer's allowance is spent: the rest waits for a later session (the periodic round), not a new one now.
      stats.haveWithheld += Math.min(room, step.have.length) - allowed;
    } else if (have.length < step.have.length) session.again = true; // the rest in a session of its own
    session.haveSent += have.length;
    session.learned += step.need.length + step.have.length;
    const ranges = step.reply === undefined ? [] : encodeRanges(step.reply);
    this.#parts.send(peer, {
      topic: session.topic,
      session: session.id,
      reply: !session.mine,
      since: session.since,
      ranges,
      have,
    });
    if (ranges.length === 0) {
      this.#end(peer, sessions, key, now);
      stats.sessionsCompleted++;
    }
  }

  /**
   * Ends a session: one that left work undone is followed by a new one of this node's; one of this node's makes
   * room for a topic waiting to be reconciled with the peer.
   */
  #end(peer: string, sessions: Map<string, Session>, key: string, now: number): void {
    const session = sessions.get(key);
    sessions.delete(key);
    if (session?.again && this.#parts.isIn(session.topic)) this.start(peer, session.topic, now);
    if (!session?.mine) return;
    const queued = this.#queued.get(peer);
    const next = queued?.values().next().value;
    if (next === undefined) return;
    queued!.delete(next);
    if (this.#parts.isIn(next)) this.start(peer, next, now);
  }

  /** A session the peer starts, if its bounds allow; the refusals cost it trust where they are its doing. */
  #open(
    peer: string,
    sessions: Map<string, Session>,
    key: string,
    payload: CatchupReconcilePayload,
    now: number,
  ): Session | undefined {
    const { config, stats } = this.#parts;
    if (!this.#parts.isIn(payload.topic)) {
      // Not (or no longer) in it: an honest race with a leave; say so by ending the session at once.
      stats.sessionsRefused++;
      this.#parts.send(peer, { ...payload, reply: true, ranges: [], have: [] });
      return undefined;
    }
    let bucket = this.#starts.get(peer);
    if (!bucket) {
      bucket = new TokenBucket(config.sessionsPerMinute / 60, 2 * config.sessionsPerMinute, now);
      this.#starts.set(peer, bucket);
    }
    // The peer's own sessions only: an honest peer keeps to the same bound on its side.
    if (count(sessions, false) >= config.maxSessionsPerPeer || !bucket.take(now)) {
      stats.sessionsRefused++;
      this.#parts.penalise(peer, "RATE_LIMITED");
      return undefined;
    }
    const since = Math.max(payload.since, this.#parts.windowStart(payload.topic, now));
    const reconciler = new Reconciler(this.#parts.log.items(payload.topic, since), config.reconcile);
    const session: Session = {
      topic: payload.topic,
      id: payload.session,
      mine: false,
      since,
      reconciler,
      rounds: 0,
      lastAt: now,
      answered: true,
      learned: 0,
      haveSent: 0,
      again: false,
    };
    sessions.set(key, session);
    stats.sessionsAnswered++;
    return session;
  }

  /** Drops sessions silent for `sessionTimeoutMs` (no penalty: links can be slow). */
  expire(now: number): void {
    const timeout = this.#parts.config.sessionTimeoutMs;
    for (const [peer, sessions] of this.#byPeer) {
      for (const [key, session] of [...sessions]) {
        if (now - session.lastAt >= timeout) {
          this.#end(peer, sessions, key, now);
          this.#parts.stats.sessionsTimedOut++;
        }
      }
      if (sessions.size === 0) this.#byPeer.delete(peer);
    }
  }

  /**
   * Forgets a peer's sessions and its start allowance: a new link starts afresh, and costs a handshake, which the
   * transport's limits bound.
   */
  peerDisconnected(peer: string): void {
    this.#byPeer.delete(peer);
    this.#starts.delete(peer);
    this.#ownStarts.delete(peer);
    this.#queued.delete(peer);
    this.#haveAllowance.delete(peer);
  }

  /**
   * `peer` was served `count` bodies: ids told of in `have` it went on to fetch, given back to its allowance
   * (a peer that fetches what it is told of is never held back by it).
   */
  served(peer: string, count: number): void {
    this.#haveAllowance.get(peer)?.refund(count);
  }

  #allowance(peer: string, now: number): TokenBucket {
    let bucket = this.#haveAllowance.get(peer);
    if (!bucket) {
      const { haveIdsPerMinute, maxHaveIdsPerSession } = this.#parts.config;
      bucket = new TokenBucket(haveIdsPerMinute / 60, Math.max(maxHaveIdsPerSession, 1), now);
      this.#haveAllowance.set(peer, bucket);
    }
    return bucket;
  }

  #sessionsOf(peer: string): Map<string, Session> {
    let sessions = this.#byPeer.get(peer);
    if (!sessions) this.#byPeer.set(peer, sessions = new Map());
    return sessions;
  }
}
