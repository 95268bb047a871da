/**
 * The reachability check (lib/nat/reachability.ts) on a manual clock with fake peers: a verdict needs a quorum
 * of network groups, a REACHED answer counts only with the dial-back this node's listener saw, one peer per
 * group is asked, and the check runs again when the candidate address changes and on its intervals.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { resolveNatConfig } from "../lib/nat/config.ts";
import { type DialBackPeer, Reachability, type ReachabilityState } from "../lib/nat/reachability.ts";
import { type DialBackRequestPayload, DialBackStatus } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";

interface Asked {
  nodeId: string;
  request: DialBackRequestPayload;
}

function setup(groups: string[], overrides: Parameters<typeof resolveNatConfig>[0] = {}) {
  const clock = new ManualClock(1_000_000);
  const asked: Asked[] = [];
  const changes: [ReachabilityState, string | undefined][] = [];
  let candidate: string | undefined = "203.0.113.7:7400";
  const peers: DialBackPeer[] = groups.map((group, i) => ({
    nodeId: `peer${i}`,
    group,
    sees: undefined,
    send: (request) => asked.push({ nodeId: `peer${i}`, request }),
  }));
  const config = resolveNatConfig({ quorum: 2, peersPerCheck: 3, checkTimeoutMs: 15_000, ...overrides });
  const reachability = new Reachability({
    clock,
    random: seededRandom(7),
    config,
    candidate: () => candidate,
    peers: () => peers,
    onChange: (state, address) => changes.push([state, address]),
  });
  const answer = (a: Asked, status: number) =>
    reachability.response(a.nodeId, { requestId: a.request.requestId, status, detail: "" });
  return {
    clock,
    asked,
    changes,
    reachability,
    answer,
    config,
    setCandidate: (address: string | undefined) => {
      candidate = address;
      reachability.candidateChanged();
    },
  };
}

Deno.test("reachability: public once a quorum of network groups reached the node and its listener saw each dial-back", () => {
  const t = setup(["g1", "g2", "g3"]);
  t.reachability.start();
  t.clock.advance(0);
  assert.equal(t.asked.length, 3);
  assert.ok(t.asked.every((a) => a.request.address === "203.0.113.7:7400"));
  t.reachability.dialedBack(t.asked[0].nodeId);
  t.answer(t.asked[0], DialBackStatus.REACHED);
  assert.equal(t.reachability.state, "unknown", "one group is not a quorum");
  t.reachability.dialedBack(t.asked[1].nodeId);
  t.answer(t.asked[1], DialBackStatus.REACHED);
  assert.equal(t.reachability.state, "public");
  assert.equal(t.reachability.address, "203.0.113.7:7400");
  assert.equal(t.reachability.stats.reached, 2);
});

Deno.test("reachability: a REACHED answer without the dial-back seen by this node is not believed", () => {
  const t = setup(["g1", "g2", "g3"]);
  t.reachability.start();
  t.clock.advance(0);
  // Three liars (or peers that dialed someone else): they say REACHED, but no dial-back handshake arrived.
  for (const a of t.asked) t.answer(a, DialBackStatus.REACHED);
  t.clock.advance(15_000);
  assert.equal(t.reachability.state, "unknown");
  assert.equal(t.reachability.stats.unproven, 3);
  assert.equal(t.reachability.stats.reached, 0);
});

Deno.test("reachability: a dial-back seen after the REACHED answer still proves it (two sockets, either order)", () => {
  const t = setup(["g1", "g2"], { peersPerCheck: 2 });
  t.reachability.start();
  t.clock.advance(0);
  for (const a of t.asked) t.answer(a, DialBackStatus.REACHED);
  assert.equal(t.reachability.state, "unknown");
  for (const a of t.asked) t.reachability.dialedBack(a.nodeId);
  assert.equal(t.reachability.state, "public");
});

Deno.test("reachability: private once a quorum of groups failed to dial back and none reached it", () => {
  const t = setup(["g1", "g2", "g3"]);
  t.reachability.start();
  t.clock.advance(0);
  t.answer(t.asked[0], DialBackStatus.UNREACHABLE);
  t.answer(t.asked[1], DialBackStatus.UNREACHABLE);
  t.answer(t.asked[2], DialBackStatus.REFUSED);
  assert.equal(t.reachability.state, "private");
  assert.deepEqual(t.changes.at(-1), ["private", "203.0.113.7:7400"]);
});

Deno.test("reachability: one failure and one proven success decide nothing", () => {
  const t = setup(["g1", "g2", "g3"]);
  t.reachability.start();
  t.clock.advance(0);
  t.reachability.dialedBack(t.asked[0].nodeId);
  t.answer(t.asked[0], DialBackStatus.REACHED);
  t.answer(t.asked[1], DialBackStatus.UNREACHABLE);
  t.answer(t.asked[2], DialBackStatus.UNREACHABLE);
  assert.equal(t.reachability.state, "unknown");
});

Deno.test("reachability: one peer per network group is asked, and too few groups for a quorum ask none", () => {
  const many = setup(["g1", "g1", "g1", "g1", "g2"]);
  many.reachability.start();
  many.clock.advance(0);
  assert.equal(many.asked.length, 2);
  assert.notEqual(many.asked[0].nodeId === "peer4", many.asked[1].nodeId === "peer4");
  const sybils = setup(["g1", "g1", "g1", "g1"]);
  sybils.reachability.start();
  sybils.clock.advance(0);
  assert.equal(sybils.asked.length, 0, "a single group could decide alone");
  assert.equal(sybils.reachability.state, "unknown");
});

Deno.test("reachability: a new candidate address is checked at once; a verdict is checked again after recheckIntervalMs", () => {
  const t = setup(["g1", "g2"], { peersPerCheck: 2, recheckIntervalMs: 600_000 });
  t.reachability.start();
  t.clock.advance(0);
  for (const a of t.asked.splice(0)) {
    t.reachability.dialedBack(a.nodeId);
    t.answer(a, DialBackStatus.REACHED);
  }
  assert.equal(t.reachability.state, "public");
  t.clock.advance(599_999);
  assert.equal(t.asked.length, 0, "no check before the interval");
  t.clock.advance(1);
  assert.equal(t.asked.length, 2, "the periodic re-check");
  for (const a of t.asked.splice(0)) {
    t.reachability.dialedBack(a.nodeId);
    t.answer(a, DialBackStatus.REACHED);
  }
  // The observed address changes (a new IP): checked at once, long before the interval.
  t.setCandidate("198.51.100.9:7400");
  t.clock.advance(0);
  assert.equal(t.asked.length, 2);
  assert.ok(t.asked.every((a) => a.request.address === "198.51.100.9:7400"));
  for (const a of t.asked) t.answer(a, DialBackStatus.UNREACHABLE);
  assert.equal(t.reachability.state, "private");
  assert.equal(t.reachability.address, "198.51.100.9:7400");
});

Deno.test("reachability: no candidate address means unknown and no request; answers to no request are ignored", () => {
  const t = setup(["g1", "g2", "g3"]);
  t.setCandidate(undefined);
  t.reachability.start();
  t.clock.advance(60_000);
  assert.equal(t.asked.length, 0);
  t.setCandidate("203.0.113.7:7400");
  t.clock.advance(0);
  assert.equal(t.asked.length, 3);
  // Another peer echoing someone's request id, and an unknown id, change nothing.
  t.reachability.response("intruder", { requestId: t.asked[0].request.requestId, status: 1, detail: "" });
  t.reachability.response(t.asked[1].nodeId, { requestId: 999_999, status: 1, detail: "" });
  t.reachability.response(t.asked[2].nodeId, { requestId: t.asked[2].request.requestId, status: 1, detail: "" });
  assert.equal(t.reachability.state, "unknown");
  t.reachability.stop();
  assert.equal(t.clock.pendingTimers, 0);
});
