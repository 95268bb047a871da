/**
 * The adversary harness at CI size (scripts/chaos.ts runs it at full size).
 * Loopback only; each scenario is bounded in count and time.
 */
import assert from "node:assert/strict";
import { byzantine, churn, eclipse, flood, hostile, sybil } from "../scripts/chaos.ts";
import { DisconnectReason } from "../lib/protocol/mod.ts";
import { CONNECTION_LOST } from "../lib/transport/mod.ts";

Deno.test("Byzantine peers (forgeries, replays, bad timestamps, garbage, lies, spam) are cut off; honest traffic flows", async () => {
  const result = await byzantine({ honest: 6, byzantine: 3, messages: 20, seed: 2 });
  assert.equal(result.honest_delivery_ratio, 1, JSON.stringify(result));
  assert.ok(result.malicious_links > 0);
  assert.equal(result.malicious_links_dropped, result.malicious_links, "every malicious link was dropped");
  assert.equal(result.honest_wrongly_disconnected, 0);
});

Deno.test("a flooding peer is rate-limited, then disconnected, while honest traffic still flows and memory stays bounded", async () => {
  const result = await flood({ rate: 20_000, durationS: 10 });
  // The victim disconnected it for low trust; the flooder reads LOW_TRUST unless its own flood made the victim's
  // kernel reset the link first (FloodResult.flooder_disconnect_reason).
  assert.equal(result.victim_low_trust_disconnects, 1, JSON.stringify(result));
  assert.ok(
    [DisconnectReason.LOW_TRUST, CONNECTION_LOST].includes(result.flooder_disconnect_reason!),
    JSON.stringify(result),
  );
  assert.ok(result.flooder_disconnected_after_ms !== null && result.flooder_disconnected_after_ms < 10_000);
  assert.equal(result.honest_delivered_during_flood, result.honest_published_during_flood);
  assert.ok(result.victim_rss_mb_peak < result.victim_rss_mb_before + 512, JSON.stringify(result));
});

Deno.test("hostile bytes and hundreds of idle connections do not stop a node serving its honest peer", async () => {
  const result = await hostile({ idle: 300, seed: 3 });
  assert.ok(result.idle_connections_opened > 0);
  assert.equal(result.honest_delivered, result.honest_published, JSON.stringify(result));
  assert.ok(result.victim_still_connected_to_honest_peer);
  assert.ok(result.control_api_answered, "the control API still answers");
});

Deno.test("a joining node whose bootstrap list is mostly attackers still reaches honest peers", async () => {
  const result = await eclipse({ attackers: 20, honest: 4 });
  assert.ok(result.joiner_honest_peers >= 2, JSON.stringify(result));
  assert.ok(result.joiner_attacker_peers <= 4, "the attackers' /24 holds at most its bound");
  assert.equal(result.honest_delivered_to_joiner, result.honest_published);
});

Deno.test("one subnet with 100 identities holds no more than its bound of a victim's slots", async () => {
  const result = await sybil({ identities: 100, honest: 4 });
  assert.ok(result.attacker_peers <= result.per_subnet_bound, JSON.stringify(result));
  assert.equal(result.victim_honest_peers, result.honest_peers_before, "the victim keeps every honest peer");
});

Deno.test("churn on loopback: 30% of nodes stop and restart from their data directories, and every node gets every message", async () => {
  const result = await churn({ nodes: 10, fraction: 0.3, messages: 40, seed: 4 });
  assert.equal(result.churned, 3);
  assert.ok(result.delivery_ratio_live >= 0.99, JSON.stringify(result));
  assert.ok(result.delivery_ratio_restarted >= 0.99, JSON.stringify(result));
});
