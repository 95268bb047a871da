import assert from "node:assert/strict";
import { fuzzDecoders } from "../scripts/fuzz.ts";

Deno.test("random and mutated frames only ever decode or raise ProtocolError", () => {
  for (const seed of [1, 2, 3]) {
    const report = fuzzDecoders(3000, seed);
    assert.equal(report.cases >= 3000, true);
    // The fuzzer must reach deep checks, not only fail at the first byte.
    for (
      const code of [
        "MALFORMED",
        "BAD_FIELD",
        "BAD_SIGNATURE",
        "UNSIGNED",
        "STALE_TIMESTAMP",
        "FUTURE_TIMESTAMP",
        "BAD_PUBLIC_KEY",
        "FRAME_TOO_LARGE",
      ]
    ) {
      assert.ok(
        (report.refusedByCode[code] ?? 0) > 0,
        `seed ${seed} never produced ${code}: ${JSON.stringify(report)}`,
      );
    }
  }
});
