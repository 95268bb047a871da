/**
 * The node's application events and waitForPeers, on the simulator's network and virtual clock: what an
 * application sees when peers come and go and trust changes, and how a wait ends.
 */
import assert from "node:assert/strict";
import type { NodeEvent } from "../lib/events.ts";
import { AbortedError, WaitTimeoutError } from "../lib/wait.ts";
import { lab } from "./_lab.ts";
import { runFor, runUntil, runUntilSettled } from "./_support.ts";

/** Collects a watch's events in the background. */
function collect(stream: AsyncIterable<NodeEvent>): NodeEvent[] {
  const seen: NodeEvent[] = [];
  void (async () => {
    for await (const event of stream) seen.push(event);
  })();
  return seen;
}

Deno.test("watch yields peer-connected with the full node id, then peer-disconnected with reason name, code and who closed", async () => {
  const { clock, nodes, add, stop } = await lab(1);
  const a = nodes[0].node;
  const controller = new AbortController();
  const seen = collect(a.watch({ signal: controller.signal }));
  const b = await add();
  await runUntil(clock, () => seen.some((e) => e.type === "peer-connected"), "peer-connected");
  const connected = seen.find((e) => e.type === "peer-connected")!;
  assert.equal(connected.nodeId, b.identity.nodeId);
  assert.equal(connected.nodeId.length, 64);
  assert.equal(connected.type === "peer-connected" && connected.direction, "inbound");
  await runUntilSettled(clock, b.stop(), "b stops");
  await runUntil(clock, () => seen.some((e) => e.type === "peer-disconnected"), "peer-disconnected");
  const gone = seen.find((e) => e.type === "peer-disconnected")!;
  assert.deepEqual(gone.type === "peer-disconnected" && [gone.nodeId, gone.reason, gone.code, gone.by], [
    b.identity.nodeId,
    "SHUTDOWN",
    1,
    "remote",
  ]);
  controller.abort();
  await stop();
});

Deno.test("a penalty emits trust-changed with before, after and the cause; valid-message credits do not", async () => {
  const { clock, nodes, stop } = await lab(2);
  const [a, b] = [nodes[0], nodes[1]];
  const changes: NodeEvent[] = [];
  a.node.events.addEventListener("trust-changed", (e) => changes.push((e as CustomEvent<NodeEvent>).detail));
  await runUntil(clock, () => a.peers.activePeers().length === 1, "a link");
  a.trust.recordValid(b.identity.nodeId);
  assert.equal(changes.length, 0);
  const before = a.trust.trust(b.identity.nodeId);
  a.trust.recordInvalid(b.identity.nodeId, "BAD_FIELD");
  assert.equal(changes.length, 1);
  const change = changes[0];
  assert.ok(change.type === "trust-changed");
  assert.equal(change.nodeId, b.identity.nodeId);
  assert.equal(change.before, before);
  assert.equal(change.after, a.trust.trust(b.identity.nodeId));
  assert.equal(change.cause, "invalid_message:BAD_FIELD");
  await stop();
});

Deno.test("a watcher that does not read keeps only its newest events, counting the dropped ones", async () => {
  const { nodes, stop } = await lab(1);
  const a = nodes[0];
  const stream = a.node.watch({ bufferSize: 2 });
  for (let i = 0; i < 5; i++) a.trust.recordInvalid(`peer-${i}`, "BAD_FIELD");
  assert.equal(stream.dropped, 3);
  const got: string[] = [];
  for await (const event of stream) {
    got.push(event.nodeId);
    if (got.length === 2) break;
  }
  assert.deepEqual(got, ["peer-3", "peer-4"]);
  assert.equal(a.node.events.watchers, 0, "breaking out of the loop closes the stream");
  await stop();
});

Deno.test("aborting a watch ends its loop", async () => {
  const { nodes, stop } = await lab(1);
  const controller = new AbortController();
  const loop = (async () => {
    let n = 0;
    for await (const _ of nodes[0].node.watch({ signal: controller.signal })) n++;
    return n;
  })();
  controller.abort();
  assert.equal(await loop, 0);
  assert.equal(nodes[0].node.events.watchers, 0);
  await stop();
});

Deno.test("waitForPeers resolves once n peers are active", async () => {
  const { clock, nodes, add, stop } = await lab(1);
  const waiting = nodes[0].node.waitForPeers(2);
  let resolved = false;
  waiting.then(() => resolved = true);
  await add();
  await runUntil(clock, () => nodes[0].peers.activePeers().length === 1, "one peer");
  await runFor(clock, 5);
  assert.equal(resolved, false, "one peer is not two");
  await add();
  const peers = await runUntilSettled(clock, waiting, "two peers");
  assert.equal(peers.length, 2);
  await stop();
});

Deno.test("waitForPeers rejects with an AbortError on abort and with a TimeoutError on timeout, leaving no timer", async () => {
  const { clock, nodes, stop } = await lab(1);
  const a = nodes[0].node;
  const timersBefore = clock.pending;
  const controller = new AbortController();
  const aborted = a.waitForPeers(3, { signal: controller.signal, timeout: 60_000 });
  assert.equal(clock.pending, timersBefore + 1);
  controller.abort();
  const abortError = await aborted.catch((e) => e);
  assert.ok(abortError instanceof AbortedError);
  assert.equal(abortError.name, "AbortError");
  assert.equal(abortError.code, "ABORTED");
  assert.equal(clock.pending, timersBefore, "the timeout timer is cleared on abort");
  const timedOut = a.waitForPeers(3, { timeout: 1_000 });
  const timeoutError = await runUntilSettled(clock, timedOut.catch((e) => e), "timeout");
  assert.ok(timeoutError instanceof WaitTimeoutError);
  assert.equal(timeoutError.code, "TIMEOUT");
  const stopped = a.waitForPeers(3).catch((e) => e);
  await stop();
  assert.equal((await stopped).code, "NOT_RUNNING");
});

Deno.test("connect's signal and timeout end the wait, not the dial: AbortError, TimeoutError, and the link still forms", async () => {
  const { clock, nodes, add, stop } = await lab(1);
  const a = nodes[0];
  const b = await add({ bootstrap: [] });
  const controller = new AbortController();
  const aborted = a.node.connect(b.address, { signal: controller.signal }).catch((e) => e);
  controller.abort();
  const abortError = await aborted;
  assert.ok(abortError instanceof AbortedError, String(abortError));
  const timedOut = await runUntilSettled(clock, a.node.connect(b.address, { timeout: 1 }).catch((e) => e), "timeout");
  assert.ok(timedOut instanceof WaitTimeoutError, String(timedOut));
  await runUntil(
    clock,
    () => a.peers.activePeer(b.identity.nodeId) !== undefined,
    "the dial, finished in the background",
  );
  const info = await runUntilSettled(clock, a.node.connect(b.address, { timeout: 5_000 }), "a connect that waits");
  assert.equal(info.nodeId, b.identity.nodeId);
  await stop();
});

Deno.test("a watch or a direct-message stream opened on a stopped node ends at once", async () => {
  const { nodes, stop } = await lab(1);
  await stop();
  for await (const _ of nodes[0].node.watch()) assert.fail("no event after stop");
  for await (const _ of nodes[0].node.directMessages()) assert.fail("no message after stop");
});
