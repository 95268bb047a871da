/**
 * A relay under abuse on the network lab (scripts/netlab/abuse.ts): 1,000 reservation attempts from one host's IP
 * over one link, and a circuit pushing ten times its byte limit. The relay cuts the flooding link, holds no more
 * reservations than its per-IP limit allows, closes the flooding circuit at its limit, and the honest circuit of
 * other hosts keeps delivering. Needs root, `ip` and `nft`; ignored elsewhere. Bounded to about 2 minutes.
 */
import assert from "node:assert/strict";
import { labUnavailable } from "../scripts/netlab/lab.ts";
import { runRelayAbuse } from "../scripts/netlab/abuse.ts";

const unavailable = await labUnavailable();

Deno.test({
  name:
    "netlab: a relay under 1,000 reservation attempts from one IP and a circuit pushing ten times its limit stays within its limits and keeps an honest circuit",
  ignore: unavailable !== undefined,
  sanitizeResources: false, // the nodes' pipes are closed by the lab
  fn: async () => {
    const run = await runRelayAbuse(1000);
    const seen = JSON.stringify(run);
    assert.equal(run.error, "", seen);
    assert.ok(run.cutMs >= 0, `the flooding link was not cut: ${seen}`);
    assert.ok(run.relay.reservations <= 4 + 1, seen); // the per-IP limit, and the target's own
    assert.equal(run.relay.circuitsCutAtBytes, 1, seen);
    assert.ok(run.flooderPushed < 10 * run.maxBytes && !run.flooderOpen, seen);
    // Both circuits together: the flood's limit plus the honest circuit's few hundred bytes.
    assert.ok(run.relay.bytesRelayed <= run.maxBytes + 16 * 1024, seen);
    assert.ok(run.honestAfter >= 3, `the honest circuit stopped: ${seen}`);
  },
});
