import assert from "node:assert/strict";
import { ControlApi, loadOrCreateApiToken, MAX_API_BODY_BYTES } from "../lib/api.ts";
import type { NetworkConfig } from "../lib/config.ts";
import type { GossipConfig } from "../lib/gossip/mod.ts";
import { KithNode } from "../lib/node.ts";

/** Polls `check` every 20 ms until it holds, for at most 10 s (a state reached over loopback, not a timing). */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function withApi(
  fn: (
    call: (path: string, init?: RequestInit) => Promise<Response>,
    nodes: KithNode[],
    api: ControlApi,
  ) => Promise<void>,
  options: { config?: Partial<NetworkConfig>; maxEventStreams?: number; gossipB?: Partial<GossipConfig> } = {},
) {
  const dir = await Deno.makeTempDir();
  const a = new KithNode({ config: { listenHost: "127.0.41.1", listenPort: 0, minPeers: 1, ...options.config } });
  const b = new KithNode({ config: { listenHost: "127.0.42.1", listenPort: 0, minPeers: 1 }, gossip: options.gossipB });
  let api: ControlApi | undefined;
  try {
    await a.start();
    await b.start();
    await b.connect(a.address);
    const token = await loadOrCreateApiToken(dir);
    assert.equal((await Deno.stat(`${dir}/api.token`)).mode! & 0o777, 0o600);
    assert.equal(await loadOrCreateApiToken(dir), token, "the token is kept across restarts");
    api = new ControlApi({ node: a, token, port: 0, maxEventStreams: options.maxEventStreams });
    const address = await api.start();
    await fn(
      (path, init = {}) =>
        fetch(`http://${address}${path}`, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } }),
      [a, b],
      api,
    );
  } finally {
    await api?.stop();
    await b.stop();
    await a.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("control API: unknown paths are 404, wrong methods 405, both with a JSON error", async () => {
  await withApi(async (call) => {
    const missing = await call("/v1/nothing");
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "NOT_FOUND");
    const wrong = await call("/v1/status", { method: "DELETE" });
    assert.equal(wrong.status, 405);
    assert.equal((await wrong.json()).error.code, "METHOD_NOT_ALLOWED");
  });
});

Deno.test("control API: publish validates its body and refuses oversized ones", async () => {
  await withApi(async (call) => {
    const post = (body: string) =>
      call("/v1/publish", { method: "POST", body, headers: { "content-type": "application/json" } });
    const tooBig = await post(JSON.stringify({ data: "x".repeat(MAX_API_BODY_BYTES) }));
    assert.equal(tooBig.status, 413);
    await tooBig.body?.cancel();
    const overPayload = await post(JSON.stringify({ data: "x".repeat(70_000) }));
    assert.equal(overPayload.status, 413, "over the 64 KiB application payload limit");
    await overPayload.body?.cancel();
    for (
      const body of [
        "[]",
        "{}",
        JSON.stringify({ data: 5 }),
        JSON.stringify({ data: "x", topic: 3 }),
        JSON.stringify({ data: "x", ttl: 300 }),
      ]
    ) {
      const response = await post(body);
      assert.equal(response.status, 400, body);
      assert.ok((await response.json()).error.code);
    }
    const ok = await post(JSON.stringify({ data: "hi" }));
    assert.equal(ok.status, 200);
    assert.match((await ok.json()).id, /^[0-9a-f]{64}$/);
    // No peer is in topic "t" and this node is not either: nowhere to send it, said as a conflict.
    const nowhere = await post(JSON.stringify({ data: "hi", topic: "t" }));
    assert.equal(nowhere.status, 409);
    assert.equal((await nowhere.json()).error.code, "NO_TOPIC_PEERS");
  });
});

Deno.test("control API: the event stream delivers messages of the requested topic only", async () => {
  await withApi(async (call, [, b]) => {
    const response = await call("/v1/subscribe?topic=wanted");
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    // The stream joined "wanted" at the API's node; b learns it, and publishes there from outside the topic.
    await b.waitForTopicPeers("wanted", 1, { timeout: 10_000 });
    assert.throws(() => b.broadcast("ignore me", { topic: "other" }), /no connected peer is in topic "other"/);
    b.broadcast("for you", { topic: "wanted" });
    let text = "";
    const deadline = Date.now() + 10_000;
    while (!text.includes("event: message") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    const data = JSON.parse(text.split("\n").find((l) => l.startsWith("data: "))!.slice(6));
    assert.equal(data.data, "for you");
    assert.equal(data.topic, "wanted");
    assert.ok(!text.includes("ignore me"));
  });
});

Deno.test("control API: metrics expose peers, messages, bytes, trust, latency and the defences' counters", async () => {
  await withApi(async (call, [, b]) => {
    b.broadcast("x");
    await new Promise((r) => setTimeout(r, 200));
    const text = await (await call("/metrics")).text();
    for (
      const name of [
        'kith_peers{state="active"} 1',
        'kith_messages_total{outcome="delivered"}',
        'kith_messages_by_type_total{type="CUSTOM_DATA",outcome="delivered"} 1',
        'kith_messages_by_type_total{type="CUSTOM_DATA",outcome="received"} 1',
        'kith_bytes_total{direction="out"}',
        'kith_peer_trust_bucket{le="+Inf"} 1',
        "kith_delivery_latency_seconds_count 1",
        'kith_signature_checks_total{where="inline"} 1',
        'kith_signature_checks_total{where="helper"} 0',
        "kith_messages_dropped_under_check_total 0",
        'kith_gossip_lateness_ms{stat="mean"} 0',
        'kith_gossip_lateness_ms{stat="deviation"} 0',
        'kith_hole_punches_total{outcome="refused_address"} 0',
        "kith_catchup_have_withheld_total 0",
        "kith_dht_inbound_transient_links ",
        'kith_dht_inbound_transient_total{outcome="refused"} 0',
        "kith_dht_hearsay_refused_total 0",
      ]
    ) assert.ok(text.includes(name), `metrics lack ${name}`);
  });
});

Deno.test("control API: /v1/status and /metrics carry the catch-up counters of a node that caught up a topic", async () => {
  await withApi(async (call, [a, b]) => {
    b.subscribe("chat");
    for (let i = 0; i < 5; i++) b.broadcast(`before ${i}`, { topic: "chat" });
    // a joins the topic after the messages, and after b's gossip dropped them from its repair store (a window of
    // 50 ms): only catch-up, from b's topic log, can bring them.
    const chat = b.components.topics.gossipOf("chat")!;
    await eventually("b's repair store to drop the 5", () => chat.cacheSizes.stored === 0);
    a.subscribe("chat");
    await eventually("a to fetch the 5", () => a.stats().catchup.fetched >= 5);
    const catchup = (await (await call("/v1/status")).json()).stats.catchup;
    assert.equal(catchup.fetched, 5);
    assert.equal(catchup.refused, 0);
    assert.ok(catchup.sessionsStarted + catchup.sessionsAnswered >= 1);
    assert.ok(catchup.reconcileBytesSent > 0 && catchup.bodyBytesReceived > 0);
    const text = await (await call("/metrics")).text();
    const sample = (name: string) =>
      Number(new RegExp(`^${name.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m").exec(text)?.[1]);
    assert.equal(sample('kith_catchup_messages_total{outcome="fetched"}'), 5);
    assert.equal(sample('kith_catchup_messages_total{outcome="refused"}'), 0);
    // Sessions go on after the fetch (one follows new fetches), so /metrics may count one more than /v1/status
    // read before it, and never more than the node counts after it.
    const sessions = sample('kith_catchup_sessions_total{outcome="started"}') +
      sample('kith_catchup_sessions_total{outcome="answered"}');
    const after = a.stats().catchup;
    assert.ok(sessions >= catchup.sessionsStarted + catchup.sessionsAnswered, `${sessions} sessions in /metrics`);
    assert.ok(sessions <= after.sessionsStarted + after.sessionsAnswered, `${sessions} sessions in /metrics`);
    assert.ok(sample('kith_catchup_bytes_total{kind="bodies",direction="received"}') >= catchup.bodyBytesReceived);
    assert.ok(sample('kith_catchup_bytes_total{kind="reconcile",direction="sent"}') > 0);
  }, { gossipB: { repairWindowMs: 50 } });
});

Deno.test("control API: the event stream refuses a bad topic name (400) and a topic over maxTopics (409), and keeps no stream slot for either", async () => {
  await withApi(async (call, _nodes, api) => {
    const first = await call("/v1/subscribe?topic=one");
    assert.equal(first.status, 200);
    const reader = first.body!.getReader();
    // Refusals, more of them than there are free slots: none may hold a slot, or the last request is a 503.
    for (let i = 0; i < 3; i++) {
      const over = await call("/v1/subscribe?topic=two");
      assert.equal(over.status, 409);
      assert.equal((await over.json()).error.code, "TOO_MANY_TOPICS");
      const bad = await call(`/v1/subscribe?topic=${"x".repeat(256)}`);
      assert.equal(bad.status, 400);
      assert.equal((await bad.json()).error.code, "BAD_TOPIC");
    }
    assert.equal(api.eventStreamStats().open, 1);
    assert.equal(api.eventStreamStats().accepted, 1);
    const again = await call("/v1/subscribe?topic=one");
    assert.equal(again.status, 200, "the second slot is still free");
    await again.body!.cancel();
    await reader.cancel();
  }, { config: { maxTopics: 1 }, maxEventStreams: 2 });
});

Deno.test("control API: /v1/topics lists the node's topics with their peers, eager links and message counters", async () => {
  await withApi(async (call, [a, b]) => {
    const empty = await (await call("/v1/topics")).json();
    assert.deepEqual(empty.topics, []);
    assert.equal(empty.routing.fanoutPublished, 0);
    let received = 0;
    const inbox = a.subscribe("news", () => received++);
    b.subscribe("news");
    await a.waitForTopicPeers("news", 1, { timeout: 10_000 });
    await eventually("b counting a in news", () => b.components.topics.topics()[0]?.peers === 1);
    b.broadcast("headline", { topic: "news" });
    await eventually("a receiving the message", () => received === 1);
    const body = await (await call("/v1/topics")).json();
    assert.equal(body.topics.length, 1);
    const [news] = body.topics;
    assert.equal(news.topic, "news");
    assert.equal(news.subscribed, true);
    assert.equal(news.peers, 1);
    assert.equal(news.eager, 1);
    assert.equal(news.delivered, 1);
    assert.equal(news.messages.delivered, 1);
    assert.equal(news.messages.published, 0);
    assert.equal(typeof body.routing.wrongTopic, "number");
    inbox.unsubscribe();
    assert.deepEqual((await (await call("/v1/topics")).json()).topics, [], "leaving the topic drops it from the list");
  });
});

Deno.test("control API: /v1/topics/peers names the connected peers in a topic, whether or not this node is in it", async () => {
  await withApi(async (call, [a, b]) => {
    b.subscribe("elsewhere");
    await a.waitForTopicPeers("elsewhere", 1, { timeout: 10_000 });
    const body = await (await call("/v1/topics/peers?topic=elsewhere")).json();
    assert.equal(body.topic, "elsewhere");
    assert.equal(body.member, false, "a is not in it itself");
    assert.deepEqual(body.peers.map((p: { nodeId: string }) => p.nodeId), [b.nodeId]);
    assert.equal(body.peers[0].address, b.address);
    assert.equal(body.peers[0].relaysAll, false);
    const none = await (await call("/v1/topics/peers?topic=nobody")).json();
    assert.deepEqual(none.peers, []);
    const all = await (await call("/v1/topics/peers?topic=")).json();
    assert.equal(all.member, true, "every node is in the network-wide topic");
    assert.deepEqual(all.peers.map((p: { nodeId: string }) => p.nodeId), [b.nodeId]);
    const missing = await call("/v1/topics/peers");
    assert.equal(missing.status, 400);
    assert.equal((await missing.json()).error.code, "BAD_FIELD");
    const long = await call(`/v1/topics/peers?topic=${"y".repeat(256)}`);
    assert.equal(long.status, 400);
    assert.equal((await long.json()).error.code, "BAD_TOPIC");
  });
});
