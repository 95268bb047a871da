/**
 * The address book: the peers this node knows of, what it learns from
 * announcements, and their durable rows in the peers table.
 *
 * Hearsay (announcements) may add an address or update another unverified
 * one, never overwrite an address a handshake verified, and earns no trust.
 * When the book is full, the least useful entry goes first (see {@link leastUseful}).
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { toHex } from "../bytes.ts";
import type { Clock } from "../clock.ts";
import { MAX_PEER_LIST, type PeerRecord } from "../protocol/mod.ts";
import type { Storage, StoredPeer } from "../storage/types.ts";
import type { TrustModel } from "../trust.ts";
import type { KnownPeer } from "./types.ts";

/**
 * The entry to drop to make room: never one that is `busy` (active or being dialed); of the rest, one never
 * connected before one that was, then the most failed, then the oldest. Undefined when every entry is busy.
 */
export function leastUseful(entries: Iterable<KnownPeer>, busy: (nodeId: string) => boolean): KnownPeer | undefined {
  let worst: KnownPeer | undefined;
  for (const known of entries) {
    if (busy(known.nodeId)) continue;
    if (
      !worst || Number(known.everConnected) < Number(worst.everConnected) ||
      (known.everConnected === worst.everConnected &&
        (known.failures > worst.failures || (known.failures === worst.failures && known.lastSeen < worst.lastSeen)))
    ) worst = known;
  }
  return worst;
}

/** Options of {@link AddressBook}. */
export interface AddressBookOptions {
  /** This node's id: never entered in its own book. */
  selfNodeId: string;
  /** The address this node listens on: announcements of it are ignored. */
  selfAddress: () => string;
  /** The durable peers table. */
  storage: Storage;
  /** Gives a new row its starting trust. */
  trust: Pick<TrustModel, "trust">;
  /** Time source. */
  clock: Clock;
  /** Most entries kept. */
  maxKnownPeers: number;
  /** Whether an entry may not be dropped now (its peer is active or being dialed). */
  busy: (nodeId: string) => boolean;
}

/** The known peers, in memory and in the storage's peers table. */
export class AddressBook {
  readonly #known = new Map<string, KnownPeer>();
  readonly #options: AddressBookOptions;

  /** Creates an empty book; {@link AddressBook.load} fills it from storage. */
  constructor(options: AddressBookOptions) {
    this.#options = options;
  }

  /** How many entries the book holds. */
  get size(): number {
    return this.#known.size;
  }

  /** The entry for `nodeId`. */
  get(nodeId: string): KnownPeer | undefined {
    return this.#known.get(nodeId);
  }

  /** Every entry, in insertion order (the order dial candidates are drawn from). */
  values(): IterableIterator<KnownPeer> {
    return this.#known.values();
  }

  /** Loads the stored peers that have a dialable address. */
  load(): void {
    const { storage, maxKnownPeers, selfNodeId } = this.#options;
    for (const stored of storage.listPeers({ limit: maxKnownPeers })) {
      if (stored.address && parseHostPort(stored.address) && stored.nodeId !== selfNodeId) {
        this.#known.set(stored.nodeId, {
          nodeId: stored.nodeId,
          address: stored.address,
          lastSeen: stored.lastSeen,
          failures: stored.failures,
          nextDialAt: 0,
          // Only a handshake tells us a public key, so a stored key means we once connected.
          everConnected: stored.publicKey !== null,
        });
      }
    }
  }

  /**
   * Records that `nodeId` was seen at `address` at `seen` (capped at now): `connected` when a handshake
   * verified it (resets failures, and the address becomes authoritative), else hearsay.
   */
  remember(
    nodeId: string,
    address: string,
    seen: number,
    extra: { connected?: boolean; publicKey?: Uint8Array } = {},
  ): void {
    if (nodeId === this.#options.selfNodeId) return;
    let known = this.#known.get(nodeId);
    if (!known) {
      if (!address) return;
      if (this.#known.size >= this.#options.maxKnownPeers && !this.#dropLeastUseful()) return;
      known = { nodeId, address, lastSeen: 0, failures: 0, nextDialAt: 0, everConnected: false };
      this.#known.set(nodeId, known);
    }
    if (extra.connected) {
      known.failures = 0;
      known.everConnected = true;
      if (address) known.address = address;
    } else if (!known.everConnected && address) {
      known.address = address; // hearsay may update hearsay, never a verified address
    }
    known.lastSeen = Math.max(known.lastSeen, Math.min(seen, this.#options.clock.now()));
    this.persist(known, extra.publicKey);
  }

  /** Writes `known` to its stored row (creating the row when new), keeping what the row already holds. */
  persist(known: KnownPeer, publicKey?: Uint8Array): void {
    const { storage, clock, trust } = this.#options;
    const stored = storage.getPeer(known.nodeId);
    const now = clock.now();
    const row: StoredPeer = stored ?? {
      nodeId: known.nodeId,
      address: known.address,
      publicKey: null,
      firstSeen: now,
      lastSeen: 0,
      trustScore: trust.trust(known.nodeId),
      trustUpdatedAt: now,
      validCount: 0,
      invalidCount: 0,
      timeoutCount: 0,
      failures: 0,
    };
    storage.savePeer({
      ...row,
      address: known.address,
      lastSeen: known.lastSeen,
      failures: known.failures,
      publicKey: publicKey ?? row.publicKey,
    });
  }

  /** Forgets `nodeId`'s address, here and in storage (its trust row stays, so a liar stays known as one). */
  forget(nodeId: string, failures: number): void {
    this.#known.delete(nodeId);
    const stored = this.#options.storage.getPeer(nodeId);
    if (stored) this.#options.storage.savePeer({ ...stored, address: "", failures });
  }

  /**
   * Takes peer records from an announcement or HANDSHAKE_ACK. Being announced earns no trust. Returns
   * the node ids the sender listed: its claimed neighbours, for views of the graph beyond one hop.
   */
  learn(records: readonly PeerRecord[], from: string): string[] {
    const self = this.#options.selfAddress();
    const listed = new Set<string>();
    for (const record of records.slice(0, MAX_PEER_LIST)) {
      const nodeId = toHex(record.nodeId);
      if (nodeId === from) continue;
      listed.add(nodeId);
      if (nodeId === this.#options.selfNodeId || record.address === self) continue;
      if (!parseHostPort(record.address)) continue;
      this.remember(nodeId, record.address, record.lastSeen);
    }
    return [...listed];
  }

  /** Drops the least useful known, inactive address to make room; false when none can go. */
  #dropLeastUseful(): boolean {
    const worst = leastUseful(this.#known.values(), this.#options.busy);
    if (!worst) return false;
    this.#known.delete(worst.nodeId);
    return true;
  }
}
