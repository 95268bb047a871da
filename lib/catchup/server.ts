/**
 * Serving fetches: a CATCHUP_FETCH is answered from the topic log with the bodies held, in the order asked,
 * up to {@link MAX_CATCHUP_BODY_BYTES} per answer, and the ids no longer held named as `missing`. What one
 * peer is served is bounded in bytes per second (`serveBytesPerSecond`): an answer waits for its allowance,
 * and at most `maxQueuedFetches` fetches of a peer wait; past that a fetch is refused and costs the peer
 * `RATE_LIMITED` (an honest peer has at most two fetches out).
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { type CatchupBodiesPayload, type CatchupFetchPayload, MAX_CATCHUP_BODY_BYTES } from "../protocol/mod.ts";
import { TokenBucket } from "../ratelimit.ts";
import type { CatchupConfig } from "./config.ts";
import type { TopicLog } from "./log.ts";
import type { CatchupStats } from "./stats.ts";

/** What the server works with. */
export interface ServerParts {
  /** The settings in force. */
  config: Readonly<CatchupConfig>;
  /** Time and timers (answers waiting for their allowance). */
  clock: Clock;
  /** What is served. */
  log: TopicLog;
  /** Whether this node is in `topic` (it serves only those). */
  isIn(topic: string): boolean;
  /** Sends a CATCHUP_BODIES to `peer`. */
  send(peer: string, payload: CatchupBodiesPayload): void;
  /** Costs `peer` trust by `code`. */
  penalise(peer: string, code: string): void;
  /** Counters. */
  stats: CatchupStats;
}

interface PeerQueue {
  readonly bucket: TokenBucket;
  readonly waiting: CatchupFetchPayload[];
  timer: TimerId | undefined;
}

/** Answers peers' fetches from the topic log. */
export class CatchupServer {
  readonly #parts: ServerParts;
  readonly #peers = new Map<string, PeerQueue>();
  readonly #burst: number;

  /** A server over `parts`. */
  constructor(parts: ServerParts) {
    this.#parts = parts;
    // The burst holds at least one full answer, so that every answer can be paid for.
    this.#burst = Math.max(parts.config.serveBytesPerSecond, MAX_CATCHUP_BODY_BYTES);
  }

  /** Takes a CATCHUP_FETCH from `peer` (already decoded and checked by the schema). */
  receive(peer: string, payload: CatchupFetchPayload): void {
    const { config, clock } = this.#parts;
    let queue = this.#peers.get(peer);
    if (queue === undefined) {
      queue = {
        bucket: new TokenBucket(config.serveBytesPerSecond, this.#burst, clock.now()),
        waiting: [],
        timer: undefined,
      };
      this.#peers.set(peer, queue);
    }
    if (queue.waiting.length >= config.maxQueuedFetches) {
      this.#parts.penalise(peer, "RATE_LIMITED");
      return;
    }
    queue.waiting.push(payload);
    this.#drain(peer, queue);
  }

  /** Answers what the peer's allowance covers; the rest waits for it. */
  #drain(peer: string, queue: PeerQueue): void {
    const { clock, config } = this.#parts;
    while (queue.waiting.length > 0 && queue.timer === undefined) {
      const answer = this.#answer(queue.waiting[0]);
      const cost = answer.bodies.reduce((n, body) => n + body.length, 0);
      if (!queue.bucket.takeMany(clock.now(), cost)) {
        const waitMs = Math.max(1, Math.ceil((cost / config.serveBytesPerSecond) * 1000));
        queue.timer = clock.setTimeout(() => {
          queue.timer = undefined;
          if (this.#peers.get(peer) === queue) this.#drain(peer, queue);
        }, waitMs);
        return;
      }
      queue.waiting.shift();
      this.#parts.stats.served += answer.bodies.length;
      this.#parts.send(peer, answer);
    }
  }

  /** The answer to `fetch` from the log as it is now. */
  #answer(fetch: CatchupFetchPayload): CatchupBodiesPayload {
    const { log, isIn } = this.#parts;
    const bodies: Uint8Array[] = [], missing: Uint8Array[] = [];
    let bytes = 0;
    const member = isIn(fetch.topic);
    for (const id of fetch.ids) {
      const entry = member ? log.get(id) : undefined;
      if (entry === undefined || entry.topic !== fetch.topic) {
        missing.push(id);
        continue;
      }
      if (bytes + entry.envelope.length > MAX_CATCHUP_BODY_BYTES) break; // the rest is asked again
      bytes += entry.envelope.length;
      bodies.push(entry.envelope);
    }
    return { topic: fetch.topic, requestId: fetch.requestId, bodies, missing };
  }

  /** Forgets a peer's queue. */
  peerDisconnected(peer: string): void {
    const queue = this.#peers.get(peer);
    if (queue?.timer !== undefined) this.#parts.clock.clearTimeout(queue.timer);
    this.#peers.delete(peer);
  }

  /** Cancels every waiting answer. */
  stop(): void {
    for (const peer of [...this.#peers.keys()]) this.peerDisconnected(peer);
  }
}
