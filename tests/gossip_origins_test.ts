import assert from "node:assert/strict";
import { OriginLimits } from "../lib/gossip/origins.ts";

Deno.test("an origin heard from within three quarters of the origin bound's takes is never forgotten (made new)", () => {
  // Rate 1/s, burst 100: a new origin's own bucket starts empty and it draws on the shared one (100 tokens).
  const limit = 8;
  const limits = new OriginLimits(1, 100, limit, 0);
  const now = 1_000_000; // past any origin's fresh period
  assert.equal(limits.take("a", 0), true, "a new origin draws on the shared bucket");
  for (let i = 0; i < 100; i++) assert.equal(limits.take("a", now), true, "its own bucket filled meanwhile");
  assert.equal(limits.take("a", now), false, "its own bucket is empty, and it is not new");
  // Other origins come, new each time; "a" comes every fourth take (well within 3/4 of 8). Were it forgotten,
  // it would be new again, and draw on the shared bucket, which still has tokens.
  for (let n = 0; n < 60; n++) {
    limits.take(`x${n}`, now);
    if (n % 3 === 2) assert.equal(limits.take("a", now), false, `"a" remembered at take ${n}`);
  }
  // Unheard of for more than the bound, it is forgotten: new again, it draws on the shared bucket.
  for (let n = 0; n < 2 * limit; n++) limits.take(`y${n}`, now);
  assert.equal(limits.take("a", now), true, `"a" forgotten past the bound`);
});
