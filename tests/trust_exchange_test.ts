/** The trust exchange on the simulator: only answers to this node's own requests are recorded. */
import assert from "node:assert/strict";
import { Identity } from "../lib/identity.ts";
import { createMessage, MessageType } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import { SimNetwork } from "../lib/sim/network.ts";
import { startSimNode } from "../lib/sim/node.ts";

async function pair() {
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, seededRandom(5), { minLatencyMs: 5, maxLatencyMs: 5 });
  const random = seededRandom(6);
  // Strangers start at 0.6, above the recommender bar (0.55); b earns more, so its recommendations would count.
  const config = { minPeers: 0, outboundSlots: 0, trustExchangeIntervalMs: 1_000, initialTrustScore: 0.6 };
  const [a, b] = await Promise.all([0, 1].map((i) => startSimNode(network, i, random, config)));
  const link = a.peers.connect(b.address);
  clock.runUntil(clock.now() + 20);
  await link;
  for (let i = 0; i < 100; i++) a.trust.recordValid(b.identity.nodeId); // b earned 0.1 above the subject
  const subject = Identity.generate().nodeId;
  const recommend = () =>
    b.peers.send(
      a.identity.nodeId,
      createMessage(b.identity, MessageType.TRUSTED_PEERS_RESPONSE, {
        peers: [{ nodeId: Uint8Array.from(subject.match(/../g)!, (h) => parseInt(h, 16)), trust: 1 }],
      }, { ttl: 0, timestamp: clock.now() }),
    );
  const stop = async () => {
    await Promise.all([a.stop(), b.stop()]);
    clock.runUntil(clock.now() + 100);
  };
  return { clock, a, b, subject, recommend, stop };
}

Deno.test("an unsolicited TRUSTED_PEERS_RESPONSE changes no trust", async () => {
  const { clock, a, subject, recommend, stop } = await pair();
  assert.equal(a.trust.trust(subject), 0.6);
  recommend();
  clock.runUntil(clock.now() + 50); // before a's first request, at 1 s
  assert.equal(a.trust.recommended(subject), 0, "a recommendation a never asked for was not recorded");
  assert.equal(a.trust.trust(subject), 0.6);
  await stop();
});

Deno.test("a TRUST_UPDATE, a recommendation nobody asked for, changes nothing", async () => {
  const { clock, a, b, subject, stop } = await pair();
  b.peers.send(
    a.identity.nodeId,
    createMessage(b.identity, MessageType.TRUST_UPDATE, {
      subject: Uint8Array.from(subject.match(/../g)!, (h) => parseInt(h, 16)),
      trust: 1,
    }, { ttl: 0, timestamp: clock.now() }),
  );
  clock.runUntil(clock.now() + 50);
  assert.equal(a.node.stats().byType.TRUST_UPDATE?.delivered, 1, "it arrived and was handled");
  assert.equal(a.trust.recommended(subject), 0);
  assert.equal(a.trust.trust(subject), 0.6);
  await stop();
});

Deno.test("a request is answered once: a second answer to it changes no trust", async () => {
  const { clock, a, subject, recommend, stop } = await pair();
  clock.runUntil(clock.now() + 1_200); // a asked b, and b's own answer (no other peers) came back
  assert.ok((a.node.stats().byType.TRUSTED_PEERS_RESPONSE?.received ?? 0) >= 1, "b answered");
  recommend();
  clock.runUntil(clock.now() + 50);
  assert.equal(a.trust.recommended(subject), 0, "an extra answer after the real one was not recorded");
  await stop();
});

Deno.test("an answer to this node's own request is recorded as the answering peer's recommendations", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimNetwork(clock, seededRandom(7), { minLatencyMs: 5, maxLatencyMs: 5 });
  const random = seededRandom(8);
  const config = { minPeers: 0, outboundSlots: 0, trustExchangeIntervalMs: 1_000, initialTrustScore: 0.6 };
  const [a, b, c] = await Promise.all([0, 1, 2].map((i) => startSimNode(network, i, random, config)));
  const links = [a.peers.connect(b.address), b.peers.connect(c.address)];
  clock.runUntil(clock.now() + 20);
  await Promise.all(links);
  for (let i = 0; i < 100; i++) a.trust.recordValid(b.identity.nodeId);
  assert.equal(a.trust.trust(c.identity.nodeId), 0.6);
  clock.runUntil(clock.now() + 1_200); // a asks b, its only peer; b answers with c
  assert.ok(a.trust.recommended(c.identity.nodeId) > 0, "b's answer about c was recorded");
  assert.equal(a.trust.trust(c.identity.nodeId), 0.6, "as a recommendation, apart from the trust a earned in c");
  await Promise.all([a.stop(), b.stop(), c.stop()]);
  clock.runUntil(clock.now() + 100);
});
