/**
 * The address book: the peers this node knows of, in the two tables of
 * {@link AddressTables} ("new" hearsay, "tried" addresses this node's own
 * outbound connections reached), with their durable rows in storage's
 * addresses table, which holds exactly what the tables hold: a row is written
 * when an entry is placed or changes and deleted when the tables drop it.
 *
 * Hearsay (announcements, an inbound peer's claimed listen address) may add a
 * "new" entry, never overwrite a tried address, and creates no trust state.
 * Only this node's own outbound connection makes an entry tried; when its
 * tried slot is held by another entry, the occupant is tested first (a feeler
 * dials it: see {@link AddressBook.collisionToTest}) and keeps its slot if it
 * answers.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { fromHex, toHex } from "../bytes.ts";
import type { Clock } from "../clock.ts";
import { MAX_PEER_LIST, type PeerRecord } from "../protocol/mod.ts";
import { randomBytes, type RandomSource } from "../random.ts";
import type { Storage, StoredAddress } from "../storage/types.ts";
import { AddressTables } from "./addrman.ts";
import type { KnownPeer } from "./types.ts";

/** The network-state key of the tables' secret bucketing key (kept so a restart places entries alike). */
export const BOOK_KEY = "peers.book_key";
/** Most tried-slot collisions waiting for a test at once (Bitcoin Core keeps 10). */
const MAX_COLLISIONS = 10;

/** Options of {@link AddressBook}. */
export interface AddressBookOptions {
  /** This node's id: never entered in its own book. */
  selfNodeId: string;
  /** The address this node listens on: announcements of it are ignored. */
  selfAddress: () => string;
  /** The durable addresses table (and the network state that keeps the bucketing key). */
  storage: Storage;
  /** Time source. */
  clock: Clock;
  /** Draws the bucketing key the first time. */
  random: RandomSource;
  /** About how many entries the tables hold (`maxKnownPeers`). */
  capacity: number;
  /** Entries not seen for this long may be replaced by newcomers, ms. */
  maxAgeMs: number;
  /** Whether an entry may not be dropped now (its peer is active or being dialed). */
  busy: (nodeId: string) => boolean;
}

/** Counters of the book. */
export interface BookStats {
  /** Entries dropped to make room for a newcomer in their slot, or displaced from the tried table and lost. */
  evicted: number;
  /** Hearsay entries refused because their slot held an entry worth keeping. */
  refused: number;
  /** Tried-slot collisions resolved for the occupant (it answered its test) and for the newcomer. */
  collisionsKept: number;
  collisionsReplaced: number;
}

/** The known peers, in memory and in storage's addresses table. */
export class AddressBook {
  readonly stats: BookStats = { evicted: 0, refused: 0, collisionsKept: 0, collisionsReplaced: 0 };
  readonly #options: AddressBookOptions;
  #tables: AddressTables | undefined;
  // newcomer's node id -> the tried occupant its promotion waits on
  readonly #collisions = new Map<string, string>();

  /** Creates an empty book; {@link AddressBook.load} fills it from storage. */
  constructor(options: AddressBookOptions) {
    this.#options = options;
  }

  get #t(): AddressTables {
    return this.#tables ??= new AddressTables(this.#options.capacity, this.#key());
  }

  #key(): Uint8Array {
    const { storage, random } = this.#options;
    const saved = fromHex(storage.getState(BOOK_KEY) ?? "");
    if (saved?.length === 32) return saved;
    const key = randomBytes(random, 32);
    storage.setState(BOOK_KEY, toHex(key));
    return key;
  }

  /** How many entries the book holds. */
  get size(): number {
    return this.#t.size;
  }

  /** How many entries the book can hold at most (slots in both tables). */
  get capacity(): number {
    return this.#t.capacity;
  }

  /** How many entries are tried. */
  get triedCount(): number {
    return this.#t.triedCount;
  }

  /** The entry for `nodeId`. */
  get(nodeId: string): KnownPeer | undefined {
    return this.#t.get(nodeId);
  }

  /** Every entry, tried ones first. */
  values(): IterableIterator<KnownPeer> {
    return this.#t.values();
  }

  /** Loads the stored entries into the tables; rows that find no slot (or are unusable) are deleted. */
  load(): void {
    const { storage, selfNodeId } = this.#options;
    const tables = this.#t;
    for (const row of storage.listAddresses()) {
      const entry: KnownPeer = { ...row, nextDialAt: 0 };
      let placed = false;
      if (row.address && parseHostPort(row.address) && row.nodeId !== selfNodeId && !tables.get(row.nodeId)) {
        if (row.tried) placed = tables.addTried(entry).placed;
        if (!placed) placed = tables.addNew(entry, () => false).placed;
      }
      if (!placed) storage.deleteAddress(row.nodeId);
      else if (entry.tried !== row.tried) this.persist(entry);
    }
  }

  #replaceable = (occupant: KnownPeer): boolean => {
    if (this.#options.busy(occupant.nodeId)) return false;
    const stale = this.#options.clock.now() - occupant.lastSeen > this.#options.maxAgeMs;
    return stale || (occupant.failures > 0 && occupant.lastSuccess === 0);
  };

  #dropped(entry: KnownPeer): void {
    this.stats.evicted++;
    this.#collisions.delete(entry.nodeId);
    this.#options.storage.deleteAddress(entry.nodeId);
  }

  /**
   * Hearsay: `nodeId` is said to listen at `address`, seen at `seen` (capped at now), by a peer in network
   * group `source`. Adds a new entry when its slot is free or holds a stale or failing one; an existing
   * entry only has its `lastSeen` moved (hearsay never changes an address, so nobody can redirect a known peer).
   */
  hear(nodeId: string, address: string, seen: number, source: string): void {
    if (nodeId === this.#options.selfNodeId || !parseHostPort(address)) return;
    const now = this.#options.clock.now();
    const lastSeen = Math.min(seen, now);
    const known = this.#t.get(nodeId);
    if (known) {
      if (known.address === address && lastSeen > known.lastSeen) {
        known.lastSeen = lastSeen;
        this.persist(known);
      }
      return;
    }
    const entry: KnownPeer = {
      nodeId,
      address,
      lastSeen,
      failures: 0,
      nextDialAt: 0,
      tried: false,
      source,
      lastSuccess: 0,
    };
    const placement = this.#t.addNew(entry, this.#replaceable);
    if (!placement.placed) {
      this.stats.refused++;
      return;
    }
    if (placement.displaced) this.#dropped(placement.displaced);
    this.persist(entry);
  }

  /**
   * This node's own outbound connection to `nodeId` at `address` succeeded: the entry becomes tried (its
   * failures reset). When its tried slot holds another entry, it stays new and the occupant is returned,
   * to be tested before it is replaced (see {@link AddressBook.resolveCollision}).
   */
  markTried(nodeId: string, address: string, now: number): KnownPeer | undefined {
    if (nodeId === this.#options.selfNodeId || !parseHostPort(address)) return undefined;
    const tables = this.#t;
    let entry = tables.get(nodeId);
    if (entry && entry.address !== address && !entry.tried) {
      tables.remove(nodeId); // what this node reached beats what it was told
      entry = undefined;
    }
    if (!entry) {
      entry = { nodeId, address, lastSeen: now, failures: 0, nextDialAt: 0, tried: false, source: "", lastSuccess: 0 };
      const direct = tables.addTried(entry);
      if (!direct.placed) {
        const placement = tables.addNew(entry, (occupant) => !this.#options.busy(occupant.nodeId));
        if (!placement.placed) return undefined;
        if (placement.displaced) this.#dropped(placement.displaced);
      }
    }
    entry.failures = 0;
    entry.lastSeen = Math.max(entry.lastSeen, now);
    entry.lastSuccess = now;
    let occupant: KnownPeer | undefined;
    if (!entry.tried) {
      const promotion = tables.promote(nodeId);
      if (!promotion.placed && promotion.occupant) {
        occupant = promotion.occupant;
        if (this.#collisions.size < MAX_COLLISIONS) this.#collisions.set(nodeId, occupant.nodeId);
      }
    }
    this.persist(entry);
    return occupant;
  }

  /** A tried occupant whose slot a newcomer waits for, to test with a feeler (undefined when none waits). */
  collisionToTest(): KnownPeer | undefined {
    for (const [newcomer, occupantId] of this.#collisions) {
      const occupant = this.#t.get(occupantId);
      if (occupant?.tried && this.#t.get(newcomer)) return occupant;
      this.#collisions.delete(newcomer); // one side is gone: nothing left to decide
    }
    return undefined;
  }

  /**
   * The test of tried `occupantId` is over: when it `answered` it keeps its slot and the newcomers waiting on
   * it stay new; otherwise they take its place (the first one), and it goes back to the new table.
   */
  resolveCollision(occupantId: string, answered: boolean): void {
    for (const [newcomer, occupant] of [...this.#collisions]) {
      if (occupant !== occupantId) continue;
      this.#collisions.delete(newcomer);
      if (answered) {
        this.stats.collisionsKept++;
        continue;
      }
      const old = this.#t.get(occupantId);
      if (!old?.tried || !this.#t.get(newcomer)) continue;
      const promotion = this.#t.promote(newcomer, occupantId);
      if (!promotion.placed) continue;
      this.stats.collisionsReplaced++;
      this.persist(this.#t.get(newcomer)!);
      if (this.#t.get(occupantId)) this.persist(old);
      else this.#dropped(old);
    }
  }

  /** Writes `known` to its stored row. */
  persist(known: KnownPeer): void {
    const row: StoredAddress = {
      nodeId: known.nodeId,
      address: known.address,
      source: known.source,
      tried: known.tried,
      lastSeen: known.lastSeen,
      lastSuccess: known.lastSuccess,
      failures: known.failures,
    };
    this.#options.storage.saveAddress(row);
  }

  /** Forgets `nodeId`'s address, here and in storage (its trust, kept apart, stays: a liar stays known as one). */
  forget(nodeId: string): void {
    this.#t.remove(nodeId);
    this.#collisions.delete(nodeId);
    this.#options.storage.deleteAddress(nodeId);
  }

  /**
   * Takes the first `take` peer records of an announcement (or answer) from `from`, a peer in network group
   * `source`, as hearsay. Returns the node ids the sender listed (all of them, up to 64): its claimed
   * neighbours, for views of the graph beyond one hop.
   */
  learn(records: readonly PeerRecord[], from: string, source: string, take: number): string[] {
    const self = this.#options.selfAddress();
    const listed = new Set<string>();
    records.slice(0, MAX_PEER_LIST).forEach((record, i) => {
      const nodeId = toHex(record.nodeId);
      if (nodeId === from) return;
      listed.add(nodeId);
      if (i >= take || nodeId === this.#options.selfNodeId || record.address === self) return;
      this.hear(nodeId, record.address, record.lastSeen, source);
    });
    return [...listed];
  }
}
