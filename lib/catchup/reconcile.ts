/**
 * Range-based set reconciliation (after Meyer's RBSR and the Negentropy protocol): two nodes that each hold a
 * set of message ids, ordered by (timestamp, id), find the ids one has and the other lacks, at a cost that
 * grows with the difference rather than with the sets.
 *
 * A message is a list of ranges that together cover the part of the order still in question, each either a
 * fingerprint of the sender's ids in it, or the list of those ids. The receiver answers each range:
 * - a fingerprint equal to its own: that range agrees, and drops out;
 * - a fingerprint that differs: its own ids in the range if they are few (at most `listThreshold`), else the
 *   range split into `branches` parts, each with its fingerprint;
 * - a list of ids: compared with its own ids in the range, which settles the range both ways: the receiver
 *   now knows what it lacks (`need`) and what the sender lacks (`have`), and handles both (it asks for the
 *   first and sends the second, outside this module).
 * Ranges past a message's last one are settled. Each answer is at most `maxRanges` ranges (and one split):
 * when the message asks more, the rest of the order goes back as one range, still in question, so that a large
 * difference takes more rounds, never a later session.
 *
 * A bound between two items is as short as tells them apart: the later one's timestamp alone when the earlier
 * one's is smaller, else the shortest prefix of the later one's id that the earlier one's is below.
 *
 * A fingerprint is the first 16 bytes of SHA-256 over the ids' sum modulo 2^256 and their count: the sum
 * makes it independent of order and of how a range is cut. A sum is easy to match with chosen values, but
 * message ids are SHA-256 digests of signed content, so matching another set's sum with real messages needs
 * SHA-256 preimages (as Negentropy argues for its own sums).
 *
 * Pure logic: no clock, I/O or randomness.
 *
 * @module
 */
import { sha256 } from "../bytes.ts";

/** One item of a set: when the message was made and its 32-byte id. */
export interface SyncItem {
  /** The message's timestamp, ms since the epoch. */
  readonly timestamp: number;
  /** Its id, 32 bytes. */
  readonly id: Uint8Array;
}

/** A position in the order: items below it come before it. `timestamp` Infinity is the end. */
export interface SyncBound {
  /** Timestamp of the first item at or after the bound. */
  timestamp: number;
  /** Id of that item (empty: any id at that timestamp counts as at or after it). */
  id: Uint8Array;
}

/** One range of a reconciliation message: from the previous range's upper bound (or the start) to `upper`. */
export type SyncRange =
  /** The sender's ids in the range, summed and hashed (16 bytes), and how many there are. */
  | { upper: SyncBound; fingerprint: Uint8Array }
  /** The sender's ids in the range, all of them. */
  | { upper: SyncBound; ids: Uint8Array[] }
  /** The range is settled or not in question: only its bound is carried. */
  | { upper: SyncBound; skip: true };

/** Settings of a {@link Reconciler}. */
export interface ReconcileConfig {
  /** A range of at most this many ids is answered with the ids themselves. Default 16. */
  listThreshold: number;
  /** Parts a range whose fingerprint differs is split into. Default 16. */
  branches: number;
  /** Most ranges in one answer. Default 1,024. */
  maxRanges: number;
}

/** The default {@link ReconcileConfig}. */
export const DEFAULT_RECONCILE_CONFIG: Readonly<ReconcileConfig> = Object.freeze({
  listThreshold: 16,
  branches: 16,
  maxRanges: 1_024,
});

/** Most items a part of a split range is listed with rather than fingerprinted (a list of 2 ids costs 4 fingerprints). */
const SPLIT_LIST_MAX = 2;

/** The end of the order. */
export const END: SyncBound = Object.freeze({ timestamp: Infinity, id: new Uint8Array(0) });

function compareIds(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The order of items: by timestamp, then id. */
export function compareItems(a: SyncItem, b: SyncItem): number {
  return a.timestamp - b.timestamp || compareIds(a.id, b.id);
}

/** Whether `item` comes before `bound`. */
function below(item: SyncItem, bound: SyncBound): boolean {
  if (item.timestamp !== bound.timestamp) return item.timestamp < bound.timestamp;
  return compareIds(item.id, bound.id) < 0;
}

/** The fingerprint of `items` (see the module docs). */
export function fingerprint(items: readonly SyncItem[]): Uint8Array {
  const sum = new Uint32Array(8); // little-endian 32-bit limbs of a 256-bit sum
  for (const { id } of items) {
    let carry = 0;
    for (let limb = 0; limb < 8; limb++) {
      const o = 4 * limb;
      const word = id[o] | (id[o + 1] << 8) | (id[o + 2] << 16) | (id[o + 3] << 24);
      const total = sum[limb] + (word >>> 0) + carry;
      sum[limb] = total >>> 0;
      carry = total > 0xffffffff ? 1 : 0;
    }
  }
  const count = new Uint8Array(8);
  new DataView(count.buffer).setBigUint64(0, BigInt(items.length), true);
  return sha256(new Uint8Array(sum.buffer), count).slice(0, 16);
}

/** What one step of reconciliation found. */
export interface ReconcileStep {
  /** The answer to send, or `undefined` when every range is settled. */
  reply: SyncRange[] | undefined;
  /** Ids the other side has and this one lacks (learned in this step). */
  need: Uint8Array[];
  /** Ids this side has and the other lacks (learned in this step). */
  have: Uint8Array[];
}

/** One side of a reconciliation, over a sorted snapshot of its items. */
export class Reconciler {
  /** The settings in force. */
  readonly config: Readonly<ReconcileConfig>;
  readonly #items: SyncItem[];

  /** Takes a snapshot of `items` (any order; duplicates by id are the caller's to avoid). */
  constructor(items: readonly SyncItem[], config: Partial<ReconcileConfig> = {}) {
    this.config = Object.freeze({ ...DEFAULT_RECONCILE_CONFIG, ...config });
    for (const [key, value] of Object.entries(this.config)) {
      if (!Number.isSafeInteger(value) || value < 2) {
        throw new RangeError(`reconcile ${key} must be an integer of at least 2`);
      }
    }
    this.#items = [...items].sort(compareItems);
  }

  /** The first message: the whole order as one range (a list if the set is small). */
  initiate(): SyncRange[] {
    return [this.#describe(0, this.#items.length, END)];
  }

  /** Answers a message from the other side (see the module docs). */
  reconcile(message: readonly SyncRange[]): ReconcileStep {
    const reply: SyncRange[] = [];
    const need: Uint8Array[] = [], have: Uint8Array[] = [];
    let start = 0; // index of my first item in the current range
    let pending = false; // whether the reply asks anything yet
    let handled = 0;
    for (const range of message) {
      handled++;
      const end = this.#indexOf(range.upper, start);
      if ("skip" in range) {
        this.#push(reply, { upper: range.upper, skip: true });
      } else if ("ids" in range) {
        const mine = this.#items.slice(start, end);
        const theirs = new Set(range.ids.map(hexOf));
        const mineSet = new Set(mine.map((item) => hexOf(item.id)));
        for (const id of range.ids) if (!mineSet.has(hexOf(id))) need.push(id);
        for (const item of mine) if (!theirs.has(hexOf(item.id))) have.push(item.id);
        this.#push(reply, { upper: range.upper, skip: true });
      } else if (bytesEqual(range.fingerprint, fingerprint(this.#items.slice(start, end)))) {
        this.#push(reply, { upper: range.upper, skip: true });
      } else if (end - start <= this.config.listThreshold) {
        this.#push(reply, { upper: range.upper, ids: this.#items.slice(start, end).map((item) => item.id) });
        pending = true;
      } else {
        // Split my items here into parts of about equal size, the last ending at the range's bound.
        const size = end - start, parts = this.config.branches;
        for (let p = 0; p < parts; p++) {
          const from = start + Math.floor((size * p) / parts), to = start + Math.floor((size * (p + 1)) / parts);
          const upper = p === parts - 1 ? range.upper : boundBetween(this.#items[to - 1], this.#items[to]);
          // A part of a split is a fingerprint unless nearly empty: listing a differing range's ids in 16 small
          // lists would send all of them, when most parts match and cost a fingerprint each.
          this.#push(
            reply,
            to - from <= SPLIT_LIST_MAX
              ? { upper, ids: this.#items.slice(from, to).map((item) => item.id) }
              : { upper, fingerprint: fingerprint(this.#items.slice(from, to)) },
          );
        }
        pending = true;
      }
      start = end;
      if (reply.length >= this.config.maxRanges) break;
    }
    if (handled < message.length) {
      // What did not fit stays in question: the rest of the order, as one range, for the next round.
      this.#push(reply, this.#describe(start, this.#items.length, END));
      pending = true;
    }
    return { reply: pending ? trimSkips(reply) : undefined, need, have };
  }

  /** A range of my items [from, to) up to `upper`: a list if few, else a fingerprint. */
  #describe(from: number, to: number, upper: SyncBound): SyncRange {
    return to - from <= this.config.listThreshold
      ? { upper, ids: this.#items.slice(from, to).map((item) => item.id) }
      : { upper, fingerprint: fingerprint(this.#items.slice(from, to)) };
  }

  /** Appends a range, merging it into a previous skip (contiguous skips say nothing more than one). */
  #push(reply: SyncRange[], range: SyncRange): void {
    const last = reply[reply.length - 1];
    if (last && "skip" in last && "skip" in range) last.upper = range.upper;
    else reply.push(range);
  }

  /** The index of my first item at or after `bound`, searching from `from`. */
  #indexOf(bound: SyncBound, from: number): number {
    let lo = from, hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (below(this.#items[mid], bound)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The shortest bound that `before` is below and `item` is not (see the module docs). */
function boundBetween(before: SyncItem | undefined, item: SyncItem): SyncBound {
  if (before === undefined || before.timestamp < item.timestamp) {
    return { timestamp: item.timestamp, id: new Uint8Array(0) };
  }
  let shared = 0;
  while (shared < item.id.length && before.id[shared] === item.id[shared]) shared++;
  return { timestamp: item.timestamp, id: item.id.slice(0, shared + 1) };
}

/** A trailing skip says nothing (the message ends there anyway). */
function trimSkips(reply: SyncRange[]): SyncRange[] {
  while (reply.length > 0 && "skip" in reply[reply.length - 1]) reply.pop();
  return reply;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
function hexOf(id: Uint8Array): string {
  let out = "";
  for (const b of id) out += HEX[b];
  return out;
}
