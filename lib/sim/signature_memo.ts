/**
 * A memo of valid signature checks, shared by a simulation's nodes.
 *
 * An Ed25519 check is a pure function of (signature, message, public key), and in a simulation every node
 * checks the same message's signature once: one process holding thousands of nodes repeats the same check
 * thousands of times. The memo answers a repeated valid check from memory, so a simulated node's answers
 * (and its counted checks) are exactly those of the node that ships; only the process's CPU changes. Only
 * valid answers are kept: a forgery is new bytes every time an attacker makes one, so keeping them would
 * fill the memo with what is never asked again. For the simulator only; a real node checks every time.
 *
 * @module
 */
import { verifySignature } from "../ed25519.ts";

/** A signature check with a bounded memo of its valid answers, and counters. */
export interface SignatureMemo {
  /** Checks as {@link verifySignature} does, answering a repeated valid check from the memo. */
  check(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /** Checks answered from the memo, and checks run. */
  readonly stats: { hits: number; checked: number };
}

/**
 * Creates a memo of at most `maxEntries` valid checks (the oldest goes first when it is full).
 * @throws {RangeError} when `maxEntries` is not a positive integer
 */
export function signatureMemo(maxEntries = 262_144, check = verifySignature): SignatureMemo {
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  }
  const valid = new Set<string>();
  const stats = { hits: 0, checked: 0 };
  // The whole of all three inputs is the key (one char per byte, lengths first), so no two checks share one.
  const keyOf = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => {
    let key = String.fromCharCode(signature.length, message.length >> 8, message.length & 255, publicKey.length);
    for (const part of [signature, publicKey, message]) {
      for (let i = 0; i < part.length; i += 4096) key += String.fromCharCode(...part.subarray(i, i + 4096));
    }
    return key;
  };
  return {
    stats,
    check(signature, message, publicKey) {
      const key = keyOf(signature, message, publicKey);
      if (valid.has(key)) {
        stats.hits++;
        return true;
      }
      stats.checked++;
      if (!check(signature, message, publicKey)) return false;
      if (valid.size >= maxEntries) valid.delete(valid.values().next().value!);
      valid.add(key);
      return true;
    },
  };
}
