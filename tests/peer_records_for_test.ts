/** What peer records a peer is sent, by the capabilities its handshake agent announces. */
import assert from "node:assert/strict";
import { recordsFor } from "../lib/peers/discovery.ts";

Deno.test("a peer without relay/1 is sent no relayed address, which it would refuse; one with it is sent all", () => {
  const relayed = { nodeId: new Uint8Array(32), address: `127.0.0.9:7000/relay/${"cd".repeat(32)}`, lastSeen: 0 };
  const direct = { nodeId: new Uint8Array(32), address: "127.0.0.8:7000", lastSeen: 0 };
  assert.deepEqual(recordsFor("kith/0.1.0 direct/1 topics/1", [relayed, direct]), [direct]);
  assert.deepEqual(recordsFor("kith/0.1.0 topics/1 relay/1", [relayed, direct]), [relayed, direct]);
});
