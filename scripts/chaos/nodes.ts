/**
 * Nodes the chaos scenarios share: an honest kith node on a loopback address of its own, with fast
 * maintenance so a scenario's seconds hold many rounds. Loopback only.
 *
 * @module
 */
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
