/**
 * The control API's Server-Sent Events streams, bounded: each stream queues at most a high-water mark of bytes
 * for its client, and only so many streams are open at once.
 *
 * A client that falls behind (its queue would pass the mark) loses the events that do not fit; once it has
 * room again it gets `event: dropped` with `data: {"count": N}`, N being the events it missed since the last
 * such notice, before any further event. The stream stays open, except that when every slot is taken, a new
 * stream replaces the one that has been dropping events the longest: a client that stopped reading must not
 * hold a slot against one that reads. With no stream dropping, the new one is refused.
 *
 * @module
 */

/** Bytes a stream may queue for a slow client before its events are dropped, by default. */
export const DEFAULT_STREAM_HIGH_WATER_BYTES = 1024 * 1024;
/** Event streams open at once, by default; one more replaces a stream that is dropping events, or is refused. */
export const DEFAULT_MAX_EVENT_STREAMS = 16;

/** Counters of the event streams of one API. */
export interface EventStreamStats {
  /** Streams open now. */
  open: number;
  /** Streams opened since start. */
  accepted: number;
  /** Streams refused because `open` was at the cap and no open stream was dropping events. */
  refused: number;
  /** Streams closed to make room for a new one, because they were dropping events (their client stopped reading). */
  replaced: number;
  /** Events dropped because their client was behind, over all streams. */
  dropped: number;
  /** The most bytes any one stream has held queued (over the high-water mark only for one event larger than it). */
  peakQueuedBytes: number;
}

/**
 * Sends one event to a stream's client, or drops it when the client is too far behind; `json` (the event's
 * data, one line of JSON) is called only when the event is sent, so a dropped event costs no encoding.
 */
export type SendEvent = (event: string, json: () => string) => void;

/** A set of bounded event streams. */
export class EventStreams {
  readonly #highWater: number;
  readonly #max: number;
  // Each open stream's end, with the order in which it began dropping events (undefined while it keeps up).
  readonly #ends = new Map<(discard?: boolean) => void, { stalled: number | undefined }>();
  #stalls = 0;
  readonly #stats = { accepted: 0, refused: 0, replaced: 0, dropped: 0, peakQueuedBytes: 0 };

  /**
   * @param highWaterBytes bytes one stream may queue
   * @param maxStreams streams open at once
   * @throws {RangeError} when either is not a positive integer
   */
  constructor(highWaterBytes = DEFAULT_STREAM_HIGH_WATER_BYTES, maxStreams = DEFAULT_MAX_EVENT_STREAMS) {
    if (!Number.isInteger(highWaterBytes) || highWaterBytes < 1) {
      throw new RangeError("eventStreamHighWaterBytes must be a positive integer");
    }
    if (!Number.isInteger(maxStreams) || maxStreams < 1) {
      throw new RangeError("maxEventStreams must be a positive integer");
    }
    this.#highWater = highWaterBytes;
    this.#max = maxStreams;
  }

  /** A copy of the counters. */
  stats(): EventStreamStats {
    return { open: this.#ends.size, ...this.#stats };
  }

  /**
   * A `text/event-stream` response, or `undefined` when the cap is reached. `attach` subscribes and returns its
   * subscriptions, which end with the stream (client gone, write failed, or {@link EventStreams.closeAll}).
   * A comment every 15 s keeps idle proxies from closing it.
   *
   * @throws what `attach` throws (the stream is then not opened and takes no slot)
   */
  open(greeting: string, attach: (send: SendEvent) => { unsubscribe(): void }[]): Response | undefined {
    if (this.#ends.size >= this.#max && !this.#replaceStalled()) {
      this.#stats.refused++;
      return undefined;
    }
    const encoder = new TextEncoder();
    const highWater = this.#highWater;
    const stats = this.#stats;
    let subscriptions: { unsubscribe(): void }[] = [];
    let keepAlive: ReturnType<typeof setInterval> | undefined;
    let end: (discard?: boolean) => void = () => {};
    let missed = 0;
    const state: { stalled: number | undefined } = { stalled: undefined };
    const miss = () => {
      missed++;
      stats.dropped++;
      state.stalled ??= ++this.#stalls;
    };
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const queued = () => highWater - (controller?.desiredSize ?? highWater);
    // Enqueues `text` after any pending drop notice when it fits under the mark (or the queue is empty).
    const write = (text: string, droppable: boolean): boolean => {
      if (controller === undefined) return false;
      const notice = missed > 0 ? `event: dropped\ndata: ${JSON.stringify({ count: missed })}\n\n` : "";
      const bytes = encoder.encode(notice + text);
      const held = queued();
      if (droppable && held > 0 && held + bytes.length > highWater) return false;
      try {
        controller.enqueue(bytes);
      } catch {
        end();
        return false;
      }
      missed = 0;
      // Caught up only once its queue had emptied: a client that stopped reading never empties it, however
      // often a notice still fits.
      if (held === 0) state.stalled = undefined;
      stats.peakQueuedBytes = Math.max(stats.peakQueuedBytes, queued());
      return true;
    };
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        // `discard` errors the body instead of closing it: a closed body still holds its queue until the
        // client reads it all, which a client that stopped reading never does (the server keeps the
        // connection and up to the mark of bytes for it); an errored one drops both.
        end = (discard = false) => {
          for (const s of subscriptions) s.unsubscribe();
          subscriptions = [];
          if (keepAlive !== undefined) clearInterval(keepAlive);
          this.#ends.delete(end);
          controller = undefined;
          try {
            if (discard) c.error(new Error("event stream replaced: its client stopped reading"));
            else c.close();
          } catch {
            // Already closed.
          }
        };
        this.#ends.set(end, state);
        write(`: ${greeting}\n\n`, false);
        try {
          subscriptions = attach((event, json) => {
            if (controller !== undefined && queued() >= highWater) miss();
            else if (!write(`event: ${event}\ndata: ${json()}\n\n`, true) && controller !== undefined) miss();
          });
        } catch (error) {
          // Refused as it subscribed: the stream never opens, and must not keep its slot.
          end();
          throw error;
        }
        keepAlive = setInterval(() => {
          if (queued() === 0) write(": keep-alive\n\n", true);
        }, 15_000);
      },
      // The client has room again: tell it what it missed without waiting for the next event.
      pull: () => {
        if (missed > 0) write("", true);
      },
      cancel: () => end(),
    }, { highWaterMark: highWater, size: (chunk) => chunk.byteLength });
    this.#stats.accepted++;
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" },
    });
  }

  /** Ends every open stream. */
  closeAll(): void {
    for (const end of [...this.#ends.keys()]) end();
  }

  /** Ends the stream that began dropping events first, if any is dropping; returns whether one was ended. */
  #replaceStalled(): boolean {
    let victim: ((discard?: boolean) => void) | undefined, first = Infinity;
    for (const [end, { stalled }] of this.#ends) {
      if (stalled !== undefined && stalled < first) [victim, first] = [end, stalled];
    }
    if (victim === undefined) return false;
    this.#stats.replaced++;
    victim(true);
    return true;
  }
}
