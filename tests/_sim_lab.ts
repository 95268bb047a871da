/**
 * The simulated network the simulator-based tests share: KithNodes on one virtual clock and an in-memory
 * network, with waits that step virtual time and let promise continuations (dial results) settle in between.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import type { NodeOptions } from "../lib/node.ts";
import { type RandomSource, seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimNetwork } from "../lib/sim/network.ts";
import { type SimNode, startSimNode } from "../lib/sim/node.ts";

/** A simulated node's options beyond its configuration. */
export type SimNodeOptions = Pick<NodeOptions, "gossip" | "catchup"> & { acceptsInbound?: boolean };

/** How a {@link SimLab} is made. */
export interface SimLabOptions {
  /** Seed of the network's latencies. */
  networkSeed: number;
  /** Randomness of the nodes' identities and choices. */
  random: RandomSource;
  /** Settings every node starts from. */
  base: Partial<NetworkConfig>;
  /** Virtual ms per step of {@link SimLab.run}, and what {@link SimLab.runUntil} runs between checks. Default 10. */
  stepMs?: number;
}

/** KithNodes on a simulated network with 2-10 ms links. */
export class SimLab {
  /** The virtual clock every node shares. */
  readonly clock: VirtualClock = new VirtualClock(1_700_000_000_000);
  /** The simulated network. */
  readonly network: SimNetwork;
  /** Randomness of the nodes' identities and choices. */
  readonly random: RandomSource;
  /** The nodes, by index. */
  readonly nodes: SimNode[] = [];
  readonly #base: Partial<NetworkConfig>;
  readonly #stepMs: number;

  /** A lab made as `options` say. */
  constructor(options: SimLabOptions) {
    this.network = new SimNetwork(this.clock, seededRandom(options.networkSeed), { minLatencyMs: 2, maxLatencyMs: 10 });
    this.random = options.random;
    this.#base = options.base;
    this.#stepMs = options.stepMs ?? 10;
  }

  /**
   * Starts node i (the next index) with `config` over the base settings; `options` are gossip settings over the
   * configuration's, a node's other options (catch-up) and whether its transport takes inbound connections.
   */
  async startNode(config: Partial<NetworkConfig> = {}, options: SimNodeOptions = {}): Promise<SimNode> {
    const { gossip = {}, acceptsInbound, ...extra } = options;
    const node = await startSimNode(
      this.network,
      this.nodes.length,
      this.random,
      { ...this.#base, ...config },
      "default",
      gossip,
      undefined,
      {},
      extra,
      acceptsInbound === undefined ? {} : { acceptsInbound },
    );
    this.nodes.push(node);
    return node;
  }

  /** Runs `ms` of virtual time in steps, letting promise continuations settle between them. */
  async run(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    while (this.clock.now() < until) {
      this.clock.runUntil(Math.min(until, this.clock.now() + this.#stepMs));
      for (let i = 0; i < 4; i++) await Promise.resolve();
    }
  }

  /** Runs virtual time until `condition` holds; fails after `limitMs` of virtual time. */
  async runUntil(condition: () => boolean, what: string, limitMs = 30_000): Promise<void> {
    const deadline = this.clock.now() + limitMs;
    while (!condition()) {
      if (this.clock.now() >= deadline) assert.fail(`no ${what} after ${limitMs} ms of virtual time`);
      await this.run(this.#stepMs);
    }
  }

  /** Stops every node; stopping waits for dials in flight, which only the virtual clock can finish. */
  async stop(): Promise<void> {
    let stopped = false;
    const stopping = Promise.all(this.nodes.map((n) => n.stop())).finally(() => stopped = true);
    for (let i = 0; i < 1_000 && !stopped; i++) await this.run(10);
    await stopping;
    this.clock.runUntil(this.clock.now() + 1_000);
  }
}
