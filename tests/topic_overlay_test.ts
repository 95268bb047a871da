/**
 * Topic discovery builds one overlay per topic (issue 22, "Finding a topic"): members that met
 * `minTopicPeers` among themselves still look for the rest, through peer exchange (members two links away)
 * and the DHT's rendezvous (members anywhere), until the topic's members are one connected overlay. On the
 * simulator's virtual clock, with only the links each test makes.
 */
import assert from "node:assert/strict";
import type { NetworkConfig } from "../lib/config.ts";
import type { SimNode } from "../lib/sim/node.ts";
import { TopicLab } from "./_topic_lab.ts";

/** How many pieces the overlay of `topic` among `members` is in: links both ends count as a peer in it. */
function pieces(members: readonly SimNode[], topic: string): number {
  const index = new Map(members.map((m, i) => [m.identity.nodeId, i]));
  const parent = members.map((_, i) => i);
  const find = (i: number): number => parent[i] === i ? i : (parent[i] = find(parent[i]));
  members.forEach((m, i) => {
    for (const id of m.node.topicPeers(topic)) {
      const j = index.get(id);
      if (j !== undefined && members[j].node.topicPeers(topic).includes(m.identity.nodeId)) parent[find(i)] = find(j);
    }
  });
  return new Set(members.map((_, i) => find(i))).size;
}

/** Two triangles of "t"'s members (each member at minTopicPeers, 2), linked within each triangle only. */
async function triangles(lab: TopicLab, config: Partial<NetworkConfig> = {}) {
  const members: SimNode[] = [];
  for (let i = 0; i < 6; i++) {
    const member = await lab.add(config);
    member.node.subscribe("t");
    members.push(member);
  }
  await lab.mesh(members.slice(0, 3));
  await lab.mesh(members.slice(3));
  await lab.runUntil(() => members.every((m) => m.node.topicPeers("t").length === 2), "two triangles of t");
  return members;
}

Deno.test("two triangles of a topic's members joined by a non-member end as one overlay (peer exchange)", async () => {
  const lab = new TopicLab(41);
  try {
    const members = await triangles(lab);
    assert.equal(pieces(members, "t"), 2);
    const bridge = await lab.add(); // in no topic: it relays nothing of t, but knows members of both
    await lab.link(bridge, members[0]);
    await lab.link(bridge, members[3]);
    await lab.runUntil(() => pieces(members, "t") === 1, "one overlay of t", 60_000);
    assert.equal(bridge.node.topics().length, 0, "the bridge stayed out of t");
    const dials = members.reduce((n, m) => n + m.node.stats().topicFinder.dials, 0);
    assert.ok(dials >= 1 && dials <= 6, `members dialed each other into topic slots: ${dials}`);
  } finally {
    await lab.stop();
  }
});

Deno.test("two triangles of a topic's members four links apart, non-members between them, end as one overlay (the DHT's rendezvous)", async () => {
  const lab = new TopicLab(42);
  try {
    const dht: Partial<NetworkConfig> = { dhtEnabled: true };
    const members = await triangles(lab, dht);
    // members[0] - x1 - x2 - x3 - members[3]: peer exchange sees no member of the other triangle from either.
    const between = [await lab.add(dht), await lab.add(dht), await lab.add(dht)];
    await lab.link(members[0], between[0]);
    await lab.link(between[0], between[1]);
    await lab.link(between[1], between[2]);
    await lab.link(between[2], members[3]);
    await lab.runUntil(() => pieces(members, "t") === 1, "one overlay of t", 60_000);
    assert.ok(between.every((x) => x.node.topics().length === 0), "the nodes between stayed out of t");
    const lookups = members.reduce((n, m) => n + (m.node.stats().dht?.lookups ?? 0), 0);
    assert.ok(lookups >= 1, "found through the DHT");
  } finally {
    await lab.stop();
  }
});
