/**
 * The reachability verdict drives reservations (lib/relay/config.ts `reservationTarget`, the client's `target`):
 * a node found private reserves at relays and announces a relayed address; a public or unchecked one does not;
 * the operator's `reserveRelays` holds whatever the verdict. On a manual clock with fake peers and transport.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import type { ActivePeer } from "../lib/peers/mod.ts";
import { MessageType, type PayloadByType, RelayStatus } from "../lib/protocol/mod.ts";
import { RelayClient } from "../lib/relay/client.ts";
import {
  type RelayConfig,
  reservationTarget,
  type ReservingReachability,
  resolveRelayConfig,
} from "../lib/relay/config.ts";
import { seededRandom } from "../lib/random.ts";
import type { Connection } from "../lib/transport/types.ts";
import { AGENT } from "../lib/version.ts";

const RELAYS = ["aa", "bb", "cc"].map((b, i) => ({ nodeId: b.repeat(32), address: `127.0.0.${i + 2}:7000` }));

function fakePeer(nodeId: string, listenAddress: string): ActivePeer {
  const connection = { agent: AGENT, linkKind: "direct", listenAddress, remoteAddress: listenAddress };
  return { nodeId, connection: connection as unknown as Connection, group: { host: "", subnet: "" }, since: 0 };
}

/** A client over three connected relays, with the verdict settable; grants every reservation asked. */
function harness(overrides: Partial<RelayConfig> = {}) {
  const clock = new ManualClock(1_000);
  const config = resolveRelayConfig(overrides);
  let verdict: ReservingReachability = "unknown";
  const peers = RELAYS.map((r) => fakePeer(r.nodeId, r.address));
  const asked: string[] = [];
  const client: RelayClient = new RelayClient({
    config,
    clock,
    random: seededRandom(3),
    transport: {
      openSocket: () => Promise.reject(new Error("no sockets here")),
      openOver: () => Promise.reject(new Error("no sockets here")),
      dial: () => Promise.reject(new Error("no sockets here")),
    },
    activePeers: () => peers,
    activePeer: (id) => peers.find((p) => p.nodeId === id),
    send: <T extends MessageType>(peer: ActivePeer, type: T, payload: PayloadByType[T]) => {
      if (type !== MessageType.RELAY_RESERVE) return;
      asked.push(peer.nodeId);
      const { requestId } = payload as PayloadByType[typeof MessageType.RELAY_RESERVE];
      // The relay's grant, as a link message the node would have verified.
      client.receive(peer, {
        type: MessageType.RELAY_RESERVATION,
        payload: { requestId, status: RelayStatus.OK, expiresAt: clock.now() + 60_000, observedAddress: "" },
      } as never);
    },
    penalise: () => {},
    log: () => {},
    target: () => reservationTarget(config, verdict),
  });
  return {
    clock,
    client,
    asked,
    setVerdict(state: ReservingReachability) {
      verdict = state;
      client.targetChanged();
    },
  };
}

Deno.test("relay decision: a private verdict makes a node reserve at two relays and announce relayed addresses", async () => {
  const h = harness();
  h.client.start();
  h.clock.advance(10_000);
  assert.equal(h.asked.length, 0, "no reservation while the verdict is unknown");
  h.setVerdict("private");
  assert.equal(h.asked.length, 2, `asked ${h.asked.length} relays on the private verdict`);
  const addresses = h.client.relayedAddresses();
  assert.equal(addresses.length, 2);
  assert.ok(addresses.every((a) => a.includes("/relay/")), `relayed: ${addresses}`);
  await h.client.stop();
});

Deno.test("relay decision: a public verdict reserves nothing, and a node found public after private lets its reservations go", async () => {
  const h = harness();
  h.client.start();
  h.setVerdict("public");
  h.clock.advance(60_000);
  assert.equal(h.asked.length, 0, `a public node asked ${h.asked.length} relays`);
  h.setVerdict("private");
  assert.equal(h.client.relayedAddresses().length, 2);
  h.setVerdict("public");
  assert.equal(h.client.relayedAddresses().length, 0, "reservations kept after the public verdict");
  const before = h.asked.length;
  h.clock.advance(120_000);
  assert.equal(h.asked.length, before, "a public node renewed or made reservations");
  await h.client.stop();
});

Deno.test("relay decision: the operator's reserveRelays holds whatever the verdict; privateRelays 0 turns the verdict's off", async () => {
  const declared = harness({ reserveRelays: 1 });
  declared.client.start();
  declared.clock.advance(0);
  declared.setVerdict("public");
  assert.equal(declared.client.relayedAddresses().length, 1, "the declared reservation went with a public verdict");
  declared.setVerdict("private");
  assert.equal(declared.client.relayedAddresses().length, 2, "privateRelays (2) is the floor while private");
  await declared.client.stop();
  const off = harness({ privateRelays: 0 });
  off.client.start();
  off.setVerdict("private");
  off.clock.advance(30_000);
  assert.equal(off.asked.length, 0, "privateRelays 0 still reserved");
  await off.client.stop();
});
