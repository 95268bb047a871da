/**
 * Transitive trust inflated by a chain of Sybils, at CI size (scripts/chaos.ts --scenario trustchain runs it at
 * full size). On the simulator: no sockets, virtual time, bounded.
 */
import assert from "node:assert/strict";
import { trustchain } from "../scripts/chaos/trustchain.ts";

Deno.test("a chain of recommended Sybils gains nothing: unsolicited pushes change nothing, recommended ids stay strangers and evict no honest peer", async () => {
  const result = await trustchain({ honest: 8, chain: 3, fresh: 200, newcomers: 4, phaseS: 30 });
  const json = JSON.stringify(result);
  // The attack was real: the first Sybil earned the right to recommend, pushed, and was asked.
  assert.ok(result.chain_trust[0] >= 0.55, json);
  assert.ok(result.unsolicited_sent > 0 && result.solicited_answers > 0, json);
  assert.equal(result.unsolicited_changed_anything, false, json);
  assert.equal(result.chain_above_recommender_bar, 1, "only the Sybil that earned trust may recommend: " + json);
  assert.equal(result.fresh_above_stranger, 0, json);
  assert.ok(result.fresh_reputation_max <= result.stranger_reputation, json);
  assert.equal(result.honest_evicted, 0, json);
});
