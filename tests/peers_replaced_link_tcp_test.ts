/**
 * Link replacement over real TCP: two nodes that dial each other at once keep one connection at both ends (the
 * transport's duplicate rule), and the end whose first link the other displaced takes the newer one in its place
 * (PeerManager's onPeerReplaced): over it both topic sets are known and topic messages flow. Which end replaces
 * depends on which handshake ends first, so the test runs many rounds; the simulator's tests
 * (tests/peers_replaced_link_test.ts) construct each case deterministically.
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { KithNode } from "../lib/node.ts";
import { waitFor } from "./_support.ts";

const ROUNDS = 40;

/** A node on its own loopback host, dialing no one by itself. */
const quiet = (host: string): Partial<NetworkConfig> => ({
  listenHost: host,
  listenPort: 0,
  gossipIntervalMs: 100,
  peerMaintenanceIntervalMs: 50,
  heartbeatIntervalMs: 1_000,
  discoveryIntervalMs: 3_600_000,
  feelerIntervalMs: 3_600_000,
  trustExchangeIntervalMs: 3_600_000,
  minPeers: 0,
  outboundSlots: 0,
  dhtEnabled: false,
});

Deno.test(`${ROUNDS} simultaneous two-way dials between topic members: each ends with both sets known and both ends delivering, none refused as WRONG_TOPIC`, async () => {
  let replaced = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const a = new KithNode({ config: quiet(`127.77.${round}.1`) });
    const b = new KithNode({ config: quiet(`127.77.${round}.2`) });
    try {
      await a.start();
      await b.start();
      for (const node of [a, b]) {
        const peers = node.components.peers;
        const routed = peers.onPeerReplaced;
        peers.onPeerReplaced = (peer) => {
          replaced++;
          routed?.(peer);
        };
      }
      const [boxA, boxB]: string[][] = [[], []];
      a.subscribe("T", (m) => boxA.push(m.id));
      b.subscribe("T", (m) => boxB.push(m.id));
      await Promise.allSettled([a.connect(b.address), b.connect(a.address)]);
      await waitFor(
        () => a.topicPeers("T").includes(b.nodeId) && b.topicPeers("T").includes(a.nodeId),
        `round ${round}: both sets known`,
        5_000,
      );
      const [fromA, fromB] = [a.broadcast("from a", { topic: "T" }), b.broadcast("from b", { topic: "T" })];
      await waitFor(() => boxA.includes(fromB) && boxB.includes(fromA), `round ${round}: delivery both ways`, 5_000);
      assert.equal(a.stats().topics.wrongTopic + b.stats().topics.wrongTopic, 0, `round ${round}`);
    } finally {
      await a.stop();
      await b.stop();
    }
  }
  assert.ok(replaced > 0, "some round replaced a link");
});
