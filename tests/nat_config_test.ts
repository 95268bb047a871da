/** The reachability settings: defaults, validation naming the key, and the `kith start` flags that set them. */
import assert from "node:assert/strict";
import { parseCliArgs } from "../lib/cli/args.ts";
import { startConfig } from "../lib/cli/commands/node.ts";
import { componentConfigs, DEFAULT_NETWORK_CONFIG, resolveNetworkConfig } from "../lib/config.ts";
import { ConfigError } from "../lib/errors.ts";

Deno.test("reachability config: defaults reach the NAT component, and a quorum above the peers asked is refused by name", () => {
  const nat = componentConfigs(resolveNetworkConfig()).nat;
  assert.equal(nat.enabled, true);
  assert.equal(nat.minGroups, 3);
  assert.equal(nat.quorum, 2);
  assert.equal(nat.peersPerCheck, 3);
  assert.equal(DEFAULT_NETWORK_CONFIG.reachabilityRecheckMs, 900_000);
  assert.throws(
    () => resolveNetworkConfig({ reachabilityQuorum: 4, reachabilityPeers: 3 }),
    (error: unknown) => error instanceof ConfigError && error.key === "reachabilityQuorum",
  );
});

Deno.test("reachability flags: kith start sets each reachability setting", () => {
  const { values } = parseCliArgs([
    "start",
    "--no-reachability-check",
    "--observed-groups",
    "1",
    "--reachability-peers",
    "4",
    "--reachability-quorum",
    "1",
    "--reachability-timeout-ms",
    "5000",
    "--reachability-recheck-ms",
    "60000",
    "--reachability-retry-ms",
    "2000",
  ]);
  const config = startConfig(values);
  assert.deepEqual(
    [
      config.reachabilityCheck,
      config.observedAddressGroups,
      config.reachabilityPeers,
      config.reachabilityQuorum,
      config.reachabilityTimeoutMs,
      config.reachabilityRecheckMs,
      config.reachabilityRetryMs,
    ],
    [false, 1, 4, 1, 5_000, 60_000, 2_000],
  );
});
