/**
 * The reconciliation ranges on the wire: {@link SyncRange}s as CATCHUP_RECONCILE carries them. A bound's
 * timestamp is sent as its distance from the previous bound plus one (0 is the end of the order), so that
 * bounds only grow and most fit in a few bytes (docs/protocol.md, "Catch-up").
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import type { CatchupRangeFields } from "../protocol/mod.ts";
import type { SyncRange } from "./reconcile.ts";

/** The wire form of `ranges` (which must be in order, as a Reconciler makes them). */
export function encodeRanges(ranges: readonly SyncRange[]): CatchupRangeFields[] {
  let previous = 0;
  return ranges.map((range) => {
    const { upper } = range;
    let timestamp = 0;
    if (upper.timestamp !== Infinity) {
      timestamp = upper.timestamp - previous + 1;
      previous = upper.timestamp;
    }
    if ("skip" in range) return { timestamp, id: upper.id, mode: 0, value: new Uint8Array(0) };
    if ("fingerprint" in range) return { timestamp, id: upper.id, mode: 1, value: range.fingerprint };
    return { timestamp, id: upper.id, mode: 2, value: range.ids };
  });
}

/**
 * The ranges a decoded CATCHUP_RECONCILE carries (its schema already bounded and typed every field).
 *
 * @throws {ProtocolError} BAD_FIELD when a bound lies past the largest safe timestamp
 */
export function decodeRanges(fields: readonly CatchupRangeFields[]): SyncRange[] {
  let previous = 0;
  return fields.map((field) => {
    let timestamp = Infinity;
    if (field.timestamp !== 0) {
      timestamp = previous + field.timestamp - 1;
      if (!Number.isSafeInteger(timestamp)) {
        throw new ProtocolError("BAD_FIELD", "CATCHUP_RECONCILE: a bound is too late");
      }
      previous = timestamp;
    }
    const upper = { timestamp, id: field.id };
    if (field.mode === 0) return { upper, skip: true as const };
    if (field.mode === 1) return { upper, fingerprint: field.value as Uint8Array };
    return { upper, ids: field.value as Uint8Array[] };
  });
}

/** How many ids `ranges` list. */
export function countIds(ranges: readonly SyncRange[]): number {
  let n = 0;
  for (const range of ranges) if ("ids" in range) n += range.ids.length;
  return n;
}
