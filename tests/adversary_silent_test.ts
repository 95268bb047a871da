/**
 * A silent eager peer, at CI size (scripts/chaos.ts --scenario silent runs it at full size, with the default
 * 10 s deficit window). Real TCP on loopback; bounded in count and time.
 */
import assert from "node:assert/strict";
import { silent } from "../scripts/chaos/silent.ts";

Deno.test("a peer that took an eager link and only announces is demoted and stops getting full copies, at no trust cost; honest pushers stay", async () => {
  // A 3 s window instead of 10 s, so that the demotion and a window after it fit a short run.
  const result = await silent({ durationS: 12, victimGossip: { deliveryDeficitWindowMs: 3_000 } });
  const detail = JSON.stringify(result);
  assert.ok(result.eager_before.includes("silent") && result.attacker_pushing_before, "it got its place: " + detail);
  assert.ok(result.attacker_announced > 0, "it announced instead of pushing: " + detail);
  assert.ok(result.demoted_after_ms !== null && !result.attacker_pushing_after, "it was demoted: " + detail);
  assert.ok(!result.eager_after.includes("silent"), "its eager link went to another peer: " + detail);
  assert.equal(result.eager_after.length >= 3, true, detail);
  assert.ok(result.copies_into_attacker_per_s_last_window < 1, "the victim stopped pushing into it: " + detail);
  assert.ok(result.attacker_trust_after >= result.attacker_trust_before, "silence costs no trust: " + detail);
  assert.equal(result.honest_pushers_demoted, 0, detail);
  assert.equal(result.victim_deficit_demotions, 1, detail);
  assert.equal(result.delivery_at_victim, 1, detail);
});
