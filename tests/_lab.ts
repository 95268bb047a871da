/**
 * A small simulated network of KithNodes for the application API tests: node 0 is the seed, the others
 * dial it, and no node looks for more peers than `minPeers`.
 *
 * @module
 */
import type { NetworkConfig } from "../lib/config.ts";
import type { DirectConfig } from "../lib/direct/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimNetwork } from "../lib/sim/network.ts";
import { simAddress, type SimNode, startSimNode } from "../lib/sim/node.ts";
import { runUntilSettled } from "./_support.ts";

const FAST: Partial<NetworkConfig> = { peerMaintenanceIntervalMs: 50, minPeers: 2 };

/**
 * A lab of `count` nodes (more with `add`), node i with `direct[i]` as its direct settings; `stop` stops
 * them all on the virtual clock.
 */
export async function lab(
  count: number,
  config: Partial<NetworkConfig> = {},
  direct: Partial<DirectConfig>[] = [],
) {
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, seededRandom(7), { minLatencyMs: 2, maxLatencyMs: 5 });
  const random = seededRandom(3);
  const nodes: SimNode[] = [];
  const add = async (extra: Partial<NetworkConfig> = {}, direct: Partial<DirectConfig> = {}) => {
    const index = nodes.length;
    const bootstrap = index === 0 ? [] : [simAddress(0)];
    const overrides = { ...FAST, ...config, bootstrap, ...extra };
    nodes.push(await startSimNode(network, index, random, overrides, "default", {}, undefined, direct));
    return nodes[index];
  };
  for (let i = 0; i < count; i++) await add({}, direct[i]);
  const stop = () => runUntilSettled(clock, Promise.all(nodes.map((n) => n.stop())), "stop");
  return { clock, network, nodes, add, stop };
}
