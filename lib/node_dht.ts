/**
 * The DHT in a node: a {@link DhtService} (lib/dht/) whose network is the node's links (`DhtLinks`,
 * lib/node_dht_links.ts): queries go to a connected peer that announces `dht/1` over its link, or, for a
 * contact this node is not connected to, over a transient link; peers' queries are answered from the routing
 * table and the store, within the service's per-peer rate.
 *
 * The routing table is fed by every authenticated link to a `dht/1` peer and by every answer; it is saved to
 * storage (the `dht_contacts` table) on the refresh timer and at stop, and loaded at start, so a restarted
 * node answers and looks up from the table it had. Timers (the injected clock): stale buckets refreshed and
 * the store pruned every `dhtRefreshIntervalMs`, this node's provider records and signed records announced
 * again every `dhtProviderRepublishMs` and `dhtRecordRepublishMs`.
 *
 * @module
 */
import { fromHex, toHex } from "./bytes.ts";
import type { Clock, TimerId } from "./clock.ts";
import type { NetworkConfig } from "./config.ts";
import {
  DhtService,
  ID_BYTES,
  MAX_RECORD_LIFETIME_MS,
  type ProviderRecord,
  recordKey,
  type SignedRecord,
  signRecord,
  topicKey,
} from "./dht/mod.ts";
import { KithError } from "./errors.ts";
import { type Identity, nodeIdFromPublicKey } from "./identity.ts";
import { LatencyHistogram, type LatencySnapshot } from "./latency.ts";
import { errorFields, type LogSink } from "./log.ts";
import { DhtLinks } from "./node_dht_links.ts";
import { dialableAddressOf } from "./peers/admission.ts";
import type { PeerManager } from "./peers/mod.ts";
import type { TransientLinks, TransientLinksStats } from "./peers/transient.ts";
import type { InboundTransientLinks, InboundTransientStats } from "./peers/transient_inbound.ts";
import type { Envelope, MessageCodec } from "./protocol/mod.ts";
import type { RandomSource } from "./random.ts";
import type { Storage } from "./storage/mod.ts";
import type { Connection, Transport } from "./transport/mod.ts";
import type { TrustManager } from "./trust.ts";
import { announces, DHT_CAPABILITY } from "./version.ts";

/** Stale buckets refreshed per refresh round at most (each is one lookup). */
const REFRESHES_PER_ROUND = 4;

/** What the node's DHT is made of. */
export interface DhtParts {
  /** The node's identity (signs its records). */
  identity: Identity;
  /** Time and timers. */
  clock: Clock;
  /** Randomness (refresh targets). */
  random: RandomSource;
  /** Where failures are logged. */
  log: LogSink;
  /** The node's codec (checks peers' DHT messages). */
  codec: MessageCodec;
  /** The configuration in force. */
  config: Readonly<NetworkConfig>;
  /** The peer manager: connected peers, penalties, and the claim on transient links. */
  peers: PeerManager;
  /** The transport transient links are dialed through. */
  transport: Transport;
  /** Trust: who may be dialed. */
  trust: TrustManager;
  /** Where the routing table is kept. */
  storage: Storage;
}

/** A signed record as `node.dht.get` returns it. */
export interface DhtValue {
  /** Its key, hex: SHA-256 of the owner's public key and the name. */
  key: string;
  /** The owner's node id, hex. */
  owner: string;
  /** Its name. */
  name: string;
  /** Its value. */
  value: Uint8Array;
  /** Its sequence number (a higher one replaces it). */
  seq: number;
  /** When it expires, ms since the epoch. */
  expiresAt: number;
}

/** What `node.dht.put` did. */
export interface DhtPutResult {
  /** The record's key, hex. */
  key: string;
  /** Its sequence number. */
  seq: number;
  /** Nodes that took it. */
  stored: number;
}

/** A routing-table contact, for display. */
export interface DhtTableEntry {
  /** Node id, hex. */
  nodeId: string;
  /** Its listening address. */
  address: string;
  /** When last heard from, ms since the epoch. */
  lastSeen: number;
  /** Its bucket: the length of the prefix its id shares with this node's. */
  bucket: number;
}

/** Counters of a node's DHT. */
export interface NodeDhtStats {
  /** Lookups run (each operation runs one or more). */
  lookups: number;
  /** Operations (findPeer, provide, findProviders, put, get) finished. */
  operations: number;
  /** Lookups that ended with an answer. */
  lookupsAnswered: number;
  /** Sum over those of the hops at which the closest answerer was found (mean = hops / lookupsAnswered). */
  hops: number;
  /** Lookup latency, ms, as a cumulative histogram. */
  latency: LatencySnapshot;
  /** Contacts in the routing table. */
  tableSize: number;
  /** Peers' queries answered. */
  answered: number;
  /** Queries refused over a peer's rate. */
  rateLimited: number;
  /** Queries sent. */
  queriesSent: number;
  /** Queries that failed or timed out. */
  queriesFailed: number;
  /** Nodes and providers in answers dropped because the dial policy refuses their addresses. */
  hearsayRefused: number;
  /** Records and provider records kept for others. */
  store: { records: number; recordBytes: number; providers: number };
  /** Transient links: open now, and their counters. */
  transient: TransientLinksStats & { open: number };
  /** Other nodes' transient links to this one: held now, and their counters. */
  inboundTransient: InboundTransientStats & { open: number };
}

/** A 32-byte DHT key from bytes or 64 hex digits. @throws {KithError} `BAD_KEY` */
export function dhtKeyOf(key: Uint8Array | string): Uint8Array {
  const bytes = typeof key === "string" ? (/^[0-9a-f]{64}$/i.test(key) ? fromHex(key.toLowerCase()) : undefined) : key;
  if (!(bytes instanceof Uint8Array) || bytes.length !== ID_BYTES) {
    throw new KithError("BAD_KEY", "a DHT key is 32 bytes (64 hex digits)");
  }
  return bytes;
}

/**
 * A node's DHT: the operations of `node.dht`, and the wiring `KithNode` drives (envelopes, peers coming and
 * going, start and stop).
 *
 * @example Store a record at one node and read it at another
 * ```ts ignore
 * const { key } = await a.dht.put("profile", "hello");
 * const record = await b.dht.get(key);
 * console.log(new TextDecoder().decode(record!.value)); // "hello"
 * ```
 */
export class NodeDht {
  /** The DHT service (routing table, store, lookups). */
  readonly service: DhtService;
  /** The links its queries and answers go over. */
  readonly #links: DhtLinks;
  readonly #parts: DhtParts;
  readonly #latency = new LatencyHistogram();
  readonly #provided = new Map<string, Uint8Array>();
  readonly #owned = new Map<string, { value: Uint8Array; seq: number }>();
  readonly #timers = new Set<TimerId>();
  #operations = 0;
  #running = 0;
  #joined = false;
  #stopped = false;

  /** Makes the DHT of a node from its parts; {@link NodeDht.start} loads its table and starts its timers. */
  constructor(parts: DhtParts) {
    this.#parts = parts;
    const { config, clock, identity } = parts;
    this.service = new DhtService({
      localId: fromHex(identity.nodeId)!,
      clock,
      network: { query: (contact, request, done) => this.#links.query(contact, request, done) },
      // Hearsay addresses in answers go through the dial policy, as peer exchange's do.
      permits: (address) => parts.transport.permitsDial(address),
      config: {
        alpha: config.dhtAlpha,
        paths: config.dhtPaths,
        queryTimeoutMs: config.dhtQueryTimeoutMs,
        lookupTimeoutMs: config.dhtLookupTimeoutMs,
        queriesPerPeerPerSecond: config.dhtQueriesPerPeerPerSecond,
        table: { k: config.dhtK },
        store: {
          maxRecords: config.dhtMaxRecords,
          maxRecordBytes: config.dhtMaxRecordBytes,
          maxProviders: config.dhtMaxProviders,
        },
      },
    });
    this.#links = new DhtLinks({ ...parts, handle: (from, request) => this.service.handle(from, request) });
  }

  /** The transient links its queries use. */
  get transient(): TransientLinks {
    return this.#links.transient;
  }

  /** Other nodes' transient links to this one, over which it answers their queries. */
  get inbound(): InboundTransientLinks {
    return this.#links.inbound;
  }

  /** A DHT_REQUEST or DHT_RESPONSE from `connection`'s peer (an active peer's link or a transient link). */
  receive(connection: Connection, envelope: Envelope): void {
    this.#links.receive(connection, envelope);
  }

  /** Loads the stored routing table, takes the transient links' connections over, and starts the timers. */
  start(): void {
    const { storage, clock, peers, config } = this.#parts;
    peers.claimConnection = (connection) => this.#links.claim(connection);
    const now = clock.now();
    for (const contact of storage.listDhtContacts().slice(0, 256 * config.dhtK)) {
      if (contact.lastSeen <= now) this.service.table.add(contact.nodeId, contact.address, contact.lastSeen);
    }
    this.#every(config.dhtRefreshIntervalMs, () => this.#refresh());
    this.#every(config.dhtProviderRepublishMs, () => {
      for (const key of this.#provided.values()) void this.#op(() => this.service.provide(key));
    });
    this.#every(config.dhtRecordRepublishMs, () => {
      for (const [name, owned] of this.#owned) void this.put(name, owned.value).catch(() => {});
    });
  }

  /** Stops the timers, saves the routing table and closes the transient links. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) this.#parts.clock.clearTimeout(timer);
    this.#timers.clear();
    this.#save();
    await this.#links.stop();
  }

  /** A peer became active: a `dht/1` peer's id and listen address go into the routing table. */
  peerConnected(connection: Connection): void {
    if (!announces(connection.agent, DHT_CAPABILITY)) return;
    const address = dialableAddressOf(connection);
    if (address === "" || !this.#parts.transport.permitsDial(address)) return;
    this.service.noteAlive(connection.remoteNodeId, address);
    // The first contact: look up this node's own id, which fills the buckets near it and tells the nodes
    // around it that it is there (Kademlia's join); then announce what was provided while it knew no one.
    if (!this.#joined) {
      this.#joined = true;
      void this.#op(async () => {
        await this.service.lookup(fromHex(this.#parts.identity.nodeId)!);
        await Promise.all([...this.#provided.values()].map((key) => this.service.provide(key)));
      }).catch(() => {});
    }
  }

  /**
   * A newer link to an active peer replaced the one its queries in flight went over: they are sent again over
   * it (the answers may have been lost with the old link), and a `dht/1` peer is noted alive at its address.
   */
  peerReplaced(connection: Connection): void {
    this.peerConnected(connection);
    this.#links.linkClosed(connection.remoteNodeId);
  }

  /** An active peer's link closed: its queries in flight fail now (it stays in the table: it may be alive). */
  peerDisconnected(nodeId: string): void {
    this.#links.linkClosed(nodeId);
  }

  // ---- the operations of node.dht ----

  /** The address of node `nodeId` (hex) as the nodes around its id know it; `undefined` when none does. */
  findPeer(nodeId: string): Promise<string | undefined> {
    if (!/^[0-9a-f]{64}$/.test(nodeId)) return Promise.reject(new KithError("BAD_KEY", "a node id is 64 hex digits"));
    return this.#op(() => this.service.findPeer(nodeId));
  }

  /** Announces this node as a provider of `key` (and again every `dhtProviderRepublishMs`); how many took it. */
  provide(key: Uint8Array | string): Promise<number> {
    const bytes = dhtKeyOf(key);
    this.#provided.set(toHex(bytes), bytes);
    return this.#op(() => this.service.provide(bytes));
  }

  /** Stops announcing `key` (the records already stored lapse at their expiry). */
  unprovide(key: Uint8Array | string): void {
    this.#provided.delete(toHex(dhtKeyOf(key)));
  }

  /** Up to `limit` providers of `key`. */
  findProviders(key: Uint8Array | string, limit: number = this.#parts.config.dhtK): Promise<ProviderRecord[]> {
    const bytes = dhtKeyOf(key);
    return this.#op(() => this.service.findProviders(bytes, limit));
  }

  /**
   * Signs `value` under `name` as this node's record (a sequence number above any it used before, a 24-hour
   * lifetime) and stores it at the nodes closest to its key; it is signed and stored again every
   * `dhtRecordRepublishMs`.
   *
   * @throws {RecordError} `BAD_RECORD` for a name of 0 or over 64 bytes, or a value over 1 KiB
   */
  put(name: string, value: Uint8Array | string): Promise<DhtPutResult> {
    const { identity, clock } = this.#parts;
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    const now = clock.now();
    // The clock as a floor keeps numbers rising across restarts of a node that kept nothing.
    const seq = Math.max((this.#owned.get(name)?.seq ?? -1) + 1, now);
    const record = signRecord(identity, name, bytes, seq, now, MAX_RECORD_LIFETIME_MS);
    this.#owned.set(name, { value: bytes, seq });
    const key = recordKey(identity.publicKey, name);
    // Kept here too: the node answers for its own record, as one of the nodes near its key may be itself.
    this.service.store.put(key, record, "", now);
    return this.#op(async () => ({ key: toHex(key), seq, stored: await this.service.put(record) }));
  }

  /** The record under `key` with the highest sequence number the nodes around it keep, checked. */
  get(key: Uint8Array | string): Promise<DhtValue | undefined> {
    const bytes = dhtKeyOf(key);
    return this.#op(async () => {
      const record = await this.service.get(bytes);
      return record && valueOf(bytes, record);
    });
  }

  /** Announces this node in `topic` (its provider record under the topic's key). */
  provideTopic(topic: string): void {
    void this.provide(topicKey(topic)).catch(() => {});
  }

  /** Stops announcing this node in `topic`. */
  leaveTopic(topic: string): void {
    this.unprovide(topicKey(topic));
  }

  /** Nodes the DHT names as in `topic` (its providers), this node left out. */
  async topicProviders(topic: string, limit: number): Promise<{ nodeId: string; address: string }[]> {
    const own = this.#parts.identity.nodeId;
    const found = await this.findProviders(topicKey(topic), limit + 1);
    return found.filter((p) => p.nodeId !== own && this.#parts.transport.permitsDial(p.address))
      .slice(0, limit).map(({ nodeId, address }) => ({ nodeId, address }));
  }

  /** The routing table's contacts, by bucket. */
  table(): DhtTableEntry[] {
    const table = this.service.table;
    return [...table.contacts()].map((c) => ({
      nodeId: c.nodeId,
      address: c.address,
      lastSeen: c.lastSeen,
      bucket: table.bucketOf(c.id) ?? 256,
    })).sort((a, b) => a.bucket - b.bucket || b.lastSeen - a.lastSeen);
  }

  /** Counters. */
  get stats(): NodeDhtStats {
    const s = this.service.stats;
    return {
      lookups: s.lookups,
      operations: this.#operations,
      lookupsAnswered: s.lookupsAnswered,
      hops: s.hops,
      latency: this.#latency.snapshot(),
      tableSize: this.service.table.size,
      answered: s.answered,
      rateLimited: s.rateLimited,
      queriesSent: s.queriesSent,
      queriesFailed: s.queriesFailed,
      hearsayRefused: s.hearsayRefused,
      store: this.service.store.sizes,
      transient: { ...this.transient.stats, open: this.transient.size },
      inboundTransient: { ...this.inbound.stats, open: this.inbound.size },
    };
  }

  // ---- internals ----

  /**
   * Runs one operation: timed for the latency histogram; when the last one running ends, the transient links
   * with nothing in flight close (the lookups they were opened for are over).
   */
  async #op<T>(run: () => Promise<T>): Promise<T> {
    if (this.#stopped) throw new KithError("NOT_RUNNING", "the node's DHT is stopped");
    const { clock } = this.#parts;
    const started = clock.now();
    this.#running++;
    try {
      return await run();
    } finally {
      this.#running--;
      this.#operations++;
      this.#latency.record(clock.now() - started);
      if (this.#running === 0) this.transient.closeIdle();
    }
  }

  /** One refresh round: the store pruned, up to a few stale buckets looked up, the table saved. */
  #refresh(): void {
    const { clock, config } = this.#parts;
    const now = clock.now();
    this.service.store.prune(now);
    const stale = this.service.table.buckets().filter((b) => now - b.lastSeen >= config.dhtRefreshIntervalMs);
    for (const bucket of stale.slice(0, REFRESHES_PER_ROUND)) {
      void this.#op(() => this.service.lookup(this.#idInBucket(bucket.index))).catch(() => {});
    }
    this.#save();
  }

  /** A random id sharing exactly `index` leading bits with this node's (an id in bucket `index`). */
  #idInBucket(index: number): Uint8Array {
    const id = fromHex(this.#parts.identity.nodeId)!;
    const random = this.#parts.random;
    for (let bit = index + 1; bit < ID_BYTES * 8; bit++) {
      const mask = 0x80 >> (bit % 8);
      if (random() < 0.5) id[bit >> 3] ^= mask;
    }
    id[index >> 3] ^= 0x80 >> (index % 8);
    return id;
  }

  #save(): void {
    try {
      this.#parts.storage.saveDhtContacts(
        [...this.service.table.contacts()].map(({ nodeId, address, lastSeen }) => ({ nodeId, address, lastSeen })),
      );
    } catch (error) {
      this.#parts.log("error", "saving the DHT routing table failed", errorFields(error));
    }
  }

  /** Runs `task` every `intervalMs` until stop. */
  #every(intervalMs: number, task: () => void): void {
    const { clock, log } = this.#parts;
    const schedule = () => {
      const timer = clock.setTimeout(() => {
        this.#timers.delete(timer);
        if (this.#stopped) return;
        try {
          task();
        } catch (error) {
          log("error", "DHT timer task failed", errorFields(error));
        }
        schedule();
      }, intervalMs);
      this.#timers.add(timer);
    };
    schedule();
  }
}

function valueOf(key: Uint8Array, record: SignedRecord): DhtValue {
  return {
    key: toHex(key),
    owner: nodeIdFromPublicKey(record.publicKey),
    name: record.name,
    value: record.value,
    seq: record.seq,
    expiresAt: record.expiresAt,
  };
}
