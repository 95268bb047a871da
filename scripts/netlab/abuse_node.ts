/**
 * A kith node for the lab's relay-abuse run (scripts/netlab/abuse.ts), inside one host, bounded in time. Each
 * prints JSON lines on stdout; the first is its {"nodeId","address"} (or its result, for the one-shot roles).
 *
 *   abuse_node.ts relay   LISTEN MAX_BYTES MS          serve circuits (MAX_BYTES a circuit, 4 reservations an
 *                                                       IP); print its relay counters every 500 ms
 *   abuse_node.ts target  LISTEN RELAY MS              reserve at RELAY; print {"nodeId","address"} once reserved,
 *                                                       then {"from","text"} for each direct message of text
 *   abuse_node.ts honest  LISTEN RELAY ID ADDRESS MS   dial node ID at its relayed ADDRESS; print {"linked","nodeId"};
 *                                                       then send "honest N" to it every 500 ms
 *   abuse_node.ts reserve LISTEN RELAY N MS            send N RELAY_RESERVE over its link to RELAY; print
 *                                                       {"sent","cutMs"} when the relay cuts the link (or at MS)
 *   abuse_node.ts flood   LISTEN RELAY ID ADDRESS BYTES MS
 *                                                       dial ID through RELAY, push BYTES over the circuit in 4 KiB
 *                                                       direct messages; print {"linked","pushed","open"}
 *
 * Hole punching is off: the circuits must stay relayed to be measured. Every address lives in the lab.
 *
 * @module
 */
import { parseHostPort } from "../../lib/address.ts";
import { KithNode } from "../../lib/node.ts";
import { createLinkMessage, MessageType } from "../../lib/protocol/mod.ts";
import type { Connection } from "../../lib/transport/mod.ts";

const [role, listenText, ...rest] = Deno.args;
const listen = parseHostPort(listenText ?? "");
if (!listen || !["relay", "target", "honest", "reserve", "flood"].includes(role)) {
  console.error("usage: abuse_node.ts relay|target|honest|reserve|flood LISTEN ... (see the header)");
  Deno.exit(2);
}
const ms = Number(rest.at(-1));
if (!(ms > 0 && ms <= 600_000)) {
  console.error("abuse_node.ts: MS must be 1..600000");
  Deno.exit(2);
}
const deadline = Date.now() + ms;
const config = {
  listenHost: listen.host,
  listenPort: listen.port,
  minPeers: 1,
  dialAllow: ["198.18.0.0/16"],
  peerMaintenanceIntervalMs: 500,
  reachabilityCheck: false,
};
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const print = (value: unknown) => console.log(JSON.stringify(value));
const active = (node: KithNode, id: string) => node.peers().some((p) => p.nodeId === id && p.state === "active");

if (role === "relay") {
  const node = new KithNode({
    config,
    relay: { relayService: true, circuitMaxBytes: Number(rest[0]), maxReservationsPerIp: 4, holePunching: false },
  });
  await node.start();
  print({ nodeId: node.nodeId, address: node.address });
  while (Date.now() < deadline) {
    print({ relay: node.stats().relay.relay });
    await sleep(500);
  }
  await node.stop();
} else if (role === "target") {
  const node = new KithNode({
    config: { ...config, bootstrap: [rest[0]] },
    relay: { reserveRelays: 1, holePunching: false },
  });
  node.onDirect((m) => print({ from: m.from, text: new TextDecoder().decode(m.data).slice(0, 32) }));
  await node.start();
  while (Date.now() < deadline && node.stats().relay.client.reservations === 0) await sleep(100);
  print({ nodeId: node.nodeId, address: node.components.transport.advertisedAddress });
  while (Date.now() < deadline) await sleep(200);
  await node.stop();
} else if (role === "reserve") {
  const node = new KithNode({ config: { ...config, bootstrap: [rest[0]] }, relay: { holePunching: false } });
  await node.start();
  let sent = 0, cutMs = -1;
  while (Date.now() < deadline && node.peers().every((p) => p.state !== "active")) await sleep(50);
  const link = node.peers().find((p) => p.state === "active")
    ? node.components.transport.connection(node.peers().find((p) => p.state === "active")!.nodeId)
    : undefined;
  if (link) {
    const started = Date.now();
    for (let i = 0; i < Number(rest[1]) && link.isOpen; i++, sent++) {
      link.send(createLinkMessage(node.components.identity, MessageType.RELAY_RESERVE, { requestId: i }));
    }
    while (Date.now() < deadline && link.isOpen) await sleep(20);
    if (!link.isOpen) cutMs = Date.now() - started;
  }
  print({ sent, cutMs });
  await node.stop();
} else {
  const [relay, targetId, address] = rest;
  const node = new KithNode({ config: { ...config, bootstrap: [relay] }, relay: { holePunching: false } });
  await node.start();
  while (Date.now() < deadline && node.peers().every((p) => p.state !== "active")) await sleep(50);
  let link: Connection | undefined;
  for (let i = 0; i < 8 && !link && Date.now() < deadline; i++) {
    link = await node.components.transport.dial(address, { expectedNodeId: targetId }).catch(async () => {
      await sleep(500);
      return undefined;
    });
  }
  while (link && Date.now() < deadline && !active(node, targetId)) await sleep(50);
  if (role === "honest") {
    print({ linked: link !== undefined && active(node, targetId), nodeId: node.nodeId });
    for (let n = 0; Date.now() < deadline; n++) {
      if (active(node, targetId)) node.sendDirect(targetId, `honest ${n}`);
      await sleep(500);
    }
  } else {
    const chunk = new Uint8Array(4096).fill(1);
    let pushed = 0;
    const linked = link !== undefined && active(node, targetId);
    while (linked && pushed < Number(rest[3]) && link!.isOpen && Date.now() < deadline) {
      try {
        node.sendDirect(targetId, chunk);
      } catch {
        break;
      }
      pushed += chunk.length;
      await sleep(5);
    }
    await sleep(1_000); // the relay's cut arrives after the last chunk it refused to carry
    print({ linked, pushed, open: link?.isOpen ?? false });
  }
  await node.stop();
}
