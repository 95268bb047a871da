/**
 * Announced addresses the dial policy refuses, at CI size (scripts/chaos.ts --scenario dialpolicy runs it
 * at full size). The refused range is part of loopback (127.99.0.0/16), so nothing leaves the host even if
 * the policy failed. Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { dialpolicy } from "../scripts/chaos/dialpolicy.ts";

Deno.test("a node never dials announced addresses its dial policy refuses, and honest traffic still flows", async () => {
  const result = await dialpolicy({ targets: 20, durationS: 3 });
  assert.ok(result.attacker_linked, "the victim took the attacker's hearsay: " + JSON.stringify(result));
  assert.ok(result.announcements_sent > 0, JSON.stringify(result));
  assert.equal(result.refused_range_connections, 0, JSON.stringify(result));
  assert.equal(result.refused_in_book, 0, JSON.stringify(result));
  assert.equal(result.victim_refused_by_policy, result.announced_refused, JSON.stringify(result));
  assert.ok(result.honest_delivered, JSON.stringify(result));
});
