import assert from "node:assert/strict";
import { DEFAULT_NETWORK_CONFIG, PRESETS, resolveNetworkConfig } from "../lib/config.ts";
import { ConfigError } from "../lib/errors.ts";

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
