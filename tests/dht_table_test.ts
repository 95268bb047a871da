/** The DHT's XOR metric and routing table: buckets, replacement, diversity, closest contacts. */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/bytes.ts";
import { commonPrefixLength, compareDistance, RoutingTable, xorDistance } from "../lib/dht/mod.ts";
import { seededRandom } from "../lib/random.ts";

const NOW = 1_700_000_000_000;

/** An id sharing exactly `prefix` leading bits with `base`, the rest from `random`. */
function idAt(base: Uint8Array, prefix: number, random: () => number): Uint8Array {
  const id = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  for (let bit = 0; bit < prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    id[bit >> 3] = (id[bit >> 3] & ~mask) | (base[bit >> 3] & mask);
  }
  const mask = 0x80 >> (prefix % 8);
  id[prefix >> 3] = (id[prefix >> 3] & ~mask) | (~base[prefix >> 3] & mask);
  return id;
}

Deno.test("the XOR metric: shared prefix length, distance order and symmetry", () => {
  const random = seededRandom(1);
  const a = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  for (const prefix of [0, 1, 7, 8, 9, 100, 255]) assert.equal(commonPrefixLength(a, idAt(a, prefix, random)), prefix);
  assert.equal(commonPrefixLength(a, a), 256);
  const near = idAt(a, 200, random), far = idAt(a, 3, random);
  assert.ok(compareDistance(a, near, far) < 0);
  assert.ok(compareDistance(a, far, near) > 0);
  assert.equal(compareDistance(a, near, near), 0);
  assert.deepEqual(xorDistance(near, far), xorDistance(far, near));
});

Deno.test("contacts go to the bucket of their shared prefix; the table refuses itself and bad input", () => {
  const random = seededRandom(2);
  const local = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  const table = new RoutingTable(local);
  const id = idAt(local, 5, random);
  assert.deepEqual(table.add(toHex(id), "127.1.0.1:7400", NOW), { kind: "added" });
  assert.equal(table.bucketOf(id), 5);
  assert.deepEqual(table.buckets().map((b) => [b.index, b.size]), [[5, 1]]);
  assert.deepEqual(table.add(toHex(id), "127.1.0.1:7400", NOW + 1), { kind: "updated" });
  assert.equal(table.get(toHex(id))!.lastSeen, NOW + 1);
  assert.deepEqual(table.add(toHex(local), "127.1.0.2:7400", NOW), { kind: "invalid" });
  assert.deepEqual(table.add("zz", "127.1.0.2:7400", NOW), { kind: "invalid" });
  assert.deepEqual(table.add(toHex(idAt(local, 6, random)), "not an address", NOW), { kind: "invalid" });
  assert.equal(table.size, 1);
});

Deno.test("a full bucket keeps its old contacts: a newcomer waits as a replacement until the oldest fails its check", () => {
  const random = seededRandom(3);
  const local = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  const table = new RoutingTable(local, { k: 3, maxPerSubnet: 10, maxPerWideGroup: 10 });
  const ids = Array.from({ length: 5 }, () => toHex(idAt(local, 1, random)));
  ids.slice(0, 3).forEach((id, i) => assert.equal(table.add(id, `127.2.${i}.1:7400`, NOW + i).kind, "added"));
  table.seen(ids[0], NOW + 10); // ids[1] is now the least recently seen
  const full = table.add(ids[3], "127.2.3.1:7400", NOW + 11);
  assert.equal(full.kind, "full");
  assert.equal(full.kind === "full" && full.oldest.nodeId, ids[1], "the caller is told to check the oldest");
  assert.ok(!table.has(ids[3]), "the newcomer evicted no one");
  table.add(ids[4], "127.2.4.1:7400", NOW + 12);
  // The oldest did not answer: the freshest replacement takes its place.
  assert.equal(table.failed(ids[1])?.nodeId, ids[4]);
  assert.ok(!table.has(ids[1]) && table.has(ids[4]));
  assert.equal(table.failed(ids[2])?.nodeId, ids[3]);
  assert.equal(table.failed(ids[0]), undefined, "no replacement left");
  assert.equal(table.size, 2);
});

Deno.test("bucket diversity: at most maxPerSubnet contacts of a /24 and maxPerWideGroup of a /16 in one bucket", () => {
  const random = seededRandom(4);
  const local = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  const table = new RoutingTable(local, { k: 20, maxPerSubnet: 2, maxPerWideGroup: 3 });
  const add = (host: string) => table.add(toHex(idAt(local, 0, random)), `${host}:7400`, NOW).kind;
  assert.deepEqual(["127.3.1.1", "127.3.1.2", "127.3.1.3"].map(add), ["added", "added", "diversity"]);
  assert.deepEqual(["127.3.2.1", "127.3.3.1"].map(add), ["added", "diversity"], "three of 127.3/16 at most");
  assert.equal(add("127.4.1.1"), "added", "another /16 is welcome");
  // Another bucket has bounds of its own.
  assert.equal(table.add(toHex(idAt(local, 9, random)), "127.3.1.9:7400", NOW).kind, "added");
  // A replacement that would break the bounds does not move in.
  const small = new RoutingTable(local, { k: 1, maxPerSubnet: 1, maxPerWideGroup: 1 });
  const first = toHex(idAt(local, 2, random));
  small.add(first, "127.5.1.1:7400", NOW);
  assert.equal(small.add(toHex(idAt(local, 2, random)), "127.6.1.1:7400", NOW).kind, "full");
  assert.equal(small.failed(first)?.address, "127.6.1.1:7400");
});

Deno.test("closest returns the held contacts nearest a target, nearest first", () => {
  const random = seededRandom(5);
  const local = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  const table = new RoutingTable(local, { maxPerSubnet: 100, maxPerWideGroup: 100 });
  const ids: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    const id = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
    if (table.add(toHex(id), `127.7.${i >> 8}.${i & 255}:7400`, NOW).kind === "added") ids.push(id);
  }
  const target = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  const expected = [...ids].sort((a, b) => compareDistance(target, a, b)).slice(0, 20).map(toHex);
  assert.deepEqual(table.closest(target, 20).map((c) => c.nodeId), expected);
  const skip = new Set(expected.slice(0, 5));
  assert.deepEqual(table.closest(target, 3, (c) => skip.has(c.nodeId)).map((c) => c.nodeId), expected.slice(5, 8));
  assert.deepEqual(fromHex(expected[0]), table.closest(target, 1)[0].id);
});
