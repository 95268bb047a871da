/**
 * Fetching what reconciliation found missing: each id a peer claimed (it holds it, this node lacks it) is
 * asked of one of its claimants at a time, in CATCHUP_FETCH batches, at most `maxInFlightIdsPerPeer` per peer
 * and two fetches at once; each body that comes back is checked ({@link checkBody}) and handed to the
 * {@link CatchupSink}.
 *
 * A peer answers each fetch with the bodies it holds, in the order asked, and names the ids it no longer
 * holds (`missing`): retention may have dropped them since it reconciled, which is no fault, within an
 * allowance (`missingAllowance`). An id it skipped before the last one it answered, an id past its allowance,
 * or a whole fetch left unanswered for `fetchTimeoutMs` counts as not served: the peer is penalised
 * (`CATCHUP_UNSERVED`, once per fetch) and, past `maxUnservedIds`, cut off. Ids after the last one answered
 * were not reached (the answer's byte bound) and are asked again. The ids a peer did not serve are asked of
 * another claimant; one no claimant serves is dropped until a later session finds it again.
 *
 * @module
 */
import { bytesKey } from "../bytes.ts";
import { KithError } from "../errors.ts";
import type { CatchupBodiesPayload, CatchupFetchPayload, Envelope, MessageCodec } from "../protocol/mod.ts";
import { TokenBucket } from "../ratelimit.ts";
import { checkBody } from "./check.ts";
import type { CatchupConfig } from "./config.ts";
import type { TopicLog } from "./log.ts";
import type { CatchupStats } from "./stats.ts";

/**
 * Where verified fetched messages go: `TopicDelivery` (exactly once, into the log, in causal order, to the
 * application) implements it. `envelope` is the verified message (its payload decoded), `encoded` its wire
 * bytes as fetched, `from` the peer that served it. Returns whether the message was new.
 */
export interface CatchupSink {
  /** Takes a verified message fetched from `from`; false when it was held already or refused. */
  accept(envelope: Envelope, encoded: Uint8Array, from: string): boolean;
}

/** Fetches one peer may have unanswered at once. */
const MAX_FETCHES_PER_PEER = 2;
/** Claimants remembered per wanted id. */
const MAX_HOLDERS = 8;

/** What the fetcher works with. */
export interface FetcherParts {
  /** The settings in force. */
  config: Readonly<CatchupConfig>;
  /** Parses and verifies bodies. */
  codec: MessageCodec;
  /** What this node holds already. */
  log: TopicLog;
  /** Where verified messages go. */
  sink: CatchupSink;
  /** The oldest timestamp this node keeps of `topic` as of `now`. */
  windowStart(topic: string, now: number): number;
  /** The largest application payload of `topic`. */
  maxMessageBytes(topic: string): number;
  /** Sends a CATCHUP_FETCH to `peer`; false when the link is gone. */
  send(peer: string, payload: CatchupFetchPayload): boolean;
  /** Costs `peer` trust by `code`. */
  penalise(peer: string, code: string): void;
  /** Ends catch-up with `peer` and its link. */
  cutOff(peer: string, detail: string): void;
  /** A message of `topic` fetched from `from` was new here. */
  onFetched?(topic: string, from: string): void;
  /** Counters. */
  stats: CatchupStats;
}

interface Wanted {
  readonly id: Uint8Array;
  readonly topic: string;
  holders: string[];
  /** The peer it is asked of now. */
  askedOf: string | undefined;
}

interface Fetch {
  readonly topic: string;
  readonly keys: string[];
  readonly sentAt: number;
}

interface PeerState {
  /** Key -> nothing: the ids the peer claimed, in claim order. */
  readonly claims: Set<string>;
  readonly fetches: Map<number, Fetch>;
  inFlight: number;
  unserved: number;
  readonly lostAllowance: TokenBucket;
}

/** The ids this node wants and the fetches under way. */
export class CatchupFetcher {
  readonly #parts: FetcherParts;
  readonly #wanted = new Map<string, Wanted>();
  readonly #peers = new Map<string, PeerState>();
  #nextRequest = 1;

  /** A fetcher over `parts`. */
  constructor(parts: FetcherParts) {
    this.#parts = parts;
  }

  /** Ids wanted now, over all peers. */
  get wanted(): number {
    return this.#wanted.size;
  }

  /** Ids asked and not answered yet, over all peers. */
  get inFlight(): number {
    let n = 0;
    for (const state of this.#peers.values()) n += state.inFlight;
    return n;
  }

  /** `peer` holds `ids` of `topic`: those this node lacks are wanted from it; fetching starts at once. */
  claim(peer: string, topic: string, ids: readonly Uint8Array[], now: number): void {
    const state = this.#stateOf(peer, now);
    const { log, config } = this.#parts;
    for (const id of ids) {
      if (log.has(id)) continue;
      const key = bytesKey(id);
      let wanted = this.#wanted.get(key);
      if (wanted === undefined) {
        if (this.#wanted.size >= config.maxWantedIds) continue; // a later session finds it again
        wanted = { id, topic, holders: [], askedOf: undefined };
        this.#wanted.set(key, wanted);
      }
      // An id claimed in one topic and wanted in another is the claimant's confusion: it is not asked of it.
      if (wanted.topic !== topic) continue;
      if (!wanted.holders.includes(peer) && wanted.holders.length < MAX_HOLDERS) wanted.holders.push(peer);
      state.claims.add(key);
    }
    this.pump(peer, now);
  }

  /** Sends `peer` the fetches it has room for. */
  pump(peer: string, now: number): void {
    const state = this.#peers.get(peer);
    if (state === undefined) return;
    const { config } = this.#parts;
    while (state.fetches.size < MAX_FETCHES_PER_PEER && state.inFlight < config.maxInFlightIdsPerPeer) {
      const room = Math.min(config.fetchBatch, config.maxInFlightIdsPerPeer - state.inFlight);
      const keys: string[] = [];
      let topic: string | undefined;
      for (const key of state.claims) {
        const wanted = this.#wanted.get(key);
        if (wanted === undefined || !wanted.holders.includes(peer)) {
          state.claims.delete(key);
          continue;
        }
        if (wanted.askedOf !== undefined) continue;
        topic ??= wanted.topic;
        if (wanted.topic !== topic) continue;
        keys.push(key);
        if (keys.length >= room) break;
      }
      if (topic === undefined || keys.length === 0) return;
      const requestId = this.#nextRequest;
      this.#nextRequest = this.#nextRequest >= 2 ** 32 - 1 ? 1 : this.#nextRequest + 1;
      const ids = keys.map((key) => this.#wanted.get(key)!.id);
      if (!this.#parts.send(peer, { topic, requestId, ids })) return;
      for (const key of keys) {
        this.#wanted.get(key)!.askedOf = peer;
        state.claims.delete(key);
      }
      state.fetches.set(requestId, { topic, keys, sentAt: now });
      state.inFlight += keys.length;
    }
  }

  /** Takes a CATCHUP_BODIES from `peer` (already decoded and checked by the schema). */
  receive(peer: string, payload: CatchupBodiesPayload, now: number): void {
    const state = this.#peers.get(peer);
    const fetch = state?.fetches.get(payload.requestId);
    // An answer to a fetch that timed out, or to none: nothing of it is read.
    if (state === undefined || fetch === undefined) return;
    state.fetches.delete(payload.requestId);
    state.inFlight -= fetch.keys.length;
    if (payload.topic !== fetch.topic) {
      this.#parts.penalise(peer, "BAD_FIELD");
      return this.#settle(peer, state, fetch, new Set(), now);
    }
    const { codec, sink, stats } = this.#parts;
    const asked = new Set(fetch.keys);
    const answered = new Set<string>();
    const expect = {
      asked,
      topic: fetch.topic,
      maxMessageBytes: this.#parts.maxMessageBytes(fetch.topic),
      notBefore: this.#parts.windowStart(fetch.topic, now),
      now,
    };
    for (const body of payload.bodies) {
      let key: string | undefined;
      try {
        const message = checkBody(codec, body, expect);
        key = bytesKey(message.id);
        if (answered.has(key)) continue;
        answered.add(key);
        this.#wanted.delete(key);
        if (sink.accept(message, body, peer)) {
          stats.fetched++;
          this.#parts.onFetched?.(fetch.topic, peer);
        }
      } catch (error) {
        if (!(error instanceof KithError)) throw error;
        stats.refused++;
        // A body older than this node's window is a race with retention; anything else is the server's doing.
        if (error.code !== "OUTSIDE_WINDOW") this.#parts.penalise(peer, error.code);
        // Its id is answered (wrongly): it is asked of another claimant, or dropped when it was stale.
        const id = tryId(codec, body);
        if (id !== undefined && asked.has(id)) {
          answered.add(id);
          if (error.code === "OUTSIDE_WINDOW") this.#wanted.delete(id);
          else this.#dropHolder(id, peer);
        }
      }
    }
    let unserved = 0;
    for (const id of payload.missing) {
      const key = bytesKey(id);
      if (!asked.has(key) || answered.has(key)) continue;
      answered.add(key);
      this.#dropHolder(key, peer);
      if (state.lostAllowance.take(now)) stats.lost++;
      else unserved++;
    }
    this.#settle(peer, state, fetch, answered, now, unserved);
  }

  /**
   * Ends a fetch: ids not answered before the last one answered (or all of them, when none was) are not
   * served; those after it are asked again.
   */
  #settle(peer: string, state: PeerState, fetch: Fetch, answered: Set<string>, now: number, unserved = 0): void {
    let last = -1;
    fetch.keys.forEach((key, i) => {
      if (answered.has(key)) last = i;
    });
    for (let i = 0; i < fetch.keys.length; i++) {
      const key = fetch.keys[i];
      const wanted = this.#wanted.get(key);
      if (answered.has(key) || wanted === undefined) continue;
      wanted.askedOf = undefined;
      if (i < last || last === -1) {
        unserved++;
        this.#dropHolder(key, peer);
      } else state.claims.add(key); // not reached: asked again
    }
    if (unserved > 0) this.#unserved(peer, state, unserved);
    this.#pumpAll(now);
  }

  /** Counts ids `peer` did not serve; past the bound it is cut off. */
  #unserved(peer: string, state: PeerState, count: number): void {
    const { stats, config } = this.#parts;
    stats.unserved += count;
    state.unserved += count;
    this.#parts.penalise(peer, "CATCHUP_UNSERVED");
    if (state.unserved > config.maxUnservedIds) {
      stats.cutOff++;
      this.#parts.cutOff(peer, `catch-up: ${state.unserved} ids claimed and not served`);
      this.peerDisconnected(peer, Infinity);
    }
  }

  /** Fetches unanswered for `fetchTimeoutMs` count as not served. */
  expire(now: number): void {
    for (const [peer, state] of [...this.#peers]) {
      for (const [requestId, fetch] of [...state.fetches]) {
        if (now - fetch.sentAt < this.#parts.config.fetchTimeoutMs) continue;
        if (!this.#peers.has(peer)) break; // cut off meanwhile
        state.fetches.delete(requestId);
        state.inFlight -= fetch.keys.length;
        this.#settle(peer, state, fetch, new Set(), now);
      }
    }
  }

  /** A peer went: what it was asked is asked of others (a lost link is no fault), and its claims go. */
  peerDisconnected(peer: string, now: number): void {
    const state = this.#peers.get(peer);
    if (state === undefined) return;
    this.#peers.delete(peer);
    for (const fetch of state.fetches.values()) {
      for (const key of fetch.keys) {
        const wanted = this.#wanted.get(key);
        if (wanted?.askedOf === peer) wanted.askedOf = undefined;
      }
    }
    for (const key of [...state.claims, ...[...state.fetches.values()].flatMap((f) => f.keys)]) {
      this.#dropHolder(key, peer);
    }
    if (Number.isFinite(now)) this.#pumpAll(now);
  }

  /** `peer` can no longer be asked for `key`; an id no one can be asked for is dropped. */
  #dropHolder(key: string, peer: string): void {
    const wanted = this.#wanted.get(key);
    if (wanted === undefined) return;
    wanted.holders = wanted.holders.filter((holder) => holder !== peer);
    if (wanted.askedOf === peer) wanted.askedOf = undefined;
    if (wanted.holders.length === 0 && wanted.askedOf === undefined) this.#wanted.delete(key);
    else for (const holder of wanted.holders) this.#peers.get(holder)?.claims.add(key);
  }

  #pumpAll(now: number): void {
    for (const peer of [...this.#peers.keys()]) this.pump(peer, now);
  }

  #stateOf(peer: string, now: number): PeerState {
    let state = this.#peers.get(peer);
    if (state === undefined) {
      const allowance = this.#parts.config.missingAllowance;
      state = {
        claims: new Set(),
        fetches: new Map(),
        inFlight: 0,
        unserved: 0,
        lostAllowance: new TokenBucket(allowance / 32, allowance, now),
      };
      this.#peers.set(peer, state);
    }
    return state;
  }
}

/** The id key of a body that failed a check, if it parses at all. */
function tryId(codec: MessageCodec, body: Uint8Array): string | undefined {
  try {
    return bytesKey(codec.parse(body).id);
  } catch {
    return undefined;
  }
}
