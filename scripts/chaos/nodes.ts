/**
 * Nodes the chaos scenarios share: an honest kith node on a loopback address of its own, with fast
 * maintenance so a scenario's seconds hold many rounds. Loopback only.
 *
 * @module
 */
import type { NetworkConfig } from "../../lib/config.ts";
import type { GossipConfig } from "../../lib/gossip/mod.ts";
import type { LogSink } from "../../lib/log.ts";
import { KithNode } from "../../lib/node.ts";

const hosts = new Map<number, number>();

/**
 * Starts a node listening on `127.<prefix>.<n>.1` (n counts up per prefix, so each node is a subnet of its
 * own), with `dataDir` (or none) and `bootstrap`.
 */
export async function loopbackNode(
  prefix: number,
  dataDir: string | undefined,
  bootstrap: string[],
): Promise<KithNode> {
  const host = ((hosts.get(prefix) ?? 0) + 1) % 250;
  hosts.set(prefix, host);
  const node = new KithNode({
    dataDir,
    config: {
      listenHost: `127.${prefix}.${host}.1`,
      listenPort: 0,
      bootstrap,
      minPeers: 2,
      maxConnectionsPerIp: 1_000,
      peerMaintenanceIntervalMs: 100,
      gossipIntervalMs: 500,
      discoveryIntervalMs: 1_000,
    },
  });
  await node.start();
  return node;
}

/** Options of {@link fixedLinksNode}. */
export interface FixedLinksOptions {
  /** Settings over the scenario defaults. */
  config?: Partial<NetworkConfig>;
  /** Gossip settings beyond NetworkConfig's. */
  gossip?: Partial<GossipConfig>;
  /** Where the node logs. Default: nowhere. */
  log?: LogSink;
}

/**
 * Starts an in-memory node on `127.<prefix>.<n>.1` whose links are only the ones a scenario makes: it dials
 * its bootstrap nodes and nothing else (no outbound slots to fill, no discovery, no DHT), with fast
 * maintenance and gossip rounds.
 */
export async function fixedLinksNode(
  prefix: number,
  bootstrap: string[],
  options: FixedLinksOptions = {},
): Promise<KithNode> {
  const host = ((hosts.get(prefix) ?? 0) + 1) % 250;
  hosts.set(prefix, host);
  const node = new KithNode({
    config: {
      listenHost: `127.${prefix}.${host}.1`,
      listenPort: 0,
      bootstrap,
      minPeers: 1,
      outboundSlots: 0,
      peerMaintenanceIntervalMs: 100,
      gossipIntervalMs: 500,
      discoveryIntervalMs: 3_600_000,
      // The DHT's lookups would open transient links beyond the scenario's own.
      dhtEnabled: false,
      ...options.config,
    },
    gossip: options.gossip,
    log: options.log ?? (() => {}),
  });
  await node.start();
  return node;
}
