/**
 * Honest relays framed as flooders, at CI size (scripts/chaos.ts --scenario relay runs it at full size).
 * Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { relay } from "../scripts/chaos/relay.ts";

Deno.test("honest relays forwarding valid messages from many fresh origins keep their trust and links", async () => {
  // A low per-peer rate, so the relayed stream is over it even when a loaded CI machine slows the attackers.
  const result = await relay({ rate: 950, durationS: 5, origins: 25, peerRate: 300 });
  assert.ok(result.y_only_linked_to_x, JSON.stringify(result));
  assert.ok(result.x_rate_limited > 0, "the relayed traffic is over X's per-peer rate: " + JSON.stringify(result));
  assert.ok(result.a_trust_at_x_after >= result.a_trust_at_x_before, JSON.stringify(result));
  assert.ok(result.x_trust_at_y_after >= result.x_trust_at_y_before, JSON.stringify(result));
  assert.ok(!result.x_dropped_a && !result.y_dropped_x, JSON.stringify(result));
  assert.ok(result.honest_reached_y, JSON.stringify(result));
});
