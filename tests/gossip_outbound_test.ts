/**
 * The outbound minimum among eager links (gossipsub's D_out; issue 21): peers this node dialed take some of
 * its eager links back from inbound peers that connected first.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { type GossipConfig, GossipProtocol } from "../lib/gossip/mod.ts";
import { Identity } from "../lib/identity.ts";
import type { Envelope } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { MemoryStorage } from "../lib/storage/mod.ts";
import type { Connection } from "../lib/transport/mod.ts";
import { TrustManager } from "../lib/trust.ts";

const T0 = 1_700_000_000_000;

/** A peer on a connection of the given direction that accepts everything gossip sends. */
function peer(direction: "inbound" | "outbound") {
  const nodeId = Identity.generate().nodeId;
  const connection = {
    remoteNodeId: nodeId,
    direction,
    bufferedBytes: 0,
    isOpen: true,
    send: (_envelope: Envelope) => true,
    sendEncoded: (_bytes: Uint8Array) => true,
  } as unknown as Connection;
  return { nodeId, connection };
}

function setup(config: Partial<GossipConfig> = {}) {
  const clock = new ManualClock(T0);
  const storage = new MemoryStorage({ clock, pruneIntervalMs: 0 });
  const trust = new TrustManager({ storage, clock });
  const peers: ReturnType<typeof peer>[] = [];
  const gossip = new GossipProtocol({
    identity: Identity.generate(),
    peers: { activePeers: () => peers },
    trust,
    storage,
    clock,
    random: seededRandom(3),
    config,
  });
  const connect = (direction: "inbound" | "outbound") => {
    const p = peer(direction);
    peers.push(p);
    gossip.peerConnected(p);
    return p;
  };
  const eager = () => peers.filter((p) => gossip.peerStats(p.nodeId)!.eager);
  return { gossip, trust, peers, connect, eager };
}

Deno.test("a burst of inbound peers at start-up cannot hold every eager link: peers this node dials take two", () => {
  const { connect, eager } = setup({ fanout: 3 });
  const sybils = Array.from({ length: 5 }, () => connect("inbound"));
  assert.deepEqual(eager(), sybils.slice(0, 3), "the first inbound peers start eager");
  const dialed = [connect("outbound"), connect("outbound"), connect("outbound")];
  assert.equal(eager().length, 3, "the eager count stays at fanout");
  assert.deepEqual(eager().filter((p) => p.connection.direction === "outbound"), dialed.slice(0, 2));
});

Deno.test("the inbound eager link given up for an outbound peer is the least trusted one", () => {
  const { connect, eager, trust } = setup({ fanout: 3 });
  const inbound = Array.from({ length: 3 }, () => connect("inbound"));
  for (let i = 0; i < 20; i++) trust.recordValid(inbound[0].nodeId);
  for (let i = 0; i < 20; i++) trust.recordValid(inbound[2].nodeId);
  const dialed = connect("outbound");
  assert.deepEqual(eager(), [inbound[0], inbound[2], dialed]);
});

Deno.test("with minOutboundEager 0 the first peers keep the eager links, as before", () => {
  const { connect, eager } = setup({ fanout: 3, minOutboundEager: 0 });
  const inbound = Array.from({ length: 3 }, () => connect("inbound"));
  connect("outbound");
  assert.deepEqual(eager(), inbound);
});

Deno.test("an eager link lost below the outbound minimum goes to an outbound lazy peer before a more trusted inbound one", () => {
  const { gossip, connect, eager, trust, peers } = setup({ fanout: 3 });
  const inbound = Array.from({ length: 4 }, () => connect("inbound"));
  const dialed = [connect("outbound"), connect("outbound"), connect("outbound")];
  for (let i = 0; i < 30; i++) trust.recordValid(inbound[3].nodeId); // the most trusted lazy peer
  assert.ok(eager().includes(dialed[0]) && eager().includes(dialed[1]) && !eager().includes(dialed[2]));
  peers.splice(peers.indexOf(dialed[0]), 1);
  gossip.peerDisconnected(dialed[0].nodeId);
  assert.ok(eager().includes(dialed[2]), "the lazy outbound peer is promoted");
  assert.ok(!eager().includes(inbound[3]), "not the more trusted inbound one");
});
