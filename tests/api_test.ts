import assert from "node:assert/strict";
import { ControlApi, loadOrCreateApiToken, MAX_API_BODY_BYTES } from "../lib/api.ts";
import { KithNode } from "../lib/node.ts";

async function withApi(
  fn: (call: (path: string, init?: RequestInit) => Promise<Response>, nodes: KithNode[]) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const a = new KithNode({ config: { listenHost: "127.0.41.1", listenPort: 0, minPeers: 1 } });
  const b = new KithNode({ config: { listenHost: "127.0.42.1", listenPort: 0, minPeers: 1 } });
  let api: ControlApi | undefined;
  try {
    await a.start();
    await b.start();
    await b.connect(a.address);
    const token = await loadOrCreateApiToken(dir);
    assert.equal((await Deno.stat(`${dir}/api.token`)).mode! & 0o777, 0o600);
    assert.equal(await loadOrCreateApiToken(dir), token, "the token is kept across restarts");
    api = new ControlApi({ node: a, token, port: 0 });
    const address = await api.start();
    await fn(
      (path, init = {}) =>
        fetch(`http://${address}${path}`, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } }),
      [a, b],
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

Deno.test("control API: metrics expose peers, messages, bytes, trust and latency", async () => {
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
      ]
    ) assert.ok(text.includes(name), `metrics lack ${name}`);
  });
});
