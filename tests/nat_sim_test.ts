/**
 * Observed addresses and the reachability check between KithNodes on the simulator: nodes in distinct
 * subnets tell each other where they see them, agree, ask for dial-backs; the ones that accept inbound dials
 * find themselves public, the one behind a (simulated) NAT private, and it then advertises no address.
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { createLinkMessage, createMessage, MessageType } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { SimLab } from "./_sim_lab.ts";
import { renderMetrics } from "../lib/api_metrics.ts";
import { statusJson } from "../lib/api_views.ts";
import { peersTable } from "../lib/cli/output.ts";

const FAST: Partial<NetworkConfig> = {
  gossipIntervalMs: 100,
  peerMaintenanceIntervalMs: 50,
  discoveryIntervalMs: 300,
  heartbeatIntervalMs: 1_000,
  reachabilityTimeoutMs: 2_000,
  // Six nodes asking at once meet the answerers' total dial-back rate (a burst of 4): the ones refused try again.
  reachabilityRetryMs: 5_000,
};

Deno.test("sim: public nodes classify themselves public, a node behind a NAT private, and it stops advertising", async () => {
  const lab = new SimLab({ networkSeed: 5, random: seededRandom(23), base: FAST });
  try {
    const first = await lab.startNode();
    for (let i = 1; i < 5; i++) await lab.startNode({ bootstrap: [first.address] });
    const natted = await lab.startNode({ bootstrap: [first.address] }, { acceptsInbound: false });
    const publics = lab.nodes.slice(0, 5);
    await lab.runUntil(
      () => lab.nodes.every((n) => n.node.reachability().reachability !== "unknown"),
      "a verdict at every node",
      60_000,
    );
    for (const n of publics) {
      const status = n.node.reachability();
      assert.equal(status.reachability, "public", `node ${n.index}`);
      assert.equal(status.checkedAddress, n.address);
      assert.equal(status.observedAddress, n.address);
      assert.equal(n.transport.advertisedAddress, n.address);
    }
    const status = natted.node.reachability();
    assert.equal(status.reachability, "private");
    assert.equal(status.observedAddress, natted.address, "peers still see where its links come from");
    assert.equal(natted.transport.advertisedAddress, "", "it advertises no address nobody can dial");
    assert.ok(status.checks.unreachable >= 2);
    // Its next link tells the peer so: no listen address, and nothing kept in that peer's book to pass on.
    const late = await lab.startNode({ bootstrap: [first.address] });
    await lab.runUntil(() => late.node.peers().some((p) => p.state === "active"), "a link for the late node");
    const connecting = natted.node.connect(late.address);
    await lab.runUntil(() => late.node.peers().some((p) => p.nodeId === natted.node.nodeId), "the NATed node's link");
    await connecting;
    const entry = late.node.peers().find((p) => p.nodeId === natted.node.nodeId)!;
    assert.equal(late.transport.connection(natted.node.nodeId)?.listenAddress, "");
    assert.equal(entry.address, "");
    assert.equal(entry.linkKind, "direct");
    // What an operator sees: status, the peers table's link column, the metrics.
    const shown = statusJson(natted.node).stats as { nat: { reachability: string; advertisedAddress: string } };
    assert.equal(shown.nat.reachability, "private");
    assert.equal(shown.nat.advertisedAddress, "");
    const table = peersTable(late.node.peers().filter((p) => p.state === "active"));
    assert.match(table.split("\n")[0], /\bLINK\b/);
    assert.match(table, /\bdirect\b/);
    const metrics = renderMetrics(first.node);
    assert.match(metrics, /^kith_reachability\{state="public"\} 1$/m);
    assert.match(metrics, /^kith_reachability\{state="private"\} 0$/m);
    assert.match(metrics, /^kith_peer_links\{kind="direct"\} [1-9]\d*$/m);
    assert.match(metrics, /^kith_dial_backs_total\{outcome="unreachable"\} [1-9]\d*$/m);
  } finally {
    await lab.stop();
  }
});

Deno.test("sim: a peer without nat/1 is sent no NAT message; bad NAT messages cost their sender trust, a second report is ignored, a relayed link serves no dial-back", async () => {
  const lab = new SimLab({ networkSeed: 6, random: seededRandom(29), base: { ...FAST, minTrustThreshold: 0 } });
  try {
    const hub = await lab.startNode();
    const modern = await lab.startNode({ bootstrap: [hub.address] });
    const old = await lab.startNode({ bootstrap: [hub.address] });
    old.transport.agent = "kith/0.1.0 direct/1 topics/1"; // before its dial completes: an older kith
    const natTypes = new Set<number>([
      MessageType.OBSERVED_ADDRESS,
      MessageType.DIAL_BACK_REQUEST,
      MessageType.DIAL_BACK_RESPONSE,
    ]);
    const received = new Map<string, number>();
    lab.network.onReceive = (to, _from, envelope) => {
      if (natTypes.has(envelope.type)) received.set(to, (received.get(to) ?? 0) + 1);
    };
    await lab.runUntil(() => hub.node.peers().filter((p) => p.state === "active").length >= 2, "the hub's links");
    await lab.run(500);
    assert.equal(received.get(old.address) ?? 0, 0, "an older kith gets nothing new");
    assert.ok((received.get(modern.address) ?? 0) >= 1, "a nat/1 peer is told where it is seen");
    assert.equal(hub.node.components.nat.observed.reportOf(modern.node.nodeId), hub.address);
    // From modern to the hub: a second report on the link, then a relayed one and one with a TTL.
    const link = modern.transport.connection(hub.node.nodeId)!;
    const trustBefore = hub.node.trust.trust(modern.node.nodeId);
    const report = (identity: typeof modern.identity, address: string, ttl = 0) =>
      createMessage(identity, MessageType.OBSERVED_ADDRESS, { address }, { ttl, timestamp: lab.clock.now() });
    link.send(createLinkMessage(modern.identity, MessageType.OBSERVED_ADDRESS, { address: "127.0.9.9:1" }, {
      timestamp: lab.clock.now(),
    }));
    await lab.run(100);
    assert.equal(hub.node.components.nat.observed.reportOf(modern.node.nodeId), hub.address, "one report per link");
    const afterRepeat = hub.node.trust.trust(modern.node.nodeId);
    assert.ok(afterRepeat >= trustBefore, `a repeat costs nothing (${trustBefore} -> ${afterRepeat})`);
    link.send(report(old.identity, "127.0.9.9:1"));
    link.send(report(modern.identity, "127.0.9.9:1", 1));
    await lab.run(100);
    assert.ok(hub.node.trust.trust(modern.node.nodeId) <= afterRepeat - 0.19, "two BAD_FIELD penalties");
    // Over a link the hub holds as relayed, a dial-back request means nothing: not served, not answered.
    hub.transport.connection(modern.node.nodeId)!.linkKind = "relayed";
    const answersBefore = received.get(modern.address) ?? 0;
    link.send(
      createLinkMessage(modern.identity, MessageType.DIAL_BACK_REQUEST, { requestId: 1, address: modern.address }, {
        timestamp: lab.clock.now(),
      }),
    );
    await lab.run(200);
    assert.equal(hub.node.components.nat.server.stats.requests, 0);
    assert.equal(received.get(modern.address) ?? 0, answersBefore);
  } finally {
    await lab.stop();
  }
});
