/**
 * Delivery of direct messages to the application: to handlers ({@link DirectInbox.onMessage}) and to
 * async iterators with bounded buffers ({@link DirectInbox.stream}).
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import { errorFields, type LogSink } from "../log.ts";
import type { Message, MessageType } from "../protocol/mod.ts";
import { type BoundedStream, BoundedStreams, type StreamOptions } from "../stream.ts";

/** A direct message as delivered. */
export interface DirectMessage {
  /** Node id of the peer that sent it (hex): its origin, who signed it. */
  from: string;
  /** The bytes. */
  data: Uint8Array;
  /** When the sender created it, ms since the epoch. */
  timestamp: number;
  /** Message id (hex). */
  id: string;
}

/** Handlers and streams of direct messages. */
export class DirectInbox {
  /** Messages that arrived when no handler or stream was open (dropped). */
  undelivered = 0;
  readonly #handlers = new Set<(message: DirectMessage) => void>();
  readonly #streams = new BoundedStreams<DirectMessage>();
  readonly #log: LogSink;

  /** Creates an inbox that reports handler failures to `log`. */
  constructor(log: LogSink) {
    this.#log = log;
  }

  /** Calls `handler` with each direct message from now on; returns what removes it. */
  onMessage(handler: (message: DirectMessage) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** An async iterator of direct messages from now on, with a bounded buffer. */
  stream(options: StreamOptions = {}): BoundedStream<DirectMessage> {
    return this.#streams.open(options);
  }

  /** Delivers a verified DIRECT_MESSAGE. */
  deliver(message: Message<typeof MessageType.DIRECT_MESSAGE>): void {
    if (this.#handlers.size === 0 && this.#streams.size === 0) {
      this.undelivered++;
      return;
    }
    const delivered: DirectMessage = {
      from: toHex(message.origin),
      data: message.payload.data,
      timestamp: message.timestamp,
      id: toHex(message.id),
    };
    for (const handler of this.#handlers) {
      try {
        handler(delivered);
      } catch (error) {
        this.#log("error", "direct message handler failed", { from: delivered.from, ...errorFields(error) });
      }
    }
    this.#streams.push(delivered);
  }

  /** Ends every stream (the node stopped). */
  close(): void {
    this.#streams.closeAll();
    this.#handlers.clear();
  }
}
