/**
 * Relays and hole punching on the network lab (scripts/netlab/punch.ts): two hosts behind separate NATs and
 * one public relay. Behind port-preserving NATs, at least 18 of 20 fresh dialers end on a hole-punched link;
 * behind symmetric NATs, where punching cannot work, all 20 connect through the relay. Needs root, `ip` and
 * `nft`; ignored elsewhere. Traffic stays inside the lab's namespaces.
 */
import assert from "node:assert/strict";
import { labUnavailable } from "../scripts/netlab/lab.ts";
import { runPunchTries } from "../scripts/netlab/punch.ts";

const unavailable = await labUnavailable();

Deno.test({
  name: "netlab: behind two port-preserving NATs, hole punching makes the link direct in at least 18 of 20 tries",
  ignore: unavailable !== undefined,
  sanitizeResources: false, // the nodes' pipes are closed by the lab
  fn: async () => {
    const run = await runPunchTries("port-preserving", 20);
    assert.equal(run.connected, 20, JSON.stringify(run.tries));
    assert.ok(run.punched >= 18, `hole-punched ${run.punched}/20: ${JSON.stringify(run.tries)}`);
  },
});

Deno.test({
  name: "netlab: behind two symmetric NATs, every one of 20 tries connects through the relay",
  ignore: unavailable !== undefined,
  sanitizeResources: false,
  fn: async () => {
    const run = await runPunchTries("symmetric", 20, 3_000);
    assert.equal(run.connected, 20, JSON.stringify(run.tries));
    assert.ok(run.tries.every((t) => t.linkKind === "relayed"), JSON.stringify(run.tries));
  },
});
