/**
 * The peer layer's pure rules, each without a network or a manager: the address book's choice of what to
 * drop, admission bounds and eviction, dial budget, targets and backoff, liveness and discovery.
 */
import assert from "node:assert/strict";
import { networkGroup } from "../lib/netgroup.ts";
import {
  dialableAddressOf,
  evictionVictim,
  groupOf,
  newActiveState,
  overGroupBounds,
  slotsFull,
} from "../lib/peers/admission.ts";
import { AddressTables } from "../lib/peers/addrman.ts";
import { DEFAULT_PEERS_CONFIG } from "../lib/peers/config.ts";
import { backoffMs, dialBudget, pickDialTargets } from "../lib/peers/dialer.ts";
import { discoveryTargets, takeDiscoveryAnswer } from "../lib/peers/discovery.ts";
import { isHeartbeatDue, isTimedOut, notePing, notePong, takeHeartbeatAnswer } from "../lib/peers/liveness.ts";
import type { KnownPeer } from "../lib/peers/types.ts";
import type { Connection } from "../lib/transport/types.ts";

function connection(
  nodeId: string,
  direction: "inbound" | "outbound",
  remoteAddress: string,
  listenAddress = "",
): Connection {
  return { remoteNodeId: nodeId, direction, remoteAddress, listenAddress } as unknown as Connection;
}

function peerAt(nodeId: string, host: string, direction: "inbound" | "outbound" = "inbound", now = 0) {
  const c = connection(nodeId, direction, `${host}:7400`);
  return newActiveState(c, networkGroup(host), now);
}

function known(nodeId: string, address: string, extra: Partial<KnownPeer> = {}): KnownPeer {
  return {
    nodeId,
    address,
    lastSeen: 0,
    failures: 0,
    nextDialAt: 0,
    tried: false,
    source: "",
    lastSuccess: 0,
    ...extra,
  };
}

Deno.test("one source's hearsay fills at most a sixteenth of the new table, however many addresses it sends", () => {
  const tables = new AddressTables(1_000, new Uint8Array(32).fill(7));
  let placed = 0;
  for (let i = 0; i < 5_000; i++) {
    const address = `127.${100 + (i % 100)}.${Math.floor(i / 100) % 250}.1:7400`;
    if (tables.addNew(known(`a${i}`, address, { source: "v4:127.66.0" }), () => false).placed) placed++;
  }
  // Two of the 47 new buckets, 16 slots each.
  assert.ok(placed <= 32, `one source placed ${placed}`);
  assert.ok(placed >= 16, `one source placed ${placed}`);
  // Another source still finds room.
  let others = 0;
  for (let i = 0; i < 20; i++) {
    const source = `v4:127.0.${i}`;
    if (tables.addNew(known(`h${i}`, `127.0.${i}.1:7400`, { source }), () => false).placed) others++;
  }
  assert.ok(others >= 18, `honest sources placed ${others} of 20`);
  assert.equal(tables.triedCount, 0, "hearsay is never tried");
});

Deno.test("an entry becomes tried only by promotion, and a colliding one waits until the occupant is found unreachable", () => {
  const tables = new AddressTables(64, new Uint8Array(32).fill(1)); // one tried bucket of 16 slots
  const entries = Array.from({ length: 40 }, (_, i) => known(`n${i}`, `127.0.${i}.1:7400`, { source: "v4:127.9.9" }));
  for (const e of entries) tables.addNew(e, () => false);
  const held = entries.filter((e) => tables.get(e.nodeId));
  let collision: { newcomer: string; occupant: string } | undefined;
  for (const e of held) {
    const result = tables.promote(e.nodeId);
    if (!result.placed && result.occupant) {
      collision = { newcomer: e.nodeId, occupant: result.occupant.nodeId };
      break;
    }
    assert.equal(tables.get(e.nodeId)?.tried, true);
  }
  assert.ok(collision, "the tried bucket filled up");
  assert.equal(tables.get(collision.newcomer)?.tried, false, "the newcomer stays new while the occupant is untested");
  assert.equal(tables.promote(collision.newcomer, "someone-else").placed, false, "only the tested occupant yields");
  const result = tables.promote(collision.newcomer, collision.occupant);
  assert.ok(result.placed);
  assert.equal(result.displaced?.nodeId, collision.occupant);
  assert.equal(tables.get(collision.newcomer)?.tried, true);
  assert.notEqual(tables.get(collision.occupant)?.tried, true, "the unreachable occupant went back to new (or out)");
});

Deno.test("an inbound loopback connection is grouped by the loopback address it announced", () => {
  assert.equal(groupOf(connection("x", "inbound", "127.0.0.1:5000", "127.66.0.9:7400")).subnet, "v4:127.66.0");
  assert.equal(groupOf(connection("x", "outbound", "127.0.0.1:5000", "127.66.0.9:7400")).subnet, "v4:127.0.0");
  assert.equal(dialableAddressOf(connection("x", "inbound", "127.0.0.1:5000", "")), "");
  assert.equal(dialableAddressOf(connection("x", "outbound", "127.0.0.1:5000", "")), "127.0.0.1:5000");
});

Deno.test("admission bounds: per host and subnet, and inbound peers never take the outbound slots", () => {
  const limits = { maxPeersPerIp: 2, maxPeersPerSubnet: 4 };
  assert.equal(overGroupBounds({ host: 1, subnet: 3 }, limits), false);
  assert.equal(overGroupBounds({ host: 2, subnet: 2 }, limits), true);
  assert.equal(overGroupBounds({ host: 0, subnet: 4 }, limits), true);
  const slots = { maxPeers: 10, outboundSlots: 3 };
  assert.equal(slotsFull(slots, 7, 7, "inbound"), true);
  assert.equal(slotsFull(slots, 7, 7, "outbound"), false);
  assert.equal(slotsFull(slots, 10, 5, "outbound"), true);
});

Deno.test("an inbound newcomer displaces only inbound peers, first those worse than a stranger; a bad newcomer none", () => {
  const trusts: Record<string, number> = { in1: 0.35, out1: 0.2, newcomer: 0.5 };
  const view = {
    trust: {
      initialTrust: 0.5,
      trust: (id: string) => trusts[id] ?? 0.5,
      reputation: (id: string) => trusts[id] ?? 0.5,
    },
    lastNovelAt: () => -Infinity,
    salt: 1,
  };
  const active = [peerAt("in1", "127.0.1.1", "inbound"), peerAt("out1", "127.0.2.1", "outbound")];
  assert.equal(evictionVictim(active, connection("newcomer", "inbound", "127.0.3.1:1"), view), "in1");
  assert.equal(evictionVictim(active, connection("newcomer", "outbound", "127.0.3.1:1"), view), "out1");
  trusts.newcomer = 0.45;
  assert.equal(evictionVictim(active, connection("newcomer", "inbound", "127.0.3.1:1"), view), undefined);
});

Deno.test("the dial budget fills min_peers and the outbound slots within the concurrency and max_peers bounds", () => {
  const config = { minPeers: 8, outboundSlots: 4, maxConcurrentDials: 4, maxPeers: 10 };
  assert.equal(dialBudget(config, 0, 0, 0), 4);
  assert.equal(dialBudget(config, 6, 4, 1), 1);
  assert.equal(dialBudget(config, 7, 0, 0), 3, "max_peers leaves room for three");
  assert.ok(dialBudget(config, 8, 4, 0) <= 0);
});

Deno.test("dial backoff doubles per failure, is capped, and jitters by at most a quarter", () => {
  const config = { dialBackoffMs: 100, maxDialBackoffMs: 1_000 };
  assert.equal(backoffMs(1, config, () => 0.5), 100);
  assert.equal(backoffMs(3, config, () => 0.5), 400);
  assert.equal(backoffMs(10, config, () => 0.5), 1_000);
  assert.equal(backoffMs(1, config, () => 0), 75);
  assert.equal(backoffMs(1, config, () => 0.999999), 125);
});

Deno.test("dial targets favour empty subnets, then trust, and never pick past a subnet's bound", () => {
  const trusts: Record<string, number> = { a: 0.5, b: 0.9, c: 0.7, d: 0.6 };
  const candidates = [
    known("a", "127.0.9.1:1"), // alone in its subnet
    known("b", "127.0.1.2:1"), // its subnet has an active peer
    known("c", "127.0.8.1:1"),
    known("d", "127.0.8.2:1"), // same subnet as c
  ];
  const active = [peerAt("p", "127.0.1.1")];
  const picked = pickDialTargets(
    candidates,
    active,
    [],
    3,
    { maxPeersPerIp: 2, maxPeersPerSubnet: 1 },
    { trust: (id) => trusts[id] },
  );
  // b's subnet is at its bound of 1; c beats a on trust; d would be c's subnet's second.
  assert.deepEqual(picked.map((k) => k.nodeId), ["c", "a"]);
});

Deno.test("a recommendation only breaks a tie of earned trust in dial order; it never outranks earned trust", () => {
  const trusts: Record<string, number> = { earned: 0.501, stranger: 0.5, recommended: 0.5 };
  const recommended: Record<string, number> = { recommended: 0.1 };
  const candidates = [
    known("stranger", "127.0.9.1:1"),
    known("recommended", "127.0.8.1:1"),
    known("earned", "127.0.7.1:1"),
  ];
  const picked = pickDialTargets(candidates, [], [], 3, { maxPeersPerIp: 2, maxPeersPerSubnet: 2 }, {
    trust: (id) => trusts[id],
    recommended: (id) => recommended[id] ?? 0,
  });
  assert.deepEqual(picked.map((k) => k.nodeId), ["earned", "recommended", "stranger"]);
});

Deno.test("liveness: a silent peer times out; a quiet one is pinged; a reply measures the round trip", () => {
  const config = { peerTimeoutMs: 1_000, heartbeatIntervalMs: 300 };
  const peer = peerAt("p", "127.0.1.1", "inbound", 0);
  assert.equal(isHeartbeatDue(peer, 299, config), false);
  assert.equal(isHeartbeatDue(peer, 300, config), true);
  const seq = notePing(peer, 300);
  assert.equal(isHeartbeatDue(peer, 400, config), false, "not pinged again at once");
  notePong(peer, seq + 1, 320);
  assert.equal(peer.rttMs, undefined, "a reply to another ping measures nothing");
  notePong(peer, seq, 320);
  assert.equal(peer.rttMs, 20);
  assert.equal(isTimedOut(peer, 999, config), false);
  assert.equal(isTimedOut(peer, 1_000, config), true);
  assert.equal(takeHeartbeatAnswer(peer, 10), true);
  assert.equal(takeHeartbeatAnswer(peer, 500), false, "answers are rate-limited");
});

Deno.test("discovery asks the fanout while below min_peers, one peer when merely due, and nobody too often", () => {
  const config = { ...DEFAULT_PEERS_CONFIG, minPeers: 4, discoveryFanout: 2 };
  const identity = <T>(items: T[]) => items;
  const active = [peerAt("a", "127.0.1.1"), peerAt("b", "127.0.2.1"), peerAt("c", "127.0.3.1")];
  assert.equal(discoveryTargets(active, 3, 100_000, 0, config, identity)?.length, 2);
  const enough = { ...config, minPeers: 3 };
  assert.equal(discoveryTargets(active, 3, 100_000, 0, enough, identity)?.length, 1);
  assert.equal(discoveryTargets(active, 3, 100_000, 99_000, enough, identity), undefined, "not due yet");
  for (const p of active) p.lastDiscoveryAsked = 99_000;
  assert.equal(discoveryTargets(active, 3, 100_000, 0, config, identity), undefined, "everyone was asked just now");
  assert.equal(takeDiscoveryAnswer(active[0], 100_000, config), true);
  assert.equal(takeDiscoveryAnswer(active[0], 100_001, config), false);
});
