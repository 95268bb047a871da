/**
 * Bounded fan-out streams: values pushed to every open async iterator, each with a buffer of its own that
 * keeps the newest values when its consumer falls behind (the oldest are dropped and counted), so a slow
 * consumer never makes the node hold more than its buffer.
 *
 * @module
 */

/** Options of {@link BoundedStreams.open}. */
export interface StreamOptions {
  /** Ends the stream when aborted (a pending iteration finishes). */
  signal?: AbortSignal;
  /** Values held for a slow consumer before the oldest are dropped. Default 1,024. */
  bufferSize?: number;
}

/** An async iterator over a bounded buffer. */
export interface BoundedStream<T> extends AsyncIterable<T> {
  /** Values dropped (oldest first) because the consumer fell behind. */
  readonly dropped: number;
  /** Ends the stream; a pending iteration finishes. */
  close(): void;
}

const DEFAULT_BUFFER = 1_024;

/** The open streams of one source. */
export class BoundedStreams<T> {
  readonly #streams = new Map<(value: T) => void, () => void>();

  /** Streams open now. */
  get size(): number {
    return this.#streams.size;
  }

  /** Pushes `value` to every open stream. */
  push(value: T): void {
    for (const deliver of this.#streams.keys()) deliver(value);
  }

  /** Ends every stream. */
  closeAll(): void {
    for (const close of [...this.#streams.values()]) close();
  }

  /**
   * A stream of the values pushed from now on, until `signal` aborts or it is closed.
   *
   * @throws {RangeError} when `bufferSize` is not a positive integer
   */
  open(options: StreamOptions = {}): BoundedStream<T> {
    const capacity = options.bufferSize ?? DEFAULT_BUFFER;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError("bufferSize must be a positive integer");
    const buffer: T[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    let dropped = 0;
    const deliver = (value: T) => {
      if (buffer.length >= capacity) {
        buffer.shift();
        dropped++;
      }
      buffer.push(value);
      wake?.();
    };
    const close = () => {
      ended = true;
      this.#streams.delete(deliver);
      options.signal?.removeEventListener("abort", close);
      wake?.();
    };
    if (options.signal?.aborted) ended = true;
    else {
      this.#streams.set(deliver, close);
      options.signal?.addEventListener("abort", close, { once: true });
    }
    return {
      get dropped() {
        return dropped;
      },
      close,
      async *[Symbol.asyncIterator]() {
        try {
          while (!ended) {
            if (buffer.length > 0) {
              yield buffer.shift()!;
              continue;
            }
            await new Promise<void>((resolve) => wake = resolve);
            wake = undefined;
          }
        } finally {
          close();
        }
      },
    };
  }
}
