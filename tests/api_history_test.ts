/**
 * The topic log through the control surface: GET /v1/history, `since` on GET /v1/subscribe, the log's size in
 * /v1/topics and the metrics, and `kith history` / `kith subscribe --since` through the API. One node on
 * loopback; its log is filled through its delivery path, as gossip or catch-up would.
 */
import assert from "node:assert/strict";
import { ControlApi, loadOrCreateApiToken } from "../lib/api.ts";
import { toHex } from "../lib/bytes.ts";
import { runCli } from "../lib/cli/mod.ts";
import { Identity } from "../lib/identity.ts";
import { KithNode } from "../lib/node.ts";
import { createMessage, type Message, MessageCodec, MessageType } from "../lib/protocol/mod.ts";

const T = "minutes";
const codec = new MessageCodec();
const writer = Identity.generate();

function message(text: string, timestamp: number): Message<typeof MessageType.CUSTOM_DATA> {
  return createMessage(writer, MessageType.CUSTOM_DATA, { topic: T, data: new TextEncoder().encode(text) }, {
    timestamp,
  });
}

async function withNode(
  fn: (
    call: (path: string) => Promise<Response>,
    node: KithNode,
    cli: (...args: string[]) => Promise<string>,
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "kith-api-history-" });
  const node = new KithNode({ config: { listenHost: "127.0.46.1", listenPort: 0, minPeers: 0 } });
  let api: ControlApi | undefined;
  try {
    await node.start();
    const token = await loadOrCreateApiToken(dir);
    api = new ControlApi({ node, token, port: 0 });
    const address = await api.start();
    const call = (path: string) => fetch(`http://${address}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const cli = async (...args: string[]) => {
      const out: string[] = [], err: string[] = [];
      const code = await runCli([...args, "--data-dir", dir, "--api", address], {
        out: (l) => out.push(l),
        err: (l) => err.push(l),
      });
      assert.equal(code, 0, err.join("\n"));
      return out.join("\n");
    };
    await fn(call, node, cli);
  } finally {
    await api?.stop();
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function fill(node: KithNode, count: number): Message<typeof MessageType.CUSTOM_DATA>[] {
  node.subscribe(T);
  const base = Date.now() - 60_000;
  const messages = Array.from({ length: count }, (_, i) => message(`line ${i}`, base + i * 1_000));
  for (const m of messages) assert.equal(node.components.topicDelivery.accept(m, codec.encode(m), "peer"), true);
  return messages;
}

Deno.test("control API: /v1/history gives a topic's log oldest first, by since and limit, and refuses bad parameters", async () => {
  await withNode(async (call, node) => {
    const messages = fill(node, 5);
    const all = await (await call(`/v1/history?topic=${T}`)).json();
    assert.deepEqual(all.messages.map((m: { id: string }) => m.id), messages.map((m) => toHex(m.id)));
    assert.equal(all.messages[0].data, "line 0");
    assert.equal(all.messages[0].replayed, true);
    const some = await (await call(`/v1/history?topic=${T}&since=${messages[2].timestamp}&limit=2`)).json();
    assert.deepEqual(some.messages.map((m: { data: string }) => m.data), ["line 2", "line 3"]);
    for (const bad of ["", `?topic=${T}&since=soon`, `?topic=${T}&limit=0`, `?topic=${T}&limit=10001`, "?topic="]) {
      const response = await call(`/v1/history${bad}`);
      assert.equal(response.status, 400, bad);
      await response.body?.cancel();
    }
    const topics = await (await call("/v1/topics")).json();
    assert.equal(topics.topics[0].log.count, 5, "/v1/topics shows each topic's log size");
    assert.ok(topics.topics[0].log.bytes > 0);
    const metrics = await (await call("/metrics")).text();
    assert.match(metrics, new RegExp(`kith_topic_log_messages\\{topic="${T}"\\} 5`));
    assert.match(metrics, new RegExp(`kith_topic_log_bytes\\{topic="${T}"\\} [1-9]`));
    assert.match(metrics, /kith_topic_delivery_total\{outcome="accepted"\} 5/);
    assert.match(metrics, /kith_causal_buffer\{kind="messages"\} 0/);
  });
});

Deno.test("control API: /v1/subscribe with since streams the topic's log, then live messages", async () => {
  await withNode(async (call, node) => {
    const messages = fill(node, 3);
    const response = await call(`/v1/subscribe?topic=${T}&since=${messages[1].timestamp}`);
    assert.equal(response.status, 200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const live = message("live", Date.now());
    node.components.topicDelivery.accept(live, codec.encode(live), "peer");
    let text = "";
    // Bounded: the events are queued at once; a stream that lacks some would otherwise be waited on forever.
    const deadline = Date.now() + 10_000;
    while ((text.match(/event: message/g) ?? []).length < 3 && Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<{ value: undefined }>((r) => timer = setTimeout(() => r({ value: undefined }), 200)),
      ]);
      clearTimeout(timer);
      text += chunk.value ?? "";
    }
    await reader.cancel();
    const data = [...text.matchAll(/data: (\{.*\})/g)].map((m) => JSON.parse(m[1]).data);
    assert.deepEqual(data, ["line 1", "line 2", "live"]);
    const bad = await call(`/v1/subscribe?since=0`);
    assert.equal(bad.status, 400, "since without a topic");
    await bad.body?.cancel();
  });
});

Deno.test("kith history prints a topic's log through the control API, and kith topics its size", async () => {
  await withNode(async (_call, node, cli) => {
    const messages = fill(node, 3);
    const lines = (await cli("history", T)).split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[0], /\[minutes\] line 0$/);
    const limited = JSON.parse(
      await cli("history", T, "--since", String(messages[1].timestamp), "--limit", "1", "--json"),
    );
    assert.deepEqual(limited.messages.map((m: { data: string }) => m.data), ["line 1"]);
    assert.match((await cli("topics")).split("\n")[1], /\s3 \(\d+\.\d KiB\)$/);
    assert.equal(await cli("history", "empty-topic"), "the log holds no message of topic empty-topic");
  });
});
