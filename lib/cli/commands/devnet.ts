/**
 * `kith devnet`: several nodes on loopback in this process, demo traffic, a
 * live summary, and the devnet page.
 *
 * @module
 */
import { ControlApi } from "../../api.ts";
import { toHex } from "../../bytes.ts";
import { KithNode } from "../../node.ts";
import { type Flags, listenAddress, UsageError } from "../args.ts";
import { type CliIo, short, table } from "../output.ts";
import { waitForSignal } from "../signal.ts";

/** `kith devnet`: several nodes in this process, a live summary. */
export async function runDevnet(flags: Flags, io: CliIo): Promise<number> {
  const count = Number(flags.nodes ?? 5);
  const traffic = Number(flags.traffic ?? 1);
  const duration = flags.duration === undefined ? Infinity : Number(flags.duration);
  if (!Number.isInteger(count) || count < 2 || count > 100) {
    throw new UsageError("--nodes must be an integer in 2..100");
  }
  if (!(traffic >= 0 && traffic <= 1000)) {
    throw new UsageError("--traffic must be a number of messages per second in 0..1000");
  }
  if (!(duration > 0)) throw new UsageError("--duration must be a positive number of seconds");
  const nodes: KithNode[] = [];
  const received = new Map<KithNode, number>();
  const signal = waitForSignal();
  let publisher: ReturnType<typeof setInterval> | undefined, summary: ReturnType<typeof setInterval> | undefined;
  let server: ControlApi | undefined;
  try {
    for (let i = 0; i < count; i++) {
      const node = new KithNode({
        config: {
          listenHost: `127.0.${i + 1}.1`,
          listenPort: 0,
          bootstrap: i === 0 ? [] : [nodes[0].address],
          minPeers: Math.min(4, count - 1),
          maxConnectionsPerIp: 1_000,
          gossipIntervalMs: 500,
          peerMaintenanceIntervalMs: 200,
        },
      });
      await node.start();
      received.set(node, 0);
      node.subscribe("devnet", () => received.set(node, received.get(node)! + 1));
      nodes.push(node);
    }
    let page: string | undefined;
    if (flags.api !== "off") {
      // A free loopback port by default, so a devnet never collides with a node's API on 7401.
      const api = listenAddress(flags.api ?? "127.0.0.1:0", "--api");
      server = new ControlApi({
        node: nodes[0],
        token: toHex(crypto.getRandomValues(new Uint8Array(32))), // in memory only: the page logs in by code
        hostname: api.host,
        port: api.port,
        devnet: nodes,
      });
      const address = await server.start();
      page = `http://${address}/devnet#code=${server.loginCode()}`;
    }
    io.out(
      flags.json
        ? JSON.stringify({ devnet: nodes.map((n) => ({ nodeId: n.nodeId, address: n.address })), page })
        : `devnet: ${count} nodes on loopback; ${traffic} message(s)/s of demo traffic; Ctrl-C to stop` +
          (page ? `\nwatch it at ${page} (the code works once, for a minute)` : ""),
    );
    let seq = 0;
    if (traffic > 0) {
      publisher = setInterval(() => {
        const node = nodes[Math.floor(Math.random() * nodes.length)];
        node.broadcast(`demo message ${++seq} from ${short(node.nodeId)}`, { topic: "devnet" });
      }, 1000 / traffic);
    }
    const print = () => {
      const rows = nodes.map((n, i) => {
        const peers = n.peers().filter((p) => p.state === "active");
        const stats = n.stats().gossip;
        const meanTrust = peers.length ? peers.reduce((s, p) => s + p.trust, 0) / peers.length : 0;
        return {
          index: i,
          nodeId: n.nodeId,
          address: n.address,
          peers: peers.length,
          published: stats.published,
          received: received.get(n)!,
          duplicates: stats.duplicates,
          meanTrust,
        };
      });
      if (flags.json) io.out(JSON.stringify({ time: Date.now(), nodes: rows }));
      else {
        io.out(
          table([
            ["#", "NODE", "ADDRESS", "PEERS", "PUBLISHED", "RECEIVED", "DUPLICATES", "MEAN TRUST"],
            ...rows.map((
              r,
            ) => [
              String(r.index),
              short(r.nodeId),
              r.address,
              String(r.peers),
              String(r.published),
              String(r.received),
              String(r.duplicates),
              r.meanTrust.toFixed(3),
            ]),
          ]) + "\n",
        );
      }
    };
    summary = setInterval(print, 2_000);
    const timer = Number.isFinite(duration)
      ? new Promise<void>((r) => setTimeout(r, duration * 1000))
      : new Promise<void>(() => {});
    await Promise.race([signal.promise, timer]);
    print();
  } finally {
    signal.dispose();
    if (publisher !== undefined) clearInterval(publisher);
    if (summary !== undefined) clearInterval(summary);
    await server?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  }
  return 0;
}
