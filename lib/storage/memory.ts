/**
 * {@link MemoryStorage}: the {@link Storage} contract kept in memory, for
 * tests, simulation, and nodes that want no persistence.
 *
 * @module
 */
import { bytesKey, keyBytes } from "../bytes.ts";
import { type Clock, systemClock } from "../clock.ts";
import { checkOptions, PruneSchedule, resolveRetention, type RetentionLimits } from "./retention.ts";
import {
  type PruneResult,
  type SeenMessage,
  type Storage,
  StorageError,
  type StorageOptions,
  type StoredAddress,
  type StoredDhtContact,
  type StoredPeer,
  type TrustEvent,
} from "./types.ts";

function comparePeers(a: StoredPeer, b: StoredPeer): number {
  return b.trustScore - a.trustScore || b.lastSeen - a.lastSeen || (a.nodeId < b.nodeId ? -1 : 1);
}

function compareAddresses(a: StoredAddress, b: StoredAddress): number {
  return Number(b.tried) - Number(a.tried) || b.lastSeen - a.lastSeen || (a.nodeId < b.nodeId ? -1 : 1);
}

/**
 * The in-memory implementation of {@link Storage}: same contract, nothing
 * on disk. For tests, simulation, and nodes that want no persistence.
 */
export class MemoryStorage implements Storage {
  readonly #peers = new Map<string, StoredPeer>();
  readonly #addresses = new Map<string, StoredAddress>();
  #dhtContacts: StoredDhtContact[] = [];
  // Events before #eventsHead are dropped; compacted in batches so that
  // trimming the oldest event is O(1) amortised, not an O(n) shift.
  readonly #events: TrustEvent[] = [];
  #eventsHead = 0;
  // id key -> when and from whom: not a SeenMessage with its own id copy (about 250 bytes less per id; a
  // node keeps one per message in the dedup window), and an object of two fields, not a tuple (an array
  // and its elements cost about 25 bytes more).
  readonly #seen = new Map<string, { timestamp: number; senderId: string }>();
  readonly #state = new Map<string, string>();
  readonly #clock: Clock;
  readonly #options: RetentionLimits;
  readonly #schedule: PruneSchedule;
  #closed = false;

  /** Creates an empty store. */
  constructor(options: StorageOptions = {}) {
    checkOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#options = resolveRetention(options);
    this.#schedule = new PruneSchedule(this.#clock, this.#options.pruneIntervalMs, () => this.prune(this.#clock.now()));
  }

  #open(): void {
    if (this.#closed) throw new StorageError("STORAGE_CLOSED", "storage is closed");
  }

  savePeer(peer: StoredPeer): void {
    this.#open();
    this.#peers.set(peer.nodeId, { ...peer, publicKey: peer.publicKey?.slice() ?? null });
  }
  getPeer(nodeId: string): StoredPeer | undefined {
    this.#open();
    const peer = this.#peers.get(nodeId);
    return peer && { ...peer };
  }
  listPeers(options: { limit?: number } = {}): StoredPeer[] {
    this.#open();
    return [...this.#peers.values()].sort(comparePeers).slice(0, options.limit ?? Infinity).map((p) => ({ ...p }));
  }
  countPeers(): number {
    this.#open();
    return this.#peers.size;
  }
  deletePeer(nodeId: string): void {
    this.#open();
    this.#peers.delete(nodeId);
  }
  saveAddress(address: StoredAddress): void {
    this.#open();
    this.#addresses.set(address.nodeId, { ...address });
  }
  listAddresses(options: { limit?: number } = {}): StoredAddress[] {
    this.#open();
    return [...this.#addresses.values()].sort(compareAddresses).slice(0, options.limit ?? Infinity)
      .map((a) => ({ ...a }));
  }
  countAddresses(): number {
    this.#open();
    return this.#addresses.size;
  }
  saveDhtContacts(contacts: readonly StoredDhtContact[]): void {
    this.#open();
    this.#dhtContacts = contacts.map((c) => ({ ...c }));
  }
  listDhtContacts(): StoredDhtContact[] {
    this.#open();
    return this.#dhtContacts.map((c) => ({ ...c })).sort((a, b) => b.lastSeen - a.lastSeen);
  }
  deleteAddress(nodeId: string): void {
    this.#open();
    this.#addresses.delete(nodeId);
  }
  recordTrustEvent(event: TrustEvent): void {
    this.#open();
    this.#events.push({ ...event });
    if (this.#events.length - this.#eventsHead > this.#options.maxTrustEvents) this.#eventsHead++;
    if (this.#eventsHead > 1024 && this.#eventsHead * 2 > this.#events.length) {
      this.#events.splice(0, this.#eventsHead);
      this.#eventsHead = 0;
    }
  }
  listTrustEvents(nodeId: string, options: { limit?: number } = {}): TrustEvent[] {
    this.#open();
    const out: TrustEvent[] = [];
    const limit = options.limit ?? 100;
    for (let i = this.#events.length - 1; i >= this.#eventsHead && out.length < limit; i--) {
      if (this.#events[i].nodeId === nodeId) out.push({ ...this.#events[i] });
    }
    return out;
  }
  recordSeen(message: SeenMessage): void {
    this.#open();
    const key = bytesKey(message.messageId);
    if (!this.#seen.has(key)) this.#seen.set(key, { timestamp: message.timestamp, senderId: message.senderId });
  }
  hasSeen(messageId: Uint8Array): boolean {
    this.#open();
    return this.#seen.has(bytesKey(messageId));
  }
  listSeenSince(since: number, limit: number): SeenMessage[] {
    this.#open();
    return [...this.#seen].filter(([, { timestamp }]) => timestamp >= since)
      .map(([key, { timestamp, senderId }]) => ({ messageId: keyBytes(key), timestamp, senderId }))
      .sort((a, b) => a.timestamp - b.timestamp)
      .slice(0, limit);
  }
  countSeen(): number {
    this.#open();
    return this.#seen.size;
  }
  setState(key: string, value: string): void {
    this.#open();
    this.#state.set(key, value);
  }
  getState(key: string): string | undefined {
    this.#open();
    return this.#state.get(key);
  }
  prune(now: number): PruneResult {
    this.#open();
    const seenBefore = now - this.#options.seenRetentionMs;
    let seenMessages = 0;
    for (const [key, { timestamp }] of this.#seen) {
      if (timestamp < seenBefore) {
        this.#seen.delete(key);
        seenMessages++;
      }
    }
    const eventsBefore = now - this.#options.trustEventRetentionMs;
    const live = this.#events.slice(this.#eventsHead);
    const kept = live.filter((e) => e.timestamp >= eventsBefore);
    const trustEvents = live.length - kept.length;
    this.#events.length = 0;
    this.#events.push(...kept);
    this.#eventsHead = 0;
    return { seenMessages, trustEvents };
  }
  flush(): void {
    this.#open();
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#schedule.stop();
  }
}
