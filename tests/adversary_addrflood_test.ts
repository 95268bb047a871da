/**
 * An address flood from one authenticated peer, at CI size (scripts/chaos.ts --scenario addrflood runs it at full
 * size). Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { addrflood } from "../scripts/chaos/addrflood.ts";

Deno.test("one peer flooding announcements of fake addresses holds under a tenth of the book, writes bounded rows, and honest traffic flows", async () => {
  const result = await addrflood({ messages: 300, records: 64, durationS: 3 });
  const text = JSON.stringify(result);
  assert.ok(result.attacker_share_of_capacity < 0.1, text);
  assert.equal(result.attacker_tried, 0, text);
  assert.ok(result.announcements_dropped > 0, "announcements over the rate are dropped unread: " + text);
  // The durable tables: addresses bounded by the book, and no trust rows for hearsay.
  assert.ok(result.address_rows <= result.book_capacity, text);
  assert.ok(result.peers_rows <= 3, text);
  assert.ok(result.honest_kept, text);
  assert.ok(result.honest_arrived, text);
});
