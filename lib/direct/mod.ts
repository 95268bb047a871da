/**
 * Direct messages and request/response between peers: DIRECT_MESSAGE, REQUEST and RESPONSE, sent signed
 * at TTL 0 over a peer's encrypted link, never gossiped or forwarded. The node routes those types here
 * instead of to gossip ({@link DIRECT_TYPES}); {@link DirectChannel} ties the link checks
 * (`link.ts`), delivery (`inbox.ts`) and requests in flight (`requests.ts`) together.
 *
 * @module
 */
import type { ActivePeer } from "../peers/types.ts";
import { type Envelope, MessageType } from "../protocol/mod.ts";
import { DirectError } from "./errors.ts";
import type { DirectInbox } from "./inbox.ts";
import { DirectLink, type DirectLinkOptions, type DirectStats } from "./link.ts";
import { type RequestHandler, type RequestOptions, Requests, type RequestStats } from "./requests.ts";

export { DEFAULT_DIRECT_CONFIG, type DirectConfig, resolveDirectConfig } from "./config.ts";
export { DirectError, type DirectErrorCode } from "./errors.ts";
export { DirectInbox, type DirectMessage } from "./inbox.ts";
export { DIRECT_TYPES, type DirectStats, supportsDirect } from "./link.ts";
export {
  registerHandler,
  type RequestContext,
  type RequestHandler,
  type RequestOptions,
  type RequestStats,
} from "./requests.ts";

/** Counters of a {@link DirectChannel}. */
export type DirectChannelStats = DirectStats & RequestStats & {
  /** Direct messages that arrived with no handler or stream open. */
  undelivered: number;
};

/** Direct traffic of one node: what it sends, what it takes, and the requests in flight both ways. */
export class DirectChannel {
  /** Handlers and streams of direct messages. */
  readonly inbox: DirectInbox;
  /** Requests in flight and the handlers serving them. */
  readonly requests: Requests;
  readonly #link: DirectLink;
  readonly #options: DirectLinkOptions;
  #stopped = false;

  /**
   * Creates the channel; it takes traffic once the node routes it here. The inbox and the request handlers
   * are the node's own, made before it started, so handlers can be registered before start.
   */
  constructor(options: DirectLinkOptions, inbox: DirectInbox, handlers: ReadonlyMap<string, RequestHandler>) {
    this.#options = options;
    this.#link = new DirectLink(options);
    this.inbox = inbox;
    this.requests = new Requests(this.#link, handlers, options.config, options.clock, options.log);
  }

  /** Counters of the link side and of requests. */
  get stats(): DirectChannelStats {
    return { ...this.#link.stats, ...this.requests.stats, undelivered: this.inbox.undelivered };
  }

  /**
   * Sends `data` to the active peer `nodeId` as a DIRECT_MESSAGE.
   *
   * @throws {DirectError} `NOT_RUNNING`, `TOO_LARGE`, `NOT_A_PEER`, `PEER_UNSUPPORTED`, `RATE_LIMITED`, `QUEUE_FULL`
   */
  send(nodeId: string, data: Uint8Array): void {
    if (this.#stopped) throw new DirectError("NOT_RUNNING", "direct message: the node is not running");
    const limit = this.#options.config.maxDirectMessageBytes;
    if (data.length > limit) {
      throw new DirectError("TOO_LARGE", `direct message of ${data.length} bytes, over maxDirectMessageBytes ${limit}`);
    }
    const peer = this.#link.peer(nodeId);
    this.#link.takeSendToken(peer);
    this.#link.send(peer, MessageType.DIRECT_MESSAGE, { data });
  }

  /** Sends a REQUEST; see {@link Requests.request}. */
  request(nodeId: string, protocol: string, data: Uint8Array, options?: RequestOptions): Promise<Uint8Array> {
    return this.requests.request(nodeId, protocol, data, options);
  }

  /** An envelope of one of the {@link DIRECT_TYPES} from `peer`: checked, then delivered or served. */
  receive(peer: ActivePeer, envelope: Envelope): void {
    if (this.#stopped) return;
    const rated = envelope.type !== MessageType.RESPONSE || !this.requests.takeResponseCredit(peer.nodeId);
    const message = this.#link.accept(peer, envelope, rated);
    if (message === undefined) return;
    switch (message.type) {
      case MessageType.DIRECT_MESSAGE:
        this.inbox.deliver(message);
        break;
      case MessageType.REQUEST:
        this.requests.onRequest(peer, message);
        break;
      case MessageType.RESPONSE:
        this.requests.onResponse(peer, message);
        break;
    }
  }

  /** `nodeId` is no longer an active peer. */
  peerDisconnected(nodeId: string): void {
    this.requests.peerDisconnected(nodeId);
    this.#link.forget(nodeId);
  }

  /** A newer link to `peer` replaced its old one: see {@link Requests.linkReplaced} (its rates stand: it stayed). */
  peerReplaced(peer: ActivePeer): void {
    this.requests.linkReplaced(peer);
  }

  /** The node stops: requests in flight fail, handlers are aborted, streams end. */
  stop(): void {
    this.#stopped = true;
    this.requests.stop();
    this.inbox.close();
  }
}
