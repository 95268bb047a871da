/**
 * Small byte helpers used across modules. Hashing goes through node:crypto:
 * it is native and synchronous, several times cheaper than WebCrypto's
 * promise for the small inputs of the message path (measured on the build
 * machine; the message path's costs are in BENCHMARKS.md).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  // Native and flat: a string built by `+=` is a rope of one node per byte until V8 flattens it, which
  // costs about 1 KB per 32-byte id held in a map.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** The bytes of a {@link bytesKey} string. */
export function keyBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
  return out;
}

/** Bytes of a hex string; `undefined` when it is not even-length lowercase or uppercase hex. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer as ArrayBuffer, d.byteOffset, d.byteLength);
}

/** SHA-512 of the concatenation of `parts`. */
export function sha512(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer as ArrayBuffer, d.byteOffset, d.byteLength);
}

/** Whether `a` and `b` hold the same bytes (not constant-time; for public data only). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One array holding `parts` back to back. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A string usable as a Map key for short byte strings (one char per byte). */
export function bytesKey(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

// The message id keyed last and its key: gossip, the topic delivery and the topic log each key the id of the
// message they take, the same array in one turn, and one string serves them all (an id is never changed).
let lastKeyedId: Uint8Array | undefined;
let lastIdKey = "";

/**
 * {@link bytesKey} of a message id, the string made for the last id (by identity) when it is the same array:
 * the steps of one message's receive path share one key instead of making one each. Only for arrays whose bytes
 * never change once made (message ids are), never for a view into a buffer that is reused.
 */
export function idKey(id: Uint8Array): string {
  if (id !== lastKeyedId) {
    lastIdKey = bytesKey(id);
    lastKeyedId = id;
  }
  return lastIdKey;
}

/** Bytes of a {@link ByteArena}'s first chunk (each next one is twice the last, up to its `chunkBytes`). */
export const BYTE_ARENA_FIRST_CHUNK = 1024;

/**
 * Keeps many short byte strings in shared chunks instead of an ArrayBuffer each. A buffer of its own costs
 * about 300 bytes beyond its contents (the ArrayBuffer and view objects on the heap, a backing store and a
 * malloc block off it) and a malloc and free per message on the hot path; a view into a chunk costs about
 * 100. Made for data that is dropped roughly in the order it was added (a message store evicting its
 * oldest first): a chunk is freed by the garbage collector once no view into it is left, so one long-lived
 * view keeps its whole chunk alive.
 *
 * The first chunk is small ({@link BYTE_ARENA_FIRST_CHUNK}) and each next one twice the last, up to
 * `chunkBytes`: an arena that keeps a few byte strings (a quiet topic's store) holds about as much as they
 * are, not a full chunk, while a busy one reaches full chunks after a few.
 *
 * @example
 * ```ts
 * import { ByteArena } from "./bytes.ts";
 * const arena = new ByteArena(1024);
 * const kept = arena.copy(new Uint8Array([1, 2, 3]));
 * console.assert(kept.length === 3 && kept[2] === 3);
 * ```
 */
export class ByteArena {
  /** Bytes of the largest chunks; byte strings over a quarter of it get a buffer of their own. */
  readonly chunkBytes: number;
  #chunk: Uint8Array | undefined;
  #used = 0;

  /**
   * Creates an arena whose chunks grow from {@link BYTE_ARENA_FIRST_CHUNK} bytes (or `chunkBytes` if smaller) to
   * `chunkBytes` (default 64 KiB); the first is made on first use.
   */
  constructor(chunkBytes = 64 * 1024) {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 64) throw new RangeError("chunkBytes must be at least 64");
    this.chunkBytes = chunkBytes;
  }

  /** A copy of `bytes` that shares a chunk with its neighbours (a buffer of its own when large). */
  copy(bytes: Uint8Array): Uint8Array {
    const length = bytes.length;
    if (length * 4 > this.chunkBytes) return bytes.slice();
    let chunk = this.#chunk;
    if (chunk === undefined || this.#used + length > chunk.length) {
      let size = chunk === undefined ? Math.min(BYTE_ARENA_FIRST_CHUNK, this.chunkBytes) : chunk.length * 2;
      while (size < length) size *= 2;
      this.#chunk = chunk = new Uint8Array(Math.min(size, this.chunkBytes));
      this.#used = 0;
    }
    const start = this.#used;
    chunk.set(bytes, start);
    this.#used = start + length;
    return chunk.subarray(start, start + length);
  }
}
