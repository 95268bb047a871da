import assert from "node:assert/strict";
import { bytesKey } from "../lib/bytes.ts";
import {
  ASK_BACKOFF_DOWN,
  ASK_BACKOFF_UP,
  MAX_ANNOUNCERS,
  MAX_ASK_BACKOFF,
  MAX_MISSING_PER_ANNOUNCER,
  MissingTracker,
} from "../lib/gossip/missing.ts";
import { MAX_DIGEST_IDS } from "../lib/protocol/mod.ts";

const T0 = 1_700_000_000_000;
const DELAY = 250;
const id = (n: number) => {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n);
  return bytes;
};
const everyone = () => true;
const none = () => false;
const noAllowance = () => 0;
/** Announces id `n` from each of `peers`, in order. */
const announce = (tracker: MissingTracker, n: number, peers: string[], now = T0) => {
  const missing = tracker.entry(bytesKey(id(n)), id(n), peers[0], now)!;
  for (const peer of peers) tracker.addAnnouncer(missing, peer, false);
  return missing;
};
const askedOf = (asks: Map<string, Uint8Array[]>) =>
  Object.fromEntries([...asks].map(([peer, ids]) => [peer, ids.length]));

Deno.test("missing tracker: nothing is asked before the ask delay; then the first announcer, then the next", () => {
  const tracker = new MissingTracker(100, DELAY);
  announce(tracker, 1, ["a", "b"]);
  assert.equal(tracker.planAsks(T0 + DELAY - 1, everyone, none, noAllowance).size, 0);
  assert.deepEqual(askedOf(tracker.planAsks(T0 + DELAY, everyone, none, noAllowance)), { a: 1 });
  assert.equal(tracker.planAsks(T0 + 2 * DELAY - 1, everyone, none, noAllowance).size, 0);
  assert.deepEqual(askedOf(tracker.planAsks(T0 + 2 * DELAY, everyone, none, noAllowance)), { b: 1 });
});

Deno.test("missing tracker: a message whose announcers were all asked is dropped", () => {
  const tracker = new MissingTracker(100, DELAY);
  announce(tracker, 1, ["a"]);
  tracker.planAsks(T0 + DELAY, everyone, none, noAllowance);
  assert.equal(tracker.size, 1);
  assert.equal(tracker.planAsks(T0 + 2 * DELAY, everyone, none, noAllowance).size, 0);
  assert.equal(tracker.size, 0);
});

Deno.test("missing tracker: a disconnected announcer is skipped for the next one", () => {
  const tracker = new MissingTracker(100, DELAY);
  announce(tracker, 1, ["gone", "b"]);
  const asks = tracker.planAsks(T0 + DELAY, (peer) => peer !== "gone", none, noAllowance);
  assert.deepEqual(askedOf(asks), { b: 1 });
});

Deno.test("missing tracker: a message under a signature check is not asked for", () => {
  const tracker = new MissingTracker(100, DELAY);
  announce(tracker, 1, ["a"]);
  assert.equal(tracker.planAsks(T0 + DELAY, everyone, everyone, noAllowance).size, 0);
  assert.equal(tracker.planAsks(T0 + DELAY, everyone, none, noAllowance).size, 1);
});

Deno.test("missing tracker: the lateness allowance lengthens only the first ask's wait", () => {
  const tracker = new MissingTracker(100, DELAY);
  announce(tracker, 1, ["a", "b"]);
  const allowance = () => 100;
  assert.equal(tracker.planAsks(T0 + DELAY, everyone, none, allowance).size, 0);
  assert.deepEqual(askedOf(tracker.planAsks(T0 + DELAY + 100, everyone, none, allowance)), { a: 1 });
  assert.deepEqual(askedOf(tracker.planAsks(T0 + 2 * DELAY + 100, everyone, none, allowance)), { b: 1 });
});

Deno.test("missing tracker: a peer that pushes here is asked before announcers that do not", () => {
  const tracker = new MissingTracker(100, DELAY);
  const missing = tracker.entry(bytesKey(id(1)), id(1), "lazy", T0)!;
  tracker.addAnnouncer(missing, "lazy", false);
  tracker.addAnnouncer(missing, "pusher", true);
  tracker.addAnnouncer(missing, "lazy", false);
  assert.deepEqual(missing.announcers, ["pusher", "lazy"]);
});

Deno.test("missing tracker: at most MAX_ANNOUNCERS announcers are remembered per message", () => {
  const tracker = new MissingTracker(100, DELAY);
  const peers = Array.from({ length: MAX_ANNOUNCERS + 3 }, (_, i) => `p${i}`);
  const missing = announce(tracker, 1, peers);
  assert.deepEqual(missing.announcers, peers.slice(0, MAX_ANNOUNCERS));
});

Deno.test("missing tracker: one peer may start at most MAX_MISSING_PER_ANNOUNCER entries; a drop frees a place", () => {
  const tracker = new MissingTracker(10_000, DELAY);
  for (let n = 0; n < MAX_MISSING_PER_ANNOUNCER; n++) assert.ok(tracker.entry(bytesKey(id(n)), id(n), "spammer", T0));
  const over = id(MAX_MISSING_PER_ANNOUNCER);
  assert.equal(tracker.entry(bytesKey(over), over, "spammer", T0), undefined);
  assert.ok(tracker.entry(bytesKey(over), over, "honest", T0));
  tracker.drop(bytesKey(id(0)));
  const next = id(MAX_MISSING_PER_ANNOUNCER + 1);
  assert.ok(tracker.entry(bytesKey(next), next, "spammer", T0));
});

Deno.test("missing tracker: a disconnected announcer is forgotten and the ask order keeps its place", () => {
  const tracker = new MissingTracker(100, DELAY);
  const missing = announce(tracker, 1, ["a", "b", "c"]);
  tracker.planAsks(T0 + DELAY, everyone, none, noAllowance); // asks a
  tracker.forgetAnnouncer("a");
  assert.deepEqual(missing.announcers, ["b", "c"]);
  assert.deepEqual(askedOf(tracker.planAsks(T0 + 2 * DELAY, everyone, none, noAllowance)), { b: 1 });
});

Deno.test("missing tracker: one peer is asked for at most MAX_DIGEST_IDS ids a round; the rest wait, none dropped", () => {
  const tracker = new MissingTracker(10_000, DELAY);
  const count = MAX_DIGEST_IDS + 10;
  for (let n = 0; n < count; n++) announce(tracker, n, ["a"]);
  const first = tracker.planAsks(T0 + DELAY, everyone, none, noAllowance).get("a")!;
  assert.equal(first.length, MAX_DIGEST_IDS);
  assert.equal(tracker.size, count);
  const second = new Set(tracker.planAsks(T0 + DELAY + 1, everyone, none, noAllowance).get("a")!.map(bytesKey));
  const deferred = Array.from({ length: 10 }, (_, i) => bytesKey(id(MAX_DIGEST_IDS + i)));
  assert.ok(deferred.every((key) => second.has(key)), "the ids over the first round's limit are asked in the next");
  assert.ok(!first.some((asked) => deferred.includes(bytesKey(asked))));
});

Deno.test("missing tracker: a peer being asked is also asked for everything else it announced that is missing", () => {
  const tracker = new MissingTracker(100, DELAY);
  announce(tracker, 1, ["a"], T0);
  announce(tracker, 2, ["a"], T0 + DELAY - 10); // not due yet on its own
  assert.deepEqual(askedOf(tracker.planAsks(T0 + DELAY, everyone, none, noAllowance)), { a: 2 });
});

Deno.test("missing tracker: an answer from the peer asked shrinks the ask backoff, a copy from another grows it", () => {
  const tracker = new MissingTracker(100, DELAY);
  const late = announce(tracker, 1, ["a"]);
  tracker.planAsks(T0 + DELAY, everyone, none, noAllowance);
  assert.equal(tracker.arrived(bytesKey(id(1)), late, "other"), false);
  assert.equal(tracker.backoff, ASK_BACKOFF_UP);
  const answered = announce(tracker, 2, ["a"]);
  answered.lastAsked = "a";
  assert.equal(tracker.arrived(bytesKey(id(2)), answered, "a"), false);
  assert.equal(tracker.backoff, ASK_BACKOFF_UP / ASK_BACKOFF_DOWN);
  for (let i = 0; i < 20; i++) tracker.arrived("x", late, "other");
  assert.equal(tracker.backoff, MAX_ASK_BACKOFF);
  for (let i = 0; i < 40; i++) tracker.decay();
  assert.equal(tracker.backoff, 1);
});

Deno.test("missing tracker: the backoff stretches the wait before the next ask", () => {
  const tracker = new MissingTracker(100, DELAY);
  const stretched = announce(tracker, 1, ["a"]);
  stretched.lastAsked = "a";
  tracker.arrived("x", stretched, "other"); // backoff 1.5
  announce(tracker, 2, ["b"]);
  assert.equal(tracker.planAsks(T0 + DELAY, everyone, none, noAllowance).has("b"), false);
  assert.equal(tracker.planAsks(T0 + DELAY * ASK_BACKOFF_UP, everyone, none, noAllowance).has("b"), true);
});

Deno.test("missing tracker: only copies that came unasked are reported for timing", () => {
  const tracker = new MissingTracker(100, DELAY);
  assert.equal(tracker.arrived(bytesKey(id(1)), undefined, "a"), true);
  tracker.noteAsked([id(2)]);
  assert.equal(tracker.arrived(bytesKey(id(2)), undefined, "a"), false);
  assert.equal(tracker.arrived(bytesKey(id(2)), undefined, "a"), true); // remembered once
});
