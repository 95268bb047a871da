/**
 * Request/response between two peers: this node's requests in flight (correlation ids, timeouts, abort,
 * a bound per peer) and the requests it serves (a handler per protocol name, a bound per peer, a handler
 * timeout), each refusal answered with a {@link ResponseStatus} and surfaced to the requester as a
 * {@link DirectError} with a code.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
import type { ActivePeer } from "../peers/types.ts";
import { isProtocolName, MAX_REQUEST_ID, type Message, MessageType, ResponseStatus } from "../protocol/mod.ts";
import { AbortedError, WaitTimeoutError } from "../wait.ts";
import type { DirectConfig } from "./config.ts";
import { DirectError } from "./errors.ts";
import type { DirectLink } from "./link.ts";

/** What a request handler is told besides the request's bytes. */
export interface RequestContext {
  /** Node id of the requesting peer (hex). */
  from: string;
  /** The protocol name the request was sent to. */
  protocol: string;
  /** Aborted when the requester disconnects, the handler times out, or the node stops. */
  signal: AbortSignal;
}

/** Answers requests of one protocol: bytes (or a string, sent as UTF-8), or a promise of them. A throw refuses. */
export type RequestHandler = (
  data: Uint8Array,
  context: RequestContext,
) => Uint8Array | string | Promise<Uint8Array | string>;

/** Options of a request. */
export interface RequestOptions {
  /** Ms to wait for the response (the node's clock). Default `requestTimeoutMs` (10 s). */
  timeout?: number;
  /** Rejects the request with {@link AbortedError} when aborted. */
  signal?: AbortSignal;
}

/** Counters of requests. */
export interface RequestStats {
  /** Requests this node's handlers answered. */
  served: number;
  /** Requests it refused (unknown protocol, busy, too large, duplicate id, handler failed). */
  refused: number;
  /** RESPONSEs that matched no request in flight (late, after a timeout or abort). */
  unmatched: number;
}

interface Pending {
  protocol: string;
  /** The link the REQUEST went over: its answer can only come back on it. */
  connection: ActivePeer["connection"];
  finish: (error: Error | undefined, data?: Uint8Array) => void;
}

/** A request being served, and the link it came on (its answer can only go back on it). */
interface Served {
  controller: AbortController;
  connection: ActivePeer["connection"];
}

const EMPTY = new Uint8Array(0);
const STATUS_NAMES = Object.fromEntries(Object.entries(ResponseStatus).map(([name, code]) => [code, name]));

/**
 * Adds `handler` for `protocol` to `handlers`; returns what removes it.
 *
 * @throws {DirectError} `BAD_PROTOCOL` for an invalid name or one already handled
 */
export function registerHandler(
  handlers: Map<string, RequestHandler>,
  protocol: string,
  handler: RequestHandler,
): () => void {
  if (!isProtocolName(protocol)) {
    throw new DirectError("BAD_PROTOCOL", `protocol name "${protocol}" is not 1 to 64 bytes of [A-Za-z0-9._/-]`);
  }
  if (handlers.has(protocol)) throw new DirectError("BAD_PROTOCOL", `protocol ${protocol} already has a handler`);
  handlers.set(protocol, handler);
  return () => {
    if (handlers.get(protocol) === handler) handlers.delete(protocol);
  };
}

/** Requests in flight both ways, on one node. */
export class Requests {
  /** Counters. */
  readonly stats: RequestStats = { served: 0, refused: 0, unmatched: 0 };
  readonly #link: DirectLink;
  readonly #config: Readonly<DirectConfig>;
  readonly #clock: Clock;
  readonly #log: LogSink;
  readonly #handlers: ReadonlyMap<string, RequestHandler>;
  readonly #pending = new Map<string, Map<number, Pending>>();
  readonly #served = new Map<string, Map<number, Served>>();
  /** RESPONSEs each peer may send outside its rate: one per request this node sent it, bounded. */
  readonly #responseCredits = new Map<string, number>();
  #nextId = 0;
  #stopped = false;
  // Handlers still running, answered or not (a handler that ignores its signal runs on past its answer).
  #running = 0;

  /** Creates the request side over `link`, serving with `handlers` (see {@link registerHandler}). */
  constructor(
    link: DirectLink,
    handlers: ReadonlyMap<string, RequestHandler>,
    config: Readonly<DirectConfig>,
    clock: Clock,
    log: LogSink,
  ) {
    this.#link = link;
    this.#handlers = handlers;
    this.#config = config;
    this.#clock = clock;
    this.#log = log;
  }

  /** Sends a REQUEST to `nodeId` and resolves with the response's bytes (see KithNode.request). */
  request(nodeId: string, protocol: string, data: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    const what = `request ${protocol} to ${nodeId.slice(0, 16)}`;
    const { signal } = options;
    const timeout = options.timeout ?? this.#config.requestTimeoutMs;
    let pending: Map<number, Pending>;
    let requestId: number;
    let connection: ActivePeer["connection"];
    try {
      if (this.#stopped) throw new DirectError("NOT_RUNNING", `${what}: the node is not running`);
      if (!isProtocolName(protocol)) {
        throw new DirectError("BAD_PROTOCOL", `protocol name "${protocol}" is not 1 to 64 bytes of [A-Za-z0-9._/-]`);
      }
      if (!(timeout >= 0 && timeout <= 2 ** 31 - 1)) throw new RangeError(`${what}: timeout must be 0..2^31-1 ms`);
      if (data.length > this.#config.maxRequestBytes) {
        throw new DirectError(
          "TOO_LARGE",
          `${what}: ${data.length} bytes, over maxRequestBytes ${this.#config.maxRequestBytes}`,
        );
      }
      if (signal?.aborted) throw new AbortedError(what, signal.reason);
      const peer = this.#link.peer(nodeId);
      pending = this.#pending.get(nodeId) ?? new Map();
      if (pending.size >= this.#config.maxOutgoingRequestsPerPeer) {
        throw new DirectError(
          "TOO_MANY_REQUESTS",
          `${what}: ${pending.size} requests already in flight to that peer (maxOutgoingRequestsPerPeer)`,
        );
      }
      this.#link.takeSendToken(peer);
      requestId = this.#allocateId(pending);
      this.#link.send(peer, MessageType.REQUEST, { requestId, protocol, data });
      connection = peer.connection;
    } catch (error) {
      return Promise.reject(error);
    }
    this.#pending.set(nodeId, pending);
    const credits = this.#responseCredits.get(nodeId) ?? 0;
    this.#responseCredits.set(nodeId, Math.min(credits + 1, 2 * this.#config.maxOutgoingRequestsPerPeer));
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => finish(new AbortedError(what, signal?.reason));
      const finish = (error: Error | undefined, bytes?: Uint8Array) => {
        this.#clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        pending.delete(requestId);
        if (pending.size === 0 && this.#pending.get(nodeId) === pending) this.#pending.delete(nodeId);
        if (error) reject(error);
        else resolve(bytes!);
      };
      const timer = this.#clock.setTimeout(() => finish(new WaitTimeoutError(what, timeout)), timeout);
      pending.set(requestId, { protocol, connection, finish });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Whether a RESPONSE from `nodeId` may skip its rate (one per request sent to it); takes the credit. */
  takeResponseCredit(nodeId: string): boolean {
    const credits = this.#responseCredits.get(nodeId) ?? 0;
    if (credits === 0) return false;
    this.#responseCredits.set(nodeId, credits - 1);
    return true;
  }

  /** A verified RESPONSE from `peer`: settles the request it answers, if still in flight. */
  onResponse(peer: ActivePeer, message: Message<typeof MessageType.RESPONSE>): void {
    const { requestId, status, data, detail } = message.payload;
    const entry = this.#pending.get(peer.nodeId)?.get(requestId);
    if (entry === undefined) {
      this.stats.unmatched++;
      return;
    }
    const what = `request ${entry.protocol} to ${peer.nodeId.slice(0, 16)}`;
    if (status === ResponseStatus.OK) {
      if (data.length <= this.#config.maxResponseBytes) return entry.finish(undefined, data);
      return entry.finish(
        new DirectError("TOO_LARGE", `${what}: response of ${data.length} bytes, over maxResponseBytes`),
      );
    }
    const name = STATUS_NAMES[status] ?? `status ${status}`;
    const because = detail === "" ? name : `${name}: ${detail}`;
    const code = status === ResponseStatus.UNKNOWN_PROTOCOL
      ? "UNKNOWN_PROTOCOL"
      : status === ResponseStatus.TOO_LARGE
      ? "TOO_LARGE"
      : "REFUSED";
    entry.finish(new DirectError(code, `${what} refused (${because})`, name));
  }

  /** A verified REQUEST from `peer`: refused at once when over a bound, else passed to its handler. */
  onRequest(peer: ActivePeer, message: Message<typeof MessageType.REQUEST>): void {
    const { requestId, protocol, data } = message.payload;
    const served = this.#served.get(peer.nodeId) ?? new Map<number, Served>();
    const refuse = (status: number, detail: string) => {
      this.stats.refused++;
      this.#reply(peer, requestId, status, EMPTY, detail);
    };
    // Read off a link already closed (replaced by a newer one): no answer could go back on it.
    if (this.#stopped || !peer.connection.isOpen) return;
    if (served.has(requestId)) return refuse(ResponseStatus.DUPLICATE_ID, `request ${requestId} is in flight`);
    if (served.size >= this.#config.maxServedRequestsPerPeer) {
      return refuse(ResponseStatus.BUSY, `${served.size} of your requests in flight here already`);
    }
    if (data.length > this.#config.maxRequestBytes) {
      return refuse(ResponseStatus.TOO_LARGE, `requests up to ${this.#config.maxRequestBytes} bytes`);
    }
    const handler = this.#handlers.get(protocol);
    if (handler === undefined) return refuse(ResponseStatus.UNKNOWN_PROTOCOL, `no handler for ${protocol}`);
    if (this.#running >= this.#config.maxRunningHandlers) {
      return refuse(ResponseStatus.BUSY, `${this.#running} handlers running here already`);
    }
    const controller = new AbortController();
    served.set(requestId, { controller, connection: peer.connection });
    this.#served.set(peer.nodeId, served);
    let done = false;
    const settle = (status: number, bytes: Uint8Array, detail: string) => {
      if (done) return;
      done = true;
      this.#clock.clearTimeout(timer);
      served.delete(requestId);
      if (served.size === 0 && this.#served.get(peer.nodeId) === served) this.#served.delete(peer.nodeId);
      // Nobody to answer once the requester left or this node stopped.
      if (this.#stopped || !peer.connection.isOpen) return;
      if (status === ResponseStatus.OK) this.stats.served++;
      else this.stats.refused++;
      this.#reply(peer, requestId, status, bytes, detail);
    };
    const timer = this.#clock.setTimeout(() => {
      controller.abort(new WaitTimeoutError(`handler of ${protocol}`, this.#config.handlerTimeoutMs));
    }, this.#config.handlerTimeoutMs);
    // However the handler is cut short (timeout, requester gone, node stopping), its slot is free at once.
    controller.signal.addEventListener("abort", () => {
      const timedOut = controller.signal.reason instanceof WaitTimeoutError;
      settle(ResponseStatus.HANDLER_FAILED, EMPTY, timedOut ? "handler timed out" : "aborted");
    }, { once: true });
    const context: RequestContext = { from: peer.nodeId, protocol, signal: controller.signal };
    this.#running++;
    Promise.resolve().then(() => handler(data, context)).finally(() => this.#running--).then((result) => {
      const bytes = typeof result === "string" ? new TextEncoder().encode(result) : result;
      if (!(bytes instanceof Uint8Array)) {
        this.#log("error", "request handler returned neither bytes nor a string", { protocol });
        settle(ResponseStatus.HANDLER_FAILED, EMPTY, "handler failed");
      } else if (bytes.length > this.#config.maxResponseBytes) {
        this.#log("error", "request handler answered over maxResponseBytes", { protocol, bytes: bytes.length });
        settle(ResponseStatus.HANDLER_FAILED, EMPTY, "response too large");
      } else settle(ResponseStatus.OK, bytes, "");
    }, (error) => {
      // The handler's message stays here: it may say more than the requester should learn.
      if (!done) this.#log("warn", "request handler failed", { protocol, from: peer.nodeId, ...errorFields(error) });
      settle(ResponseStatus.HANDLER_FAILED, EMPTY, "handler failed");
    });
  }

  /** `nodeId` disconnected: its requests in flight fail with PEER_DISCONNECTED, its handlers are aborted. */
  peerDisconnected(nodeId: string): void {
    this.#responseCredits.delete(nodeId);
    for (const entry of [...(this.#pending.get(nodeId)?.values() ?? [])]) {
      entry.finish(
        new DirectError("PEER_DISCONNECTED", `request ${entry.protocol}: ${nodeId.slice(0, 16)} disconnected`),
      );
    }
    for (const { controller } of [...(this.#served.get(nodeId)?.values() ?? [])]) {
      controller.abort(new DirectError("PEER_DISCONNECTED", "the requester disconnected"));
    }
  }

  /**
   * A newer link to `peer` replaced the one (or ones) its requests went over; the peer stays connected. Nothing
   * sent on a closed link can be answered: this node's requests over it fail at once with `LINK_REPLACED`
   * (not sent again: the peer may already have served one, and a handler need not be idempotent; the caller
   * can retry at once over the new link), and the handlers serving the peer's requests from it are aborted,
   * since their answers could not reach it. Requests over the new link are left alone.
   */
  linkReplaced(peer: ActivePeer): void {
    const { nodeId, connection } = peer;
    for (const entry of [...(this.#pending.get(nodeId)?.values() ?? [])]) {
      if (entry.connection === connection) continue;
      entry.finish(
        new DirectError(
          "LINK_REPLACED",
          `request ${entry.protocol}: the link to ${nodeId.slice(0, 16)} was replaced before the response came`,
        ),
      );
    }
    for (const served of [...(this.#served.get(nodeId)?.values() ?? [])]) {
      if (served.connection === connection) continue;
      served.controller.abort(new DirectError("LINK_REPLACED", "the requester's link was replaced"));
    }
  }

  /** The node stops: every request in flight fails with NOT_RUNNING, every handler is aborted. */
  stop(): void {
    this.#stopped = true;
    for (const pending of [...this.#pending.values()]) {
      for (const entry of [...pending.values()]) {
        entry.finish(new DirectError("NOT_RUNNING", `request ${entry.protocol}: the node stopped`));
      }
    }
    for (const served of [...this.#served.values()]) {
      for (const { controller } of [...served.values()]) {
        controller.abort(new DirectError("NOT_RUNNING", "the node stopped"));
      }
    }
  }

  /** Requests in flight to `nodeId` (this node's own). */
  inFlight(nodeId: string): number {
    return this.#pending.get(nodeId)?.size ?? 0;
  }

  /** Requests from `nodeId` being served now. */
  serving(nodeId: string): number {
    return this.#served.get(nodeId)?.size ?? 0;
  }

  #allocateId(pending: Map<number, Pending>): number {
    // At most maxOutgoingRequestsPerPeer ids are taken, so this ends.
    do this.#nextId = this.#nextId >= MAX_REQUEST_ID ? 0 : this.#nextId + 1; while (pending.has(this.#nextId));
    return this.#nextId;
  }

  #reply(peer: ActivePeer, requestId: number, status: number, data: Uint8Array, detail: string): void {
    try {
      this.#link.send(peer, MessageType.RESPONSE, { requestId, status, data, detail });
    } catch (error) {
      this.#log("warn", "response not sent", { peer: peer.nodeId, ...errorFields(error) });
    }
  }
}
