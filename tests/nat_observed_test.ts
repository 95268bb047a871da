/**
 * The observed-address collector (lib/nat/observed.ts): an address is trusted only when peers of several
 * network groups agree on its host, each peer and each group counting once, stale reports forgotten, bounded.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { ObservedAddresses } from "../lib/nat/observed.ts";

const LISTEN_PORT = 7400;

function collector(clock = new ManualClock(1_000), config = {}) {
  return new ObservedAddresses(clock, () => LISTEN_PORT, { minGroups: 3, ttlMs: 60_000, maxReports: 16, ...config });
}

Deno.test("observed: an address is confirmed once peers of 3 network groups agree on its host, with the listening port", () => {
  const observed = collector();
  observed.report("a", "v4:198.18.1", "203.0.113.7:50001");
  observed.report("b", "v4:198.18.2", "203.0.113.7:50002");
  assert.equal(observed.confirmed(), undefined, "two groups are not enough");
  observed.report("c", "v4:198.18.3", "203.0.113.7:61000");
  // The ports differ (a NAT maps each link to its own): agreement is on the host; the port is the one listened on.
  assert.equal(observed.confirmed(), "203.0.113.7:7400");
  assert.equal(observed.confirmedHost(), "203.0.113.7");
});

Deno.test("observed: any number of peers of one network group count once (Sybils of one subnet plant nothing)", () => {
  const observed = collector();
  for (let i = 0; i < 16; i++) observed.report(`sybil${i}`, "v4:10.66.6", "192.0.2.66:40000");
  assert.equal(observed.confirmed(), undefined);
  // Honest peers of three other groups outvote them, however many they are.
  observed.report("h1", "v4:198.18.1", "203.0.113.7:1");
  observed.report("h2", "v4:198.18.2", "203.0.113.7:2");
  observed.report("h3", "v4:198.18.3", "203.0.113.7:3");
  assert.equal(observed.confirmed(), "203.0.113.7:7400");
});

Deno.test("observed: one peer's reports count once, its latest replacing the earlier", () => {
  const observed = collector(new ManualClock(1_000), { minGroups: 2 });
  observed.report("a", "v4:198.18.1", "192.0.2.1:1");
  observed.report("a", "v4:198.18.1", "192.0.2.1:2");
  assert.equal(observed.confirmed(), undefined, "the same peer twice is one voice");
  observed.report("a", "v4:198.18.1", "203.0.113.7:1");
  observed.report("b", "v4:198.18.2", "203.0.113.7:1");
  assert.equal(observed.confirmed(), "203.0.113.7:7400");
  assert.equal(observed.reports().length, 2);
  assert.equal(observed.reportOf("a"), "203.0.113.7:1");
});

Deno.test("observed: reports older than ttlMs are forgotten, and the confirmation with them", () => {
  const clock = new ManualClock(1_000);
  const observed = collector(clock, { minGroups: 2 });
  const changes: (string | undefined)[] = [];
  observed.onChange = (address) => changes.push(address);
  observed.report("a", "v4:198.18.1", "203.0.113.7:1");
  clock.advance(30_000);
  observed.report("b", "v4:198.18.2", "203.0.113.7:2");
  assert.equal(observed.confirmed(), "203.0.113.7:7400");
  clock.advance(30_001); // a's report is now older than 60 s
  assert.equal(observed.confirmed(), undefined);
  assert.deepEqual(observed.reports().map((r) => r.reporter), ["b"]);
  assert.deepEqual(changes, ["203.0.113.7:7400", undefined]);
});

Deno.test("observed: at most maxReports are kept, the oldest dropped first", () => {
  const observed = collector(new ManualClock(1_000), { minGroups: 2, maxReports: 4 });
  for (let i = 0; i < 10; i++) observed.report(`p${i}`, `v4:198.18.${i}`, `192.0.2.${i}:1`);
  assert.deepEqual(observed.reports().map((r) => r.reporter), ["p6", "p7", "p8", "p9"]);
});

Deno.test("observed: the host most groups agree on wins; a host name or a malformed address is refused", () => {
  const observed = collector(new ManualClock(1_000), { minGroups: 2 });
  assert.equal(observed.report("x", "v4:198.18.9", "example.com:1"), false);
  assert.equal(observed.report("y", "v4:198.18.9", "not an address"), false);
  for (const [id, group] of [["a", "1"], ["b", "2"]]) observed.report(id, `v4:198.18.${group}`, "192.0.2.1:1");
  for (const [id, group] of [["c", "3"], ["d", "4"], ["e", "5"]]) {
    observed.report(id, `v4:198.18.${group}`, "203.0.113.7:1");
  }
  assert.equal(observed.confirmed(), "203.0.113.7:7400");
  assert.equal(observed.reports().length, 5);
});
