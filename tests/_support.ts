/**
 * Helpers shared by the test files: waiting for a condition in real time (for tests over real sockets) and
 * running a {@link VirtualClock} until a condition holds (for tests over the simulator's network).
 *
 * @module
 */
import assert from "node:assert/strict";
import { cidrCovers, type DialPolicy, parseCidr } from "../lib/dial_policy.ts";
import type { VirtualClock } from "../lib/sim/clock.ts";

/**
 * Fails unless `policy` dials loopback only: every allowed range inside 127.0.0.0/8 or ::1. Tests and
 * benchmarks must never make a node dial anywhere else (their Deno permissions refuse it too).
 */
export function assertLoopbackOnly(policy: DialPolicy, what = "the dial policy"): void {
  const loopback = [parseCidr("127.0.0.0/8", "loopback"), parseCidr("::1/128", "loopback")];
  for (const text of policy.allow) {
    const range = parseCidr(text, "allow");
    assert.ok(loopback.some((outer) => cidrCovers(outer, range)), `${what} allows ${text}, outside loopback`);
  }
  assert.equal(policy.names.length, 0, `${what} resolves host names (${policy.names.join(", ")})`);
}

/**
 * Polls `condition` in real time until it holds; fails the test naming `what` after `limitMs` (a generous
 * guard, not a timing claim). Only for tests over real sockets, where there is no clock to advance.
 */
export async function waitFor(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Microtask turns given to promise continuations after each virtual millisecond (dial results, closes). */
const MICROTASK_TURNS = 10;

async function drainMicrotasks(): Promise<void> {
  for (let i = 0; i < MICROTASK_TURNS; i++) await Promise.resolve();
}

/**
 * Advances `clock` one virtual millisecond at a time, letting promise continuations run after each step,
 * until `condition` holds; fails the test naming `what` if it does not within `limitMs` virtual ms.
 * Resolves with the virtual ms it took. No real time passes, so the outcome is the same on every run.
 */
export async function runUntil(
  clock: VirtualClock,
  condition: () => boolean,
  what: string,
  limitMs = 20_000,
): Promise<number> {
  const start = clock.now();
  await drainMicrotasks();
  while (!condition()) {
    if (clock.now() - start >= limitMs) assert.fail(`${what} did not happen within ${limitMs} virtual ms`);
    clock.runUntil(clock.now() + 1);
    await drainMicrotasks();
  }
  return clock.now() - start;
}

/** Advances `clock` by `ms` virtual milliseconds, one at a time, letting promise continuations run. */
export async function runFor(clock: VirtualClock, ms: number): Promise<void> {
  const end = clock.now() + ms;
  await drainMicrotasks();
  while (clock.now() < end) {
    clock.runUntil(clock.now() + 1);
    await drainMicrotasks();
  }
}

/** Advances `clock` until `promise` settles (failing after `limitMs` virtual ms), then returns its outcome. */
export async function runUntilSettled<T>(
  clock: VirtualClock,
  promise: Promise<T>,
  what: string,
  limitMs = 20_000,
): Promise<T> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await runUntil(clock, () => settled, what, limitMs);
  return await promise;
}
