/**
 * The storage contract and its records: what a node keeps (peers, trust
 * events, seen-message ids, small network state), the {@link Storage}
 * interface every backend implements, the options they share, and
 * {@link StorageError}.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { KithError } from "../errors.ts";

/** A peer in the address book. */
export interface StoredPeer {
  /** Node id, lowercase hex SHA-256 of the public key. */
  nodeId: string;
  /** Listening address `host:port`, or `""` when unknown. */
  address: string;
  /** Ed25519 public key, when known. */
  publicKey: Uint8Array | null;
  /** When the peer was first recorded, ms since the epoch. */
  firstSeen: number;
  /** When the peer was last heard from, ms since the epoch. */
  lastSeen: number;
  /** Trust score in [0, 1]. */
  trustScore: number;
  /** When trust decay was last applied to `trustScore`, ms since the epoch. */
  trustUpdatedAt: number;
  /** Valid messages received from the peer, ever. */
  validCount: number;
  /** Invalid messages received from the peer, ever. */
  invalidCount: number;
  /** Timeouts recorded for the peer, ever. */
  timeoutCount: number;
  /** Consecutive failed dials (reset by a successful connection). */
  failures: number;
}

/**
 * An address-book entry: where a node listens, who told this node about it, and whether this node's own
 * outbound connection to it ever succeeded. Kept apart from {@link StoredPeer} (trust), so that hearsay
 * creates no trust state and the book can prune its rows without losing what a peer's trust records.
 */
export interface StoredAddress {
  /** Node id, lowercase hex SHA-256 of the public key. */
  nodeId: string;
  /** Listening address `host:port`. */
  address: string;
  /** The network group of the peer that told this node of the address (`""` when learned first-hand). */
  source: string;
  /** Whether this node's own outbound connection to the address succeeded ("tried"; else "new", hearsay). */
  tried: boolean;
  /** When last seen, ms since the epoch. */
  lastSeen: number;
  /** When this node's last outbound connection to it succeeded, ms since the epoch (0: never). */
  lastSuccess: number;
  /** Consecutive failed dials. */
  failures: number;
}

/**
 * A contact of the DHT's routing table (lib/dht/routing_table.ts), kept so that a restarted node answers and
 * looks up from the table it had instead of an empty one.
 */
export interface StoredDhtContact {
  /** Node id, lowercase hex SHA-256 of the public key. */
  nodeId: string;
  /** Its listening address `host:port`. */
  address: string;
  /** When it was last heard from, ms since the epoch. */
  lastSeen: number;
}

/** One change of a peer's trust, kept to explain the score. */
export interface TrustEvent {
  /** Whose trust changed. */
  nodeId: string;
  /** What happened: `valid_message`, `invalid_message:BAD_SIGNATURE`, `timeout`, `decay`, `recommendation`, ... */
  eventType: string;
  /** Change in trust (after clamping to [0, 1]). */
  trustDelta: number;
  /** Trust after the change. */
  trustAfter: number;
  /** When, ms since the epoch (the latest, for coalesced events). */
  timestamp: number;
  /** How many events this row stands for (coalesced events of one type), at least 1. */
  count: number;
}

/** A message id recorded for deduplication. */
export interface SeenMessage {
  /** The 32-byte message id. */
  messageId: Uint8Array;
  /** When it was first seen (or its origin timestamp), ms since the epoch. */
  timestamp: number;
  /** Node id of the peer it first came from. */
  senderId: string;
}

/** What a prune removed. */
export interface PruneResult {
  /** Seen-message ids removed. */
  seenMessages: number;
  /** Trust events removed. */
  trustEvents: number;
}

/**
 * The design's storage extension point: anything that keeps this contract
 * can back a node. Writes may be buffered; reads always see them.
 */
export interface Storage {
  /** Inserts or replaces a peer. */
  savePeer(peer: StoredPeer): void;
  /** The peer with this id, if known. */
  getPeer(nodeId: string): StoredPeer | undefined;
  /** Known peers, highest trust first (ties: most recently seen first), at most `limit`. */
  listPeers(options?: { limit?: number }): StoredPeer[];
  /** Number of known peers. */
  countPeers(): number;
  /** Forgets a peer (its trust events stay until pruned). */
  deletePeer(nodeId: string): void;
  /** Inserts or replaces an address-book entry. */
  saveAddress(address: StoredAddress): void;
  /** Address-book entries, tried ones first (ties: most recently seen first), at most `limit`. */
  listAddresses(options?: { limit?: number }): StoredAddress[];
  /** Number of address-book entries. */
  countAddresses(): number;
  /** Removes an address-book entry (the book evicted it). */
  deleteAddress(nodeId: string): void;
  /**
   * Replaces the stored DHT routing table with `contacts` (the whole table: a few thousand rows at most, written
   * on the DHT's refresh timer and at stop, so one replacement is simpler than tracking each change).
   */
  saveDhtContacts(contacts: readonly StoredDhtContact[]): void;
  /** The stored DHT routing table, most recently seen first. */
  listDhtContacts(): StoredDhtContact[];
  /** Appends a trust event. */
  recordTrustEvent(event: TrustEvent): void;
  /** A peer's trust events, newest first, at most `limit` (default 100). */
  listTrustEvents(nodeId: string, options?: { limit?: number }): TrustEvent[];
  /** Records a message id as seen; a second record of the same id is ignored. */
  recordSeen(message: SeenMessage): void;
  /** Whether the id was recorded and not yet pruned. */
  hasSeen(messageId: Uint8Array): boolean;
  /** Seen ids with `timestamp >= since`, oldest first, at most `limit`. */
  listSeenSince(since: number, limit: number): SeenMessage[];
  /** Number of seen ids kept. */
  countSeen(): number;
  /** Stores a small value under `key`. */
  setState(key: string, value: string): void;
  /** The value stored under `key`. */
  getState(key: string): string | undefined;
  /** Removes seen ids and trust events older than their retention, as of `now`. */
  prune(now: number): PruneResult;
  /** Writes everything buffered. */
  flush(): void;
  /** Flushes, stops timers and releases the store. Idempotent. */
  close(): void;
}

/** Options shared by the storage implementations. Every field has a default. */
export interface StorageOptions {
  /** Time source and timers. Default: the system clock. */
  clock?: Clock;
  /**
   * How long seen-message ids are kept, ms: the dedup window. Default 10 minutes; keep it above the
   * protocol's maximum message age (5 minutes) so a replay is always either a duplicate or stale.
   */
  seenRetentionMs?: number;
  /** How long trust events are kept, ms. Default 7 days. */
  trustEventRetentionMs?: number;
  /**
   * Most trust events kept in all; the oldest go first. Default 100,000. MemoryStorage enforces it on
   * every write, SqliteStorage at each prune.
   */
  maxTrustEvents?: number;
  /** How often pruning runs, ms. Default 60 seconds. 0 disables the schedule (call prune yourself). */
  pruneIntervalMs?: number;
}

/** Storage could not be opened, migrated or written. */
export class StorageError extends KithError {
  /**
   * Creates a storage error.
   *
   * @param code `STORAGE_OPEN`, `SCHEMA_TOO_NEW`, `STORAGE_WRITE` or `STORAGE_CLOSED`
   * @param message one line naming the file and what to do
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "StorageError";
  }
}
