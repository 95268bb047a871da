/**
 * The record cipher at every size, at CI size (scripts/chaos.ts --scenario cipher runs it with 1 MiB frames).
 * Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { cipher, defaultSizes } from "../scripts/chaos/cipher.ts";

Deno.test("messages across the old 1 KiB boundary, the 64 KiB chunk and up to the largest allowed all arrive, and the inputs node:crypto got wrong seal and open as OpenSSL's", async () => {
  const maxFrameBytes = 256 * 1024;
  const sizes = defaultSizes(maxFrameBytes - 1024).filter((size, i) => size > 1064 || i % 3 === 0);
  const result = await cipher({ maxFrameBytes, sizes });
  const shown = JSON.stringify(result);
  assert.equal(result.largest_payload, result.max_payload_allowed, shown);
  assert.ok(result.smallest_payload < 1024 && sizes.some((s) => s > 65536), shown);
  assert.equal(result.delivered, result.sent, shown);
  assert.equal(result.corrupted, 0, shown);
  assert.equal(result.record_open_failures, 0, shown);
  assert.ok(result.link_up_at_end, shown);
  assert.equal(result.pinned.length, 2, shown);
  assert.equal(result.pinned_wrong_tags, 0, shown);
  assert.equal(result.pinned_open_failures, 0, shown);
});
