/**
 * The delivery deficit (gossipsub's P3; issue 21): a peer this node counts on to push to it, that announces
 * or serves messages but never pushes them, is demoted (no longer counted as pushing, its eager link handed
 * to another peer, no trust taken), while peers that are quiet for honest reasons (pruned per origin, or
 * PRUNEd) are not. On the manual clock the simulator runs on; scripted peers.
 */
import assert from "node:assert/strict";
import { bytesKey } from "../lib/bytes.ts";
import { ManualClock } from "../lib/clock.ts";
import { type GossipConfig, GossipProtocol } from "../lib/gossip/mod.ts";
import { Identity } from "../lib/identity.ts";
import { createLinkMessage, createMessage, MessageType } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { MemoryStorage } from "../lib/storage/mod.ts";
import { TrustManager } from "../lib/trust.ts";
import { RecordingPeer } from "./_gossip_peer.ts";

const T0 = 1_700_000_000_000;
const WINDOW_MS = 5_000;

function setup(count: number, config: Partial<GossipConfig> = {}) {
  const clock = new ManualClock(T0);
  const storage = new MemoryStorage({ clock, pruneIntervalMs: 0 });
  const trust = new TrustManager({ storage, clock });
  const peers = Array.from({ length: count }, () => new RecordingPeer());
  const gossip = new GossipProtocol({
    identity: Identity.generate(),
    peers: { activePeers: () => peers },
    trust,
    storage,
    clock,
    random: seededRandom(5),
    config: { fanout: 2, deliveryDeficitWindowMs: WINDOW_MS, ...config },
  });
  for (const peer of peers) gossip.peerConnected(peer);
  gossip.start();
  const publisher = Identity.generate();
  let n = 0;
  const message = () =>
    createMessage(publisher, MessageType.CUSTOM_DATA, { topic: "t", data: new TextEncoder().encode(`m${n++}`) }, {
      ttl: 8,
      timestamp: clock.now(),
    });
  const announce = (peer: RecordingPeer, ids: Uint8Array[]) =>
    gossip.receive(
      peer,
      createLinkMessage(peer.identity, MessageType.GOSSIP_MESSAGE, { have: ids, want: [] }, { timestamp: clock.now() }),
    );
  const stats = (peer: RecordingPeer) => gossip.peerStats(peer.nodeId)!;
  return { clock, trust, peers, gossip, message, announce, stats };
}

Deno.test("a peer grafted by an ask that then only announces and never pushes is demoted, another eager peer takes its place, no trust is taken, delivery goes on", () => {
  const { clock, trust, peers, gossip, message, announce, stats } = setup(3);
  const [silent, honest, spare] = peers;
  assert.ok(stats(silent).eager && stats(honest).eager && !stats(spare).eager, "the first two peers start eager");
  // Nobody pushes to the node yet: the silent peer's announcement is asked for at once (a graft), and it serves.
  const first = message();
  announce(silent, [first.id]);
  assert.ok(silent.linkMessages().some((m) => m.want.some((id) => bytesKey(id) === bytesKey(first.id))));
  gossip.receive(silent, first);
  assert.ok(stats(silent).pushing, "the node now counts on the silent peer to push");
  const trustBefore = trust.trust(silent.nodeId);
  // From then on the honest peer pushes every message, and the silent one announces each instead of pushing.
  let demotedAt: number | undefined;
  for (let i = 0; i < 80; i++) {
    const m = message();
    gossip.receive(honest, m);
    announce(silent, [m.id]);
    clock.advance(250);
    if (demotedAt === undefined && !stats(silent).pushing) demotedAt = clock.now();
  }
  assert.ok(demotedAt !== undefined, "the silent peer was demoted");
  assert.ok(!stats(silent).pushing && !stats(silent).eager, "no longer counted on, nor pushed to");
  assert.ok(stats(spare).eager, "the lazy peer took the eager link");
  assert.ok(stats(honest).eager && stats(honest).pushing, "the honest pusher keeps its place");
  assert.equal(gossip.stats.deficitDemotions, 1);
  assert.ok(trust.trust(silent.nodeId) >= trustBefore, "silence costs no trust");
  assert.equal(gossip.stats.delivered, 81, "every message was delivered");
  gossip.stop();
});

Deno.test("peers quiet for honest reasons (pruned for the origin, or PRUNEd) are not demoted, while a silent one beside them is", () => {
  const { clock, peers, gossip, message, announce, stats } = setup(6);
  const [silent, parent, byOrigin1, byOrigin2, pruned, spare] = peers;
  const first = message();
  announce(silent, [first.id]);
  gossip.receive(silent, first); // the silent peer, grafted by the ask
  // Two messages pushed by everyone: the later copies prune per origin (two peers) and, over twice fanout
  // pushers, the whole link (the last one).
  for (let i = 0; i < 2; i++) {
    const m = message();
    for (const peer of [parent, byOrigin1, byOrigin2, pruned]) gossip.receive(peer, m);
    clock.advance(250);
  }
  const prunes = (peer: RecordingPeer) => peer.linkMessages().filter((m) => m.prune);
  assert.ok(prunes(byOrigin1).some((m) => m.have.length > 0) && prunes(byOrigin2).some((m) => m.have.length > 0));
  assert.ok(prunes(pruned).some((m) => m.have.length === 0), "the last pusher got a whole-link PRUNE");
  assert.ok(stats(byOrigin1).pushing && stats(byOrigin2).pushing && !stats(pruned).pushing);
  // Then each does what an honest peer does: the parent pushes, the pruned ones announce; the silent one
  // announces too.
  for (let i = 0; i < 80; i++) {
    const m = message();
    gossip.receive(parent, m);
    for (const peer of [silent, byOrigin1, byOrigin2, pruned]) announce(peer, [m.id]);
    clock.advance(250);
  }
  assert.ok(!stats(silent).pushing && !stats(silent).eager, "the silent peer was demoted");
  assert.equal(gossip.stats.deficitDemotions, 1, "and no one else");
  assert.ok(stats(byOrigin1).pushing && stats(byOrigin2).pushing && stats(parent).pushing);
  assert.ok(stats(parent).eager, "the parent keeps its eager link");
  assert.ok([byOrigin1, byOrigin2, pruned, spare].some((p) => stats(p).eager), "a lazy peer took the silent one's");
  gossip.stop();
});

Deno.test("deliveryDeficitPercent must be 0 to 100", () => {
  const make = (deliveryDeficitPercent: number) => () => setup(0, { deliveryDeficitPercent }).gossip.stop();
  assert.throws(make(101), /deliveryDeficitPercent/);
  assert.throws(make(-1), /deliveryDeficitPercent/);
  make(0)();
});
