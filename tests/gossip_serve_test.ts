/** Serving asks (IWANT): de-duplication, the retransmission limit and the per-interval byte budget. */
import assert from "node:assert/strict";
import { toHex } from "../lib/bytes.ts";
import { ManualClock } from "../lib/clock.ts";
import { type GossipConfig, GossipProtocol } from "../lib/gossip/mod.ts";
import { Identity } from "../lib/identity.ts";
import type { Connection } from "../lib/transport/mod.ts";
import { createMessage, type Envelope, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { seededRandom } from "../lib/random.ts";
import { MemoryStorage } from "../lib/storage/mod.ts";
import { TrustManager } from "../lib/trust.ts";

const codec = new MessageCodec();
const T0 = 1_700_000_000_000;

/** A peer whose connection records the full copies gossip sends it. */
class FakePeer {
  readonly identity = Identity.generate();
  readonly nodeId = this.identity.nodeId;
  readonly copies: string[] = [];
  readonly connection = {
    remoteNodeId: this.nodeId,
    bufferedBytes: 0,
    isOpen: true,
    send: () => true,
    sendEncoded: (bytes: Uint8Array) => {
      const envelope: Envelope = codec.parse(bytes);
      if (envelope.type === MessageType.CUSTOM_DATA) this.copies.push(toHex(envelope.id));
      return true;
    },
  } as unknown as Connection;
  #asks = 0;
  /** An ask for `want`, each with its own timestamp (an identical envelope would be a duplicate). */
  ask(want: Uint8Array[]) {
    return createMessage(this.identity, MessageType.GOSSIP_MESSAGE, { have: [], want }, {
      ttl: 0,
      timestamp: T0 + ++this.#asks,
    });
  }
}

function setup(config: Partial<GossipConfig> = {}) {
  const clock = new ManualClock(T0);
  const storage = new MemoryStorage({ clock, pruneIntervalMs: 0 });
  const trust = new TrustManager({ storage, clock });
  const asker = new FakePeer();
  const gossip = new GossipProtocol({
    identity: Identity.generate(),
    peers: { activePeers: () => [asker] },
    trust,
    storage,
    clock,
    random: seededRandom(5),
    config,
  });
  let published = 0;
  const publish = (size: number) =>
    gossip.publish(MessageType.CUSTOM_DATA, { topic: "", data: new Uint8Array(size).fill(++published) }, { ttl: 4 });
  return { clock, trust, asker, gossip, publish };
}

Deno.test("an id named twice in one ask, or asked again within the interval, is sent once; at most maxRetransmissions in all", () => {
  const { clock, trust, asker, gossip, publish } = setup();
  gossip.start();
  const held = publish(1_000);
  asker.copies.length = 0;
  gossip.receive(asker, asker.ask([held.id, held.id, held.id]));
  assert.equal(asker.copies.length, 1, "named three times, sent once");
  gossip.receive(asker, asker.ask([held.id]));
  assert.equal(asker.copies.length, 1, "asked again while its answer may be queued");
  for (let i = 0; i < 5; i++) {
    clock.advance(gossip.config.intervalMs);
    gossip.receive(asker, asker.ask([held.id]));
  }
  assert.equal(asker.copies.length, gossip.config.maxRetransmissions);
  assert.equal(gossip.stats.served, gossip.config.maxRetransmissions);
  assert.equal(gossip.stats.wantsDropped, 2 + 1 + 5 - (gossip.config.maxRetransmissions - 1));
  assert.ok(trust.trust(asker.nodeId) < 0.5, "asking beyond the limit costs the asker trust");
  gossip.stop();
});

Deno.test("asks are served up to maxServedBytesPerInterval per interval; the rest wait for the next interval's ask", () => {
  const { clock, asker, gossip, publish } = setup({ maxServedBytesPerInterval: 2_500 });
  gossip.start();
  const held = [publish(1_000), publish(1_000), publish(1_000), publish(1_000)];
  asker.copies.length = 0;
  gossip.receive(asker, asker.ask(held.map((m) => m.id)));
  // Each envelope is over 1,000 bytes: the third crosses the budget and is still sent, the fourth is not.
  assert.deepEqual(asker.copies, held.slice(0, 3).map((m) => toHex(m.id)));
  assert.equal(gossip.stats.wantsDropped, 1);
  clock.advance(gossip.config.intervalMs);
  gossip.receive(asker, asker.ask([held[3].id]));
  assert.equal(asker.copies.at(-1), toHex(held[3].id));
  gossip.stop();
});
