/**
 * IWANT amplification at CI size (scripts/chaos.ts --scenario iwant runs it at full size).
 * Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { iwant } from "../scripts/chaos/iwant.ts";

Deno.test("a peer asking for one large message again and again gets it at most maxRetransmissions times; honest traffic flows", async () => {
  const result = await iwant({ rate: 900, durationS: 2, idsPerWant: 4 });
  assert.ok(result.wants_sent > 100, JSON.stringify(result));
  assert.ok(result.copies_served <= 3, JSON.stringify(result));
  assert.ok(result.amplification < 10, JSON.stringify(result));
  assert.ok(result.victim_wants_dropped > 0, JSON.stringify(result));
  assert.equal(result.honest_delivered_during_attack, result.honest_published_during_attack);
});
