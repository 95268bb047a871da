import assert from "node:assert/strict";
import {
  componentConfigs,
  DEFAULT_NETWORK_CONFIG,
  type NetworkConfig,
  PRESETS,
  resolveNetworkConfig,
} from "../lib/config.ts";
import { ConfigError } from "../lib/errors.ts";
import { resolveGossipConfig } from "../lib/gossip/mod.ts";
import { resolveTransportConfig } from "../lib/transport/mod.ts";
import { KithNode } from "../lib/node.ts";
import { resolvePeersConfig } from "../lib/peers/mod.ts";
import { MessageCodec } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimNetwork } from "../lib/sim/network.ts";
import { resolveTrustConfig } from "../lib/trust.ts";

Deno.test("the presets carry exactly the design's values", () => {
  const throughput = resolveNetworkConfig({}, "high-throughput");
  assert.equal(throughput.gossipFanout, 5);
  assert.equal(throughput.gossipIntervalMs, 500);
  assert.equal(throughput.maxPeers, 100);
  const low = resolveNetworkConfig({}, "low-resource");
  assert.equal(low.gossipFanout, 2);
  assert.equal(low.gossipIntervalMs, 2_000);
  assert.equal(low.maxPeers, 20);
  assert.equal(low.messageCacheSize, 1_000);
  const secure = resolveNetworkConfig({}, "high-security");
  assert.equal(secure.initialTrustScore, 0.3);
  assert.equal(secure.minTrustThreshold, 0.5);
  assert.equal(secure.trustDecayRate, 0.02);
  // A preset changes only its own keys.
  for (const [name, values] of Object.entries(PRESETS)) {
    const resolved = resolveNetworkConfig({}, name as keyof typeof PRESETS);
    for (const key of Object.keys(DEFAULT_NETWORK_CONFIG) as (keyof typeof DEFAULT_NETWORK_CONFIG)[]) {
      if (key === "outboundSlots") continue; // derived from maxPeers, checked below
      const expected = key in values ? values[key as keyof typeof values] : DEFAULT_NETWORK_CONFIG[key];
      assert.deepEqual(resolved[key], expected, `${name}.${key}`);
    }
  }
});

Deno.test("the design's defaults: initial trust 0.5, decay 0.01", () => {
  assert.equal(DEFAULT_NETWORK_CONFIG.initialTrustScore, 0.5);
  assert.equal(DEFAULT_NETWORK_CONFIG.trustDecayRate, 0.01);
});

Deno.test("outbound slots leave room for inbound peers when max_peers is small, unless set", () => {
  assert.equal(resolveNetworkConfig({}).outboundSlots, 8);
  assert.equal(resolveNetworkConfig({ maxPeers: 8 }).outboundSlots, 4);
  assert.equal(resolveNetworkConfig({}, "low-resource").outboundSlots, 8);
  assert.equal(resolveNetworkConfig({ maxPeers: 8, outboundSlots: 8 }).outboundSlots, 8);
});

Deno.test("overrides apply over a preset", () => {
  assert.equal(resolveNetworkConfig({ maxPeers: 30 }, "high-throughput").maxPeers, 30);
});

Deno.test("an invalid value is refused with one line naming the key", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ gossipFanout: 0 }, "gossipFanout"],
    [{ gossipOriginPrune: "yes" }, "gossipOriginPrune"],
    [{ maxPeers: 1.5 }, "maxPeers"],
    [{ minTrustThreshold: 2 }, "minTrustThreshold"],
    [{ trustDecayRate: -0.1 }, "trustDecayRate"],
    [{ listenPort: 70000 }, "listenPort"],
    [{ bootstrap: ["nope"] }, "bootstrap"],
    [{ advertisedAddress: "x" }, "advertisedAddress"],
    [{ minPeers: 10, maxPeers: 5 }, "minPeers"],
    [{ networkId: "" }, "networkId"],
    [{ gossipFanuot: 3 }, "gossipFanuot"],
    [{ addressIntervalMs: 0 }, "addressIntervalMs"],
    [{ addressBurst: 0 }, "addressBurst"],
    [{ addressCacheMs: 1.5 }, "addressCacheMs"],
    [{ feelerIntervalMs: 999 }, "feelerIntervalMs"],
    [{ anchors: -1 }, "anchors"],
    [{ anchors: "2" }, "anchors"],
    [{ minTopicPeers: 65 }, "minTopicPeers"],
    [{ topicSlots: -1 }, "topicSlots"],
    [{ dhtInboundTransientLinks: -1 }, "dhtInboundTransientLinks"],
    [{ dhtInboundTransientPerIp: 0 }, "dhtInboundTransientPerIp"],
    [{ dhtInboundTransientPerSubnet: 1.5 }, "dhtInboundTransientPerSubnet"],
  ];
  for (const [overrides, key] of cases) {
    assert.throws(() => resolveNetworkConfig(overrides as never), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.key, key);
      assert.ok(e.message.startsWith(key) || e.message.includes(JSON.stringify(key)), e.message);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
  assert.throws(
    () => resolveNetworkConfig({}, "fastest" as never),
    (e: unknown) => e instanceof ConfigError && e.key === "preset",
  );
});

Deno.test("a setting that no component would take is refused by new KithNode, naming the setting, not later by start()", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ messageTtl: 0 }, "messageTtl"],
    [{ messageTtl: 40, maxTtl: 16 }, "messageTtl"],
    [{ listenHost: "not a host!" }, "listenHost"],
    [{ networkId: "x".repeat(65) }, "networkId"],
    [{ heartbeatIntervalMs: 30_000, peerTimeoutMs: 30_000 }, "heartbeatIntervalMs"],
  ];
  for (const [overrides, key] of cases) {
    assert.throws(() => new KithNode({ config: overrides as never }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.key, key);
      assert.ok(e.message.startsWith(key), e.message);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("what a config becomes passes every component's own validation, for random settings the rules accept", () => {
  const random = seededRandom(11);
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)];
  const candidates: Partial<Record<keyof NetworkConfig, unknown[]>> = {
    listenPort: [0, 1, 65535],
    gossipFanout: [1, 3, 1000],
    gossipIntervalMs: [10, 1000],
    maxPeers: [1, 2, 50, 10_000],
    minPeers: [0, 1, 8],
    messageCacheSize: [16, 10_000],
    messageTtl: [1, 16, 255],
    maxTtl: [0, 16, 255],
    maxMessageAgeMs: [1_000, 300_000, 600_000],
    maxClockSkewMs: [0, 30_000],
    maxApplicationPayloadBytes: [1, 65_536, 1_000_000],
    maxFrameBytes: [1024, 4096, 1 << 20, 16 << 20],
    outboundSlots: [0, 1, 8],
    peerRateLimit: [1, 1000],
    originRateLimit: [1, 200],
    handshakeTimeoutMs: [10, 5000],
    addressIntervalMs: [1, 10_000],
    addressBurst: [1, 1_000],
    addressCacheMs: [1, 600_000],
    feelerIntervalMs: [1_000, 120_000],
    anchors: [0, 2, 100],
    minTopicPeers: [0, 2, 64],
    topicSlots: [0, 2, 64],
  };
  let accepted = 0;
  for (let i = 0; i < 2_000; i++) {
    const overrides: Record<string, unknown> = {};
    for (const [key, values] of Object.entries(candidates)) if (random() < 0.3) overrides[key] = pick(values!);
    let config: NetworkConfig;
    try {
      config = resolveNetworkConfig(overrides as Partial<NetworkConfig>);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      continue;
    }
    accepted++;
    const parts = componentConfigs(config);
    resolveTransportConfig(parts.transport);
    resolvePeersConfig(parts.peers);
    resolveTrustConfig(parts.trust);
    resolveGossipConfig(parts.gossip);
    new MessageCodec(parts.protocol);
  }
  assert.ok(accepted > 100, `only ${accepted} of 2,000 random configs were valid`);
});

Deno.test("the address, feeler, anchor and topic-slot settings of a NetworkConfig reach a started node's peer manager", async () => {
  const settings = {
    addressIntervalMs: 2_500,
    addressBurst: 77,
    addressCacheMs: 45_000,
    feelerIntervalMs: 9_000,
    anchors: 5,
    topicSlots: 3,
  } satisfies Partial<NetworkConfig>;
  for (const [key, value] of Object.entries(settings)) {
    assert.notEqual(DEFAULT_NETWORK_CONFIG[key as keyof NetworkConfig], value, `${key} must differ from its default`);
  }
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, seededRandom(3));
  const node = new KithNode({
    config: { ...settings, verifyThreads: 0 },
    clock,
    random: seededRandom(4),
    transport: (context) => network.transport(context.identity, "127.9.0.1:7400"),
  });
  await node.start();
  const peers = node.components.peers.config;
  let stopped = false;
  const stopping = node.stop().finally(() => stopped = true);
  for (let i = 0; i < 100 && !stopped; i++) {
    clock.runUntil(clock.now() + 10);
    await Promise.resolve();
  }
  await stopping;
  for (const [key, value] of Object.entries(settings)) assert.equal(peers[key as keyof typeof peers], value, key);
});
