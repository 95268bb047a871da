/**
 * The address tables, after Bitcoin Core's addrman: a "new" table of hearsay
 * and a "tried" table of addresses this node's own outbound connections
 * reached, each a fixed array of buckets of {@link BUCKET_SIZE} slots.
 *
 * Where an entry may go is decided by a keyed hash the peers cannot predict:
 * a new entry's bucket by the network group of whoever told this node of it
 * and the group of the address itself, and each source group can reach only
 * a small share of the new buckets, so one source (however many identities
 * and records it sends) fills at most that share of the table. A tried
 * entry's bucket is chosen by the address's own group. An entry's slot in its
 * bucket is chosen by its address; an occupied slot is given up only by an
 * entry that is stale or failing (new table), or after the occupant was
 * tested and did not answer (tried table, "test-before-evict"). So the tables
 * are bounded by construction, and a flood can only fight over the slots its
 * own sources reach.
 *
 * Pure data structure: no storage, no clock; the book ({@link AddressBook})
 * persists and decides.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { sha256 } from "../bytes.ts";
import { networkGroup } from "../netgroup.ts";
import type { KnownPeer } from "./types.ts";

/** Slots per bucket. */
export const BUCKET_SIZE = 16;
/** Each source group reaches at most 1/this of the new buckets (Bitcoin Core: 64 of 1,024). */
export const NEW_BUCKETS_SHARE = 16;
/** Each address group reaches at most 1/this of the tried buckets (Bitcoin Core: 8 of 256). */
export const TRIED_BUCKETS_SHARE = 8;

/** The network group used for bucketing: the /24 (IPv4) or /48 (IPv6) subnet of the address's host. */
export function addressGroup(address: string): string {
  const host = parseHostPort(address)?.host;
  return host === undefined ? `bad:${address}` : networkGroup(host).subnet;
}

const encoder = new TextEncoder();

/** The sizes of the two tables for a book of `capacity` entries: three quarters new, one quarter tried. */
export function tableSizes(capacity: number): { newBuckets: number; triedBuckets: number } {
  return {
    newBuckets: Math.max(1, Math.round((capacity * 3) / 4 / BUCKET_SIZE)),
    triedBuckets: Math.max(1, Math.round(capacity / 4 / BUCKET_SIZE)),
  };
}

/** What happened to an entry offered to a table. */
export type Placement =
  | { placed: true; displaced?: KnownPeer }
  | { placed: false; occupant?: KnownPeer };

/** The two tables. Entries are keyed by node id; each sits in exactly one slot of one table. */
export class AddressTables {
  /** Buckets in the new table. */
  readonly newBuckets: number;
  /** Buckets in the tried table. */
  readonly triedBuckets: number;
  readonly #key: Uint8Array;
  readonly #new: (KnownPeer | undefined)[];
  readonly #tried: (KnownPeer | undefined)[];
  readonly #slots = new Map<string, { tried: boolean; slot: number }>();

  /**
   * Creates empty tables holding about `capacity` entries.
   *
   * @param key secret bytes that keep the bucket placement unpredictable to peers
   */
  constructor(capacity: number, key: Uint8Array) {
    const sizes = tableSizes(capacity);
    this.newBuckets = sizes.newBuckets;
    this.triedBuckets = sizes.triedBuckets;
    this.#key = key;
    this.#new = new Array(this.newBuckets * BUCKET_SIZE);
    this.#tried = new Array(this.triedBuckets * BUCKET_SIZE);
  }

  /** Entries held, in both tables. */
  get size(): number {
    return this.#slots.size;
  }

  /** Slots in both tables: the most entries they can hold. */
  get capacity(): number {
    return this.#new.length + this.#tried.length;
  }

  /** Entries in the tried table. */
  get triedCount(): number {
    let n = 0;
    for (const s of this.#slots.values()) if (s.tried) n++;
    return n;
  }

  #hash(...parts: (string | number)[]): number {
    const bytes = sha256(this.#key, encoder.encode(parts.join("\0")));
    return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  }

  /**
   * The two new-table slots `address` heard from `source` (a network group; `""` for first-hand) may take, in
   * one bucket: two choices make honest collisions in small buckets rare without widening what a source reaches.
   */
  newSlots(address: string, source: string): [number, number] {
    const group = addressGroup(address);
    const perSource = Math.max(1, Math.floor(this.newBuckets / NEW_BUCKETS_SHARE));
    const bucket = this.#hash("new", source, this.#hash("new-group", group, source) % perSource) % this.newBuckets;
    return this.#positions("new-pos", bucket, address);
  }

  /** The two tried-table slots `address` may take, in one bucket chosen by its group. */
  triedSlots(address: string): [number, number] {
    const group = addressGroup(address);
    const perGroup = Math.max(1, Math.floor(this.triedBuckets / TRIED_BUCKETS_SHARE));
    const bucket = this.#hash("tried", group, this.#hash("tried-addr", address) % perGroup) % this.triedBuckets;
    return this.#positions("tried-pos", bucket, address);
  }

  #positions(tag: string, bucket: number, address: string): [number, number] {
    const first = this.#hash(tag, bucket, address) % BUCKET_SIZE;
    const second = (first + 1 + this.#hash(tag, bucket, address, 2) % (BUCKET_SIZE - 1)) % BUCKET_SIZE;
    return [bucket * BUCKET_SIZE + first, bucket * BUCKET_SIZE + second];
  }

  /** Of `slots` in `table`, a free one, else the first whose occupant `replaceable` allows (else undefined). */
  #choose(
    table: (KnownPeer | undefined)[],
    slots: [number, number],
    replaceable: (occupant: KnownPeer) => boolean,
  ): { slot?: number; occupant?: KnownPeer } {
    for (const slot of slots) if (!table[slot]) return { slot };
    for (const slot of slots) if (replaceable(table[slot]!)) return { slot, occupant: table[slot] };
    return { occupant: table[slots[0]] };
  }

  /** The entry for `nodeId`. */
  get(nodeId: string): KnownPeer | undefined {
    const at = this.#slots.get(nodeId);
    return at && (at.tried ? this.#tried : this.#new)[at.slot];
  }

  /** Every entry: tried ones first. */
  *values(): IterableIterator<KnownPeer> {
    for (const entry of this.#tried) if (entry) yield entry;
    for (const entry of this.#new) if (entry) yield entry;
  }

  /**
   * Puts a (not yet held) entry into the new table at the slot its address and `entry.source` choose. An
   * occupied slot is taken only when `replaceable(occupant)`; the occupant is then dropped and returned.
   */
  addNew(entry: KnownPeer, replaceable: (occupant: KnownPeer) => boolean): Placement {
    if (this.#slots.has(entry.nodeId)) return { placed: false };
    entry.tried = false;
    const { slot, occupant } = this.#choose(this.#new, this.newSlots(entry.address, entry.source), replaceable);
    if (slot === undefined) return { placed: false, occupant };
    if (occupant) this.#slots.delete(occupant.nodeId);
    this.#new[slot] = entry;
    this.#slots.set(entry.nodeId, { tried: false, slot });
    return { placed: true, displaced: occupant };
  }

  /** Puts a (not yet held) entry straight into the tried table, when its slot there is free. */
  addTried(entry: KnownPeer): Placement {
    if (this.#slots.has(entry.nodeId)) return { placed: false };
    const { slot, occupant } = this.#choose(this.#tried, this.triedSlots(entry.address), () => false);
    if (slot === undefined) return { placed: false, occupant };
    entry.tried = true;
    this.#tried[slot] = entry;
    this.#slots.set(entry.nodeId, { tried: true, slot });
    return { placed: true };
  }

  /**
   * Moves a held entry into the tried table. When both its tried slots hold other entries, nothing moves
   * unless the first one's occupant is `evict` (an entry a test found unreachable): then that occupant goes
   * back to the new table (dropped if its new slots are taken: see {@link AddressTables.get}) and is returned
   * as displaced; otherwise the occupant is returned, for the caller to test before it may be replaced.
   */
  promote(nodeId: string, evict?: string): Placement {
    const at = this.#slots.get(nodeId);
    if (!at) return { placed: false };
    const entry = this.get(nodeId)!;
    if (at.tried) return { placed: true };
    const { slot: free, occupant: first } = this.#choose(this.#tried, this.triedSlots(entry.address), () => false);
    if (free === undefined && (evict === undefined || first?.nodeId !== evict)) {
      return { placed: false, occupant: first };
    }
    const slot = free ?? this.triedSlots(entry.address)[0];
    const occupant = free === undefined ? first : undefined;
    this.#new[at.slot] = undefined;
    if (occupant) this.#slots.delete(occupant.nodeId);
    this.#tried[slot] = entry;
    entry.tried = true;
    this.#slots.set(nodeId, { tried: true, slot });
    if (occupant) {
      // Back to the new table, as first-hand knowledge; dropped when that slot is taken.
      occupant.source = "";
      this.addNew(occupant, () => false);
      return { placed: true, displaced: occupant };
    }
    return { placed: true };
  }

  /** Removes `nodeId`; returns whether it was held. */
  remove(nodeId: string): boolean {
    const at = this.#slots.get(nodeId);
    if (!at) return false;
    (at.tried ? this.#tried : this.#new)[at.slot] = undefined;
    this.#slots.delete(nodeId);
    return true;
  }
}
