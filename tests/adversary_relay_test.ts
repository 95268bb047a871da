/**
 * Honest relays framed as flooders, at CI size (scripts/chaos.ts --scenario relay runs it at full size).
 * Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { relay } from "../scripts/chaos/relay.ts";

Deno.test("honest relays forwarding valid messages from many fresh origins keep their trust and links", async () => {
  // Each attacker sends under A's per-peer rate (47.5 a second against 50), A relays their sum, about twice X's.
  // The rates are low so that the process needs a few percent of a core (signing, three checks per message):
  // on a loaded CI machine it gets a small share, and at a rate it cannot keep up with, A relays no faster
  // than X allows and nothing is over the limit (as at 950 against 300 under a load of 16).
  const result = await relay({ rate: 95, durationS: 6, origins: 25, peerRate: 50 });
  assert.ok(result.y_only_linked_to_x, JSON.stringify(result));
  assert.ok(result.x_rate_limited > 0, "the relayed traffic is over X's per-peer rate: " + JSON.stringify(result));
  assert.ok(result.a_trust_at_x_after >= result.a_trust_at_x_before, JSON.stringify(result));
  assert.ok(result.x_trust_at_y_after >= result.x_trust_at_y_before, JSON.stringify(result));
  assert.ok(!result.x_dropped_a && !result.y_dropped_x, JSON.stringify(result));
  assert.ok(result.honest_published >= 10, JSON.stringify(result));
  assert.ok(result.honest_reached_y, "honest messages still cross both relays: " + JSON.stringify(result));
});
