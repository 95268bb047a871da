/**
 * Dial-backs over real TCP on loopback: the whole kith handshake, proven at both ends, after which neither
 * end keeps a link, and the link the two nodes already had is untouched (a dial-back is no duplicate).
 */
import assert from "node:assert/strict";
import { Identity } from "../lib/identity.ts";
import { TcpTransport } from "../lib/transport/tcp.ts";
import { TransportError } from "../lib/transport/types.ts";

const config = { listenHost: "127.0.0.1", listenPort: 0 };

Deno.test("tcp dial-back: the handshake reaches the expected node, which sees who dialed, and no link is kept", async () => {
  const a = new TcpTransport({ identity: Identity.generate(), config });
  const b = new TcpTransport({ identity: Identity.generate(), config });
  try {
    const address = await a.listen();
    await b.listen();
    const link = await a.dial(b.listenAddress);
    const seen: string[] = [];
    a.onDialBack = (nodeId) => seen.push(nodeId);
    await b.dialBack(address, a.nodeId);
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, [b.nodeId]);
    assert.equal(a.stats.dialBacksAccepted, 1);
    assert.equal(b.stats.dialBacksMade, 1);
    // The link they had is still the one each holds: the dial-back registered nothing.
    assert.ok(link.isOpen);
    assert.equal(a.connections().length, 1);
    assert.equal(b.connections().length, 1);
    assert.equal(a.connection(b.nodeId), link);
    assert.equal(link.linkKind, "direct");
    // Another node's id expected at that address: the handshake fails, and the listener reports no one.
    await assert.rejects(b.dialBack(address, Identity.generate().nodeId), TransportError);
    assert.equal(seen.length, 1);
  } finally {
    await b.close();
    await a.close();
  }
});

Deno.test("tcp dial-back: nothing listening fails with CONNECT_FAILED", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const b = new TcpTransport({ identity: Identity.generate(), config });
  try {
    await b.listen();
    await assert.rejects(
      b.dialBack(`127.0.0.1:${port}`, Identity.generate().nodeId),
      (error: unknown) => error instanceof TransportError && error.code === "CONNECT_FAILED",
    );
  } finally {
    await b.close();
  }
});
