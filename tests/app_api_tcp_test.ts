/**
 * The application API over real TCP on loopback: events, a direct message and a request/response round trip
 * between two nodes, and the README's program (examples/app_api.ts, kept identical to it) run as a user runs it.
 */
import assert from "node:assert/strict";
import type { DirectMessage } from "../lib/direct/mod.ts";
import type { NodeEvent } from "../lib/events.ts";
import { KithNode } from "../lib/node.ts";

const config = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 1, verifyThreads: 0 };

Deno.test("over TCP, a direct message and a request round trip between two nodes, with their connect event", async () => {
  const a = new KithNode({ config });
  a.handle("sum/1", (data) => new Uint8Array([data.reduce((x, y) => x + y, 0)]));
  const direct: DirectMessage[] = [];
  a.onDirect((m) => direct.push(m));
  await a.start();
  const events: NodeEvent[] = [];
  a.events.addEventListener("peer-connected", (e) => events.push((e as CustomEvent<NodeEvent>).detail));
  const b = new KithNode({ config: { ...config, bootstrap: [a.address] } });
  await b.start();
  try {
    await b.waitForPeers(1, { timeout: 10_000 });
    b.sendDirect(a.nodeId, new Uint8Array([7]));
    const answer = await b.request(a.nodeId, "sum/1", new Uint8Array([1, 2, 3]), { timeout: 10_000 });
    assert.deepEqual([...answer], [6]);
    assert.equal(direct.length, 1, "the direct message came first, on the same link");
    assert.equal(direct[0].from, b.nodeId);
    assert.deepEqual([...direct[0].data], [7]);
    assert.equal(events.length, 1);
    assert.equal(events[0].nodeId, b.nodeId);
  } finally {
    await b.stop();
    await a.stop();
  }
});

Deno.test("the README's application API program is examples/app_api.ts, and it prints the events, the direct message and the answer", async () => {
  const program = await Deno.readTextFile(new URL("../examples/app_api.ts", import.meta.url));
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.ok(readme.includes("```ts\n" + program + "```\n"), "README.md holds examples/app_api.ts verbatim");
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "examples/app_api.ts"],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.match(stdout, /^direct from [0-9a-f]{8}: hello, alice$/m);
  assert.match(stdout, /^answer: SHOUT THIS$/m);
  assert.match(stdout, /^event peer-connected [0-9a-f]{8}$/m);
  assert.match(stdout, /^event peer-disconnected [0-9a-f]{8}$/m);
});
