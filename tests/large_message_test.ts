/**
 * Messages near the frame size a node is configured for are delivered: every limit on their way (the
 * protocol's payload bound, the send queue) follows maxFrameBytes and maxApplicationPayloadBytes, so a
 * message the node lets its application publish is neither refused by receivers nor dropped with its link.
 */
import assert from "node:assert/strict";
import { componentConfigs, resolveNetworkConfig } from "../lib/config.ts";
import { KithNode } from "../lib/node.ts";
import { waitFor } from "./_support.ts";

const MiB = 1024 * 1024;

Deno.test("the send queue holds the largest frame and the protocol's payload bound covers the largest application payload", () => {
  const config = resolveNetworkConfig({ maxFrameBytes: 16 * MiB, maxApplicationPayloadBytes: 16 * MiB - 1024 });
  const parts = componentConfigs(config);
  assert.ok(parts.transport.maxSendQueueBytes! >= 16 * MiB + 4, String(parts.transport.maxSendQueueBytes));
  assert.ok(parts.protocol.maxPayloadBytes! >= 16 * MiB - 1024 + 255, String(parts.protocol.maxPayloadBytes));
  assert.ok(parts.protocol.maxPayloadBytes! <= 16 * MiB - 512, "and still fits the frame");
  const defaults = componentConfigs(resolveNetworkConfig({}));
  assert.equal(defaults.transport.maxSendQueueBytes, 8 * MiB, "defaults unchanged");
  assert.equal(defaults.protocol.maxPayloadBytes, MiB - 512, "defaults unchanged");
});

Deno.test("a 10 MiB message between two nodes configured for 16 MiB frames is delivered over real TCP, and the link stays up", async () => {
  const config = (host: string, bootstrap: string[]) => ({
    listenHost: host,
    listenPort: 0,
    bootstrap,
    minPeers: 1,
    peerMaintenanceIntervalMs: 100,
    maxFrameBytes: 16 * MiB,
    maxApplicationPayloadBytes: 12 * MiB,
  });
  const a = new KithNode({ config: config("127.0.91.1", []) });
  await a.start();
  const b = new KithNode({ config: config("127.0.92.1", [a.address]) });
  await b.start();
  try {
    const received: number[] = [];
    b.subscribe("big", (message) => received.push(message.data.length));
    await waitFor(() => a.peers().some((p) => p.state === "active"), "the link");
    a.broadcast(new Uint8Array(10 * MiB).fill(7), { topic: "big" });
    await waitFor(() => received.length === 1, "the 10 MiB message");
    assert.deepEqual(received, [10 * MiB]);
    assert.equal(a.peers().filter((p) => p.state === "active").length, 1, "the link survived");
    assert.equal(a.stats().transport.handshakesCompleted, 1, "no reconnection");
  } finally {
    await b.stop();
    await a.stop();
  }
});
