/**
 * Every disconnect and refusal says why in the log: the reason by name (never the bare code) and a line of
 * detail, at info level. Real loopback TCP, because the reasons come from the peer manager and the node.
 */
import assert from "node:assert/strict";
import { KithNode } from "../lib/node.ts";
import { waitFor } from "./_support.ts";

type Line = { level: string; message: string; fields: Record<string, unknown> };

Deno.test("disconnects and refusals are logged with the reason's name and why: refused by limits, peer shutdown", async () => {
  const lines: Line[] = [];
  const a = new KithNode({
    // One peer per IP: B and C listen on one host, so the second of them is refused by the limits.
    config: { listenHost: "127.0.26.1", listenPort: 0, maxPeersPerIp: 1, maxConnectionsPerIp: 100 },
    log: (level, message, fields = {}) => lines.push({ level, message, fields }),
  });
  await a.start();
  const b = new KithNode({ config: { listenHost: "127.0.26.2", listenPort: 0, minPeers: 0 } });
  const c = new KithNode({ config: { listenHost: "127.0.26.2", listenPort: 0, minPeers: 0 } });
  try {
    await b.start();
    await c.start();
    await b.connect(a.address);
    await c.connect(a.address).catch(() => {}); // refused after the handshake
    await waitFor(() => lines.some((l) => l.message === "connection refused"), "a refusal line");
    const refused = lines.find((l) => l.message === "connection refused")!;
    assert.equal(refused.level, "info");
    assert.equal(refused.fields.reason, "TOO_MANY_CONNECTIONS");
    assert.match(String(refused.fields.why), /too many peers from that address/);
    await b.stop();
    await waitFor(() => lines.some((l) => l.message === "peer disconnected"), "a disconnect line");
    const gone = lines.find((l) => l.message === "peer disconnected")!;
    assert.equal(gone.level, "info");
    assert.equal(gone.fields.reason, "SHUTDOWN", "the name, not the code");
    assert.equal(gone.fields.by, "remote");
    assert.equal(typeof gone.fields.why, "string");
  } finally {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
});
