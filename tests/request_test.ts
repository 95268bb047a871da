/**
 * Request/response between peers on the simulator: round trips, each refusal with its code, timeouts,
 * aborts and disconnects that leave nothing behind, and the bounds both ways.
 */
import assert from "node:assert/strict";
import { Encoder } from "@msgpack/msgpack";
import type { DirectConfig } from "../lib/direct/mod.ts";
import { DirectError } from "../lib/direct/mod.ts";
import type { NodeEvent } from "../lib/events.ts";
import { computeMessageId, createMessage, MessageType, PROTOCOL_VERSION } from "../lib/protocol/mod.ts";
import { AbortedError, WaitTimeoutError } from "../lib/wait.ts";
import { lab } from "./_lab.ts";
import { runFor, runUntil, runUntilSettled } from "./_support.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Node 0 (the responder) with one peer, node 1 (the requester); `direct` per node. */
async function pair(direct: Partial<DirectConfig>[] = []) {
  const l = await lab(2, { minPeers: 1 }, direct);
  await runUntil(l.clock, () => l.nodes[0].peers.activePeers().length === 1, "a link");
  const [responder, requester] = l.nodes;
  const ask = (protocol: string, data: Uint8Array | string, options = {}) =>
    requester.node.request(responder.identity.nodeId, protocol, data, options);
  /** Settles `promise` on the virtual clock; returns its value or its error. */
  const settle = <T>(promise: Promise<T>, limitMs = 20_000) =>
    runUntilSettled(l.clock, promise.catch((e: unknown) => e), "the request", limitMs);
  return { ...l, responder, requester, ask, settle };
}

function isDirect(error: unknown, code: string, status?: string): boolean {
  return error instanceof DirectError && error.code === code && (status === undefined || error.status === status);
}

Deno.test("a request is answered by the responder's handler for its protocol, with the requester's id", async () => {
  const { responder, requester, ask, settle, stop } = await pair();
  responder.node.handle("echo/1", (data, context) => `${decode(data)} from ${context.from.slice(0, 8)}`);
  const answer = await settle(ask("echo/1", "ping"));
  assert.ok(answer instanceof Uint8Array);
  assert.equal(decode(answer), `ping from ${requester.identity.nodeId.slice(0, 8)}`);
  assert.equal(responder.node.stats().direct.served, 1);
  assert.equal(responder.node.stats().byType.REQUEST, undefined, "gossip never saw it");
  await stop();
});

Deno.test("refusals come back typed: UNKNOWN_PROTOCOL, and REFUSED/HANDLER_FAILED without the handler's message", async () => {
  const { responder, ask, settle, stop } = await pair();
  responder.node.handle("fails/1", () => {
    throw new Error("secret detail");
  });
  const unknown = await settle(ask("missing/1", "x"));
  assert.ok(isDirect(unknown, "UNKNOWN_PROTOCOL", "UNKNOWN_PROTOCOL"), String(unknown));
  const failed = await settle(ask("fails/1", "x"));
  assert.ok(isDirect(failed, "REFUSED", "HANDLER_FAILED"), String(failed));
  assert.ok(!(failed as Error).message.includes("secret"), "the handler's message stays on the responder");
  await stop();
});

Deno.test("a request times out with a TimeoutError; the responder's handler timeout frees its slot; the late answer is ignored", async () => {
  const { clock, responder, requester, ask, settle, stop } = await pair([{ handlerTimeoutMs: 5_000 }]);
  let aborted: unknown;
  responder.node.handle(
    "slow/1",
    (_data, { signal }) =>
      new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(aborted = signal.reason))),
  );
  const timersBefore = clock.pending;
  const error = await settle(ask("slow/1", "x", { timeout: 1_000 }));
  assert.ok(error instanceof WaitTimeoutError, String(error));
  assert.equal(requester.node.components.peers.activePeers().length, 1);
  await runUntil(clock, () => aborted !== undefined, "the handler timeout");
  assert.ok(aborted instanceof WaitTimeoutError);
  await runUntil(clock, () => requester.node.stats().direct.unmatched === 1, "the late HANDLER_FAILED answer");
  assert.ok(clock.pending <= timersBefore, "no request or handler timer left");
  await stop();
});

Deno.test("a handler that ignores its signal and never answers is cut off at handlerTimeoutMs, and its slot serves the next request", async () => {
  const { responder, ask, settle, stop } = await pair([{ handlerTimeoutMs: 2_000, maxServedRequestsPerPeer: 1 }]);
  responder.node.handle("hangs/1", () => new Promise(() => {}));
  responder.node.handle("echo/1", (data) => data);
  const cut = await settle(ask("hangs/1", "x", { timeout: 10_000 }));
  assert.ok(isDirect(cut, "REFUSED", "HANDLER_FAILED"), String(cut));
  assert.match((cut as Error).message, /timed out/);
  assert.equal(decode((await settle(ask("echo/1", "next"))) as Uint8Array), "next");
  await stop();
});

Deno.test("handlers that ignore their signal still count after their answer: past maxRunningHandlers, requests are answered BUSY until they end", async () => {
  const { responder, ask, settle, stop } = await pair([{ handlerTimeoutMs: 1_000, maxRunningHandlers: 2 }]);
  const release: (() => void)[] = [];
  responder.node.handle("stuck/1", () => new Promise((resolve) => release.push(() => resolve("late"))));
  responder.node.handle("echo/1", (data) => data);
  for (let i = 0; i < 2; i++) {
    const cut = await settle(ask("stuck/1", `${i}`, { timeout: 5_000 }));
    assert.ok(isDirect(cut, "REFUSED", "HANDLER_FAILED"), String(cut)); // answered, slot free, handler runs on
  }
  const busy = await settle(ask("echo/1", "x"));
  assert.ok(isDirect(busy, "REFUSED", "BUSY"), String(busy));
  for (const r of release) r();
  await settle(Promise.resolve());
  assert.equal(decode((await settle(ask("echo/1", "again"))) as Uint8Array), "again", "free once they ended");
  await stop();
});

Deno.test("aborting a request rejects it with an AbortError and forgets it", async () => {
  const { clock, responder, ask, settle, stop } = await pair();
  responder.node.handle("slow/1", () => new Promise(() => {}));
  const controller = new AbortController();
  const pending = ask("slow/1", "x", { signal: controller.signal, timeout: 60_000 });
  await runFor(clock, 20);
  const timers = clock.pending;
  controller.abort();
  const error = await settle(pending);
  assert.ok(error instanceof AbortedError && error.name === "AbortError", String(error));
  assert.equal(clock.pending, timers - 1, "its timeout timer is cleared");
  const already = await settle(ask("slow/1", "x", { signal: AbortSignal.abort() }));
  assert.ok(already instanceof AbortedError);
  await stop();
});

Deno.test("a disconnect fails the requests in flight with PEER_DISCONNECTED and aborts the responder's handlers", async () => {
  const { clock, responder, requester, ask, settle, stop } = await pair();
  let handlerSignal: AbortSignal | undefined;
  responder.node.handle("slow/1", (_data, { signal }) => {
    handlerSignal = signal;
    return new Promise(() => {});
  });
  const pending = ask("slow/1", "x");
  await runUntil(clock, () => handlerSignal !== undefined, "the handler runs");
  void responder.peers.activePeer(requester.identity.nodeId)!.connection.close();
  const error = await settle(pending);
  assert.ok(isDirect(error, "PEER_DISCONNECTED"), String(error));
  assert.equal(handlerSignal!.aborted, true);
  await stop();
});

Deno.test("requests in flight are bounded per peer both ways: TOO_MANY_REQUESTS at the requester, BUSY at the responder", async () => {
  const { clock, responder, ask, settle, stop } = await pair([{ maxServedRequestsPerPeer: 1 }, {
    maxOutgoingRequestsPerPeer: 2,
  }]);
  const release: (() => void)[] = [];
  responder.node.handle("slow/1", () => new Promise((resolve) => release.push(() => resolve("done"))));
  const first = ask("slow/1", "1");
  await runUntil(clock, () => release.length === 1, "the first request served");
  const second = await settle(ask("slow/1", "2"));
  assert.ok(isDirect(second, "REFUSED", "BUSY"), String(second));
  const third = ask("slow/1", "3");
  const fourth = await settle(ask("slow/1", "4"));
  assert.ok(isDirect(fourth, "TOO_MANY_REQUESTS"), String(fourth));
  const refusedThird = await settle(third);
  assert.ok(isDirect(refusedThird, "REFUSED", "BUSY"), "the third came while the first was served");
  release[0]();
  assert.equal(decode((await settle(first)) as Uint8Array), "done");
  await stop();
});

Deno.test("size limits: over the requester's own limit, over the responder's request limit, an answer over its response limit", async () => {
  const { responder, ask, settle, stop } = await pair([{ maxRequestBytes: 1_000, maxResponseBytes: 2_000 }]);
  responder.node.handle("big/1", () => new Uint8Array(2_001));
  responder.node.handle("echo/1", (data) => data);
  const local = await settle(ask("echo/1", new Uint8Array(65_537)));
  assert.ok(isDirect(local, "TOO_LARGE"), String(local));
  const remote = await settle(ask("echo/1", new Uint8Array(1_001)));
  assert.ok(isDirect(remote, "TOO_LARGE", "TOO_LARGE"), String(remote));
  const answer = await settle(ask("big/1", "x"));
  assert.ok(isDirect(answer, "REFUSED", "HANDLER_FAILED"), String(answer));
  assert.equal(((await settle(ask("echo/1", new Uint8Array(1_000)))) as Uint8Array).length, 1_000);
  await stop();
});

Deno.test("protocol names are checked: handle and request refuse bad ones, and a peer sending one is penalised BAD_FIELD", async () => {
  const { clock, responder, requester, ask, settle, stop } = await pair();
  assert.throws(() => responder.node.handle("no spaces", () => ""), (e) => isDirect(e, "BAD_PROTOCOL"));
  assert.throws(() => responder.node.handle("x".repeat(65), () => ""), (e) => isDirect(e, "BAD_PROTOCOL"));
  responder.node.handle("ok/1", () => "");
  assert.throws(() => responder.node.handle("ok/1", () => ""), (e) => isDirect(e, "BAD_PROTOCOL"));
  assert.ok(isDirect(await settle(ask("", "x")), "BAD_PROTOCOL"));
  const causes: string[] = [];
  responder.node.events.addEventListener("trust-changed", (e) => {
    const detail = (e as CustomEvent<NodeEvent>).detail;
    if (detail.type === "trust-changed") causes.push(detail.cause);
  });
  const identity = requester.identity;
  const payloadBytes = new Encoder().encode([1, "bad name", new Uint8Array(1)]);
  const timestamp = clock.now();
  const id = computeMessageId(
    PROTOCOL_VERSION,
    MessageType.REQUEST,
    identity.nodeIdBytes,
    identity.publicKey,
    timestamp,
    payloadBytes,
  );
  const link = requester.peers.activePeer(responder.identity.nodeId)!.connection;
  link.send({
    ...createMessage(identity, MessageType.DIRECT_MESSAGE, { data: new Uint8Array(0) }, { ttl: 0, timestamp }),
    type: MessageType.REQUEST,
    id,
    payloadBytes,
    signature: identity.sign(id),
  });
  await runUntil(clock, () => causes.length === 1, "a penalty");
  assert.deepEqual(causes, ["invalid_message:BAD_FIELD"]);
  await stop();
});

Deno.test("a request to a node that is not a peer is refused NOT_A_PEER, and a stopped node's requests fail NOT_RUNNING", async () => {
  const { responder, requester, settle, stop } = await pair();
  const stranger = "ab".repeat(32);
  assert.ok(isDirect(await settle(requester.node.request(stranger, "echo/1", "x")), "NOT_A_PEER"));
  responder.node.handle("slow/1", () => new Promise(() => {}));
  const pending = requester.node.request(responder.identity.nodeId, "slow/1", "x").catch((e) => e);
  await stop();
  assert.ok(isDirect(await pending, "NOT_RUNNING"));
});

Deno.test("an answer over the requester's own maxResponseBytes fails the request TOO_LARGE at once and costs the honest responder no trust", async () => {
  const { responder, requester, ask, settle, stop } = await pair([{}, { maxResponseBytes: 4_000 }]);
  responder.node.handle("big/1", () => new Uint8Array(10_000));
  const causes: string[] = [];
  requester.node.events.addEventListener("trust-changed", (e) => {
    const detail = (e as CustomEvent<NodeEvent>).detail;
    if (detail.type === "trust-changed") causes.push(detail.cause);
  });
  // Well under requestTimeoutMs: the answer came, so the request must not wait for its timeout.
  const answer = await settle(ask("big/1", "x"), 5_000);
  assert.ok(isDirect(answer, "TOO_LARGE"), String(answer));
  assert.deepEqual(causes, [], "the responder answered what it was asked within its own limit");
  assert.equal(requester.node.stats().direct.invalid, 0);
  await stop();
});
