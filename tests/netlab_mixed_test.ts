/**
 * A mixed network on the lab (scripts/netlab/mixed.ts), at CI size: 8 hosts, 4 behind NATs (port-preserving,
 * symmetric, firewall, port-preserving), 4 public of which 3 relay. Every node classifies itself correctly,
 * every private one reserves at relays and advertises a relayed address because its verdict says private (no
 * flag asks it to), every node is connected, and one message from each node (NATed and public) reaches every
 * other: delivery 1.000. kith processes with the shipped permissions, driven through the control API. Needs
 * root, `ip` and `nft`; ignored elsewhere. Bounded to 2 minutes; traffic stays inside the lab's namespaces.
 */
import assert from "node:assert/strict";
import { labUnavailable } from "../scripts/netlab/lab.ts";
import { runMixedLab } from "../scripts/netlab/mixed.ts";

const unavailable = await labUnavailable();

Deno.test({
  name:
    "netlab: in a mixed lab of 8 hosts every node is classified right, private ones advertise relayed addresses, and every message reaches every node",
  ignore: unavailable !== undefined,
  sanitizeResources: false, // the nodes' pipes are closed by the lab
  fn: async () => {
    const run = await runMixedLab({ hosts: 8, limitMs: 120_000 });
    const seen = JSON.stringify(run);
    assert.equal(run.error, "", seen);
    assert.equal(run.nodes.length, 8);
    assert.equal(run.classifiedCorrectly, 8, seen);
    assert.equal(run.privateNodes, 4);
    assert.equal(run.relayedAdvertised, 4, seen);
    assert.ok(run.nodes.filter((n) => n.expected === "private").every((n) => n.reservations >= 2), seen);
    assert.ok(run.nodes.filter((n) => n.expected === "public").every((n) => n.reservations === 0), seen);
    assert.equal(run.connectedNodes, 8, seen);
    assert.equal(run.deliveryRatio, 1, seen);
    console.log(
      `netlab mixed 8: delivery ${run.deliveryRatio}, verdicts ${run.verdictMs} ms, ${run.totalMs} ms in all`,
    );
  },
});
