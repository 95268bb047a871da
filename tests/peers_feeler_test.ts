/**
 * Feelers (lib/peers/outbound.ts) against peer links, on the simulator: a feeler dials only a node this one is
 * not linked to, but the node may link to it while the feeler's handshake runs, and the feeler's connection may
 * then be the one the transport's duplicate rule keeps at both ends. It must not take the peer link with it.
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import { seededRandom } from "../lib/random.ts";
import type { SimNode } from "../lib/sim/node.ts";
import type { Connection, DialOptions } from "../lib/transport/types.ts";
import { SimLab } from "./_sim_lab.ts";
import { FIXED, isLinked } from "./_topic_lab.ts";

/** Only feelers dial: no outbound target, no minimum. */
const FEELING: Partial<NetworkConfig> = { ...FIXED, feelerIntervalMs: 1_000 };

const entryOf = (node: SimNode, other: SimNode) => node.node.peers().find((p) => p.nodeId === other.identity.nodeId);

Deno.test("a feeler whose connection the duplicate rule keeps over a peer link that came up meanwhile keeps it as the peer's link, at both ends", async () => {
  const lab = new SimLab({ networkSeed: 51, random: seededRandom(52), base: FEELING, stepMs: 1 });
  const [a, x] = [await lab.startNode(), await lab.startNode({ feelerIntervalMs: 3_600_000 })];
  // x's inbound link tells a of x's address (hearsay, "new"); closed, x is a feeler's target for a.
  let linked = false;
  void x.node.connect(a.address).then(() => linked = true);
  await lab.runUntil(() => linked && isLinked(a, x), "x's first link");
  await x.peers.activePeer(a.identity.nodeId)!.connection.close();
  await lab.runUntil(() => !isLinked(a, x) && !isLinked(x, a), "the first link's close");
  assert.equal(entryOf(a, x)?.tried, false, "x's address is hearsay at a");
  // a's feeler to x: while its handshake runs, x links to a again; the feeler's handshake ends after that, and
  // its connection is the one both ends keep (as TCP's duplicate rule may: of two opened in opposite
  // directions, the one the node with the lower id opened), which SimTransport.replaceLink models.
  const dial = a.transport.dial.bind(a.transport);
  let feelerDials = 0;
  a.transport.dial = async (address: string, options: DialOptions = {}): Promise<Connection> => {
    if (options.expectedNodeId !== x.identity.nodeId) return dial(address, options);
    feelerDials++;
    await x.node.connect(a.address);
    return a.transport.replaceLink(x.identity.nodeId)!;
  };
  await lab.runUntil(() => a.peers.stats.feelers === 1 && feelerDials === 1, "a's feeler to x", 10_000);
  await lab.runUntil(() => entryOf(a, x)?.tried === true, "the feeler's answer");
  await lab.run(1_000);
  assert.ok(isLinked(a, x) && isLinked(x, a), "a and x are still peers");
  const link = a.peers.activePeer(x.identity.nodeId)!.connection;
  assert.ok(link.isOpen, "over the feeler's connection");
  assert.equal(link.direction, "outbound");
  await lab.stop();
});
