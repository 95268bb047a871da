/**
 * Stalled control-API subscribers at CI size (scripts/chaos.ts runs the scenario at full size), and the
 * bounds of the event streams themselves. Loopback only; bounded in count and time.
 */
import assert from "node:assert/strict";
import { sse } from "../scripts/chaos/sse.ts";
import { EventStreams, type SendEvent } from "../lib/api_sse.ts";
import { ControlApi, loadOrCreateApiToken } from "../lib/api.ts";
import { KithNode } from "../lib/node.ts";

Deno.test("stalled subscribers: each stream queues at most its high-water mark, one over the cap is refused, a normal client still receives", async () => {
  // A mark of 16 events: the normal client, reading as fast as it can, stays under it even on a loaded machine.
  const result = await sse({ clients: 4, messages: 80, rate: 40, highWaterBytes: 1024 * 1024, maxStreams: 4 });
  const summary = JSON.stringify(result);
  assert.ok(result.peak_queued_bytes > 0, summary);
  assert.ok(result.peak_queued_bytes <= result.high_water_bytes, summary);
  assert.ok(result.events_dropped > 0, "the stalled clients lost events rather than the node queueing them");
  assert.equal(result.streams_accepted, 3, "the normal client holds the fourth slot");
  assert.equal(result.streams_refused, 1, summary);
  assert.equal(result.normal_client_dropped, 0, summary);
  assert.equal(result.normal_client_messages, 2 * 80 + 1, "warm-up, load and the honest message");
  assert.ok(result.honest_message_received);
  assert.ok(result.late_client_accepted, "a newcomer replaces a stream that stopped reading: " + summary);
  assert.equal(result.streams_replaced, 1, summary);
});

Deno.test("with every slot taken, a new event stream replaces the one that began dropping events first; none dropping, it is refused", async () => {
  const streams = new EventStreams(1000, 2);
  const sends: SendEvent[] = [];
  const open = () => streams.open("hello", (s) => (sends.push(s), []));
  const first = open()!, second = open()!;
  assert.equal(open(), undefined, "no stream is dropping: the newcomer is refused");
  const event = "x".repeat(200);
  for (let i = 0; i < 10; i++) sends[1]("message", () => JSON.stringify({ i, event })); // the second stalls first
  for (let i = 0; i < 10; i++) sends[0]("message", () => JSON.stringify({ i, event }));
  const third = open();
  assert.ok(third !== undefined, "a stalled stream gave up its slot");
  assert.deepEqual([streams.stats().open, streams.stats().replaced, streams.stats().refused], [2, 1, 1]);
  const readAll = async (response: Response) => {
    const reader = response.body!.getReader();
    try {
      for (let i = 0; i < 100; i++) if ((await reader.read()).done) return true;
    } catch {
      return true; // ended by erroring its body (see the next test)
    }
    await reader.cancel();
    return false;
  };
  assert.ok(await readAll(second), "the stream that stalled first was ended");
  await first.body!.cancel();
  await third.body!.cancel();
  assert.equal(streams.stats().open, 0);
});

Deno.test("a stream replaced for stalling gives up its queued bytes with its slot, instead of keeping them for a client that does not read", async () => {
  const streams = new EventStreams(1000, 1);
  let send: SendEvent = () => {};
  const stalled = streams.open("hello", (s) => (send = s, []))!;
  const event = "x".repeat(200);
  for (let i = 0; i < 10; i++) send("message", () => JSON.stringify({ i, event }));
  assert.ok(streams.stats().dropped > 0, "it stalled");
  const newcomer = streams.open("hello", () => []);
  assert.ok(newcomer !== undefined);
  assert.equal(streams.stats().replaced, 1);
  // A closed body would still hand its queue (about the mark) to whoever reads it later: the HTTP server
  // keeps pulling it for the connection, so replacing stalled streams would bound slots but not memory.
  const reader = stalled.body!.getReader();
  let queued = 0;
  const ended = await (async () => {
    for (let i = 0; i < 100; i++) {
      const { done, value } = await reader.read();
      if (done) return "closed";
      queued += value.byteLength;
    }
    return "open";
  })().catch(() => "errored");
  assert.equal(ended, "errored", `the replaced body handed on ${queued} queued bytes`);
  assert.equal(queued, 0);
  await newcomer.body!.cancel();
  assert.equal(streams.stats().open, 0);
});

Deno.test("an event stream whose client reads nothing drops past its mark, then tells the client how many it missed", async () => {
  const streams = new EventStreams(1000, 2);
  let send: SendEvent = () => {};
  const response = streams.open("hello", (s) => {
    send = s;
    return [];
  })!;
  const event = "x".repeat(200);
  for (let i = 0; i < 20; i++) send("message", () => JSON.stringify({ i, event }));
  const stats = streams.stats();
  assert.ok(stats.peakQueuedBytes <= 1000, JSON.stringify(stats));
  assert.ok(stats.dropped > 0, JSON.stringify(stats));
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("event: dropped")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const notice = text.slice(text.indexOf("event: dropped")).split("\n")[1];
  assert.deepEqual(JSON.parse(notice.slice("data: ".length)), { count: stats.dropped });
  assert.equal(text.split("event: message").length - 1 + stats.dropped, 20, "every event was sent or counted");
  send("message", () => "{}");
  assert.equal(streams.stats().dropped, stats.dropped, "a client with room gets events again");
  await reader.cancel();
  assert.equal(streams.stats().open, 0, "a cancelled stream frees its slot");
});

Deno.test("control API: an event stream over the cap is answered 503 with the JSON error; a closed one frees its slot", async () => {
  const dir = await Deno.makeTempDir();
  const node = new KithNode({ config: { listenHost: "127.0.43.1", listenPort: 0 } });
  await node.start();
  const token = await loadOrCreateApiToken(dir);
  const api = new ControlApi({ node, token, port: 0, maxEventStreams: 1 });
  const address = await api.start();
  const subscribe = () => fetch(`http://${address}/v1/subscribe`, { headers: { authorization: `Bearer ${token}` } });
  try {
    const first = await subscribe();
    assert.equal(first.status, 200);
    const refused = await subscribe();
    assert.equal(refused.status, 503);
    assert.equal((await refused.json()).error.code, "TOO_MANY_STREAMS");
    await first.body!.cancel();
    const deadline = Date.now() + 5_000;
    while (api.eventStreamStats().open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const again = await subscribe();
    assert.equal(again.status, 200, "the slot of the closed stream is free again");
    await again.body!.cancel();
    assert.deepEqual([api.eventStreamStats().accepted, api.eventStreamStats().refused], [2, 1]);
  } finally {
    await api.stop();
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
