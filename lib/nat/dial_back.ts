/**
 * The answering side of the reachability check: a peer asks this node to dial it back (DIAL_BACK_REQUEST),
 * and this node does, with a real connection and kith's whole handshake, then closes it and says whether the
 * handshake reached the asker's identity (DIAL_BACK_RESPONSE).
 *
 * A dial-back is a connection this node opens on a stranger's word, so it is bounded before anything is
 * dialed (SECURITY.md, "Reachability"):
 * - only to the asker's own IP, as this node's socket sees it: no reflection of this node's dials at a third
 *   host, so no amplification (one small request, one handshake, to the requester alone);
 * - only where the dial policy permits (no dialing into private ranges on a public node);
 * - at most one per asker IP per `dialBackAskerIntervalMs` (burst 2), `dialBackRatePerSecond` in total, and
 *   `maxConcurrentDialBacks` at once, one per asker; everything over a bound is answered RATE_LIMITED at once;
 * - and at most 8 answers at once to one asker, then one per 5 s: requests beyond go unanswered, so a flood of
 *   them cannot turn into as many answers.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import type { Clock } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
import { networkGroup } from "../netgroup.ts";
import { type DialBackRequestPayload, type DialBackResponsePayload, DialBackStatus } from "../protocol/mod.ts";
import { BoundedMap, TokenBucket } from "../ratelimit.ts";
import type { NatConfig } from "./config.ts";

/** Asker IPs (and node ids) whose rate is remembered; a forgotten one starts with a full burst again. */
const MAX_TRACKED_ASKERS = 4096;
/**
 * Requests answered per asker node id: a burst of 8, then one per 5 s. Beyond it a request gets no answer at all,
 * so a flood of requests cannot make this node send as many refusals back (an honest node asks once per check).
 */
const ANSWERS_BURST = 8;
const ANSWERS_PER_SECOND = 0.2;

/** The peer asking, as the answering node sees it. */
export interface DialBackAsker {
  /** Its node id: the identity the dial-back's handshake must reach. */
  nodeId: string;
  /** Its IP as this node's socket sees it (the only host a dial-back goes to). */
  ip: string;
  /** Sends it the answer over its link. */
  send(payload: DialBackResponsePayload): void;
}

/** What {@link DialBackServer} needs. */
export interface DialBackServerOptions {
  /** Time source. */
  clock: Clock;
  /** Bounds (the `dialBack*` and `maxConcurrentDialBacks` settings). */
  config: Readonly<NatConfig>;
  /** Whether the dial policy lets this node dial `address`. */
  permitsDial: (address: string) => boolean;
  /** Dials `address`, runs the handshake expecting `nodeId`, closes; rejects when that fails. */
  dialBack: (address: string, nodeId: string) => Promise<void>;
  /** Where unexpected failures go. */
  log: LogSink;
}

/** Counters of the answering side. */
export interface DialBackServerStats {
  /** DIAL_BACK_REQUESTs taken. */
  requests: number;
  /** Dial-backs whose handshake reached the asker. */
  reached: number;
  /** Dial-backs that failed. */
  unreachable: number;
  /** Requests refused without dialing: another host than the asker's IP, or refused by the dial policy. */
  refused: number;
  /** Requests refused without dialing: over a rate or the concurrency bound. */
  rateLimited: number;
  /** Requests dropped unanswered: the asker was over its allowance of answers. */
  dropped: number;
}

/** Answers dial-back requests within the bounds of the module docs. */
export class DialBackServer {
  /** Counters. */
  readonly stats: DialBackServerStats = {
    requests: 0,
    reached: 0,
    unreachable: 0,
    refused: 0,
    rateLimited: 0,
    dropped: 0,
  };
  readonly #options: DialBackServerOptions;
  readonly #perAsker = new BoundedMap<string, TokenBucket>(MAX_TRACKED_ASKERS);
  readonly #answers = new BoundedMap<string, TokenBucket>(MAX_TRACKED_ASKERS);
  readonly #total: TokenBucket;
  readonly #inFlight = new Set<string>();
  #stopped = false;

  /** A server with `options`. */
  constructor(options: DialBackServerOptions) {
    this.#options = options;
    const rate = options.config.dialBackRatePerSecond;
    this.#total = new TokenBucket(rate, Math.max(4, 4 * rate), options.clock.now());
  }

  /** Dial-backs in flight now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Takes one request from `asker`: answers at once when refused, after the dial otherwise. */
  handle(asker: DialBackAsker, request: DialBackRequestPayload): void {
    if (this.#stopped) return;
    this.stats.requests++;
    const now = this.#options.clock.now();
    let answers = this.#answers.get(asker.nodeId);
    if (answers === undefined) {
      answers = new TokenBucket(ANSWERS_PER_SECOND, ANSWERS_BURST, now);
      this.#answers.set(asker.nodeId, answers);
    }
    if (!answers.take(now)) {
      this.stats.dropped++;
      return;
    }
    const answer = (status: number, detail: string) => {
      if (!this.#stopped) asker.send({ requestId: request.requestId, status, detail });
    };
    const target = parseHostPort(request.address);
    if (target === undefined || networkGroup(target.host).host !== networkGroup(asker.ip).host) {
      // Reflection: dialing a host other than the asker would let anyone aim this node at a third party.
      this.stats.refused++;
      return answer(DialBackStatus.REFUSED, "the address is not the asker's own IP");
    }
    if (!this.#options.permitsDial(request.address)) {
      this.stats.refused++;
      return answer(DialBackStatus.REFUSED, "the dial policy refuses the address");
    }
    const { config } = this.#options;
    if (this.#inFlight.has(asker.nodeId) || this.#inFlight.size >= config.maxConcurrentDialBacks) {
      this.stats.rateLimited++;
      return answer(DialBackStatus.RATE_LIMITED, "too many dial-backs in flight");
    }
    const key = networkGroup(asker.ip).host;
    let bucket = this.#perAsker.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(1_000 / config.dialBackAskerIntervalMs, 2, now);
      this.#perAsker.set(key, bucket);
    }
    // The asker's own bucket first: an asker over its rate must not spend the total allowance of others.
    if (!bucket.available(now) || !this.#total.available(now)) {
      this.stats.rateLimited++;
      return answer(DialBackStatus.RATE_LIMITED, "over the dial-back rate");
    }
    bucket.take(now);
    this.#total.take(now);
    this.#inFlight.add(asker.nodeId);
    this.#options.dialBack(request.address, asker.nodeId).then(
      () => {
        this.stats.reached++;
        answer(DialBackStatus.REACHED, "");
      },
      (error) => {
        this.stats.unreachable++;
        const detail = error instanceof Error ? error.message : String(error);
        answer(DialBackStatus.UNREACHABLE, truncate(detail));
      },
    ).catch((error) => this.#options.log("error", "dial-back answer failed", errorFields(error)))
      .finally(() => this.#inFlight.delete(asker.nodeId));
  }

  /** Stops answering (dials in flight finish; their answers are not sent). */
  stop(): void {
    this.#stopped = true;
  }
}

function truncate(text: string): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= 200) return text;
  return new TextDecoder().decode(bytes.subarray(0, 200)).replace(/\uFFFD$/, "");
}
