/**
 * Direct messages between peers on the simulator: delivered only to the addressed node, never gossiped or
 * forwarded, refused to non-peers and to older kiths, rate limited and size bounded, and every malformed
 * one costs its sender trust by code.
 */
import assert from "node:assert/strict";
import { Encoder } from "@msgpack/msgpack";
import { DirectError, type DirectMessage, supportsDirect } from "../lib/direct/mod.ts";
import type { NodeEvent } from "../lib/events.ts";
import type { Identity } from "../lib/identity.ts";
import {
  computeMessageId,
  createMessage,
  encodePayload,
  type Envelope,
  MessageType,
  PROTOCOL_VERSION,
} from "../lib/protocol/mod.ts";
import type { SimNode } from "../lib/sim/node.ts";
import { AGENT } from "../lib/version.ts";
import { lab } from "./_lab.ts";
import { runFor, runUntil } from "./_support.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** An envelope from `identity` with these payload bytes, signed unless `unsigned`. */
function forge(
  identity: Identity,
  type: number,
  payloadBytes: Uint8Array,
  options: { ttl?: number; unsigned?: boolean; timestamp: number },
): Envelope {
  const id = computeMessageId(
    PROTOCOL_VERSION,
    type,
    identity.nodeIdBytes,
    identity.publicKey,
    options.timestamp,
    payloadBytes,
  );
  return {
    version: PROTOCOL_VERSION,
    type: type as MessageType,
    id,
    origin: identity.nodeIdBytes,
    publicKey: identity.publicKey,
    timestamp: options.timestamp,
    ttl: options.ttl ?? 0,
    payloadBytes,
    signature: options.unsigned ? new Uint8Array(0) : identity.sign(id),
  };
}

/** Sends `envelope` raw over `from`'s link to `to`, past `from`'s own checks. */
function sendRaw(from: SimNode, to: SimNode, envelope: Envelope): void {
  assert.ok(from.peers.activePeer(to.identity.nodeId)!.connection.send(envelope));
}

/** A star: node 0 with peers 1 and 2, which are not each other's peers. */
async function star(config = {}) {
  const l = await lab(3, { minPeers: 1, discoveryIntervalMs: 3_600_000, ...config });
  await runUntil(l.clock, () => l.nodes[0].peers.activePeers().length === 2, "both peers on the seed");
  return l;
}

function inbox(node: SimNode): DirectMessage[] {
  const got: DirectMessage[] = [];
  node.node.onDirect((m) => got.push(m));
  return got;
}

function penalties(node: SimNode): string[] {
  const causes: string[] = [];
  node.node.events.addEventListener("trust-changed", (e) => {
    const detail = (e as CustomEvent<NodeEvent>).detail;
    if (detail.type === "trust-changed") causes.push(`${detail.nodeId.slice(0, 8)} ${detail.cause}`);
  });
  return causes;
}

Deno.test("a direct message reaches the addressed peer's handler and iterator once, and no other node", async () => {
  const { clock, nodes, stop } = await star();
  const [hub, one, two] = nodes;
  const atHub = inbox(hub);
  const atTwo = inbox(two);
  const stream = hub.node.directMessages();
  one.node.sendDirect(hub.identity.nodeId, "for the hub only");
  await runUntil(clock, () => atHub.length === 1, "delivery");
  await runFor(clock, 500);
  assert.equal(atHub.length, 1);
  assert.equal(atHub[0].from, one.identity.nodeId);
  assert.equal(new TextDecoder().decode(atHub[0].data), "for the hub only");
  assert.equal(atTwo.length, 0, "never forwarded or gossiped to another node");
  for await (const message of stream) {
    assert.equal(message.from, one.identity.nodeId);
    break;
  }
  const types = hub.node.stats().byType;
  assert.equal(types.DIRECT_MESSAGE, undefined, "gossip never saw it");
  assert.equal(hub.node.stats().direct.received, 1);
  await stop();
});

Deno.test("sendDirect refuses a node that is not a peer (NOT_A_PEER), an older kith (PEER_UNSUPPORTED) and oversize data", async () => {
  const { clock, nodes, add, stop } = await star(); // 1 and 2 are not peers
  const [hub, one, two] = nodes;
  assert.throws(
    () => one.node.sendDirect(two.identity.nodeId, "x"),
    (e) => e instanceof DirectError && e.code === "NOT_A_PEER",
  );
  assert.throws(
    () => one.node.sendDirect(hub.identity.nodeId, new Uint8Array(65_537)),
    (e) => e instanceof DirectError && e.code === "TOO_LARGE",
  );
  // A node whose handshake agent lacks direct/1 (an older kith) is never sent direct traffic.
  assert.equal(supportsDirect(AGENT), true);
  assert.equal(supportsDirect("kith/0.1.0"), false);
  const old = await add();
  old.transport.agent = "kith/0.1.0"; // before its dial completes: the link opens on virtual time
  await runUntil(clock, () => hub.peers.activePeer(old.identity.nodeId) !== undefined, "an older kith's link");
  assert.equal(hub.peers.activePeer(old.identity.nodeId)!.connection.agent, "kith/0.1.0");
  assert.throws(
    () => hub.node.sendDirect(old.identity.nodeId, "x"),
    (e) => e instanceof DirectError && e.code === "PEER_UNSUPPORTED",
  );
  await stop();
});

Deno.test("direct traffic relayed from another origin, with a TTL, unsigned, oversize, malformed or badly signed costs the sender trust by code and is not delivered", async () => {
  const { clock, nodes, stop } = await star({ minTrustThreshold: 0 }); // count every penalty, disconnect nobody
  const [hub, one, two] = nodes;
  const atHub = inbox(hub);
  const causes = penalties(hub);
  const now = () => clock.now();
  const good = (identity: Identity, ttl = 0) =>
    createMessage(identity, MessageType.DIRECT_MESSAGE, { data: text("hi") }, { ttl, timestamp: now() });
  // two relays a message that one signed: direct traffic is never forwarded.
  sendRaw(two, hub, good(one.identity));
  sendRaw(one, hub, good(one.identity, 1));
  sendRaw(
    one,
    hub,
    forge(one.identity, MessageType.DIRECT_MESSAGE, encodePayload(MessageType.DIRECT_MESSAGE, { data: text("x") }), {
      unsigned: true,
      timestamp: now(),
    }),
  );
  sendRaw(one, hub, forge(one.identity, MessageType.DIRECT_MESSAGE, new Encoder().encode([42]), { timestamp: now() }));
  const forged = good(one.identity);
  sendRaw(one, hub, { ...forged, signature: forged.signature.map((b, i) => i === 0 ? b ^ 1 : b) });
  await runUntil(clock, () => causes.length === 5, "five penalties");
  const a = two.identity.nodeId.slice(0, 8);
  const b = one.identity.nodeId.slice(0, 8);
  assert.deepEqual(causes, [
    `${a} invalid_message:BAD_FIELD`,
    `${b} invalid_message:BAD_FIELD`,
    `${b} invalid_message:UNSIGNED`,
    `${b} invalid_message:BAD_FIELD`,
    `${b} invalid_message:BAD_SIGNATURE`,
  ]);
  assert.equal(atHub.length, 0);
  assert.equal(hub.node.stats().direct.invalid, 5);
  await stop();
});

Deno.test("a direct message over the receiver's maxDirectMessageBytes (its sender allows more) is dropped and counted, unpenalised", async () => {
  const { clock, nodes, stop } = await star({ minTrustThreshold: 0 });
  const [hub, one] = nodes;
  const atHub = inbox(hub);
  const causes = penalties(hub);
  const big = (n: number) =>
    createMessage(one.identity, MessageType.DIRECT_MESSAGE, { data: new Uint8Array(n) }, {
      ttl: 0,
      timestamp: clock.now(),
    });
  sendRaw(one, hub, big(70_000)); // over the limit with its framing: dropped before the signature check
  sendRaw(one, hub, big(65_537)); // over by one byte of data: dropped after it
  sendRaw(one, hub, big(10));
  await runUntil(clock, () => atHub.length === 1, "the small message");
  assert.equal(hub.node.stats().direct.oversized, 2);
  assert.deepEqual(causes, [], "no penalty");
  assert.equal(hub.node.stats().direct.invalid, 0);
  await stop();
});

Deno.test("a peer whose malformed direct messages take its trust below the threshold is disconnected at once (LOW_TRUST)", async () => {
  // No maintenance round in the test's time: only the penalty itself can close the link.
  const { clock, nodes, stop } = await star({ peerMaintenanceIntervalMs: 3_600_000 });
  const [hub, one] = nodes;
  const gone: NodeEvent[] = [];
  hub.node.events.addEventListener("peer-disconnected", (e) => gone.push((e as CustomEvent<NodeEvent>).detail));
  const bad = createMessage(one.identity, MessageType.DIRECT_MESSAGE, { data: text("x") }, {
    ttl: 3,
    timestamp: clock.now(),
  });
  for (let i = 0; i < 3; i++) sendRaw(one, hub, bad); // BAD_FIELD, -0.1 each: 0.5 -> 0.2
  await runUntil(clock, () => gone.length === 1, "the disconnect");
  const event = gone[0];
  assert.ok(event.type === "peer-disconnected");
  assert.deepEqual([event.nodeId, event.reason, event.by], [one.identity.nodeId, "LOW_TRUST", "local"]);
  await stop();
});

Deno.test("a peer over its direct-message rate is penalised RATE_LIMITED, and a node holds itself to the same rate", async () => {
  const { clock, nodes, stop } = await star();
  const [hub, one] = nodes;
  for (const n of nodes) assert.equal(n.node.stats().direct.sent, 0);
  const atHub = inbox(hub);
  const causes = penalties(hub);
  // The default burst is 100: the node refuses its own 101st at once.
  for (let i = 0; i < 100; i++) one.node.sendDirect(hub.identity.nodeId, `m${i}`);
  assert.throws(
    () => one.node.sendDirect(hub.identity.nodeId, "one too many"),
    (e) => e instanceof DirectError && e.code === "RATE_LIMITED",
  );
  await runUntil(clock, () => atHub.length === 100, "the burst delivered");
  assert.deepEqual(causes, [], "an honest burst costs nothing");
  // Sent past the sender's own bucket, the next one is over the hub's rate.
  sendRaw(
    one,
    hub,
    createMessage(one.identity, MessageType.DIRECT_MESSAGE, { data: text("x") }, { ttl: 0, timestamp: clock.now() }),
  );
  await runUntil(clock, () => causes.length === 1, "a penalty");
  assert.equal(causes[0], `${one.identity.nodeId.slice(0, 8)} invalid_message:RATE_LIMITED`);
  assert.equal(atHub.length, 100);
  await stop();
});

Deno.test("direct messages sent within the sender's rate but held up on the link and delivered together cost the honest sender at most one RATE_LIMITED penalty a second, not one per message", async () => {
  const { clock, network, nodes, stop } = await star({ peerMaintenanceIntervalMs: 3_600_000 });
  const [hub, one] = nodes;
  const causes = penalties(hub);
  const gone: NodeEvent[] = [];
  hub.node.events.addEventListener("peer-disconnected", (e) => gone.push((e as CustomEvent<NodeEvent>).detail));
  // A 3 s stall on the link (congestion, a lost segment retransmitted): TCP delivers what was sent in one go.
  network.blocked = () => true;
  let sent = 0;
  for (let step = 0; step < 300; step++) {
    try {
      one.node.sendDirect(hub.identity.nodeId, `m${step}`);
      sent++;
    } catch (error) {
      assert.ok(error instanceof DirectError && error.code === "RATE_LIMITED", String(error));
    }
    await runFor(clock, 10);
  }
  assert.ok(sent > 150, `the sender kept to its own rate and sent ${sent}`);
  network.heal();
  await runFor(clock, 500);
  assert.deepEqual(gone, [], "the honest sender keeps its link");
  assert.ok(causes.length <= 1, `${causes.length} penalties for one stall: ${causes.slice(0, 3).join(", ")}`);
  await stop();
});
