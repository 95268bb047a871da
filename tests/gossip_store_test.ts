import assert from "node:assert/strict";
import { KNOWN_SLOTS, knows, markKnown, MessageStore, wireBytes } from "../lib/gossip/store.ts";

const T0 = 1_700_000_000_000;
const fields = (origin = "o") => ({ forwardTtl: 3, type: 8, origin, from: "p" });
const bytes = (length: number, fill = 1) => new Uint8Array(length).fill(fill);

Deno.test("message store: keeps a copy of the envelope bytes, so the caller may reuse its buffer", () => {
  const store = new MessageStore(10, 1_000);
  const shared = bytes(8, 7);
  const stored = store.keep("k", shared, fields(), T0);
  shared.fill(0);
  assert.deepEqual([...wireBytes(stored)], [7, 7, 7, 7, 7, 7, 7, 7]);
  assert.equal(store.bytes, 8);
});

Deno.test("message store: past maxMessages the oldest message is evicted first", () => {
  const store = new MessageStore(2, 1_000);
  for (const key of ["a", "b", "c"]) store.keep(key, bytes(4), fields(), T0);
  assert.deepEqual([...store.entries()].map(([key]) => key), ["b", "c"]);
  assert.equal(store.bytes, 8);
});

Deno.test("message store: past maxBytes the oldest messages are evicted until the bytes fit", () => {
  const store = new MessageStore(100, 10);
  store.keep("a", bytes(4), fields(), T0);
  store.keep("b", bytes(4), fields(), T0);
  store.keep("c", bytes(6), fields(), T0);
  assert.deepEqual([...store.entries()].map(([key]) => key), ["b", "c"]);
  assert.equal(store.bytes, 10);
  store.keep("d", bytes(9), fields(), T0);
  assert.deepEqual([...store.entries()].map(([key]) => key), ["d"]);
  assert.equal(store.bytes, 9);
});

Deno.test("message store: expire drops messages kept for the window or longer, and their bytes", () => {
  const store = new MessageStore(10, 1_000);
  store.keep("old", bytes(4), fields(), T0);
  store.keep("new", bytes(4), fields(), T0 + 500);
  store.expire(T0 + 1_000, 1_000);
  assert.deepEqual([...store.entries()].map(([key]) => key), ["new"]);
  assert.equal(store.bytes, 4);
});

Deno.test("message store: a peer is known to have a message by its slot, or by node id when it has none", () => {
  const store = new MessageStore(10, 1_000);
  const stored = store.keep("k", bytes(4), fields(), T0);
  const slot = store.takeSlot();
  assert.equal(knows(stored, "p1", slot), false);
  markKnown(stored, "p1", slot);
  assert.equal(knows(stored, "p1", slot), true);
  assert.equal(stored.knownOthers, undefined);
  markKnown(stored, "p2", -1);
  markKnown(stored, "p2", -1);
  assert.deepEqual(stored.knownOthers, ["p2"]);
  assert.equal(knows(stored, "p2", -1), true);
  assert.equal(knows(stored, "p3", -1), false);
});

Deno.test("message store: KNOWN_SLOTS slots are handed out, then -1", () => {
  const store = new MessageStore(10, 1_000);
  const slots = Array.from({ length: KNOWN_SLOTS }, () => store.takeSlot());
  assert.equal(new Set(slots).size, KNOWN_SLOTS);
  assert.ok(slots.every((slot) => slot >= 0 && slot < KNOWN_SLOTS));
  assert.equal(store.takeSlot(), -1);
});

Deno.test("message store: a forgotten peer's slot is cleared from every message before the next peer gets it", () => {
  const store = new MessageStore(10, 1_000);
  const stored = store.keep("k", bytes(4), fields(), T0);
  const slot = store.takeSlot();
  markKnown(stored, "gone", slot);
  markKnown(stored, "no-slot", -1);
  store.forgetPeer("gone", slot);
  store.forgetPeer("no-slot", -1);
  const reused = store.takeSlot();
  assert.equal(reused, slot);
  assert.equal(knows(stored, "newcomer", reused), false);
  assert.deepEqual(stored.knownOthers, []);
});

Deno.test("message store: a round's digest covers what was kept in the interval before it and is still kept", () => {
  const store = new MessageStore(2, 1_000);
  store.keep("a", bytes(4), fields(), T0);
  store.startRound();
  store.keep("b", bytes(4), fields(), T0);
  store.keep("c", bytes(4), fields(), T0); // evicts a
  assert.deepEqual(store.keptLastInterval().map(([key]) => key), []);
  store.startRound();
  assert.deepEqual(store.keptLastInterval().map(([key]) => key), ["b", "c"]);
  store.startRound();
  assert.deepEqual(store.keptLastInterval(), []);
});
