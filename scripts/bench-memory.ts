/**
 * Memory of a node: idle in its own process, and with many connected peers.
 *
 *   deno task bench:memory -- [--peers 1000]
 *
 * Starts one node (the hub) in this process and measures its RSS when idle;
 * then a child process opens `--peers` authenticated connections to it (bare
 * transports, one identity each), and the hub's RSS is measured again once
 * all are active. Prints one JSON line. Loopback only; bounded in time.
 */
import { parseArgs } from "node:util";
import { Identity } from "../lib/identity.ts";
import { LOOPBACK_DIAL_POLICY, TcpTransport } from "../lib/transport/mod.ts";
import { KithNode } from "../lib/node.ts";

const args = parseArgs({
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: { peers: { type: "string", default: "1000" }, clients: { type: "string" } },
}).values;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => Number((bytes / 1048576).toFixed(1));

async function settledRss(): Promise<number> {
  // Let allocation settle; RSS includes garbage not yet collected, so collect it when the task exposes
  // the collector (--v8-flags=--expose-gc), and take the lowest of a few samples.
  let lowest = Infinity;
  for (let i = 0; i < 10; i++) {
    await sleep(100);
    (globalThis as { gc?: () => void }).gc?.();
    lowest = Math.min(lowest, Deno.memoryUsage().rss);
  }
  return lowest;
}

if (args.clients !== undefined) {
  // Child: open the connections, report, then hold them until stdin closes.
  const [address, count] = [args.clients, Number(args.peers)];
  const transports: TcpTransport[] = [];
  for (let i = 0; i < count; i++) {
    // Dial-only transports: they never listen.
    // Dial-only clients: without a loopback listen host to derive it from, the loopback policy is explicit.
    const t = new TcpTransport({
      identity: Identity.generate(),
      config: { handshakeTimeoutMs: 30_000, dialPolicy: LOOPBACK_DIAL_POLICY },
    });
    transports.push(t);
    await t.dial(address);
  }
  console.log(JSON.stringify({ connected: transports.length }));
  for await (const _ of Deno.stdin.readable) { /* hold until the parent closes stdin */ }
  await Promise.all(transports.map((t) => t.close()));
  Deno.exit(0);
}

const peers = Number(args.peers);
const hub = new KithNode({
  config: {
    listenHost: "127.29.0.1",
    listenPort: 0,
    minPeers: 0,
    outboundSlots: 0,
    maxPeers: peers + 10,
    maxInbound: peers + 10,
    maxConnectionsPerIp: peers + 10,
    maxPeersPerIp: peers + 10,
    maxPeersPerSubnet: peers + 10,
    peerTimeoutMs: 600_000,
    heartbeatIntervalMs: 300_000,
  },
});
await hub.start();
const idle = await settledRss();
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net=127.0.0.0/8",
    new URL(import.meta.url).pathname,
    "--peers",
    String(peers),
    "--clients",
    hub.address,
  ],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const deadline = Date.now() + 120_000;
while (hub.peers().filter((p) => p.state === "active").length < peers && Date.now() < deadline) await sleep(100);
const active = hub.peers().filter((p) => p.state === "active").length;
const loaded = await settledRss();
await child.stdin.close();
await child.stdout.cancel();
await child.status;
await hub.stop();
console.log(JSON.stringify({
  idle_node_rss_mb: mb(idle),
  peers: active,
  rss_with_peers_mb: mb(loaded),
  kb_per_peer: Number(((loaded - idle) / 1024 / Math.max(1, active)).toFixed(1)),
}));
