/**
 * Catch-up under liars over real TCP, at CI size (scripts/chaos.ts --scenario catchup runs it at full size):
 * a victim links to honest members that hold a topic's messages and to a peer claiming 4,096 ids it never
 * serves. Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { catchup } from "../scripts/chaos/catchup.ts";

Deno.test("a victim catches up from honest members while a liar claiming ids it never serves is cut off within its bound", async () => {
  const result = await catchup({ messages: 100, attackers: 1 });
  const detail = JSON.stringify(result);
  assert.equal(result.held, 100, detail);
  assert.notEqual(result.all_held_after_ms, null, detail);
  assert.notEqual(result.attackers_cut_after_ms[0], null, "the liar was cut off: " + detail);
  assert.ok(
    result.ids_asked_of_attackers[0] <= 1_024,
    "asked at most maxUnservedIds + maxInFlightIdsPerPeer: " + detail,
  );
  assert.equal(result.honest_disconnected, 0, detail);
  assert.ok(result.honest_trust_min >= 0.5, detail);
});
