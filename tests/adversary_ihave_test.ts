/**
 * IHAVE floods, at CI size (scripts/chaos.ts --scenario ihave runs it at full size). The attacker runs in a
 * process of its own. Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { ihave } from "../scripts/chaos/ihave.ts";

Deno.test("announcements of never-served ids are capped before any lookup, broken promises cost the announcer trust, honest traffic flows", async () => {
  // A shorter promise deadline than the default 3 s, so that broken promises add up within the short run.
  const result = await ihave({ rate: 900, durationS: 6, ids: 256, victimGossip: { promiseTimeoutMs: 1_000 } });
  const detail = JSON.stringify(result);
  assert.ok(result.attacker.ids_sent > 10_000, "the attacker announced: " + detail);
  // Without the caps every announced id was a database lookup (145,015/s at full size on main).
  assert.ok((result.announcements_dropped ?? 0) > 0, "announcements over the caps are dropped: " + detail);
  assert.ok(
    result.db_lookups_per_s * result.duration_s < result.attacker.ids_sent / 100,
    "under 1% of the announced ids reach the database: " + detail,
  );
  assert.ok(
    (result.promises_broken ?? 0) > 0,
    "asked-for ids the attacker never served count as broken promises: " + detail,
  );
  assert.ok(result.attacker_trust_after < 0.5, "the announcer that broke its promises lost trust: " + detail);
  assert.ok(result.honest_published_during_attack > 0, detail);
  assert.equal(result.honest_delivered_during_attack, result.honest_published_during_attack, detail);
});
