/**
 * The DHT on the simulator: many {@link DhtService}s (the shipped DHT code) on one virtual clock, linked by a
 * model network with a seeded latency per link, nodes that go offline, and adversarial nodes, so lookups at
 * 10,000 nodes run in one process and a seed gives the same run every time. `scripts/dht-sim.ts` is its
 * command line.
 *
 * The model delivers an answer only from the node that was asked (the links a node would use are
 * authenticated), so an adversary can lie in what it answers, or not answer, but cannot answer as another id.
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import { type DhtConfig, type DhtRequest, type DhtResponse, DhtService, DhtStatus } from "../dht/mod.ts";
import type { LookupContact } from "../dht/lookup.ts";
import type { RandomSource } from "../random.ts";
import type { VirtualClock } from "./clock.ts";

/** How an adversarial node behaves. */
export type DhtAdversary =
  /** Never answers. */
  | "drop"
  /** Answers every query with adversarial nodes only, and keeps no record or provider. */
  | "lie"
  /** Answers every query with made-up contacts close to the key, which no node answers for, and keeps nothing. */
  | "fake";

/** One simulated DHT node. */
export interface SimDhtNode {
  /** Its id, 32 bytes. */
  readonly id: Uint8Array;
  /** Its id, hex. */
  readonly nodeId: string;
  /** Its address in the model (see {@link simDhtAddress}). */
  readonly address: string;
  /** Its DHT. */
  readonly dht: DhtService;
  /** Whether it answers at all now. */
  online: boolean;
  /** How it misbehaves, if it does. */
  adversary?: DhtAdversary;
}

/**
 * The model address of node `i` (up to 65,024 nodes): `127.a.b.1` with each node in its own /24 and 256 nodes
 * per /16, so the routing table's diversity bounds see distinct subnets, as distinct hosts on the internet.
 */
export function simDhtAddress(i: number): string {
  return `127.${1 + (i >> 8)}.${i & 255}.1:7400`;
}

/** N DHT services on a model network. */
export class SimDhtNetwork {
  /** The nodes, by index. */
  readonly nodes: SimDhtNode[] = [];
  readonly #byId = new Map<string, SimDhtNode>();
  readonly #clock: VirtualClock;
  readonly #random: RandomSource;
  readonly #minLatencyMs: number;
  readonly #maxLatencyMs: number;
  #liars: SimDhtNode[] | undefined;

  /** A model network on `clock`, one-way latency drawn per message in [min, max] ms. */
  constructor(
    clock: VirtualClock,
    random: RandomSource,
    options: { minLatencyMs?: number; maxLatencyMs?: number } = {},
  ) {
    this.#clock = clock;
    this.#random = random;
    this.#minLatencyMs = options.minLatencyMs ?? 10;
    this.#maxLatencyMs = options.maxLatencyMs ?? 80;
  }

  /** Adds a node with a random id (from the network's seeded randomness). */
  add(config: Partial<DhtConfig> = {}): SimDhtNode {
    const id = Uint8Array.from({ length: 32 }, () => Math.floor(this.#random() * 256));
    const index = this.nodes.length;
    const address = simDhtAddress(index);
    const network = {
      query: (contact: LookupContact, request: DhtRequest, done: (response: DhtResponse | undefined) => void) =>
        this.#deliver(node, contact, request, done),
    };
    const node: SimDhtNode = {
      id,
      nodeId: toHex(id),
      address,
      dht: new DhtService({ localId: id, network, clock: this.#clock, config }),
      online: true,
    };
    this.nodes.push(node);
    this.#byId.set(node.nodeId, node);
    return node;
  }

  /** The node `nodeId` (hex), if it is in the network. */
  get(nodeId: string): SimDhtNode | undefined {
    return this.#byId.get(nodeId);
  }

  #latency(): number {
    return this.#minLatencyMs + this.#random() * (this.#maxLatencyMs - this.#minLatencyMs);
  }

  #deliver(from: SimDhtNode, contact: LookupContact, request: DhtRequest, done: (r: DhtResponse | undefined) => void) {
    const to = this.#byId.get(contact.nodeId);
    // No such node, or one that is offline or drops queries: no answer (the asker's timeout fires).
    if (!to || !to.online || to.adversary === "drop" || !from.online) return;
    this.#clock.setTimeout(() => {
      if (!to.online) return;
      const response = to.adversary === "lie"
        ? this.#lie(request)
        : to.adversary === "fake"
        ? this.#fake(request)
        : to.dht.handle({ nodeId: from.nodeId, address: from.address, subnet: subnetOf(from.address) }, request);
      this.#clock.setTimeout(() => {
        if (from.online) done(response);
      }, this.#latency());
    }, this.#latency());
  }

  /** A liar's answer: k adversarial nodes, the closest of them to the key first (an eclipse attempt). */
  #lie(request: DhtRequest): DhtResponse {
    const liars = this.#liars ??= this.nodes.filter((n) => n.adversary === "lie");
    const nodes = [...liars].sort((a, b) => compare(request.key, a.id, b.id)).slice(0, 20)
      .map((n) => ({ nodeId: n.nodeId, address: n.address }));
    return { status: DhtStatus.OK, nodes, providers: [] };
  }

  /**
   * A faker's answer: 20 ids that share the key's first 20 bytes (closer than any real node) and do not exist,
   * each in its own /16 so that no diversity bound drops them.
   */
  #fake(request: DhtRequest): DhtResponse {
    const nodes: LookupContact[] = [];
    for (let i = 0; i < 20; i++) {
      const id = request.key.slice();
      for (let b = 20; b < id.length; b++) id[b] = Math.floor(this.#random() * 256);
      nodes.push({ nodeId: toHex(id), address: `127.${230 + i}.${Math.floor(this.#random() * 256)}.1:4000` });
    }
    return { status: DhtStatus.OK, nodes, providers: [] };
  }
}

function compare(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const da = a[i] ^ target[i], db = b[i] ^ target[i];
    if (da !== db) return da - db;
  }
  return 0;
}

function subnetOf(address: string): string {
  return address.split(".").slice(0, 3).join(".");
}
