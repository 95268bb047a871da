/**
 * Range-based set reconciliation (lib/catchup/reconcile.ts): two sides find exactly their differences, and
 * the bytes exchanged grow with the difference, not with the sets.
 */
import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { fingerprint, Reconciler, type SyncItem, type SyncRange } from "../lib/catchup/reconcile.ts";
import { seededRandom } from "../lib/random.ts";

const hex = (id: Uint8Array) => Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("");

function items(n: number, random: () => number, start = 1_700_000_000_000): SyncItem[] {
  return Array.from({ length: n }, (_, i) => ({
    timestamp: start + i * 10 + Math.floor(random() * 5),
    id: Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)),
  }));
}

/** Wire size of a message as MessagePack (Infinity bounds as a null timestamp). */
function size(message: SyncRange[]): number {
  return encode(message.map((r) => [
    Number.isFinite(r.upper.timestamp) ? r.upper.timestamp : null,
    r.upper.id,
    "fingerprint" in r ? r.fingerprint : "ids" in r ? r.ids : null,
  ])).length;
}

/** Runs a session from `a`'s side; returns what each side learned it lacks and the bytes and rounds. */
function session(a: SyncItem[], b: SyncItem[]) {
  const left = new Reconciler(a), right = new Reconciler(b);
  let message: SyncRange[] | undefined = left.initiate();
  let bytes = size(message), rounds = 0;
  const aNeeds: string[] = [], bNeeds: string[] = [];
  let side = right;
  while (message && rounds < 50) {
    rounds++;
    const step = side.reconcile(message);
    const [mine, theirs] = side === right ? [bNeeds, aNeeds] : [aNeeds, bNeeds];
    mine.push(...step.need.map(hex));
    theirs.push(...step.have.map(hex));
    message = step.reply;
    if (message) bytes += size(message);
    side = side === right ? left : right;
  }
  return { aNeeds: aNeeds.sort(), bNeeds: bNeeds.sort(), bytes, rounds };
}

Deno.test("two sets with differences on both sides find exactly those differences", () => {
  const random = seededRandom(1);
  const shared = items(5_000, random);
  const onlyA = items(37, random, 1_700_000_020_000), onlyB = items(91, random, 1_700_000_010_000);
  const result = session([...shared, ...onlyA], [...shared, ...onlyB]);
  assert.deepEqual(result.aNeeds, onlyB.map((i) => hex(i.id)).sort());
  assert.deepEqual(result.bNeeds, onlyA.map((i) => hex(i.id)).sort());
  assert.ok(result.rounds <= 8, `${result.rounds} rounds`);
  // Differences scattered through the order cost more than a newest run: a list per differing range.
  assert.ok(result.bytes < 128 * 200, `${result.bytes} bytes for 128 differences`);
});

Deno.test("equal sets agree in one round of one fingerprint; an empty side learns everything by lists", () => {
  const random = seededRandom(2);
  const set = items(2_000, random);
  const equal = session(set, [...set].reverse());
  assert.deepEqual([equal.aNeeds, equal.bNeeds, equal.rounds], [[], [], 1]);
  const empty = session([], set);
  assert.equal(empty.aNeeds.length, 2_000);
});

Deno.test("the bytes exchanged grow with the difference, not with the size of the sets", () => {
  const random = seededRandom(3);
  const rows: { n: number; d: number; bytes: number; perMissing: number }[] = [];
  for (const n of [1_000, 10_000, 100_000]) {
    for (const d of [10, 100, 1_000]) {
      const shared = items(n, random);
      // The newest d messages are missing on one side: what a node offline for a while lacks.
      const missing = items(d, random, 1_700_000_000_000 + n * 10 + 1_000);
      const result = session(shared, [...shared, ...missing]);
      assert.equal(result.aNeeds.length, d);
      rows.push({ n, d, bytes: result.bytes, perMissing: Math.round(result.bytes / d) });
    }
  }
  console.table(rows);
  for (const d of [10, 100, 1_000]) {
    const [small, , large] = rows.filter((r) => r.d === d);
    // A hundred times the set, with the same difference: a few more levels of fingerprints, a few KB at most.
    assert.ok(large.bytes - small.bytes < 4_096, `d ${d}: ${small.bytes} bytes at 1,000, ${large.bytes} at 100,000`);
  }
  // About the ids themselves per missing message, plus a fixed cost: far below a message body.
  const worst = rows.filter((r) => r.d >= 100).reduce((a, b) => (a.perMissing > b.perMissing ? a : b));
  assert.ok(worst.perMissing < 120, `${worst.perMissing} bytes per missing message`);
});

Deno.test("fingerprints do not depend on order, and change with any id or the count", () => {
  const random = seededRandom(4);
  const set = items(100, random);
  assert.deepEqual(fingerprint(set), fingerprint([...set].reverse()));
  assert.notDeepEqual(fingerprint(set), fingerprint(set.slice(1)));
  const changed = set.map((item, i) => i === 50 ? { ...item, id: item.id.map((b, j) => j === 0 ? b ^ 1 : b) } : item);
  assert.notDeepEqual(fingerprint(set), fingerprint(changed));
});
