/**
 * A node's DHT: the server side that answers other nodes' queries from its routing table and store, and
 * the client side that runs lookups (`lookup.ts`) to find a node, find or announce a key's providers, and
 * put and get signed records. The network is a {@link DhtNetwork}: on a node it sends over authenticated
 * links; in the simulator and tests it is a model with latency and failures. Callbacks, not promises, carry
 * answers, so a lookup runs entirely on the injected clock's events; only its result is a promise.
 *
 * Bounds: queries answered per peer (a token bucket), contacts per answer (`k`), queries in flight per lookup
 * (`alpha` per path), a timeout per query and per lookup, and the store's own bounds (`store.ts`).
 *
 * @module
 */
import { fromHex, toHex } from "../bytes.ts";
import type { Clock, TimerId } from "../clock.ts";
import { TokenBucket } from "../ratelimit.ts";
import { ID_BYTES } from "./distance.ts";
import { IterativeLookup, type LookupContact } from "./lookup.ts";
import { recordKey, type SignedRecord, verifyRecord } from "./records.ts";
import { RoutingTable, type RoutingTableConfig } from "./routing_table.ts";
import { DhtStore, type DhtStoreConfig, type ProviderRecord } from "./store.ts";

/** What a query asks. */
export type DhtOperation = "FIND_NODE" | "GET_VALUE" | "PUT_VALUE" | "ADD_PROVIDER" | "GET_PROVIDERS";

/** A query to one node. */
export interface DhtRequest {
  /** What it asks. */
  op: DhtOperation;
  /** The target id or key, 32 bytes. */
  key: Uint8Array;
  /** The record to store, for PUT_VALUE. */
  record?: SignedRecord;
}

/** Status codes of a {@link DhtResponse}. */
export const DhtStatus = {
  /** Answered. */
  OK: 0,
  /** The asker is over its rate. */
  RATE_LIMITED: 1,
  /** The request was malformed. */
  BAD_REQUEST: 2,
  /** A PUT_VALUE or ADD_PROVIDER the store refused (stale, conflicting, invalid or over a bound). */
  REFUSED: 3,
} as const;

/** A node's answer to a {@link DhtRequest}. */
export interface DhtResponse {
  /** A {@link DhtStatus} code. */
  status: number;
  /** The nodes it knows closest to the key, at most `k`. */
  nodes: LookupContact[];
  /** For GET_PROVIDERS: the key's providers it keeps, at most `k`. */
  providers: ProviderRecord[];
  /** For GET_VALUE: the record it keeps under the key, if any. */
  record?: SignedRecord;
}

/** Carries queries to other nodes. */
export interface DhtNetwork {
  /**
   * Sends `request` to `contact` and calls `done` once with its answer, or with `undefined` when it could not
   * be reached or its answer was malformed. An implementation must deliver only answers authenticated as coming
   * from `contact.nodeId`. The service applies its own timeout; a late `done` is ignored.
   */
  query(contact: LookupContact, request: DhtRequest, done: (response: DhtResponse | undefined) => void): void;
}

/** Who sent a query, as the link it came over says. */
export interface DhtRequester {
  /** Its node id, hex (authenticated by the link). */
  nodeId: string;
  /** Where it listens, `host:port`, or `""` if it does not (it is then not added to the table). */
  address: string;
  /** Its subnet, for the store's per-source bounds. */
  subnet: string;
}

/** Settings of a {@link DhtService}. */
export interface DhtConfig {
  /** Queries in flight per lookup path (Kademlia's α). Default 3. */
  alpha: number;
  /** Disjoint lookup paths for records and providers (S/Kademlia's d). Default 1; 3 against a Sybil region. */
  paths: number;
  /** A query not answered within this long fails, ms. Default 1,000. */
  queryTimeoutMs: number;
  /**
   * A lookup's query not answered within this long, ms, gives up its place among the alpha in flight to the next
   * candidate (its answer still counts until `queryTimeoutMs`). Default 250: above the round trips of healthy
   * links, so a dead contact costs a quarter of the timeout instead of all of it; lower asks more nodes.
   */
  lateAfterMs: number;
  /** A lookup ends with what it has after this long, ms. Default 10,000. */
  lookupTimeoutMs: number;
  /** Queries answered per peer per second; twice it is the burst. Default 20. */
  queriesPerPeerPerSecond: number;
  /** Provider records live this long, ms (providers republish before). Default 24 h, as libp2p. */
  providerTtlMs: number;
  /** The routing table's settings. */
  table?: Partial<RoutingTableConfig>;
  /** The store's bounds. */
  store?: Partial<DhtStoreConfig>;
}

/** The default {@link DhtConfig}. */
export const DEFAULT_DHT_CONFIG: Readonly<DhtConfig> = Object.freeze({
  alpha: 3,
  paths: 1,
  queryTimeoutMs: 1_000,
  lateAfterMs: 250,
  lookupTimeoutMs: 10_000,
  queriesPerPeerPerSecond: 20,
  providerTtlMs: 24 * 3_600_000,
});

/** What a finished lookup saw. */
export interface LookupOutcome {
  /** The closest nodes that answered, closest first. */
  closest: (LookupContact & { hops: number })[];
  /** Queries sent. */
  queries: number;
  /** Virtual or real ms from start to end. */
  elapsedMs: number;
  /** Whether it ended by its timeout. */
  timedOut: boolean;
}

/** Counters of a {@link DhtService}. */
export interface DhtStats {
  /** Queries answered. */
  answered: number;
  /** Queries refused over a peer's rate. */
  rateLimited: number;
  /** Queries sent. */
  queriesSent: number;
  /** Queries that failed or timed out. */
  queriesFailed: number;
  /** Lookups run. */
  lookups: number;
  /** Lookups finished with an answer. */
  lookupsAnswered: number;
  /**
   * Sum over the lookups finished with an answer of the hops at which the closest answerer was found (mean
   * hops = hops / lookupsAnswered).
   */
  hops: number;
  /** Nodes and providers in answers dropped because the dial policy refuses their addresses. */
  hearsayRefused: number;
}

/** Options of a {@link DhtService}. */
export interface DhtServiceOptions {
  /** This node's id, 32 bytes. */
  localId: Uint8Array;
  /** The queries' carrier. */
  network: DhtNetwork;
  /** Time and timers. */
  clock: Clock;
  /** Settings over {@link DEFAULT_DHT_CONFIG}. */
  config?: Partial<DhtConfig>;
  /**
   * The dial policy (the transport's `permitsDial`): a node or provider named in an answer at an address it
   * refuses is hearsay pointing where this node must not connect, dropped before a lookup, `findPeer` or
   * `findProviders` takes it (as peer exchange drops such records). Default: every address.
   */
  permits?: (address: string) => boolean;
}

/** One node's DHT. */
export class DhtService {
  /** The settings in force. */
  readonly config: Readonly<DhtConfig>;
  /** The routing table. */
  readonly table: RoutingTable;
  /** What this node keeps for others. */
  readonly store: DhtStore;
  /** Counters. */
  readonly stats: DhtStats = {
    answered: 0,
    rateLimited: 0,
    queriesSent: 0,
    queriesFailed: 0,
    lookups: 0,
    lookupsAnswered: 0,
    hops: 0,
    hearsayRefused: 0,
  };
  readonly #local: string;
  readonly #network: DhtNetwork;
  readonly #clock: Clock;
  readonly #permits: (address: string) => boolean;
  readonly #buckets = new Map<string, TokenBucket>();
  // Addresses heard of in answers (hearsay, bounded): what findPeer returns when the node itself was not asked.
  readonly #heard = new Map<string, string>();

  /** Creates the DHT of the node `localId`; its table starts empty. */
  constructor(options: DhtServiceOptions) {
    this.config = Object.freeze({ ...DEFAULT_DHT_CONFIG, ...options.config });
    this.table = new RoutingTable(options.localId, this.config.table);
    this.store = new DhtStore(this.config.store);
    this.#local = toHex(options.localId);
    this.#network = options.network;
    this.#clock = options.clock;
    this.#permits = options.permits ?? (() => true);
  }

  /** An authenticated link or answer showed `nodeId` alive at `address`: it goes into (or up in) the table. */
  noteAlive(nodeId: string, address: string): void {
    if (address === "") return;
    const outcome = this.table.add(nodeId, address, this.#clock.now());
    if (outcome.kind !== "full") return;
    // Kademlia's rule: the oldest contact keeps its place if it still answers.
    const oldest = outcome.oldest;
    this.#send(oldest, { op: "FIND_NODE", key: oldest.id }, (response) => {
      if (response === undefined) this.table.failed(oldest.nodeId);
      else this.table.seen(oldest.nodeId, this.#clock.now());
    });
  }

  /** A peer disconnected or failed a query: it leaves the table if it was there (a replacement moves in). */
  noteGone(nodeId: string): void {
    this.table.failed(nodeId);
  }

  /** Answers a query from `from` (authenticated by its link). */
  handle(from: DhtRequester, request: DhtRequest): DhtResponse {
    const now = this.#clock.now();
    const k = this.table.config.k;
    let bucket = this.#buckets.get(from.nodeId);
    if (!bucket) {
      const rate = this.config.queriesPerPeerPerSecond;
      this.#buckets.set(from.nodeId, bucket = new TokenBucket(rate, 2 * rate, now));
      // Bounded like the table: peers not heard from in a while make room.
      if (this.#buckets.size > 4 * k * 32) this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    if (!bucket.take(now)) {
      this.stats.rateLimited++;
      return { status: DhtStatus.RATE_LIMITED, nodes: [], providers: [] };
    }
    if (!(request.key instanceof Uint8Array) || request.key.length !== ID_BYTES) {
      return { status: DhtStatus.BAD_REQUEST, nodes: [], providers: [] };
    }
    this.stats.answered++;
    if (from.address !== "") this.noteAlive(from.nodeId, from.address);
    const nodes = this.table.closest(request.key, k, (c) => c.nodeId === from.nodeId)
      .map(({ nodeId, address }) => ({ nodeId, address }));
    switch (request.op) {
      case "FIND_NODE":
        return { status: DhtStatus.OK, nodes, providers: [] };
      case "GET_VALUE": {
        const record = this.store.get(request.key, now);
        return { status: DhtStatus.OK, nodes, providers: [], ...(record ? { record } : {}) };
      }
      case "PUT_VALUE": {
        if (!request.record) return { status: DhtStatus.BAD_REQUEST, nodes, providers: [] };
        try {
          verifyRecord(request.record, request.key, now);
        } catch {
          return { status: DhtStatus.REFUSED, nodes, providers: [] };
        }
        const outcome = this.store.put(request.key, request.record, from.subnet, now);
        const ok = outcome === "stored" || outcome === "replaced" || outcome === "unchanged";
        return { status: ok ? DhtStatus.OK : DhtStatus.REFUSED, nodes, providers: [] };
      }
      case "ADD_PROVIDER": {
        if (from.address === "") return { status: DhtStatus.REFUSED, nodes, providers: [] };
        const provider = { nodeId: from.nodeId, address: from.address, expiresAt: now + this.config.providerTtlMs };
        const ok = this.store.addProvider(request.key, provider, from.subnet, now);
        return { status: ok ? DhtStatus.OK : DhtStatus.REFUSED, nodes, providers: [] };
      }
      case "GET_PROVIDERS":
        return { status: DhtStatus.OK, nodes, providers: this.store.providers(request.key, now, k) };
      default:
        return { status: DhtStatus.BAD_REQUEST, nodes, providers: [] };
    }
  }

  /**
   * Finds the nodes closest to `target` (32 bytes), over `paths` disjoint paths (default 1); with `stopWhen`,
   * ends as soon as an answer satisfies it (the outcome then holds what had answered by then).
   */
  lookup(
    target: Uint8Array,
    options: { paths?: number; stopWhen?: (from: LookupContact, response: DhtResponse) => boolean } = {},
  ): Promise<LookupOutcome> {
    const stop = options.stopWhen ?? (() => false);
    return this.#run(target, "FIND_NODE", options.paths ?? 1, stop).then((run) => run.outcome);
  }

  /**
   * The address of the node `nodeId` (hex), found by a lookup of its id; `undefined` when no one knows it.
   * The address is what the nodes around the id say: dialing it proves who answers (the handshake checks the id).
   */
  async findPeer(nodeId: string): Promise<string | undefined> {
    const known = this.table.get(nodeId);
    if (known) return known.address;
    const id = fromHex(nodeId);
    if (!id || id.length !== ID_BYTES) return undefined;
    const { outcome } = await this.#run(
      id,
      "FIND_NODE",
      1,
      (_from, response) => response.nodes.some((n) => n.nodeId === nodeId),
    );
    return outcome.closest.find((c) => c.nodeId === nodeId)?.address ?? this.#heard.get(nodeId);
  }

  /** Announces this node as a provider of `key` at the `k` nodes closest to it; resolves with how many took it. */
  async provide(key: Uint8Array): Promise<number> {
    const { outcome } = await this.#run(key, "FIND_NODE", this.config.paths, () => false);
    return await this.#sendAll(outcome.closest, { op: "ADD_PROVIDER", key });
  }

  /** Up to `limit` providers of `key`, from the nodes around it (stops as soon as it has `limit`). */
  async findProviders(key: Uint8Array, limit = 20): Promise<ProviderRecord[]> {
    const found = new Map<string, ProviderRecord>();
    for (const provider of this.store.providers(key, this.#clock.now(), limit)) found.set(provider.nodeId, provider);
    if (found.size >= limit) return [...found.values()];
    await this.#run(key, "GET_PROVIDERS", this.config.paths, (_from, response) => {
      for (const provider of response.providers.slice(0, limit)) {
        if (typeof provider?.nodeId === "string" && typeof provider.address === "string") {
          found.set(provider.nodeId, provider);
        }
      }
      return found.size >= limit;
    });
    return [...found.values()].slice(0, limit);
  }

  /** Stores `record` (signed by its owner) at the `k` nodes closest to its key; resolves with how many took it. */
  async put(record: SignedRecord): Promise<number> {
    const key = recordKey(record.publicKey, record.name);
    const { outcome } = await this.#run(key, "FIND_NODE", this.config.paths, () => false);
    return await this.#sendAll(outcome.closest, { op: "PUT_VALUE", key, record });
  }

  /** The record under `key` with the highest sequence number the nodes around it keep, checked. */
  async get(key: Uint8Array): Promise<SignedRecord | undefined> {
    let best = this.store.get(key, this.#clock.now());
    await this.#run(key, "GET_VALUE", this.config.paths, (_from, response) => {
      const record = response.record;
      if (!record || (best && record.seq <= best.seq)) return false;
      try {
        verifyRecord(record, key, this.#clock.now());
        best = record;
      } catch {
        // A forged or stale record costs only the answer it came in.
      }
      return false;
    });
    return best;
  }

  /** Runs one lookup; `stop` says after an answer whether to end early. */
  #run(
    target: Uint8Array,
    op: DhtOperation,
    paths: number,
    stop: (from: LookupContact, response: DhtResponse) => boolean,
  ): Promise<{ outcome: LookupOutcome }> {
    this.stats.lookups++;
    const started = this.#clock.now();
    const k = this.table.config.k;
    const seeds = this.table.closest(target, k).map(({ nodeId, address }) => ({ nodeId, address }));
    const lookup = new IterativeLookup(this.#local, target, seeds, { alpha: this.config.alpha, k, paths });
    return new Promise((resolve) => {
      let inFlight = 0, finished = false, stopped = false;
      const finish = (timedOut: boolean) => {
        if (finished) return;
        finished = true;
        this.#clock.clearTimeout(timer);
        const closest = lookup.result();
        if (closest.length > 0) {
          this.stats.lookupsAnswered++;
          this.stats.hops += closest[0].hops;
        }
        resolve({
          outcome: {
            closest,
            queries: lookup.queries,
            elapsedMs: this.#clock.now() - started,
            timedOut,
          },
        });
      };
      // Set before the first query goes out: finish() runs only after it, from an answer or from this timer.
      const timer: TimerId = this.#clock.setTimeout(() => finish(true), this.config.lookupTimeoutMs);
      const pump = () => {
        if (finished) return;
        if (!stopped) {
          for (const contact of lookup.next()) {
            inFlight++;
            this.#send(contact, { op, key: target }, (answer) => {
              inFlight--;
              if (finished) return;
              const response = answer && this.#dialable(answer);
              if (response === undefined || response.status !== DhtStatus.OK) lookup.failed(contact.nodeId);
              else {
                lookup.answered(contact.nodeId, response.nodes);
                for (const node of response.nodes.slice(0, k)) {
                  if (typeof node?.nodeId === "string" && typeof node.address === "string") {
                    if (this.#heard.size >= 4 * k) this.#heard.delete(this.#heard.keys().next().value!);
                    this.#heard.set(node.nodeId, node.address);
                  }
                }
                if (stop(contact, response)) stopped = true;
              }
              pump();
            }, () => {
              // Slow: the next candidate takes its place among the alpha in flight (its answer still counts).
              if (finished) return;
              lookup.late(contact.nodeId);
              pump();
            });
          }
        }
        // Stopped early, done (its k closest answered), or nothing in flight after asking for more: late
        // queries still out are not waited for.
        if (stopped || lookup.done || inFlight === 0) finish(false);
      };
      pump();
    });
  }

  /** `response` without the nodes and providers whose addresses the dial policy refuses. */
  #dialable(response: DhtResponse): DhtResponse {
    const nodes = response.nodes.filter((n) => typeof n?.address !== "string" || this.#permits(n.address));
    const providers = response.providers.filter((p) => typeof p?.address !== "string" || this.#permits(p.address));
    const refused = response.nodes.length - nodes.length + response.providers.length - providers.length;
    if (refused === 0) return response;
    this.stats.hearsayRefused += refused;
    return { ...response, nodes, providers };
  }

  /** Sends `request` to each of `contacts`; resolves with how many answered OK. */
  #sendAll(contacts: readonly LookupContact[], request: DhtRequest): Promise<number> {
    if (contacts.length === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      let left = contacts.length, ok = 0;
      for (const contact of contacts) {
        this.#send(contact, request, (response) => {
          if (response?.status === DhtStatus.OK) ok++;
          if (--left === 0) resolve(ok);
        });
      }
    });
  }

  /**
   * Sends one query with the per-query timeout; `done` is called once. A contact that answers goes up in the
   * table (its answer came over an authenticated link); one that fails leaves it.
   */
  #send(
    contact: LookupContact,
    request: DhtRequest,
    done: (response: DhtResponse | undefined) => void,
    late?: () => void,
  ): void {
    this.stats.queriesSent++;
    let settled = false;
    const lateTimer = late ? this.#clock.setTimeout(late, this.config.lateAfterMs) : undefined;
    const settle = (response: DhtResponse | undefined) => {
      if (settled) return;
      settled = true;
      this.#clock.clearTimeout(timer);
      if (lateTimer !== undefined) this.#clock.clearTimeout(lateTimer);
      if (response === undefined) {
        this.stats.queriesFailed++;
        this.table.failed(contact.nodeId);
      } else if (contact.nodeId !== this.#local) {
        this.noteAlive(contact.nodeId, contact.address);
      }
      done(response);
    };
    const timer = this.#clock.setTimeout(() => settle(undefined), this.config.queryTimeoutMs);
    try {
      this.#network.query(contact, request, settle);
    } catch {
      settle(undefined);
    }
  }
}
