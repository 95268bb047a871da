/**
 * A relay circuit's byte pipe: copies each leg's bytes to the other, counts them against the circuit's
 * byte budget (both directions together) and its duration, and closes both legs at the first limit
 * reached, or when either leg ends. The relay reads nothing it copies: the ends run kith's handshake
 * through it, so it carries ciphertext only.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { type ByteConn, closeQuietly } from "../transport/connection.ts";
import type { CircuitEnd } from "./book.ts";

/** Bytes read from a leg at a time. */
const CHUNK_BYTES = 16 * 1024;

/** The limits of one splice. */
export interface SpliceLimits {
  /** Bytes carried, both directions together, before both legs are closed. */
  maxBytes: number;
  /** Longest the splice lasts, ms. */
  maxDurationMs: number;
}

/**
 * Splices `a` and `b` until one ends or a limit is reached; `onBytes` is told of every chunk carried.
 * Resolves with why it ended, once both legs are closed. Never rejects.
 */
export async function splice(
  a: ByteConn,
  b: ByteConn,
  limits: SpliceLimits,
  clock: Clock,
  onBytes: (n: number) => void,
): Promise<CircuitEnd> {
  let carried = 0;
  let why: CircuitEnd | undefined;
  const stop = (reason: CircuitEnd) => {
    why ??= reason;
    closeQuietly(a);
    closeQuietly(b);
  };
  const timer = clock.setTimeout(() => stop("duration"), limits.maxDurationMs);
  const pump = async (from: ByteConn, to: ByteConn) => {
    const buffer = new Uint8Array(CHUNK_BYTES);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        // Never forward past the budget: what is over it is dropped with the circuit.
        const allowed = Math.min(n, limits.maxBytes - carried);
        carried += allowed;
        onBytes(allowed);
        let offset = 0;
        while (offset < allowed) offset += await to.write(buffer.subarray(offset, allowed));
        if (carried >= limits.maxBytes) {
          stop("bytes");
          break;
        }
      }
    } catch {
      // A leg closed or reset: the circuit ends.
    }
    stop("closed");
  };
  await Promise.all([pump(a, b), pump(b, a)]);
  clock.clearTimeout(timer);
  return why ?? "closed";
}
