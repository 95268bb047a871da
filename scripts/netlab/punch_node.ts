/**
 * A kith node for the lab's relay and hole-punching runs (scripts/netlab/punch.ts), inside one host, bounded
 * in time:
 *
 *   punch_node.ts relay  LISTEN MS              serve circuits for MS ms
 *   punch_node.ts target LISTEN RELAY MS        reserve at RELAY; print {"nodeId","address"} once reserved
 *                                               (the relayed address), then stay for MS ms
 *   punch_node.ts dial   LISTEN RELAY ID ADDRESS MS
 *                                               a fresh node: join through RELAY, dial the relayed ADDRESS of
 *                                               node ID, wait up to MS ms for a hole-punched link; print
 *                                               {"connected","linkKind","relayedMs","punchedMs"}
 *
 * LISTEN is HOST:PORT. Every address lives in the lab (198.18.0.0/16 and 10.77.0.0/16).
 *
 * @module
 */
import { parseHostPort } from "../../lib/address.ts";
import { KithNode } from "../../lib/node.ts";

const [role, listenText, ...rest] = Deno.args;
const listen = parseHostPort(listenText ?? "");
if (!listen || !["relay", "target", "dial"].includes(role)) {
  console.error("usage: punch_node.ts relay|target|dial LISTEN ... (see the header)");
  Deno.exit(2);
}
const config = {
  listenHost: listen.host,
  listenPort: listen.port,
  minPeers: 1,
  // The lab's internet is 198.18.0.0/16, which the public preset refuses: the lab is the operator's choice.
  dialAllow: ["198.18.0.0/16"],
  peerMaintenanceIntervalMs: 500,
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = Number(rest.at(-1));
if (!(ms > 0 && ms <= 600_000)) {
  console.error("punch_node.ts: MS must be 1..600000");
  Deno.exit(2);
}
const deadline = Date.now() + ms;

if (role === "relay") {
  const node = new KithNode({ config, relay: { relayService: true } });
  await node.start();
  console.log(JSON.stringify({ nodeId: node.nodeId, address: node.address }));
  while (Date.now() < deadline) await sleep(200);
  await node.stop();
} else if (role === "target") {
  const node = new KithNode({ config: { ...config, bootstrap: [rest[0]] }, relay: { reserveRelays: 1 } });
  await node.start();
  while (Date.now() < deadline && node.stats().relay.client.reservations === 0) await sleep(100);
  console.log(JSON.stringify({ nodeId: node.nodeId, address: node.components.transport.advertisedAddress }));
  while (Date.now() < deadline) await sleep(200);
  await node.stop();
} else {
  const [relay, targetId, address] = rest;
  const node = new KithNode({ config: { ...config, bootstrap: [relay] } });
  await node.start();
  const result = { connected: false, linkKind: "none", relayedMs: -1, punchedMs: -1, error: "" };
  const started = Date.now();
  try {
    while (Date.now() < deadline && node.peers().every((p) => p.state !== "active")) await sleep(50);
    const link = await node.components.transport.dial(address, { expectedNodeId: targetId });
    result.connected = true;
    result.linkKind = link.linkKind;
    result.relayedMs = Date.now() - started;
    while (Date.now() < deadline && node.components.transport.connection(targetId)?.linkKind !== "hole-punched") {
      if (node.stats().relay.punch.gaveUp > 0) break;
      await sleep(20);
    }
    const now = node.components.transport.connection(targetId);
    result.connected = now !== undefined;
    result.linkKind = now?.linkKind ?? "none";
    if (result.linkKind === "hole-punched") result.punchedMs = Date.now() - started;
  } catch (error) {
    result.error = (error as Error).message;
  }
  console.log(JSON.stringify(result));
  await node.stop();
}
