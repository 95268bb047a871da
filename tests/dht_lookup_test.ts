/**
 * The DHT's iterative lookup state machine over a synthetic network of routing tables (no sockets, no
 * clock): it finds the true k closest, its answers are bounded, failures drop out, and disjoint paths keep a
 * lookup alive through a region of nodes that answer with lies.
 */
import assert from "node:assert/strict";
import { toHex } from "../lib/bytes.ts";
import { compareDistance, IterativeLookup, type LookupContact, RoutingTable } from "../lib/dht/mod.ts";
import { seededRandom } from "../lib/random.ts";

const NOW = 1_700_000_000_000;

interface Net {
  ids: Uint8Array[];
  tables: Map<string, RoutingTable>;
  address: Map<string, string>;
}

/**
 * `n` nodes (diversity off), each whose table was offered its 20 closest nodes (what a node's lookup of its own
 * id finds when it joins) and 100 random others.
 */
function network(n: number, seed: number): Net {
  const random = seededRandom(seed);
  const ids = Array.from({ length: n }, () => Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)));
  const address = new Map(ids.map((id, i) => [toHex(id), `127.${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}:7400`]));
  const tables = new Map<string, RoutingTable>();
  for (const id of ids) {
    const table = new RoutingTable(id, { maxPerSubnet: 1_000, maxPerWideGroup: 1_000 });
    const nearest = [...ids].sort((a, b) => compareDistance(id, a, b)).slice(1, 21);
    for (const other of nearest) table.add(toHex(other), address.get(toHex(other))!, NOW);
    for (let j = 0; j < 100; j++) {
      const other = toHex(ids[Math.floor(random() * n)]);
      table.add(other, address.get(other)!, NOW);
    }
    tables.set(toHex(id), table);
  }
  return { ids, tables, address };
}

/** Runs a lookup to its end: each round, every query handed out is answered by `answer` (or fails). */
function run(lookup: IterativeLookup, answer: (nodeId: string) => LookupContact[] | undefined, maxRounds = 100) {
  let rounds = 0;
  while (!lookup.done && rounds++ < maxRounds) {
    const asked = lookup.next();
    if (asked.length === 0) break;
    for (const contact of asked) {
      const contacts = answer(contact.nodeId);
      if (contacts === undefined) lookup.failed(contact.nodeId);
      else lookup.answered(contact.nodeId, contacts);
    }
  }
  return rounds;
}

function truthfully(net: Net, target: Uint8Array) {
  return (nodeId: string) =>
    net.tables.get(nodeId)!.closest(target, 20).map((c) => ({ nodeId: c.nodeId, address: c.address }));
}

Deno.test("an iterative lookup finds the k nodes closest to a target over 2,000 nodes, in a few hops", () => {
  const net = network(2_000, 1);
  const random = seededRandom(2);
  for (let trial = 0; trial < 10; trial++) {
    const from = toHex(net.ids[Math.floor(random() * net.ids.length)]);
    const target = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
    const seeds = net.tables.get(from)!.closest(target, 20);
    const lookup = new IterativeLookup(from, target, seeds);
    run(lookup, truthfully(net, target));
    assert.ok(lookup.done);
    const truth = net.ids.filter((id) => toHex(id) !== from)
      .sort((a, b) => compareDistance(target, a, b)).slice(0, 20).map(toHex);
    const found = lookup.result().map((c) => c.nodeId);
    const hits = found.filter((id) => truth.includes(id)).length;
    assert.equal(hits, 20, `trial ${trial}: ${hits} of the true 20 closest found`);
    assert.equal(found[0], truth[0], "the closest node is always found");
    assert.ok(Math.max(...lookup.result().map((c) => c.hops)) <= 8);
    assert.ok(lookup.queries < 200, `${lookup.queries} queries`);
  }
});

Deno.test("a lookup reads at most k contacts of an answer, ignores unasked answers and bad entries, drops failures", () => {
  const random = seededRandom(3);
  const hex = () => toHex(Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)));
  const local = hex();
  const target = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  const seed = { nodeId: hex(), address: "127.0.0.2:7400" };
  const lookup = new IterativeLookup(local, target, [seed], { k: 4, alpha: 1 });
  assert.deepEqual(lookup.next(), [seed]);
  lookup.answered(hex(), [{ nodeId: hex(), address: "127.0.0.3:1" }]); // never asked: ignored
  const flood = Array.from({ length: 100 }, (_, i) => ({ nodeId: hex(), address: `127.0.1.${i}:1` }));
  lookup.answered(seed.nodeId, [{ nodeId: "zz", address: "x" }, { nodeId: local, address: "y" }, ...flood]);
  // Of the 102 entries only the first 4 were read: two bad ones (ignored) and two real ones.
  const asked = new Set<string>();
  for (let i = 0; i < 10 && !lookup.done; i++) {
    for (const c of lookup.next()) {
      asked.add(c.nodeId);
      lookup.failed(c.nodeId);
    }
  }
  assert.deepEqual([...asked].sort(), [flood[0].nodeId, flood[1].nodeId].sort());
  assert.ok(lookup.done);
  assert.deepEqual(lookup.result().map((c) => c.nodeId), [seed.nodeId]);
});

Deno.test("disjoint paths: a third of the nodes lie for 40 Sybils ground near the target; d = 3 still reaches the closest honest node, one path rarely", () => {
  const net = network(1_000, 4);
  const random = seededRandom(5);
  const liars = new Set(net.ids.filter(() => random() < 0.33).map(toHex));
  let foundSingle = 0, foundDisjoint = 0;
  const trials = 30;
  for (let trial = 0; trial < trials; trial++) {
    const honest = net.ids.map(toHex).filter((id) => !liars.has(id));
    const from = honest[Math.floor(random() * honest.length)];
    const target = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
    const truth = toHex(
      net.ids.filter((id) => toHex(id) !== from && !liars.has(toHex(id))).sort((a, b) =>
        compareDistance(target, a, b)
      )[0],
    );
    // Node ids are hashes of keys, and a lookup counts only answers over authenticated links, so the attacker's
    // Sybils are real keys: 40 of them, ground to share 20 leading bits with the target (a million key
    // generations), closer than any honest node of a 1,000-node network. Liars and Sybils answer with Sybils.
    const sybils = Array.from({ length: 40 }, (_, i) => {
      const id = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
      for (let bit = 0; bit < 20; bit++) {
        const mask = 0x80 >> (bit % 8);
        id[bit >> 3] = (id[bit >> 3] & ~mask) | (target[bit >> 3] & mask);
      }
      return { nodeId: toHex(id), address: `127.200.${trial}.${i}:7400` };
    });
    const sybilIds = new Set(sybils.map((s) => s.nodeId));
    const answer = (nodeId: string) =>
      liars.has(nodeId) || sybilIds.has(nodeId)
        ? Array.from({ length: 20 }, () => sybils[Math.floor(random() * sybils.length)])
        : truthfully(net, target)(nodeId);
    for (const paths of [1, 3]) {
      const seeds = net.tables.get(from)!.closest(target, 20);
      const lookup = new IterativeLookup(from, target, seeds, { paths });
      run(lookup, answer, 1_000);
      assert.ok(lookup.done);
      if (lookup.heardFrom(truth)) {
        if (paths === 1) foundSingle++;
        else foundDisjoint++;
      }
    }
  }
  console.log(`closest honest node reached: disjoint ${foundDisjoint}/${trials}, single path ${foundSingle}/${trials}`);
  assert.ok(foundDisjoint >= trials * 0.9, `disjoint paths reached the closest honest node ${foundDisjoint}/${trials}`);
  assert.ok(foundSingle <= trials / 2, `one path reached it ${foundSingle}/${trials}: the attack is not biting`);
});

Deno.test("a late query gives up its place among the alpha in flight, and its answer still counts when it comes", () => {
  const random = seededRandom(6);
  const hex = () => toHex(Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)));
  const target = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  const seeds = [0, 1, 2].map((i) => ({ nodeId: hex(), address: `127.0.2.${i + 1}:7400` }));
  const lookup = new IterativeLookup(hex(), target, seeds, { alpha: 1, k: 3 });
  const [first] = lookup.next();
  assert.deepEqual(lookup.next(), [], "alpha 1: nothing more while the first is in flight");
  lookup.late(first.nodeId);
  const [second] = lookup.next();
  assert.ok(second && second.nodeId !== first.nodeId, "the late one's place went to the next candidate");
  lookup.answered(first.nodeId, []);
  assert.ok(lookup.heardFrom(first.nodeId), "the late answer was taken");
  assert.ok(!lookup.done, "the second is still awaited");
});
