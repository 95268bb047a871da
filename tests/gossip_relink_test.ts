/**
 * A peer whose link the transport replaces while it stays connected (TCP's duplicate rule keeping a newer
 * link), on the simulator's network and virtual clock: it keeps its place in gossip, both network-wide and in
 * a topic's overlay: eager stays eager, lazy stays lazy, and the peers that were lazy are not promoted in its
 * place, as they would be for a peer that left.
 */
import assert from "node:assert/strict";
import type { GossipProtocol } from "../lib/gossip/mod.ts";
import type { SimNode } from "../lib/sim/node.ts";
import { TopicLab } from "./_topic_lab.ts";

const T = "weather";
// Fewer eager links than peers, and no outbound minimum, so which peer holds one is the order they came in.
const GOSSIP = { fanout: 2, minOutboundEager: 0 };

/** The peers (by index) `node` pushes to in full in `overlay` ("" the network-wide one). */
function eagerOf(node: SimNode, peers: readonly SimNode[], overlay: string): number[] {
  const gossip: GossipProtocol | undefined = node.node.components.topics.gossipOf(overlay);
  return peers.filter((p) => gossip?.peerStats(p.identity.nodeId)?.eager).map((p) => p.index);
}

Deno.test("a peer whose link is replaced keeps its eager link in gossip and in the topic's overlay, at both ends, and no lazy peer is promoted in its place", async () => {
  const lab = new TopicLab(21);
  const a = await lab.add({}, { gossip: GOSSIP });
  const others = [await lab.add(), await lab.add(), await lab.add()];
  for (const n of others) await lab.link(a, n);
  for (const n of [a, ...others]) n.node.subscribe(T);
  await lab.runUntil(() => a.node.topicPeers(T).length === 3, "a knows the others are in the topic");
  await lab.run(500);
  const before = ["", T].map((overlay) => eagerOf(a, others, overlay));
  for (const eager of before) assert.equal(eager.length, 2, `fanout 2: two of three eager (${eager})`);
  const replaced = others.find((n) => before.every((eager) => eager.includes(n.index)))!;
  assert.ok(replaced, "a peer eager in both overlays");
  const farBefore = ["", T].map((overlay) => eagerOf(replaced, [a], overlay));

  const old = a.transport.connection(replaced.identity.nodeId)!;
  assert.ok(a.transport.replaceLink(replaced.identity.nodeId), "a link to replace");
  await lab.runUntil(() => !old.isOpen, "the link replaced");
  await lab.run(500);
  assert.ok(a.transport.connection(replaced.identity.nodeId)?.isOpen, "still linked, over the new link");
  assert.deepEqual(["", T].map((overlay) => eagerOf(a, others, overlay)), before, "a's eager links are the same");
  assert.deepEqual(["", T].map((overlay) => eagerOf(replaced, [a], overlay)), farBefore, "and the far end's");
  await lab.stop();
});
