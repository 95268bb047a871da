/**
 * Attacks on topics, at CI size (scripts/chaos.ts --scenario topics runs it at full size). Real TCP on
 * loopback; bounded in count and time.
 */
import assert from "node:assert/strict";
import { topics } from "../scripts/chaos/topics.ts";

Deno.test("under topic attacks (wrong-topic floods, non-member relays, subscription churn, Sybils in the topic) honest delivery in the topic is whole, the misbehaving links are cut, the outbound eager minimum holds in the topic and honest peers lose nothing", async () => {
  const result = await topics({ durationS: 4, honest: 4, rate: 20 });
  const detail = JSON.stringify(result);
  assert.equal(result.delivery_at_victim, 1, detail);
  assert.equal(result.delivery_min_honest, 1, detail);
  for (const kind of [result.flooders, result.relayers, result.churners]) {
    assert.ok(kind.linked > 0 && kind.cut === kind.linked, "every link of the kind was cut: " + detail);
  }
  assert.ok(result.digest_flooders.trust_max_after < 0.5, "digests over the per-peer rate cost trust: " + detail);
  assert.equal(result.victim_subscriptions_refused, result.churners.linked, detail);
  assert.ok(result.victim_wrong_topic > 0, detail);
  assert.equal(
    result.victim_signature_checks,
    result.published,
    "the victim checked the honest messages only: " + detail,
  );
  assert.ok(result.sybils.admitted <= 8, "the per-subnet bound held the Sybils (4 per /24): " + detail);
  assert.ok(result.sybils.eager_before_honest > 0, "the Sybils held eager links in the topic first: " + detail);
  assert.ok(result.victim_outbound_topic_peers >= 2, detail);
  assert.ok(
    result.victim_eager_outbound_min >= Math.min(2, result.victim_topic_fanout),
    "the victim kept eager links in the topic to peers it dialed: " + detail,
  );
  assert.ok(result.honest_trust_min_after >= result.honest_trust_min_before, detail);
  assert.equal(result.honest_wrongly_disconnected, 0, detail);
});
