/**
 * A direct request whose link the transport replaces while it is in flight (TCP's duplicate rule keeping a
 * newer link to the same peer), on the simulator's network and virtual clock: its answer can never come on
 * the closed link, so it fails at once with `LINK_REPLACED` instead of waiting for its timeout, and a retry
 * goes over the new link.
 */
import assert from "node:assert/strict";
import { DirectError } from "../lib/direct/mod.ts";
import { isLinked, TopicLab } from "./_topic_lab.ts";

const TIMEOUT = 10_000;

/** Settles `promise` into a value the test can look at while the virtual clock runs. */
function watch<T>(promise: Promise<T>): { value?: T; error?: unknown; settled: boolean } {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then((value) => Object.assign(state, { value, settled: true }), (error) => {
    Object.assign(state, { error, settled: true });
  });
  return state;
}

Deno.test("a request whose handler runs while the link is replaced fails at once with LINK_REPLACED, its handler is aborted, and a retry is answered over the new link", async () => {
  const lab = new TopicLab(11);
  const a = await lab.add(), b = await lab.add();
  await lab.link(a, b);
  let release: (() => void) | undefined;
  const signals: AbortSignal[] = [];
  b.node.handle("slow/1", (data, { signal }) => {
    signals.push(signal);
    // The first call waits for the test; the retry answers at once.
    if (signals.length > 1) return data;
    return new Promise<Uint8Array>((resolve) => release = () => resolve(data));
  });
  const first = watch(a.node.request(b.identity.nodeId, "slow/1", "one", { timeout: TIMEOUT }));
  await lab.runUntil(() => signals.length === 1, "the handler runs");

  const old = a.transport.connection(b.identity.nodeId)!;
  assert.ok(a.transport.replaceLink(b.identity.nodeId), "a link to replace");
  await lab.runUntil(() => !old.isOpen, "the link replaced");
  release!();
  // Far less than the timeout: the request does not wait for it.
  await lab.run(500);
  assert.ok(isLinked(a, b) && isLinked(b, a), "each is still the other's peer");
  assert.ok(first.settled, "the request settled long before its timeout");
  assert.ok(first.error instanceof DirectError, `a DirectError, not ${first.error}`);
  assert.equal(first.error.code, "LINK_REPLACED");
  assert.ok(signals[0].aborted, "the handler serving it over the closed link was aborted");
  assert.equal(a.node.stats().direct.unmatched, 0, "no answer came for it");

  const retry = watch(a.node.request(b.identity.nodeId, "slow/1", "two", { timeout: TIMEOUT }));
  await lab.runUntil(() => retry.settled, "the retry settles");
  assert.equal(new TextDecoder().decode(retry.value), "two", "the retry is answered over the new link");
  await lab.stop();
});

Deno.test("a request still on its way when the link is replaced fails at once with LINK_REPLACED; one sent after it is answered", async () => {
  const lab = new TopicLab(12);
  const a = await lab.add(), b = await lab.add();
  await lab.link(a, b);
  let served = 0;
  b.node.handle("echo/1", (data) => {
    served++;
    return data;
  });
  const lost = watch(a.node.request(b.identity.nodeId, "echo/1", "lost", { timeout: TIMEOUT }));
  // Replaced before the REQUEST arrives: it goes down with the old link.
  assert.ok(a.transport.replaceLink(b.identity.nodeId), "a link to replace");
  const after = watch(a.node.request(b.identity.nodeId, "echo/1", "after", { timeout: TIMEOUT }));
  await lab.run(500);
  assert.ok(lost.settled, "the request settled long before its timeout");
  assert.ok(lost.error instanceof DirectError, `a DirectError, not ${lost.error}`);
  assert.equal(lost.error.code, "LINK_REPLACED");
  assert.equal(new TextDecoder().decode(after.value), "after", "the request over the new link is answered");
  assert.equal(served, 1, "only the request over the new link reached the handler");
  await lab.stop();
});
