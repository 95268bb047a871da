/**
 * The relay client on fakes and the virtual clock: a relay that grants a circuit and then does not splice it
 * loses trust (`RELAY_FAILED`), once per circuit it failed.
 */
import assert from "node:assert/strict";
import { RelayClient } from "../lib/relay/client.ts";
import { DEFAULT_RELAY_CONFIG } from "../lib/relay/config.ts";
import { VirtualClock } from "../lib/sim/clock.ts";
import type { ActivePeer as PeersActivePeer } from "../lib/peers/types.ts";
import { type Message, MessageType } from "../lib/protocol/mod.ts";
import { CIRCUIT_READY } from "../lib/transport/circuit.ts";
import type { ByteConn } from "../lib/transport/connection.ts";

/** A linked relay announcing relay/1 with a direct listening address. */
function fakeRelayPeer() {
  return {
    nodeId: "ab".repeat(32),
    connection: { agent: "kith/0.1.0 relay/1", linkKind: "direct", listenAddress: "127.0.0.9:7000", isOpen: true },
    group: { host: "127.0.0.9", subnet: "127.0.0" },
    since: 0,
  } as unknown as PeersActivePeer;
}

/** A leg to the relay whose first answer byte is `byte`. */
function legAnswering(byte: number): ByteConn {
  return {
    read: (p: Uint8Array) => {
      p[0] = byte;
      return Promise.resolve(1);
    },
    write: (p: Uint8Array) => Promise.resolve(p.length),
    close: () => {},
    setNoDelay: () => {},
  };
}

/** A leg to a relay that never answers (until closed). */
function silentLeg(): ByteConn {
  let wake: (() => void) | undefined;
  return {
    read: () => new Promise<number | null>((resolve) => (wake = () => resolve(null))),
    write: (p: Uint8Array) => Promise.resolve(p.length),
    close: () => wake?.(),
    setNoDelay: () => {},
  };
}

function lab(leg: () => ByteConn) {
  const clock = new VirtualClock(1_000_000);
  const relay = fakeRelayPeer();
  const sent: { type: number; payload: Record<string, unknown> }[] = [];
  const penalties: [string, string][] = [];
  const client = new RelayClient({
    config: { ...DEFAULT_RELAY_CONFIG, reserveRelays: 1 },
    clock,
    random: () => 0.5,
    transport: {
      openSocket: () => Promise.resolve(leg()),
      openOver: () => Promise.reject(new Error("not reached in these tests")),
      dial: () => Promise.reject(new Error("no dial")),
    },
    activePeers: () => [relay],
    activePeer: (id) => id === relay.nodeId ? relay : undefined,
    send: (_peer, type, payload) => sent.push({ type, payload: payload as unknown as Record<string, unknown> }),
    penalise: (nodeId, code) => penalties.push([nodeId, code]),
    log: () => {},
  });
  return { clock, relay, sent, penalties, client };
}

const message = (type: number, payload: Record<string, unknown>) => ({ type, payload }) as unknown as Message;

async function reachedThroughAFailingRelay(leg: () => ByteConn, runMs: number) {
  const { clock, relay, sent, penalties, client } = lab(leg);
  client.start();
  clock.runUntil(clock.now() + 1);
  const reserve = sent.find((m) => m.type === MessageType.RELAY_RESERVE);
  assert.ok(reserve, "a reservation asked of the relay");
  client.receive(
    relay,
    message(MessageType.RELAY_RESERVATION, {
      requestId: reserve.payload.requestId,
      status: 0,
      expiresAt: clock.now() + 600_000,
      observedAddress: "",
    }),
  );
  assert.equal(client.reservations().length, 1);
  client.receive(
    relay,
    message(MessageType.RELAY_CIRCUIT, {
      requestId: 0,
      status: 0,
      role: 1,
      peer: new Uint8Array(32).fill(3),
      token: new Uint8Array(16).fill(4),
      observedAddress: "",
      maxBytes: 1_000_000,
      maxDurationMs: 600_000,
    }),
  );
  for (let i = 0; i < 20; i++) await Promise.resolve();
  clock.runUntil(clock.now() + runMs);
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await client.stop();
  return { penalties, relay };
}

Deno.test("a relay that grants a circuit and refuses its leg is charged RELAY_FAILED", async () => {
  const { penalties, relay } = await reachedThroughAFailingRelay(() => legAnswering(0xff), 0);
  assert.deepEqual(penalties, [[relay.nodeId, "RELAY_FAILED"]]);
  assert.notEqual(0xff, CIRCUIT_READY);
});

Deno.test("a relay that grants a circuit and never splices it is charged RELAY_FAILED after the setup time", async () => {
  const { penalties, relay } = await reachedThroughAFailingRelay(
    () => silentLeg(),
    DEFAULT_RELAY_CONFIG.circuitSetupMs + 1,
  );
  assert.deepEqual(penalties, [[relay.nodeId, "RELAY_FAILED"]]);
});
