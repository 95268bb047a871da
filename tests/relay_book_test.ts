/**
 * The relay's hard limits as pure logic (lib/relay/book.ts) on a manual clock: reservations in total and
 * per IP, request rates per IP (1,000 reservation attempts from one IP), circuits in total and per
 * reservation, one-use tokens that expire with the circuit's setup time, and slots freed when circuits end.
 */
import assert from "node:assert/strict";
import { RelayStatus } from "../lib/protocol/mod.ts";
import { RelayBook } from "../lib/relay/book.ts";
import { type RelayConfig, resolveRelayConfig } from "../lib/relay/config.ts";
import { seededRandom } from "../lib/random.ts";

const id = (n: number) => n.toString(16).padStart(64, "0");

function book(overrides: Partial<RelayConfig> = {}): RelayBook {
  return new RelayBook(resolveRelayConfig({ relayService: true, ...overrides }), seededRandom(7));
}

Deno.test("reservations stop at the total and at the per-IP limit, and a renewal takes no new slot", () => {
  const b = book({ maxReservations: 3, maxReservationsPerIp: 2, requestBurstPerIp: 100 });
  assert.equal(b.reserve(id(1), "10.0.0.1", 0).status, RelayStatus.OK);
  assert.equal(b.reserve(id(2), "10.0.0.1", 0).status, RelayStatus.OK);
  assert.equal(b.reserve(id(3), "10.0.0.1", 0).status, RelayStatus.RESOURCE_LIMIT); // per IP
  assert.equal(b.reserve(id(1), "10.0.0.1", 10).status, RelayStatus.OK); // renewal
  assert.equal(b.reserve(id(4), "10.0.0.2", 0).status, RelayStatus.OK);
  assert.equal(b.reserve(id(5), "10.0.0.3", 0).status, RelayStatus.RESOURCE_LIMIT); // total
  assert.equal(b.stats.reservations, 3);
  b.release(id(2));
  assert.equal(b.reserve(id(5), "10.0.0.3", 0).status, RelayStatus.OK);
});

Deno.test("1,000 reservation attempts from one IP are held to its burst and its per-IP limit", () => {
  const config = { requestRatePerIp: 2, requestBurstPerIp: 10, maxReservationsPerIp: 4 };
  const b = book(config);
  let granted = 0, limited = 0;
  for (let i = 0; i < 1000; i++) {
    const status = b.reserve(id(1000 + i), "203.0.113.9", i); // one a millisecond: a second in all
    if (status.status === RelayStatus.OK) granted++;
    if (status.status === RelayStatus.RATE_LIMITED) limited++;
  }
  assert.equal(granted, 4);
  assert.ok(limited >= 1000 - 10 - 2, `rate-limited ${limited}`);
  assert.equal(b.stats.reservations, 4);
  // Another IP is served meanwhile.
  assert.equal(b.reserve(id(1), "198.51.100.1", 1000).status, RelayStatus.OK);
});

Deno.test("a reservation expires, and a circuit to a node without one is refused", () => {
  const b = book({ reservationTtlMs: 1000 });
  b.reserve(id(1), "10.0.0.1", 0);
  assert.equal(b.connect(id(2), "10.0.0.2", id(1), 500).status, RelayStatus.OK);
  assert.equal(b.connect(id(2), "10.0.0.2", id(1), 1000).status, RelayStatus.NO_RESERVATION);
  assert.equal(b.connect(id(2), "10.0.0.2", id(9), 0).status, RelayStatus.NO_RESERVATION);
  assert.equal(b.connect(id(1), "10.0.0.1", id(1), 0).status, RelayStatus.NO_RESERVATION); // to itself
});

Deno.test("circuits stop at the total and per reservation, and an ended circuit frees its slot", () => {
  const b = book({ maxCircuits: 3, maxCircuitsPerReservation: 2, requestBurstPerIp: 100 });
  b.reserve(id(1), "10.0.0.1", 0);
  b.reserve(id(2), "10.0.0.2", 0);
  const first = b.connect(id(9), "10.0.0.9", id(1), 0);
  assert.equal(first.status, RelayStatus.OK);
  assert.equal(b.connect(id(9), "10.0.0.9", id(1), 0).status, RelayStatus.OK);
  assert.equal(b.connect(id(9), "10.0.0.9", id(1), 0).status, RelayStatus.RESOURCE_LIMIT); // per reservation
  assert.equal(b.connect(id(9), "10.0.0.9", id(2), 0).status, RelayStatus.OK);
  assert.equal(b.connect(id(8), "10.0.0.8", id(2), 0).status, RelayStatus.RESOURCE_LIMIT); // total
  assert.ok("value" in first);
  b.end(first.value, "bytes");
  assert.equal(b.stats.circuitsCutAtBytes, 1);
  assert.equal(b.connect(id(9), "10.0.0.9", id(1), 0).status, RelayStatus.OK);
});

Deno.test("a leg's token is spent by its first use and refused after the setup time", () => {
  const b = book({ circuitSetupMs: 1000 });
  b.reserve(id(1), "10.0.0.1", 0);
  const granted = b.connect(id(2), "10.0.0.2", id(1), 0);
  assert.ok("value" in granted);
  const circuit = granted.value;
  assert.notEqual(circuit.initiatorToken, circuit.responderToken);
  assert.equal(b.claim(circuit.initiatorToken, 10)?.side, "initiator");
  assert.equal(b.claim(circuit.initiatorToken, 20), undefined); // reused
  assert.equal(b.claim("00".repeat(16), 20), undefined); // never issued
  assert.equal(b.claim(circuit.responderToken, 1001), undefined); // too late
  assert.equal(b.stats.legsRefused, 3);
  assert.deepEqual(b.stale(1001).map((c) => c.id), [circuit.id]);
});

Deno.test("relay settings out of range are refused naming the key", () => {
  assert.throws(() => resolveRelayConfig({ circuitMaxBytes: 0 }), /relay\.circuitMaxBytes/);
  assert.throws(() => resolveRelayConfig({ reserveRelays: 9 }), /relay\.reserveRelays/);
});
