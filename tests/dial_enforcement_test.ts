/**
 * Where the dial policy is enforced: the peer manager drops announced addresses it refuses (never stored,
 * never dialed), and the transport refuses any dial outside it, whoever asks (TCP and the simulator). The
 * refused range is part of loopback (127.99.0.0/16), so nothing leaves the host even if a check failed.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import { Identity } from "../lib/identity.ts";
import { createLinkMessage, MessageType } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimNetwork } from "../lib/sim/network.ts";
import { type SimNode, startSimNode } from "../lib/sim/node.ts";
import { LOOPBACK_DIAL_POLICY, resolveDialPolicy, TcpTransport, TransportError } from "../lib/transport/mod.ts";
import { componentConfigs } from "../lib/config.ts";
import { honestNode } from "../scripts/chaos.ts";
import { runCli } from "../lib/cli/mod.ts";
import { KithNode } from "../lib/node.ts";
import { assertLoopbackOnly, runUntil, runUntilSettled } from "./_support.ts";

const REFUSED = "127.99.0.0/16";
const FAST = { peerMaintenanceIntervalMs: 50, discoveryIntervalMs: 300, gossipIntervalMs: 100 };

Deno.test("announced addresses the dial policy refuses are never stored or dialed; permitted ones are", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, seededRandom(3), { minLatencyMs: 2, maxLatencyMs: 5 });
  const random = seededRandom(4);
  const dials: string[] = [];
  network.onDial = (from, to) => dials.push(`${from}>${to}`);
  const nodes: SimNode[] = [];
  try {
    const victim = await startSimNode(network, 1, random, { ...FAST, minPeers: 4, dialDeny: [REFUSED] });
    const announcer = await startSimNode(network, 2, random, FAST);
    const permitted = await startSimNode(network, 3, random, FAST);
    nodes.push(victim, announcer, permitted);
    // Something answers at the refused address, so a dial there would show and would succeed.
    const refusedTarget = network.transport(Identity.generate(), "127.99.1.1:7400");
    const link = await runUntilSettled(clock, announcer.peers.connect(victim.address), "the announcer's link");
    link.connection.send(createLinkMessage(announcer.identity, MessageType.PEER_ANNOUNCEMENT, {
      peers: [
        { nodeId: refusedTarget.identity.nodeIdBytes, address: refusedTarget.address, lastSeen: clock.now() },
        { nodeId: permitted.identity.nodeIdBytes, address: permitted.address, lastSeen: clock.now() },
      ],
    }, { timestamp: clock.now() }));
    await runUntil(
      clock,
      () => victim.peers.activePeer(permitted.identity.nodeId) !== undefined,
      "the victim dialing the permitted announced peer",
    );
    assert.ok(dials.includes(`${victim.address}>${permitted.address}`));
    assert.ok(!dials.some((d) => d.endsWith(`>${refusedTarget.address}`)), dials.join(" "));
    assert.ok(!victim.peers.peers().some((p) => p.address === refusedTarget.address), "not in the book");
    assert.equal(victim.peers.stats.refusedByPolicy, 1);
    // The transport refuses it too, whoever asks (here a manual connect), before anything is sent.
    const manual = victim.node.connect(refusedTarget.address);
    await assert.rejects(runUntilSettled(clock, manual, "the manual dial"), (e: unknown) => {
      return e instanceof TransportError && e.code === "DIAL_REFUSED" && e.message.includes("127.99.0.0/16");
    });
    assert.equal(victim.transport.stats.dialsRefused, 1);
    assert.ok(!dials.some((d) => d.endsWith(`>${refusedTarget.address}`)));
    await refusedTarget.close();
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    clock.runUntil(clock.now() + 1_000);
  }
});

Deno.test("a simulated node cannot be given a dial policy wider than loopback", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, seededRandom(5), {});
  await assert.rejects(startSimNode(network, 1, seededRandom(6), { dialPolicy: "public" }), RangeError);
  assert.throws(
    () =>
      network.transport(Identity.generate(), "127.0.9.1:7400", {
        dialPolicy: resolveDialPolicy({ preset: "private" }),
      }),
    RangeError,
  );
});

/** A TCP listener at `host` counting the connections it accepts. */
function countingListener(host: string) {
  const listener = Deno.listen({ hostname: host, port: 0, transport: "tcp" });
  const state = { accepted: 0, address: `${host}:${(listener.addr as Deno.NetAddr).port}` };
  const loop = (async () => {
    for await (const conn of listener) {
      state.accepted++;
      conn.close();
    }
  })().catch(() => {});
  return { state, close: async () => (listener.close(), await loop) };
}

Deno.test("TCP refuses dials outside the policy with DIAL_REFUSED before opening a socket, and counts them", async () => {
  const target = countingListener("127.99.2.1");
  const peer = new TcpTransport({ identity: Identity.generate(), config: { listenHost: "127.0.0.1", listenPort: 0 } });
  const logged: string[] = [];
  const transport = new TcpTransport({
    identity: Identity.generate(),
    config: {
      listenHost: "127.0.0.1",
      listenPort: 0,
      dialPolicy: resolveDialPolicy({ listenHost: "127.0.0.1", deny: [REFUSED] }),
    },
    log: (level, message, fields) => logged.push(`${level} ${message} ${fields?.address}`),
    // Names the policy permits are resolved, then checked: this one resolves into the refused range.
    resolve: (name) => Promise.resolve(name === "refused.test" ? ["127.99.2.1"] : [peer.listenAddress.split(":")[0]]),
  });
  try {
    const address = await peer.listen();
    for (let i = 0; i < 3; i++) {
      await assert.rejects(transport.dial(target.state.address), (e: unknown) => {
        return e instanceof TransportError && e.code === "DIAL_REFUSED";
      });
    }
    assert.equal(transport.stats.dialsRefused, 3);
    assert.equal(transport.permitsDial(target.state.address), false);
    assert.equal(transport.permitsDial(address), true);
    assert.equal(logged.filter((l) => l.includes(target.state.address)).length, 1, "logged once per address");
    assert.ok(logged[0].startsWith("debug "));
    // A host name no one configured is never resolved (hearsay is dialed by IP only).
    await assert.rejects(transport.dial("refused.test:7400"), (e: unknown) => {
      return e instanceof TransportError && e.code === "DIAL_REFUSED" && e.message.includes("host name");
    });
    const connection = await transport.dial(address);
    assert.equal(connection.remoteNodeId, peer.nodeId);
    assert.equal(target.state.accepted, 0);
  } finally {
    await transport.close();
    await peer.close();
    await target.close();
  }
});

Deno.test("a configured host name is resolved, then its addresses must pass the policy", async () => {
  const target = countingListener("127.99.3.1");
  const port = Number(target.state.address.split(":")[1]);
  const transport = new TcpTransport({
    identity: Identity.generate(),
    config: {
      listenHost: "127.0.0.1",
      listenPort: 0,
      dialPolicy: resolveDialPolicy({ preset: "loopback", deny: [REFUSED], bootstrap: [`seed.test:${port}`] }),
    },
    resolve: () => Promise.resolve(["127.99.3.1"]),
  });
  try {
    assert.equal(transport.permitsDial(`seed.test:${port}`), true);
    await assert.rejects(transport.dial(`seed.test:${port}`), (e: unknown) => {
      return e instanceof TransportError && e.code === "DIAL_REFUSED" && e.message.includes("127.99.3.1");
    });
    assert.equal(target.state.accepted, 0);
  } finally {
    await transport.close();
    await target.close();
  }
});

Deno.test("a bootstrap entry the dial policy refuses, or a malformed policy setting, is a ConfigError", () => {
  const node = new KithNode({ config: { listenHost: "127.0.0.1", listenPort: 0 } });
  assert.equal(node.config.dialPolicy, "auto");
  // (Bootstrap entries outside loopback under the loopback preset: tests/dial_policy_test.ts, with no node.)
  assert.throws(
    () =>
      new KithNode({
        config: { listenHost: "127.0.0.1", dialDeny: [REFUSED], bootstrap: ["127.0.0.1:7400", "127.99.0.1:7400"] },
      }),
    (e: unknown) => e instanceof ConfigError && e.key === "bootstrap" && e.message.includes("127.99.0.1:7400"),
  );
  assert.throws(
    () => new KithNode({ config: { dialDeny: ["10.0.0.0/33"] } }),
    (e: unknown) => e instanceof ConfigError && e.key === "dialDeny",
  );
  assert.throws(
    () => new KithNode({ config: { dialAllow: "10.0.0.0/8" as never } }),
    (e: unknown) => e instanceof ConfigError && e.key === "dialAllow",
  );
  assert.throws(
    () => new KithNode({ config: { dialPolicy: "open" as never } }),
    (e: unknown) => e instanceof ConfigError && e.key === "dialPolicy",
  );
});

Deno.test("kith start takes --dial-policy, --dial-allow and --dial-deny (comma-separated), refusing bad ones with exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string[], RegExp][] = [
      [["--dial-deny", "127.0.0.0/33"], /dialDeny/],
      [["--dial-allow", "127.0.0.0/8,nonsense"], /dialAllow.*nonsense/],
      [["--dial-policy", "open"], /dialPolicy/],
      // The ranges reach the policy: the second --dial-deny range refuses the bootstrap entry.
      [
        [
          "--dial-deny",
          "127.98.0.0/16",
          "--dial-deny",
          "127.97.0.0/16,127.99.0.0/16",
          "--bootstrap",
          "127.99.0.1:7400",
        ],
        /bootstrap.*127\.99\.0\.1:7400/,
      ],
    ];
    for (const [flags, message] of cases) {
      const err: string[] = [];
      const code = await runCli(["start", "--data-dir", dir, "--listen", "127.0.0.1:0", ...flags], {
        out: () => {},
        err: (line) => err.push(line),
      });
      assert.equal(code, 2, flags.join(" "));
      assert.match(err.join("\n"), message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the nodes and transports tests, benchmarks and chaos scenarios build dial loopback only", async () => {
  // Whatever listens on loopback gets the loopback-only policy by default (auto): the rule every test relies on.
  for (const host of ["127.0.0.1", "127.60.1.1", "::1"]) {
    const transport = new TcpTransport({ identity: Identity.generate(), config: { listenHost: host, listenPort: 0 } });
    assertLoopbackOnly(transport.config.dialPolicy, `a transport listening on ${host}`);
    await transport.close();
  }
  assertLoopbackOnly(LOOPBACK_DIAL_POLICY, "LOOPBACK_DIAL_POLICY (dial-only benchmark clients)");
  const node = new KithNode({ config: { listenHost: "127.0.0.1", listenPort: 0, bootstrap: ["127.0.0.1:7400"] } });
  assertLoopbackOnly(componentConfigs(node.config).transport.dialPolicy!, "a node listening on loopback");
  // The chaos harness's honest node, as every scenario builds it.
  const { node: honest } = await honestNode();
  try {
    assertLoopbackOnly((honest.components.transport as TcpTransport).config.dialPolicy, "chaos.ts honestNode");
  } finally {
    await honest.stop();
  }
  // The simulator's nodes, whatever the overrides.
  const clock = new VirtualClock(1_700_000_000_000);
  const sim = await startSimNode(new SimNetwork(clock, seededRandom(7), {}), 1, seededRandom(8), {});
  try {
    assertLoopbackOnly(componentConfigs(sim.node.config).transport.dialPolicy!, "a simulated node");
  } finally {
    await runUntilSettled(clock, sim.stop(), "the simulated node to stop");
  }
  assert.throws(() => assertLoopbackOnly(resolveDialPolicy({ preset: "public" })), /outside loopback/);
});
