/**
 * The relay's byte pipe on fakes and the virtual clock: a circuit ends at its duration limit even when no byte
 * moves, and at its byte limit without forwarding a byte past it.
 */
import assert from "node:assert/strict";
import { splice } from "../lib/relay/splice.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import type { ByteConn } from "../lib/transport/connection.ts";

/** A leg that yields `chunks` to reads, then waits until it is closed; what is written to it is kept. */
function leg(chunks: Uint8Array[] = []): ByteConn & { written: number; closed: boolean } {
  let wake: (() => void) | undefined;
  const state = {
    written: 0,
    closed: false,
    read(p: Uint8Array): Promise<number | null> {
      const next = chunks.shift();
      if (next) {
        p.set(next);
        return Promise.resolve(next.length);
      }
      if (state.closed) return Promise.resolve(null);
      return new Promise<number | null>((resolve) => (wake = () => resolve(null)));
    },
    write(p: Uint8Array): Promise<number> {
      if (state.closed) return Promise.reject(new Error("closed"));
      state.written += p.length;
      return Promise.resolve(p.length);
    },
    close(): void {
      state.closed = true;
      wake?.();
    },
    setNoDelay(): void {},
  };
  return state as ByteConn & { written: number; closed: boolean };
}

Deno.test("a relay circuit carrying nothing is closed at its duration limit, both legs", async () => {
  const clock = new VirtualClock(0);
  const [a, b] = [leg(), leg()];
  let ended: string | undefined;
  const done = splice(a, b, { maxBytes: 1_000, maxDurationMs: 600_000 }, clock, () => {}).then((why) => ended = why);
  clock.runUntil(599_999);
  await Promise.resolve();
  assert.equal(ended, undefined, "still open before its limit");
  clock.runUntil(600_000);
  await done;
  assert.equal(ended, "duration");
  assert.ok(a.closed && b.closed);
});

Deno.test("a relay circuit pushed past its byte limit forwards exactly the limit and is closed", async () => {
  const clock = new VirtualClock(0);
  const flood = Array.from({ length: 10 }, () => new Uint8Array(1_000).fill(7));
  const [a, b] = [leg(flood), leg()];
  let counted = 0;
  const why = await splice(a, b, { maxBytes: 2_500, maxDurationMs: 60_000 }, clock, (n) => counted += n);
  assert.equal(why, "bytes");
  assert.equal(b.written, 2_500);
  assert.equal(counted, 2_500);
  assert.ok(a.closed && b.closed);
});
