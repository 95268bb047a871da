/**
 * Hole punching dials only where the relay sees the other end (docs/protocol.md, "Relays and hole punching"):
 * a HOLE_PUNCH naming another host is refused with a PunchError and costs its sender PUNCH_ADDRESS, before
 * anything is bound or dialed; over a circuit whose relay said nothing of the other end, nothing is punched.
 * The TCP run through a real relay is in tests/relay_tcp_test.ts.
 */
import assert from "node:assert/strict";
import { Identity } from "../lib/identity.ts";
import type { ActivePeer } from "../lib/peers/mod.ts";
import { createLinkMessage, MessageType, type PayloadByType } from "../lib/protocol/mod.ts";
import type { CircuitInfo } from "../lib/relay/client.ts";
import { DEFAULT_RELAY_CONFIG } from "../lib/relay/config.ts";
import { HolePuncher, pinnedAddresses, PunchError } from "../lib/relay/punch.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import type { Connection } from "../lib/transport/types.ts";
import { AGENT } from "../lib/version.ts";

const other = Identity.generate();

Deno.test("hole-punching addresses are taken only at the host the relay observed, any port", () => {
  const pinned = pinnedAddresses(["127.0.0.7:41000", "127.0.0.7:41001"], "127.0.0.7");
  assert.deepEqual(pinned.map((a) => [a.host, a.port]), [["127.0.0.7", 41000], ["127.0.0.7", 41001]]);
  assert.deepEqual(pinnedAddresses([], "127.0.0.7"), []);
  assert.throws(() => pinnedAddresses(["127.0.0.7:41000", "127.0.0.9:41000"], "127.0.0.7"), (error) => {
    assert.ok(error instanceof PunchError);
    assert.equal(error.code, "PUNCH_ADDRESS");
    return true;
  });
  assert.throws(() => pinnedAddresses(["127.0.0.7:41000"], ""), PunchError, "no observation, no address");
});

/** A puncher on a relayed link to `other`, this end reached (the responder), with what it sent and charged. */
function reached(peerObservedAddress: string) {
  const clock = new VirtualClock(1_700_000_000_000);
  const sent: PayloadByType[typeof MessageType.HOLE_PUNCH][] = [];
  const charged: string[] = [];
  const relayed = {
    remoteNodeId: other.nodeId,
    agent: AGENT,
    closed: new Promise(() => {}),
  } as unknown as Connection;
  const peer = { nodeId: other.nodeId, connection: relayed } as ActivePeer;
  const puncher = new HolePuncher({
    config: DEFAULT_RELAY_CONFIG,
    clock,
    permitsDial: () => true,
    openOver: () => Promise.reject(new Error("not dialed in this test")),
    activePeer: () => peer,
    send: (_peer, type, payload) => {
      if (type === MessageType.HOLE_PUNCH) sent.push(payload as PayloadByType[typeof MessageType.HOLE_PUNCH]);
    },
    penalise: (nodeId, code) => charged.push(`${nodeId === other.nodeId ? "other" : nodeId} ${code}`),
    log: () => {},
  });
  const circuit: CircuitInfo = {
    relayNodeId: Identity.generate().nodeId,
    initiator: false,
    observedAddress: "127.0.0.1:40001",
    peerObservedAddress,
    maxBytes: 1 << 20,
    maxDurationMs: 60_000,
    openedAt: clock.now(),
  };
  puncher.relayedLink(relayed, circuit);
  const connect = (addresses: string[]) =>
    puncher.receive(peer, createLinkMessage(other, MessageType.HOLE_PUNCH, { kind: 0, attempt: 1, addresses }));
  return { puncher, sent, charged, connect };
}

Deno.test("a HOLE_PUNCH naming a host other than the relay observed for its sender is refused and charged, one at that host answered", async () => {
  const { puncher, sent, charged, connect } = reached("127.0.0.7:40002");
  try {
    connect(["127.0.0.7:41000", "127.0.0.9:41000"]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(charged, ["other PUNCH_ADDRESS"]);
    assert.equal(sent.length, 0, "no answer, nothing bound");
    assert.equal(puncher.stats.refusedAddresses, 1);
    connect(["127.0.0.7:41000"]);
    for (let i = 0; i < 100 && sent.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(sent.length, 1, "answered");
    assert.equal(sent[0].kind, 2);
    assert.equal(charged.length, 1);
  } finally {
    await puncher.stop();
  }
});

Deno.test("over a circuit whose relay said nothing of the other end, nothing is punched", async () => {
  const { puncher, sent, charged, connect } = reached("");
  try {
    connect(["127.0.0.7:41000"]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(sent.length, 0);
    assert.deepEqual(charged, []);
  } finally {
    await puncher.stop();
  }
});
