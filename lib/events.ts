/**
 * The node's events for applications: a peer connected, a peer disconnected (with the DISCONNECT reason's
 * name and code and who closed), a peer's trust changed (old, new, cause). Delivered to listeners
 * (`EventTarget`) and to async iterators ({@link NodeEvents.watch}) whose buffers are bounded: a consumer
 * that falls behind loses the oldest events, counted in {@link EventStream.dropped}, and never makes the
 * node hold more than the buffer.
 *
 * @module
 */
import { type BoundedStream, BoundedStreams, type StreamOptions } from "./stream.ts";
import { reasonName } from "./transport/types.ts";

/** A peer became active. */
export interface PeerConnectedEvent {
  /** Event kind. */
  type: "peer-connected";
  /** The peer's full node id (hex). */
  nodeId: string;
  /** The address the connection runs to. */
  address: string;
  /** Who dialed: `outbound` when this node did. */
  direction: "inbound" | "outbound";
  /** When, ms since the epoch (the node's clock). */
  at: number;
}

/** An active peer's connection closed. */
export interface PeerDisconnectedEvent {
  /** Event kind. */
  type: "peer-disconnected";
  /** The peer's full node id (hex). */
  nodeId: string;
  /** The DISCONNECT reason's name (`"EVICTED"`, ...), `"CONNECTION_LOST"` without one, `REASON_<n>` when unknown. */
  reason: string;
  /** The reason code on the wire (0: the connection was lost without a DISCONNECT). */
  code: number;
  /** The detail that came with it. */
  detail: string;
  /** Who closed: `local` when this node did. */
  by: "local" | "remote";
  /** When, ms since the epoch (the node's clock). */
  at: number;
}

/** A peer's earned trust changed. */
export interface TrustChangedEvent {
  /** Event kind. */
  type: "trust-changed";
  /** The peer's full node id (hex). */
  nodeId: string;
  /** Trust before. */
  before: number;
  /** Trust after. */
  after: number;
  /** Why: `invalid_message:<CODE>`, `timeout`, `decay`, ... (the trust event's type). */
  cause: string;
  /** When, ms since the epoch (the node's clock). */
  at: number;
}

/** Any event of {@link NodeEvents}. */
export type NodeEvent = PeerConnectedEvent | PeerDisconnectedEvent | TrustChangedEvent;

/** The name of a DISCONNECT reason code, for people and for {@link PeerDisconnectedEvent.reason}. */
export function disconnectReasonName(code: number): string {
  return reasonName(code);
}

/** Options of {@link NodeEvents.watch}. */
export type WatchOptions = StreamOptions;

/** An async iterator of node events with a bounded buffer. */
export type EventStream = BoundedStream<NodeEvent>;

/**
 * The node's event hub. Listen with `addEventListener("peer-connected", (e) => ...)`: each event is a
 * `CustomEvent` whose `detail` is the {@link NodeEvent}; or iterate {@link NodeEvents.watch}.
 *
 * @example A node's events as they happen
 * ```ts
 * import { KithNode } from "../mod.ts";
 * const config = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 1 };
 * const a = new KithNode({ config });
 * await a.start();
 * const controller = new AbortController();
 * const events = a.watch({ signal: controller.signal });
 * const b = new KithNode({ config: { ...config, bootstrap: [a.address] } });
 * await b.start();
 * for await (const event of events) {
 *   if (event.type === "peer-connected") console.log(event.nodeId === b.nodeId); // true
 *   break;
 * }
 * await b.stop();
 * await a.stop();
 * ```
 */
export class NodeEvents extends EventTarget {
  readonly #streams = new BoundedStreams<NodeEvent>();

  /** Delivers `event` to listeners and streams. A listener's exception is reported, never thrown here. */
  emit(event: NodeEvent): void {
    this.dispatchEvent(new CustomEvent(event.type, { detail: event }));
    this.#streams.push(event);
  }

  /** Streams currently open. */
  get watchers(): number {
    return this.#streams.size;
  }

  /**
   * An async iterator of every event from now on, until `signal` aborts or {@link EventStream.close}.
   *
   * @throws {RangeError} when `bufferSize` is not a positive integer
   */
  watch(options: WatchOptions = {}): EventStream {
    return this.#streams.open(options);
  }

  /** Ends every stream (the node stopped). */
  closeAll(): void {
    this.#streams.closeAll();
  }
}

/** The {@link PeerConnectedEvent} of a connection that became an active peer. */
export function peerConnected(
  connection: { remoteNodeId: string; remoteAddress: string; direction: "inbound" | "outbound" },
  at: number,
): PeerConnectedEvent {
  return {
    type: "peer-connected",
    nodeId: connection.remoteNodeId,
    address: connection.remoteAddress,
    direction: connection.direction,
    at,
  };
}

/** The {@link PeerDisconnectedEvent} of an active peer's connection that closed with `info`. */
export function peerDisconnected(
  nodeId: string,
  info: { reason: number; detail: string; by: "local" | "remote" },
  at: number,
): PeerDisconnectedEvent {
  const reason = disconnectReasonName(info.reason);
  return { type: "peer-disconnected", nodeId, reason, code: info.reason, detail: info.detail, by: info.by, at };
}
