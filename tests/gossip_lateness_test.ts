import assert from "node:assert/strict";
import {
  LATENESS_ACTIVE_MS,
  LATENESS_DEVIATIONS,
  LATENESS_HISTORY_MS,
  LATENESS_RESET_MS,
  LATENESS_WINDOW_MS,
  LatenessEstimator,
  MAX_LATENESS_MS,
} from "../lib/gossip/lateness.ts";

const T0 = 1_700_000_000_000;

Deno.test("lateness estimator: an origin's first message only sets its reference", () => {
  const lateness = new LatenessEstimator();
  lateness.sample("a", 900, T0);
  assert.equal(lateness.meanMs(T0), 0);
  assert.equal(lateness.allowanceMs(T0), 0);
});

Deno.test("lateness estimator: a message later than its origin's quickest moves the mean and deviation by a quarter", () => {
  const lateness = new LatenessEstimator();
  lateness.sample("a", 100, T0);
  lateness.sample("a", 180, T0 + 1_000); // 80 ms later than the quickest
  assert.equal(lateness.meanMs(T0 + 1_000), 20);
  assert.equal(lateness.deviationMs(T0 + 1_000), 20);
  assert.equal(lateness.allowanceMs(T0 + 1_000), 20 + LATENESS_DEVIATIONS * 20);
});

Deno.test("lateness estimator: a constant clock offset is not lateness", () => {
  const lateness = new LatenessEstimator();
  for (let i = 0; i < 10; i++) lateness.sample("skewed", 5_000, T0 + i * 100);
  assert.equal(lateness.meanMs(T0 + 1_000), 0);
});

Deno.test("lateness estimator: samples and the allowance are capped at MAX_LATENESS_MS", () => {
  const lateness = new LatenessEstimator();
  lateness.sample("a", 0, T0);
  for (let i = 1; i <= 40; i++) lateness.sample("a", LATENESS_RESET_MS - 1, T0 + i);
  assert.ok(lateness.meanMs(T0 + 40) <= MAX_LATENESS_MS);
  assert.ok(lateness.meanMs(T0 + 40) > MAX_LATENESS_MS * 0.99);
  assert.equal(lateness.allowanceMs(T0 + 40), MAX_LATENESS_MS);
});

Deno.test("lateness estimator: a jump beyond LATENESS_RESET_MS restarts the origin's reference instead of counting", () => {
  const lateness = new LatenessEstimator();
  lateness.sample("a", 100, T0);
  const stepped = 100 + LATENESS_RESET_MS + 1;
  lateness.sample("a", stepped, T0 + 1_000);
  assert.equal(lateness.meanMs(T0 + 1_000), 0);
  lateness.sample("a", stepped + 40, T0 + 2_000); // measured from the new reference
  assert.equal(lateness.meanMs(T0 + 2_000), 10);
});

Deno.test("lateness estimator: origins not heard from within LATENESS_ACTIVE_MS drop out of the median", () => {
  const lateness = new LatenessEstimator();
  lateness.sample("a", 100, T0);
  lateness.sample("a", 180, T0 + 1);
  assert.equal(lateness.meanMs(T0 + 1 + LATENESS_ACTIVE_MS), 20);
  assert.equal(lateness.meanMs(T0 + 2 + LATENESS_ACTIVE_MS), 0);
});

Deno.test("lateness estimator: the lower median over origins ignores a late minority", () => {
  const lateness = new LatenessEstimator();
  for (const origin of ["on-time-1", "on-time-2", "late"]) lateness.sample(origin, 100, T0);
  lateness.sample("on-time-1", 100, T0 + 1);
  lateness.sample("on-time-2", 100, T0 + 1);
  lateness.sample("late", 900, T0 + 1);
  assert.equal(lateness.meanMs(T0 + 1), 0);
  lateness.sample("on-time-2", 500, T0 + 2); // now two of three are late
  assert.equal(lateness.meanMs(T0 + 2), 100);
});

Deno.test("lateness estimator: the reference is the quickest of the last LATENESS_HISTORY_MS, not an older one", () => {
  const lateness = new LatenessEstimator();
  lateness.sample("a", 100, T0); // quickest, in the first window
  let now = T0;
  // One message a window, each 300 ms slower than the first: within the history they read as late.
  for (let i = 1; i * LATENESS_WINDOW_MS <= LATENESS_HISTORY_MS; i++) {
    now = T0 + i * LATENESS_WINDOW_MS;
    lateness.sample("a", 400, now);
  }
  assert.ok(lateness.meanMs(now) > 250, `within the history: ${lateness.meanMs(now)}`);
  // Past the history the 100 ms window is forgotten; 400 ms becomes the normal and lateness decays.
  for (let i = 1; i <= 40; i++) lateness.sample("a", 400, now + LATENESS_WINDOW_MS + i);
  assert.ok(lateness.meanMs(now + LATENESS_WINDOW_MS + 40) < 1, `${lateness.meanMs(now + LATENESS_WINDOW_MS + 40)}`);
});
