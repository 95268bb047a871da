/**
 * The dial-back answerer (lib/nat/dial_back.ts) with a fake dialer on a manual clock: it dials only the
 * asker's own IP (no reflection), only where the dial policy permits, within a rate per asker IP, a total
 * rate and a concurrency bound, and says what the handshake found.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { resolveNatConfig } from "../lib/nat/config.ts";
import { type DialBackAsker, DialBackServer } from "../lib/nat/dial_back.ts";
import { type DialBackResponsePayload, DialBackStatus } from "../lib/protocol/mod.ts";

function setup(overrides: Parameters<typeof resolveNatConfig>[0] = {}, permits = (_: string) => true) {
  const clock = new ManualClock(1_000_000);
  const dials: { address: string; nodeId: string; settle: (ok: boolean) => void }[] = [];
  const server = new DialBackServer({
    clock,
    config: resolveNatConfig(overrides),
    permitsDial: permits,
    dialBack: (address, nodeId) =>
      new Promise<void>((resolve, reject) => {
        dials.push({ address, nodeId, settle: (ok) => ok ? resolve() : reject(new Error("connection refused")) });
      }),
    log: () => {},
  });
  const answers: { nodeId: string; response: DialBackResponsePayload }[] = [];
  const asker = (nodeId: string, ip: string): DialBackAsker => ({
    nodeId,
    ip,
    send: (response) => answers.push({ nodeId, response }),
  });
  return { clock, server, dials, answers, asker };
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("dial-back: an address whose IP is not the asker's own is refused without a dial (no reflection)", () => {
  const t = setup();
  t.server.handle(t.asker("a", "198.18.0.10"), { requestId: 1, address: "198.18.0.99:7400" });
  t.server.handle(t.asker("a", "198.18.0.10"), { requestId: 2, address: "victim.example:80" });
  assert.equal(t.dials.length, 0);
  assert.deepEqual(t.answers.map((a) => a.response.status), [DialBackStatus.REFUSED, DialBackStatus.REFUSED]);
  assert.equal(t.server.stats.refused, 2);
});

Deno.test("dial-back: an address the dial policy refuses is not dialed", () => {
  const t = setup({}, () => false);
  t.server.handle(t.asker("a", "10.1.2.3"), { requestId: 1, address: "10.1.2.3:7400" });
  assert.equal(t.dials.length, 0);
  assert.equal(t.answers[0].response.status, DialBackStatus.REFUSED);
});

Deno.test("dial-back: the asker's own IP is dialed with its identity expected; the outcome is answered", async () => {
  const t = setup();
  t.server.handle(t.asker("a", "198.18.0.10"), { requestId: 5, address: "198.18.0.10:7400" });
  t.server.handle(t.asker("b", "198.18.0.11"), { requestId: 6, address: "198.18.0.11:7400" });
  assert.deepEqual(t.dials.map((d) => [d.address, d.nodeId]), [["198.18.0.10:7400", "a"], ["198.18.0.11:7400", "b"]]);
  t.dials[0].settle(true);
  t.dials[1].settle(false);
  await settled();
  assert.deepEqual(t.answers.map((a) => [a.nodeId, a.response.requestId, a.response.status]), [
    ["a", 5, DialBackStatus.REACHED],
    ["b", 6, DialBackStatus.UNREACHABLE],
  ]);
  assert.equal(t.server.inFlight, 0);
});

Deno.test("dial-back: one asker IP gets 2 at once then 1 per dialBackAskerIntervalMs, whatever its node ids", async () => {
  const t = setup({ dialBackAskerIntervalMs: 60_000, dialBackRatePerSecond: 100 });
  const ip = "198.18.0.10";
  for (let i = 0; i < 5; i++) {
    t.server.handle(t.asker(`sybil${i}`, ip), { requestId: i, address: `${ip}:7400` });
    for (const d of t.dials.splice(0)) d.settle(true);
    await settled();
  }
  assert.equal(t.server.stats.reached, 2);
  assert.equal(t.server.stats.rateLimited, 3);
  // Another IP is served meanwhile.
  t.server.handle(t.asker("other", "198.18.0.11"), { requestId: 9, address: "198.18.0.11:7400" });
  assert.equal(t.dials.length, 1);
  t.dials.splice(0)[0].settle(true);
  t.clock.advance(60_000);
  t.server.handle(t.asker("sybil0", ip), { requestId: 10, address: `${ip}:7400` });
  assert.equal(t.dials.length, 1, "a token back after the interval");
  t.dials[0].settle(true);
  await settled();
});

Deno.test("dial-back: the total rate bounds all askers together", () => {
  const t = setup({ dialBackRatePerSecond: 1, maxConcurrentDialBacks: 100 });
  for (let i = 0; i < 10; i++) {
    t.server.handle(t.asker(`n${i}`, `198.18.${i}.2`), { requestId: i, address: `198.18.${i}.2:7400` });
  }
  assert.equal(t.dials.length, 4, "a burst of 4 at 1 a second");
  assert.equal(t.server.stats.rateLimited, 6);
  for (const d of t.dials) d.settle(false);
});

Deno.test("dial-back: at most maxConcurrentDialBacks in flight, and one per asker", async () => {
  const t = setup({ maxConcurrentDialBacks: 2, dialBackRatePerSecond: 100 });
  t.server.handle(t.asker("a", "198.18.1.2"), { requestId: 1, address: "198.18.1.2:7400" });
  t.server.handle(t.asker("a", "198.18.1.2"), { requestId: 2, address: "198.18.1.2:7400" });
  t.server.handle(t.asker("b", "198.18.2.2"), { requestId: 3, address: "198.18.2.2:7400" });
  t.server.handle(t.asker("c", "198.18.3.2"), { requestId: 4, address: "198.18.3.2:7400" });
  assert.equal(t.dials.length, 2);
  assert.equal(t.server.inFlight, 2);
  assert.deepEqual(t.answers.map((a) => [a.response.requestId, a.response.status]), [
    [2, DialBackStatus.RATE_LIMITED],
    [4, DialBackStatus.RATE_LIMITED],
  ]);
  t.dials[0].settle(true);
  await settled();
  t.server.handle(t.asker("c", "198.18.3.2"), { requestId: 5, address: "198.18.3.2:7400" });
  assert.equal(t.dials.length, 3, "a slot is free again");
  for (const d of t.dials.slice(1)) d.settle(true);
  await settled();
});

Deno.test("dial-back: a flood of requests from one asker gets 8 answers, then one per 5 s, the rest none", () => {
  const t = setup({ dialBackAskerIntervalMs: 60_000 });
  for (let i = 0; i < 100; i++) {
    t.server.handle(t.asker("flooder", "198.18.0.10"), { requestId: i, address: "198.18.0.99:7400" });
  }
  assert.equal(t.answers.length, 8, "refusals too are bounded");
  assert.equal(t.server.stats.dropped, 92);
  t.clock.advance(5_000);
  t.server.handle(t.asker("flooder", "198.18.0.10"), { requestId: 100, address: "198.18.0.99:7400" });
  assert.equal(t.answers.length, 9);
  assert.equal(t.dials.length, 0);
});
