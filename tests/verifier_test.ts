import assert from "node:assert/strict";
import { Identity } from "../lib/identity.ts";
import { inlineVerifier, ParallelVerifier } from "../lib/verifier.ts";

interface Case {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
  valid: boolean;
}

// Deno loads its timers on the first use of setTimeout, and loading them runs the microtasks queued so far:
// a check that starts the lag probe (a timer) amid a turn's checks would flush the batch gathered before it.
// Loaded here once, as in any running node, so each test's batches are what its checks make.
clearTimeout(setTimeout(() => {}, 0));

/** Signed messages, every third with one signature bit flipped. */
function cases(count: number): Case[] {
  const signers = [Identity.generate(), Identity.generate()];
  return Array.from({ length: count }, (_, i) => {
    const signer = signers[i % 2];
    const message = new TextEncoder().encode(`message ${i}`);
    const signature = signer.sign(message);
    const valid = i % 3 !== 0;
    if (!valid) signature[5] ^= 1;
    return { signature, message, publicKey: signer.publicKey, valid };
  });
}

/** Submits every case in one turn of the event loop; resolves with the answers in order. */
function checkAll(verifier: { check: ParallelVerifier["check"] }, list: Case[]): Promise<boolean[]> {
  return Promise.all(
    list.map((c) => new Promise<boolean>((resolve) => verifier.check(c.signature, c.message, c.publicKey, resolve))),
  );
}

Deno.test("checks gathered in one turn go to a helper thread in one batch, and every answer is right", async () => {
  const verifier = new ParallelVerifier({ threads: 1, minBatch: 4, busyLagMs: 0, busyCpuShare: 0 });
  try {
    const list = cases(60);
    const answers = await checkAll(verifier, list);
    assert.deepEqual(answers, list.map((c) => c.valid));
    assert.equal(verifier.stats.offloaded, 60);
    assert.equal(verifier.stats.inline, 0);
    assert.equal(verifier.stats.batches, 1);
  } finally {
    verifier.close();
  }
});

/** Holds the thread for `ms`, burning CPU (a backlog of work) or asleep (other processes hold the cores). */
function hold(ms: number, how: "busy" | "asleep"): void {
  if (how === "asleep") {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    return;
  }
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

Deno.test("while the thread keeps up its timers, even a large batch is checked inline; once its own work makes it late, handed over", async () => {
  // One probe moves the smoothed figures a quarter of the way: thresholds set to what one late probe shows,
  // with room for a machine busy with other tests (the hold then gets a fraction of a core).
  const verifier = new ParallelVerifier({ threads: 1, busyLagMs: 10, busyCpuShare: 0.05 });
  try {
    const list = cases(30);
    let answeredDuringCall: boolean | undefined;
    verifier.check(list[1].signature, list[1].message, list[1].publicKey, (valid) => answeredDuringCall = valid);
    assert.equal(answeredDuringCall, true, "keeping up: answered at once, no batch");
    assert.deepEqual(await checkAll(verifier, list), list.map((c) => c.valid));
    assert.equal(verifier.stats.inline, 31, "no lag yet: inline");
    hold(120, "busy");
    await new Promise((resolve) => setTimeout(resolve, 1)); // the probe fires, about 100 ms late
    assert.deepEqual(await checkAll(verifier, list), list.map((c) => c.valid));
    assert.equal(verifier.stats.offloaded, 30, "behind with its own work: handed to the helper");
  } finally {
    verifier.close();
  }
});

Deno.test("a thread late because it was not running (no CPU of its own) keeps its checks inline", async () => {
  // Other test files may run in this process meanwhile (their CPU counts too): one probe shows at most a
  // quarter of the machine's cores, so the threshold is set just above that.
  const busyCpuShare = navigator.hardwareConcurrency / 4 + 0.1;
  const verifier = new ParallelVerifier({ threads: 1, busyLagMs: 10, busyCpuShare });
  try {
    const list = cases(30);
    await checkAll(verifier, list);
    hold(120, "asleep");
    await new Promise((resolve) => setTimeout(resolve, 1));
    assert.deepEqual(await checkAll(verifier, list), list.map((c) => c.valid));
    assert.equal(verifier.stats.offloaded, 0, "late, but a helper would only compete for the same cores");
    assert.equal(verifier.stats.inline, 60);
  } finally {
    verifier.close();
  }
});

Deno.test("fewer checks in a turn than minBatch are done inline, without a thread", async () => {
  const verifier = new ParallelVerifier({ threads: 1, minBatch: 4, busyLagMs: 0, busyCpuShare: 0 });
  try {
    const list = cases(3);
    assert.deepEqual(await checkAll(verifier, list), list.map((c) => c.valid));
    assert.equal(verifier.stats.inline, 3);
    assert.equal(verifier.stats.offloaded, 0);
  } finally {
    verifier.close();
  }
});

Deno.test("kith's encoding rules run before a check is handed over: a small-order key is refused inline", async () => {
  const verifier = new ParallelVerifier({ threads: 1, minBatch: 1, busyLagMs: 0, busyCpuShare: 0 });
  try {
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1; // the identity point: small order
    // R = identity, S = 0: node:crypto alone accepts this for any message under this key; kith's rule refuses.
    const signature = new Uint8Array(64);
    signature.set(identityPoint);
    const valid = await new Promise<boolean>((resolve) =>
      verifier.check(signature, new Uint8Array(8), identityPoint, resolve)
    );
    assert.equal(valid, false);
    assert.equal(verifier.stats.inline, 1);
    assert.equal(verifier.stats.offloaded, 0);
  } finally {
    verifier.close();
  }
});

Deno.test("a batch larger than maxInFlight is checked inline (back-pressure on the caller)", async () => {
  const verifier = new ParallelVerifier({ threads: 1, minBatch: 1, maxInFlight: 8, busyLagMs: 0, busyCpuShare: 0 });
  try {
    const list = cases(20);
    assert.deepEqual(await checkAll(verifier, list), list.map((c) => c.valid));
    assert.equal(verifier.stats.inline, 20);
  } finally {
    verifier.close();
  }
});

Deno.test("with threads 0, or after close, every check is inline and answered at once", () => {
  for (const verifier of [new ParallelVerifier({ threads: 0 }), new ParallelVerifier({ threads: 1 })]) {
    verifier.close();
    const [c] = cases(2).slice(1);
    let answer: boolean | undefined;
    verifier.check(c.signature, c.message, c.publicKey, (valid) => answer = valid);
    assert.equal(answer, true, "answered during the call");
  }
  let inline: boolean | undefined;
  const [bad] = cases(1);
  inlineVerifier.check(bad.signature, bad.message, bad.publicKey, (valid) => inline = valid);
  assert.equal(inline, false);
});

Deno.test("two verifiers share the helper; closing one leaves the other working", async () => {
  const first = new ParallelVerifier({ threads: 1, minBatch: 2, busyLagMs: 0, busyCpuShare: 0 });
  const second = new ParallelVerifier({ threads: 1, minBatch: 2, busyLagMs: 0, busyCpuShare: 0 });
  try {
    const list = cases(12);
    assert.deepEqual(await checkAll(first, list), list.map((c) => c.valid));
    first.close();
    assert.deepEqual(await checkAll(second, list), list.map((c) => c.valid));
    assert.equal(second.stats.offloaded, 12);
  } finally {
    first.close();
    second.close();
  }
});

Deno.test("settings out of range are refused with a RangeError", () => {
  assert.throws(() => new ParallelVerifier({ threads: -1 }), RangeError);
  assert.throws(() => new ParallelVerifier({ minBatch: 0 }), RangeError);
  assert.throws(() => new ParallelVerifier({ maxInFlight: 0.5 }), RangeError);
  assert.throws(() => new ParallelVerifier({ busyLagMs: -1 }), RangeError);
  assert.throws(() => new ParallelVerifier({ helperIdleMs: 0 }), RangeError);
  assert.throws(() => new ParallelVerifier({ busyCpuShare: Number.NaN }), RangeError);
});

Deno.test("an answer callback that throws is reported, and the rest of its batch is still answered", async () => {
  const verifier = new ParallelVerifier({ threads: 1, minBatch: 2, busyLagMs: 0, busyCpuShare: 0 });
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    const list = cases(6);
    const answers = await Promise.all(
      list.map((c, i) =>
        new Promise<boolean>((resolve) =>
          verifier.check(c.signature, c.message, c.publicKey, (valid) => {
            resolve(valid);
            if (i === 1) throw new Error("handler bug");
          })
        )
      ),
    );
    assert.deepEqual(answers, list.map((c) => c.valid));
    assert.equal(errors.length, 1);
  } finally {
    console.error = original;
    verifier.close();
  }
});

Deno.test("a helper without batches for helperIdleMs is stopped, and started again by the next batch", async () => {
  const verifier = new ParallelVerifier({
    threads: 1,
    minBatch: 2,
    busyLagMs: 0,
    busyCpuShare: 0,
    helperIdleMs: 50,
  });
  try {
    const list = cases(6);
    await checkAll(verifier, list);
    assert.equal(verifier.helperThreads, 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(verifier.helperThreads, 0, "stopped after 50 ms without a batch");
    assert.deepEqual(await checkAll(verifier, list), list.map((c) => c.valid));
    assert.equal(verifier.stats.offloaded, 12, "the second batch started it again");
    assert.equal(verifier.helperThreads, 1);
  } finally {
    verifier.close();
  }
  assert.equal(verifier.helperThreads, 0, "and the last close stops it");
});

Deno.test("a lone check starts no lag probe; a second one within the probe's interval does", async () => {
  const verifier = new ParallelVerifier({ threads: 1 });
  try {
    const [first, second] = cases(3).filter((c) => c.valid);
    assert.equal(
      await new Promise((resolve) => verifier.check(first.signature, first.message, first.publicKey, resolve)),
      true,
    );
    assert.equal(verifier.lagProbeRunning, false, "one check alone: no timer, no CPU-time readings");
    // The next check at once (the same turn): checks are coming close together, so the probe runs.
    verifier.check(second.signature, second.message, second.publicKey, () => {});
    assert.equal(verifier.lagProbeRunning, true);
    assert.equal(verifier.stats.inline, 2);
  } finally {
    verifier.close();
  }
  assert.equal(verifier.lagProbeRunning, false, "closed: the probe stops");
});
