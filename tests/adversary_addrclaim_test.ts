/**
 * Throwaway identities claiming listen addresses where nothing listens, at CI size (scripts/chaos.ts --scenario
 * addrclaim runs it at full size). Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { addrclaim } from "../scripts/chaos/addrclaim.ts";

Deno.test("claimed inbound addresses never become tried, probers get no list before authenticating, and a restart dials its anchors", async () => {
  const result = await addrclaim({ identities: 40, groups: 2, durationS: 2 });
  const text = JSON.stringify(result);
  assert.ok(result.admitted > 0, text);
  assert.equal(result.fake_tried, 0, text);
  assert.ok(result.attacker_share_of_capacity < 0.1, text);
  assert.equal(result.prober_ack_peers, 0, "HANDSHAKE_ACK carries no list: " + text);
  assert.ok(result.prober_answer_peers > 0, "an authenticated prober's request is answered: " + text);
  assert.equal(result.prober_answer_fakes, 0, text);
  assert.ok(result.prober_answers_identical, "answers within the cache window are the same: " + text);
  assert.ok(result.honest_arrived, text);
  assert.equal(result.restart_anchor_dials, 2, "the restarted node dials its two anchors: " + text);
  assert.ok(result.restart_failed_dials_before_honest >= 0, "it reconnected to both honest peers: " + text);
});
