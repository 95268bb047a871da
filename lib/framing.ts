/**
 * Length-prefixed framing: `[4-byte big-endian length][body]`.
 *
 * The decoder is incremental: it takes whatever a socket read returns (half
 * a frame, several frames, a frame split at any byte) and hands back whole
 * bodies. A length prefix above the maximum is refused as soon as its four
 * bytes are in, before anything is allocated for the body, so a peer cannot
 * make a node reserve memory by announcing a large frame.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";

/** Default maximum frame body: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Bytes in the length prefix. */
export const FRAME_HEADER_BYTES = 4;
/** Largest maximum a decoder accepts (the prefix is 32 bits; this keeps it well inside). */
export const MAX_FRAME_LIMIT = 64 * 1024 * 1024;

/** `body` with its 4-byte big-endian length prefix. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Splits a byte stream into frame bodies.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder } from "./framing.ts";
 * const decoder = new FrameDecoder();
 * const wire = encodeFrame(new Uint8Array([1, 2, 3]));
 * decoder.push(wire.subarray(0, 2)); // []
 * decoder.push(wire.subarray(2));    // [Uint8Array [1, 2, 3]]
 * ```
 */
export class FrameDecoder {
  /** Largest body accepted, in bytes. */
  maxFrameBytes: number;
  // Bytes of an unfinished frame (header and/or partial body).
  #buffer: Uint8Array = new Uint8Array(0);
  #buffered = 0;
  // Body length of the frame being assembled, once its header is complete.
  #expected = -1;

  /**
   * Creates a decoder for one stream.
   *
   * @param maxFrameBytes largest body accepted (default 1 MiB, at most 64 MiB)
   */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > MAX_FRAME_LIMIT) {
      throw new RangeError(`maxFrameBytes must be an integer in 1..${MAX_FRAME_LIMIT}, got ${maxFrameBytes}`);
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /**
   * Changes the largest body accepted from now on (a connection accepts
   * small frames until its handshake authenticates the peer, then larger).
   */
  setMaxFrameBytes(maxFrameBytes: number): void {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > MAX_FRAME_LIMIT) {
      throw new RangeError(`maxFrameBytes must be an integer in 1..${MAX_FRAME_LIMIT}, got ${maxFrameBytes}`);
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for a frame not yet complete; never more than 4 + maxFrameBytes. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * Feeds bytes read from the stream; returns the bodies completed by them,
   * each a fresh copy the caller may keep. With `views`, bodies that lie
   * whole in `chunk` are views of it instead (no copy): for a caller that is
   * done with them before it reuses `chunk`.
   *
   * @throws {ProtocolError} `FRAME_TOO_LARGE` or `FRAME_EMPTY`; the stream is
   * then unusable and the connection should be closed.
   */
  push(chunk: Uint8Array, views = false): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#buffered === 0) {
        // Fast path: whole frames straight from the chunk, no buffering.
        if (chunk.length - offset < FRAME_HEADER_BYTES) {
          offset = this.#append(chunk, offset, chunk.length - offset);
          continue;
        }
        const length = this.#checkLength(
          ((chunk[offset] << 24) >>> 0) + (chunk[offset + 1] << 16) + (chunk[offset + 2] << 8) + chunk[offset + 3],
        );
        const end = offset + FRAME_HEADER_BYTES + length;
        if (end <= chunk.length) {
          frames.push(
            views ? chunk.subarray(offset + FRAME_HEADER_BYTES, end) : chunk.slice(offset + FRAME_HEADER_BYTES, end),
          );
          offset = end;
          continue;
        }
        this.#expected = length;
        offset = this.#append(chunk, offset, chunk.length - offset);
        continue;
      }
      if (this.#expected < 0) {
        const need = FRAME_HEADER_BYTES - this.#buffered;
        offset = this.#append(chunk, offset, Math.min(need, chunk.length - offset));
        if (this.#buffered < FRAME_HEADER_BYTES) continue;
        const b = this.#buffer;
        this.#expected = this.#checkLength(((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3]);
      }
      const missing = FRAME_HEADER_BYTES + this.#expected - this.#buffered;
      offset = this.#append(chunk, offset, Math.min(missing, chunk.length - offset));
      if (this.#buffered === FRAME_HEADER_BYTES + this.#expected) {
        frames.push(this.#buffer.slice(FRAME_HEADER_BYTES, this.#buffered));
        this.#buffered = 0;
        this.#expected = -1;
        // Let a large buffer go once its frame is out; small ones are reused.
        if (this.#buffer.length > 64 * 1024) this.#buffer = new Uint8Array(0);
      }
    }
    return frames;
  }

  #checkLength(length: number): number {
    if (length > this.maxFrameBytes) {
      throw new ProtocolError(
        "FRAME_TOO_LARGE",
        `frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes}`,
      );
    }
    if (length === 0) throw new ProtocolError("FRAME_EMPTY", "frame with a zero length prefix");
    return length;
  }

  #append(chunk: Uint8Array, offset: number, count: number): number {
    const needed = this.#buffered + count;
    if (needed > this.#buffer.length) {
      // Grow geometrically toward the announced size (bounded by the checked
      // maximum), so memory follows the bytes actually received, not the
      // length a peer claims.
      const target = this.#expected >= 0 ? FRAME_HEADER_BYTES + this.#expected : needed;
      const grown = new Uint8Array(Math.min(Math.max(target, 64), Math.max(needed, this.#buffer.length * 2, 64)));
      grown.set(this.#buffer.subarray(0, this.#buffered));
      this.#buffer = grown;
    }
    this.#buffer.set(chunk.subarray(offset, offset + count), this.#buffered);
    this.#buffered = needed;
    return offset + count;
  }
}
