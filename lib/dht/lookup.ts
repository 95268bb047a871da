/**
 * Kademlia's iterative lookup as a state machine, with S/Kademlia's disjoint paths: the caller sends the
 * queries `next()` hands out (at most α in flight per path), reports each answer or failure, and stops when
 * `done`. Pure logic: the network, timeouts and clock are the caller's, so the simulator and tests run the
 * same code as a node.
 *
 * - Each path keeps the candidates it has heard of, closest first, and queries the closest ones not yet
 *   queried; it is done when the `k` closest candidates it knows have all answered (or failed and are
 *   dropped), or when nothing is left to query.
 * - With `paths` > 1 (S/Kademlia), the seeds are dealt out among the paths, each path keeps candidates of its
 *   own, and a node is queried by one path only (another path that hears of it drops it), so a Sybil region
 *   that captures one path cannot answer for the others; the result is the `k` closest over all paths.
 * - Every answer is bounded (at most `k` contacts are read) and a contact that is malformed, this node, or the
 *   target's impostor of an id already known with another address is ignored.
 *
 * @module
 */
import { fromHex } from "../bytes.ts";
import { compareDistance, ID_BYTES } from "./distance.ts";

/** A node a lookup may query: its id (hex) and address. */
export interface LookupContact {
  /** Node id, hex. */
  readonly nodeId: string;
  /** Listening address, `host:port`. */
  readonly address: string;
}

/** Settings of a lookup. */
export interface LookupConfig {
  /** Queries in flight per path (Kademlia's α). Default 3. */
  alpha: number;
  /** The closest nodes a lookup must hear from before it ends (Kademlia's k). Default 20. */
  k: number;
  /** Disjoint paths (S/Kademlia's d). Default 1; 2-4 resist a Sybil region at the cost of more queries. */
  paths: number;
  /**
   * Queries one path may send before it ends as it stands. Default 100: an honest lookup over 10,000 nodes
   * takes a few dozen; nodes that keep answering with ever closer made-up ids cannot keep a path going.
   */
  queriesPerPath: number;
}

/** The default {@link LookupConfig}. */
export const DEFAULT_LOOKUP_CONFIG: Readonly<LookupConfig> = Object.freeze({
  alpha: 3,
  k: 20,
  paths: 1,
  queriesPerPath: 100,
});

// "late": asked, not answered within the soft timeout; its answer is still taken, but it no longer holds a
// place among the alpha in flight, so a lookup is not stalled by a dead contact for the whole query timeout.
type State = "waiting" | "asked" | "late" | "answered";

/** A path holds at most this many times `k` candidates: answers cannot grow a lookup without bound. */
const MAX_CANDIDATES_PER_K = 4;

interface Candidate extends LookupContact {
  readonly id: Uint8Array;
  state: State;
  /** Hops from this node: 1 for a seed, one more than its informant's otherwise. */
  hops: number;
  path: number;
}

/** One lookup of `target`, over one or more disjoint paths. */
export class IterativeLookup {
  /** The settings in force. */
  readonly config: Readonly<LookupConfig>;
  /** The id looked up. */
  readonly target: Uint8Array;
  readonly #local: string;
  // Per path: the nodes it heard of. A node may be heard of by several paths, but is asked by one only.
  readonly #known: Map<string, Candidate>[];
  // Node -> the candidate of the path that asked it.
  readonly #asked = new Map<string, Candidate>();
  readonly #paths: Candidate[][];
  readonly #pathQueries: number[];
  #queries = 0;

  /**
   * Starts a lookup of `target` (32 bytes) from `seeds` (this node's closest contacts), dealt out among the
   * paths. `localNodeId` is never queried.
   */
  constructor(
    localNodeId: string,
    target: Uint8Array,
    seeds: readonly LookupContact[],
    config: Partial<LookupConfig> = {},
  ) {
    if (target.length !== ID_BYTES) throw new RangeError(`a lookup target is ${ID_BYTES} bytes`);
    this.config = Object.freeze({ ...DEFAULT_LOOKUP_CONFIG, ...config });
    for (const [key, value] of Object.entries(this.config)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`lookup ${key} must be an integer of at least 1`);
      }
    }
    this.target = target;
    this.#local = localNodeId;
    this.#paths = Array.from({ length: this.config.paths }, () => []);
    this.#known = this.#paths.map(() => new Map());
    this.#pathQueries = this.#paths.map(() => 0);
    const unique = new Map<string, LookupContact>();
    for (const seed of seeds) if (!unique.has(seed?.nodeId)) unique.set(seed?.nodeId, seed);
    const sorted = [...unique.values()].map((s) => this.#candidate(s, 1, 0)).filter((c) => c !== undefined)
      .sort((a, b) => compareDistance(target, a.id, b.id));
    sorted.forEach((candidate, i) => this.#admit(candidate, i % this.config.paths));
  }

  /** Queries sent so far. */
  get queries(): number {
    return this.#queries;
  }

  /** The contacts to query now (marked as asked): per path, the closest not yet asked, up to α in flight. */
  next(): LookupContact[] {
    const out: LookupContact[] = [];
    this.#paths.forEach((path, index) => {
      // Candidates another path already asked leave this one: each node answers one path only.
      for (let i = path.length - 1; i >= 0; i--) {
        if (path[i].state === "waiting" && this.#asked.has(path[i].nodeId)) path.splice(i, 1);
      }
      let inFlight = path.filter((c) => c.state === "asked").length;
      for (const candidate of this.#window(path)) {
        if (inFlight >= this.config.alpha || this.#pathQueries[index] >= this.config.queriesPerPath) break;
        if (candidate.state !== "waiting") continue;
        candidate.state = "asked";
        this.#asked.set(candidate.nodeId, candidate);
        inFlight++;
        this.#queries++;
        this.#pathQueries[index]++;
        out.push({ nodeId: candidate.nodeId, address: candidate.address });
      }
    });
    return out;
  }

  /**
   * `nodeId` answered with `contacts` (the nodes it knows closest to the target): they join its path. Only
   * the first `k` are read. An answer from a node that was not asked is ignored.
   */
  answered(nodeId: string, contacts: readonly LookupContact[]): void {
    const from = this.#asked.get(nodeId);
    if (!from || (from.state !== "asked" && from.state !== "late")) return;
    from.state = "answered";
    for (const contact of contacts.slice(0, this.config.k)) {
      const candidate = this.#candidate(contact, from.hops + 1, from.path);
      if (candidate) this.#admit(candidate, from.path);
    }
  }

  /**
   * `nodeId` has not answered yet and is probably slow or gone: its place among the `alpha` in flight goes to
   * the next candidate (its answer, if it comes, is still taken).
   */
  late(nodeId: string): void {
    const candidate = this.#asked.get(nodeId);
    if (candidate?.state === "asked") candidate.state = "late";
  }

  /** `nodeId` did not answer in time, or answered with something invalid: it is dropped from its path. */
  failed(nodeId: string): void {
    const candidate = this.#asked.get(nodeId);
    if (!candidate || (candidate.state !== "asked" && candidate.state !== "late")) return;
    const path = this.#paths[candidate.path];
    path.splice(path.indexOf(candidate), 1);
  }

  /**
   * Whether every path is done: its `k` closest known have answered, or nothing is left to ask or wait for, or
   * it spent its queries (and none is in flight).
   */
  get done(): boolean {
    return this.#paths.every((path, index) => {
      const window = this.#window(path);
      if (window.every((c) => c.state === "answered")) return true;
      return this.#pathQueries[index] >= this.config.queriesPerPath &&
        !path.some((c) => c.state === "asked" || c.state === "late");
    });
  }

  /** Whether `nodeId` answered on some path (a lookup for a node or a record succeeds when its holder did). */
  heardFrom(nodeId: string): boolean {
    return this.#asked.get(nodeId)?.state === "answered";
  }

  /** The `k` closest nodes that answered, over all paths, closest first, with the hops each took. */
  result(): (LookupContact & { hops: number })[] {
    return this.#paths.flat().filter((c) => c.state === "answered")
      .sort((a, b) => compareDistance(this.target, a.id, b.id))
      .slice(0, this.config.k)
      .map(({ nodeId, address, hops }) => ({ nodeId, address, hops }));
  }

  /** The `k` closest candidates of a path still in it (the ones a lookup waits for). */
  #window(path: Candidate[]): Candidate[] {
    return path.slice(0, this.config.k);
  }

  #candidate(contact: LookupContact, hops: number, path: number): Candidate | undefined {
    if (typeof contact?.nodeId !== "string" || typeof contact.address !== "string") return undefined;
    if (contact.nodeId === this.#local || this.#known[path].has(contact.nodeId)) return undefined;
    if (this.#asked.has(contact.nodeId)) return undefined;
    const id = fromHex(contact.nodeId);
    if (!id || id.length !== ID_BYTES) return undefined;
    return { nodeId: contact.nodeId, address: contact.address, id, state: "waiting", hops, path };
  }

  /** Inserts a new candidate into its path, in distance order. */
  #admit(candidate: Candidate, index: number): void {
    candidate.path = index;
    this.#known[index].set(candidate.nodeId, candidate);
    const path = this.#paths[index];
    let at = path.length;
    while (at > 0 && compareDistance(this.target, candidate.id, path[at - 1].id) < 0) at--;
    path.splice(at, 0, candidate);
    // Bounded: beyond MAX_CANDIDATES_PER_K * k, the farthest not-yet-asked candidate goes (asked ones stay, their
    // answers are awaited).
    if (path.length > MAX_CANDIDATES_PER_K * this.config.k) {
      for (let i = path.length - 1; i >= 0; i--) {
        if (path[i].state === "waiting") {
          path.splice(i, 1);
          break;
        }
      }
    }
  }
}
