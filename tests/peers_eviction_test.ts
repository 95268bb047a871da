/** Eviction on several criteria (lib/peers/eviction.ts): pure rules, no network. */
import assert from "node:assert/strict";
import {
  DEFAULT_EVICTION_PROTECTION,
  type EvictionCandidate,
  type EvictionProtection,
  keyedNetgroupHash,
  selectEvictionVictim,
} from "../lib/peers/eviction.ts";

function candidate(nodeId: string, extra: Partial<EvictionCandidate> = {}): EvictionCandidate {
  return {
    nodeId,
    subnet: `v4:127.0.${nodeId.length}`,
    connectedAt: 0,
    minRttMs: undefined,
    lastNovelAt: -Infinity,
    trust: 0.5,
    reputation: 0.5,
    ...extra,
  };
}

const NONE: EvictionProtection = { byNetgroup: 0, byRtt: 0, byNovelty: 0, longevityShare: 0, byTrust: 0 };
const only = (p: Partial<EvictionProtection>) => ({ ...NONE, ...p });

Deno.test("a bought reputation does not protect: young high-reputation peers go before old honest ones", () => {
  // 12 honest peers in distinct subnets, connected long ago, at a stranger's 0.5; 12 young identities from one
  // subnet whose reputation stands at 0.59 (what recommendations used to buy). The old rule (lowest reputation
  // first) would evict an honest peer.
  const honest = Array.from({ length: 12 }, (_, i) => candidate(`h${i}`, { subnet: `v4:127.1.${i}`, connectedAt: i }));
  const sybils = Array.from(
    { length: 12 },
    (_, i) => candidate(`s${i}`, { subnet: "v4:127.9.0", connectedAt: 1_000 + i, reputation: 0.59, trust: 0.5 }),
  );
  for (let salt = 0; salt < 20; salt++) {
    const victim = selectEvictionVictim([...honest, ...sybils], 0.5, salt);
    assert.ok(victim?.startsWith("s"), `salt ${salt}: evicted ${victim}`);
  }
});

Deno.test("a peer worse than a stranger is evicted first, lowest reputation first, whatever protects it", () => {
  const peers = [
    candidate("old-low", { connectedAt: 0, trust: 0.4, reputation: 0.4, minRttMs: 1, lastNovelAt: 99 }),
    candidate("older-lower", { connectedAt: -5, trust: 0.35, reputation: 0.3 }),
    candidate("young", { connectedAt: 50 }),
  ];
  assert.equal(selectEvictionVictim(peers, 0.5, 7), "older-lower");
});

Deno.test("each criterion protects its peers: subnet, round trip, novelty, longevity, then earned reputation", () => {
  const base = (id: string, extra: Partial<EvictionCandidate> = {}) =>
    candidate(id, { subnet: "v4:127.5.0", ...extra });
  // Round trip: the fastest survives; the rest are evicted youngest first.
  const rtt = [base("fast", { minRttMs: 1, connectedAt: 9 }), base("slow", { minRttMs: 50, connectedAt: 1 })];
  assert.equal(selectEvictionVictim(rtt, 0.5, 0, only({ byRtt: 1 })), "slow");
  assert.equal(selectEvictionVictim(rtt, 0.5, 0, NONE), "fast", "without the criterion the youngest goes");
  // Novelty: the peer that brought a first-seen message most recently survives.
  const novel = [base("useful", { lastNovelAt: 100, connectedAt: 9 }), base("idle", { connectedAt: 1 })];
  assert.equal(selectEvictionVictim(novel, 0.5, 0, only({ byNovelty: 1 })), "idle");
  // Longevity: the older half survives.
  const ages = [base("a", { connectedAt: 1 }), base("b", { connectedAt: 2 }), base("c", { connectedAt: 3 })];
  assert.equal(selectEvictionVictim(ages, 0.5, 0, only({ longevityShare: 1 })), undefined);
  assert.equal(selectEvictionVictim(ages, 0.5, 0, only({ longevityShare: 0.5 })), "c");
  // Earned reputation, last: the best survives.
  const rep = [base("good", { reputation: 0.7, trust: 0.6, connectedAt: 9 }), base("plain", { connectedAt: 1 })];
  assert.equal(selectEvictionVictim(rep, 0.5, 0, only({ byTrust: 1 })), "plain");
  // Subnets: one peer of the protected subnet survives (its oldest).
  const nets = [candidate("x1", { subnet: "v4:127.6.0", connectedAt: 1 }), candidate("y1", { subnet: "v4:127.7.0" })];
  const keep = keyedNetgroupHash("v4:127.6.0", 3) > keyedNetgroupHash("v4:127.7.0", 3) ? "x1" : "y1";
  assert.equal(selectEvictionVictim(nets, 0.5, 3, only({ byNetgroup: 1 })), keep === "x1" ? "y1" : "x1");
});

Deno.test("the victim is the youngest peer of the subnet with the most unprotected peers", () => {
  const peers = [
    candidate("a1", { subnet: "v4:127.2.0", connectedAt: 1 }),
    candidate("a2", { subnet: "v4:127.2.0", connectedAt: 3 }),
    candidate("a3", { subnet: "v4:127.2.0", connectedAt: 2 }),
    candidate("b1", { subnet: "v4:127.3.0", connectedAt: 10 }), // the youngest overall, alone in its subnet
  ];
  assert.equal(selectEvictionVictim(peers, 0.5, 0, NONE), "a2");
  // Equal sizes: the subnet whose youngest is youngest.
  const tied = [
    peers[0],
    peers[1],
    candidate("b1", { subnet: "v4:127.3.0", connectedAt: 10 }),
    candidate("b2", {
      subnet: "v4:127.3.0",
      connectedAt: 0,
    }),
  ];
  assert.equal(selectEvictionVictim(tied, 0.5, 0, NONE), "b1");
});

Deno.test("when every candidate is protected nobody is evicted", () => {
  const peers = Array.from({ length: 6 }, (_, i) => candidate(`p${i}`, { subnet: `v4:127.4.${i}`, connectedAt: i }));
  assert.equal(selectEvictionVictim(peers, 0.5, 11, DEFAULT_EVICTION_PROTECTION), undefined);
  assert.equal(selectEvictionVictim([], 0.5, 11), undefined);
});

Deno.test("which subnets are protected depends on the node's secret salt", () => {
  const subnets = Array.from({ length: 16 }, (_, i) => `v4:127.8.${i}`);
  const top = (salt: number) =>
    subnets.map((s) => ({ s, k: keyedNetgroupHash(s, salt) })).sort((a, b) => b.k - a.k).slice(0, 4).map((x) => x.s)
      .join();
  const choices = new Set(Array.from({ length: 8 }, (_, salt) => top(salt)));
  assert.ok(choices.size > 1, "different salts protect different subnets");
  assert.equal(top(5), top(5), "one salt, one choice");
});
