/**
 * The hole-punching schedule as pure logic (lib/relay/punch_schedule.ts): the initiator dials half a
 * measured round trip after the answer, answers to other attempts are ignored, failures are retried after
 * growing pauses up to the attempt limit, and a success ends it.
 */
import assert from "node:assert/strict";
import { PunchSchedule, retryPauseMs } from "../lib/relay/punch_schedule.ts";

Deno.test("the initiator dials half the measured round trip after the answer", () => {
  const schedule = new PunchSchedule(3);
  assert.deepEqual(schedule.begin(1000), { kind: "send-connect", attempt: 1 });
  assert.deepEqual(schedule.answered(1, 1080), { kind: "dial", attempt: 1, atMs: 1120, rttMs: 80 });
});

Deno.test("an answer to another attempt, or a second answer, is ignored", () => {
  const schedule = new PunchSchedule(3);
  schedule.begin(0);
  assert.equal(schedule.answered(2, 10), undefined);
  assert.ok(schedule.answered(1, 10));
  assert.equal(schedule.answered(1, 20), undefined);
});

Deno.test("failures are retried after growing pauses, then the link stays relayed", () => {
  const schedule = new PunchSchedule(3);
  schedule.begin(0);
  assert.deepEqual(schedule.ended(1, false, 100), { kind: "retry", attempt: 2, atMs: 100 + retryPauseMs(1) });
  schedule.begin(1000);
  assert.deepEqual(schedule.ended(2, false, 1100), { kind: "retry", attempt: 3, atMs: 1100 + retryPauseMs(2) });
  assert.ok(retryPauseMs(2) > retryPauseMs(1));
  schedule.begin(3000);
  assert.deepEqual(schedule.ended(3, false, 3100), { kind: "give-up" });
  assert.equal(schedule.finished, true);
  assert.deepEqual(schedule.begin(4000), { kind: "give-up" });
});

Deno.test("a success ends the schedule at once", () => {
  const schedule = new PunchSchedule(3);
  schedule.begin(0);
  schedule.answered(1, 10);
  assert.deepEqual(schedule.ended(1, true, 20), { kind: "done" });
  assert.equal(schedule.finished, true);
});

Deno.test("retry pauses are capped", () => {
  assert.equal(retryPauseMs(1), 500);
  assert.equal(retryPauseMs(20), 8000);
});
