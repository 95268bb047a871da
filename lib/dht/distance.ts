/**
 * Kademlia's XOR metric over 32-byte node ids (SHA-256 of a public key) and keys: the distance of two ids is
 * their bitwise XOR read as a big-endian number, and the bucket an id falls in, seen from a local id, is the
 * length of the prefix the two share.
 *
 * @module
 */

/** Length of node ids and keys, bytes. */
export const ID_BYTES = 32;

/** Bits in an id: there is one bucket per shared-prefix length, 0..255. */
export const ID_BITS = ID_BYTES * 8;

/**
 * The number of leading bits `a` and `b` share (0..256; 256 when equal): the index of the bucket `b` falls in
 * as seen from `a`. A larger index is a closer id.
 *
 * @example
 * ```ts
 * import { commonPrefixLength } from "./distance.ts";
 * const a = new Uint8Array(32), b = new Uint8Array(32);
 * b[0] = 0x40; // 0100_0000: the first bit agrees, the second differs
 * console.log(commonPrefixLength(a, b)); // 1
 * ```
 */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BITS;
}

/** Negative when `a` is closer to `target` than `b`, positive when farther, 0 when equally far (a equals b). */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const da = a[i] ^ target[i], db = b[i] ^ target[i];
    if (da !== db) return da - db;
  }
  return 0;
}

/** The XOR distance of `a` and `b`, as 32 bytes (big-endian). */
export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(ID_BYTES);
  for (let i = 0; i < ID_BYTES; i++) out[i] = a[i] ^ b[i];
  return out;
}
