/**
 * Hostile catch-up peers against a KithNode on the simulated network: a peer that claims ids it never serves
 * is cut off within the bounds; reconciliation that never converges is ended and penalised; what a peer can
 * make a node do is bounded (sessions, rounds, ids asked); a peer that says retention dropped a few ids is not
 * blamed; and an older kith is sent no catch-up message at all.
 */
import assert from "node:assert/strict";
import { randomBytes } from "../lib/random.ts";
import {
  type CatchupRangeFields,
  type CatchupReconcilePayload,
  createLinkMessage,
  type Envelope,
  MessageCodec,
  MessageType,
} from "../lib/protocol/mod.ts";
import type { SimNode } from "../lib/sim/node.ts";
import { penalties, type RawPeer, TopicLab } from "./_topic_lab.ts";

const TOPIC = "chat";
const codec = new MessageCodec();

function reconcile(raw: RawPeer, payload: Partial<CatchupReconcilePayload>): void {
  const full: CatchupReconcilePayload = {
    topic: TOPIC,
    session: 1,
    reply: false,
    since: 0,
    ranges: [],
    have: [],
    ...payload,
  };
  raw.connection.send(
    createLinkMessage(raw.identity, MessageType.CATCHUP_RECONCILE, full, { timestamp: raw.timestamp() }),
  );
}

function decoded(raw: RawPeer, type: MessageType, from = 0) {
  return raw.received.slice(from).filter((e: Envelope) => e.type === type).map((e) =>
    codec.verify(e, raw.clock.now(), { linkPeer: raw.connection.remoteNodeId })
  );
}

/** Ranges that list `ids` as the sender's, 64 a range, the last one reaching the end of the order. */
function idRanges(ids: Uint8Array[]): CatchupRangeFields[] {
  const ranges: CatchupRangeFields[] = [];
  for (let i = 0; i < ids.length; i += 64) {
    const last = i + 64 >= ids.length;
    ranges.push({ timestamp: last ? 0 : 2, id: new Uint8Array(0), mode: 2, value: ids.slice(i, i + 64) });
  }
  return ranges;
}

function fakeIds(lab: TopicLab, n: number): Uint8Array[] {
  return Array.from({ length: n }, () => randomBytes(lab.random, 32));
}

async function victim(lab: TopicLab): Promise<SimNode> {
  const node = await lab.add();
  node.node.subscribe(TOPIC);
  return node;
}

async function member(lab: TopicLab, node: SimNode, agent?: string): Promise<RawPeer> {
  const raw = await lab.rawPeer(node, agent);
  raw.subscriptions({ full: true, join: [TOPIC] });
  await lab.run(200);
  return raw;
}

Deno.test("a peer that claims ids and never serves them is asked for a bounded number and then cut off", async () => {
  const lab = new TopicLab(31);
  const node = await victim(lab);
  const raw = await member(lab, node);
  // 4,096 ids it says it holds and this node lacks; it answers no fetch.
  reconcile(raw, { session: 7, ranges: idRanges(fakeIds(lab, 4_096)) });
  await lab.runUntil(() => !raw.connection.isOpen, "the liar cut off", 30_000);
  const stats = node.node.stats().catchup;
  assert.equal(stats.cutOff, 1);
  assert.ok(penalties(node, raw.nodeId, "CATCHUP_UNSERVED") >= 1);
  const asked = decoded(raw, MessageType.CATCHUP_FETCH)
    .reduce((n, m) => n + (m.type === MessageType.CATCHUP_FETCH ? m.payload.ids.length : 0), 0);
  const { maxUnservedIds, maxInFlightIdsPerPeer } = node.node.components.catchup.config;
  assert.ok(asked > 0 && asked <= maxUnservedIds + maxInFlightIdsPerPeer, `asked ${asked} ids`);
  assert.equal(node.node.components.catchup.progress.wanted, 0, "nothing it claimed is still wanted");
  await lab.stop();
});

Deno.test("a peer that answers every fetch with 'no longer held' is blamed only past its allowance", async () => {
  const lab = new TopicLab(32);
  const node = await victim(lab);
  const raw = await member(lab, node);
  const answerMissing = () => {
    for (const message of decoded(raw, MessageType.CATCHUP_FETCH)) {
      if (message.type !== MessageType.CATCHUP_FETCH) continue;
      const { topic, requestId, ids } = message.payload;
      raw.connection.send(createLinkMessage(raw.identity, MessageType.CATCHUP_BODIES, {
        topic,
        requestId,
        bodies: [],
        missing: ids,
      }, { timestamp: raw.timestamp() }));
    }
    raw.received.length = 0;
  };
  // A few lost ids, as retention may drop between a reconciliation and its fetch: no blame.
  reconcile(raw, { session: 1, ranges: idRanges(fakeIds(lab, 20)) });
  await lab.run(100);
  answerMissing();
  await lab.run(500);
  assert.equal(penalties(node, raw.nodeId, "CATCHUP_UNSERVED"), 0);
  assert.equal(node.node.stats().catchup.lost, 20);
  // Thousands of them: past the allowance they count as not served.
  reconcile(raw, { session: 2, ranges: idRanges(fakeIds(lab, 4_096)) });
  for (let i = 0; i < 50 && raw.connection.isOpen; i++) {
    await lab.run(100);
    answerMissing();
  }
  assert.ok(penalties(node, raw.nodeId, "CATCHUP_UNSERVED") >= 1);
  assert.equal(raw.connection.isOpen, false, "cut off");
  await lab.stop();
});

Deno.test("reconciliation that never converges is ended after maxRounds and penalised, and a peer's sessions are bounded", async () => {
  const lab = new TopicLab(33);
  const node = await victim(lab);
  for (let i = 0; i < 40; i++) node.node.broadcast(`m ${i}`, { topic: TOPIC });
  await lab.run(100);
  const raw = await member(lab, node);
  const { maxRounds, sessionsPerMinute } = node.node.components.catchup.config;
  // Each message reopens the whole order with a fingerprint that matches nothing, on three sessions at once.
  let sent = 0;
  for (let round = 0; round < 80; round++) {
    for (let session = 0; session < 3; session++) {
      reconcile(raw, {
        session,
        ranges: [{ timestamp: 0, id: new Uint8Array(0), mode: 1, value: randomBytes(lab.random, 16) }],
      });
      sent++;
    }
    await lab.run(50);
  }
  const stats = node.node.stats().catchup;
  assert.ok(stats.sessionsDiverged >= 1, "a session was ended");
  assert.ok(penalties(node, raw.nodeId, "CATCHUP_DIVERGED") >= 1);
  // Every session it opened was ended within maxRounds: the node answered at most that many per session.
  const answered = decoded(raw, MessageType.CATCHUP_RECONCILE)
    .filter((m) => m.type === MessageType.CATCHUP_RECONCILE && m.payload.reply).length;
  assert.ok(stats.sessionsAnswered <= 2 * sessionsPerMinute, `${stats.sessionsAnswered} sessions`);
  assert.ok(answered <= stats.sessionsAnswered * maxRounds, `${answered} answers to ${sent} messages`);
  await lab.stop();
});

Deno.test("an older kith (no catchup/1) is sent no catch-up message, and one it sends costs it as an unknown type", async () => {
  const lab = new TopicLab(34);
  const node = await victim(lab);
  node.node.broadcast("held", { topic: TOPIC });
  const raw = await member(lab, node, "kith/0.0.9 direct/1 topics/1");
  node.node.components.catchup.reconcileNow(raw.nodeId, TOPIC);
  await lab.run(2_000);
  assert.equal(raw.received.filter((e) => e.type >= 19 && e.type <= 21).length, 0);
  reconcile(raw, { session: 3, ranges: idRanges(fakeIds(lab, 1)) });
  await lab.run(200);
  assert.equal(penalties(node, raw.nodeId, "UNKNOWN_TYPE"), 1);
  assert.equal(node.node.stats().catchup.sessionsAnswered, 0);
  await lab.stop();
});

/** A session's opening that lists nothing over the whole order: the victim finds the peer lacks everything. */
const EMPTY_LIST: CatchupRangeFields[] = [{ timestamp: 0, id: new Uint8Array(0), mode: 2, value: [] }];

/** Ids the victim sent `raw` in `have`, over every CATCHUP_RECONCILE since `from`. */
function haveIds(raw: RawPeer, from = 0): Uint8Array[] {
  return decoded(raw, MessageType.CATCHUP_RECONCILE, from).flatMap((m) =>
    m.type === MessageType.CATCHUP_RECONCILE ? m.payload.have : []
  );
}

Deno.test("a peer that lists no ids and fetches none is sent at most its allowance of ids a minute; fetching what it is told of gives the allowance back", async () => {
  const lab = new TopicLab(35);
  const catchup = { maxHaveIdsPerSession: 100, haveIdsPerMinute: 100 };
  const node = await lab.add({}, { catchup });
  node.node.subscribe(TOPIC);
  for (let i = 0; i < 400; i++) node.node.broadcast(`held ${i}`, { topic: TOPIC });
  await lab.run(500);
  const raw = await member(lab, node);
  // One session every 5 s for a minute, each listing nothing, none of what it is told of fetched.
  for (let i = 0; i < 12; i++) {
    reconcile(raw, { session: 100 + i, ranges: EMPTY_LIST });
    await lab.run(5_000);
  }
  const idle = haveIds(raw).length;
  assert.ok(idle >= 100 && idle <= 100 + 100 * 65 / 60, `sent ${idle} ids in have over a minute`);
  assert.ok(node.node.stats().catchup.haveWithheld > 0);
  // Spent: a session now is told only what the allowance refilled since the last one (5 s: about 8 ids).
  let from = raw.received.length;
  reconcile(raw, { session: 200, ranges: EMPTY_LIST });
  await lab.run(1_000);
  const told = haveIds(raw, from);
  assert.ok(told.length <= 100 * 6 / 60 + 1, `told ${told.length} ids on a spent allowance`);
  // Fetching what it was told of gives the allowance back as it is served: the next session is told 100 again.
  const ids = haveIds(raw).slice(0, 100);
  raw.connection.send(createLinkMessage(raw.identity, MessageType.CATCHUP_FETCH, {
    topic: TOPIC,
    requestId: 1,
    ids,
  }, { timestamp: raw.timestamp() }));
  await lab.run(1_000);
  assert.equal(node.node.stats().catchup.served, 100);
  from = raw.received.length;
  reconcile(raw, { session: 201, ranges: EMPTY_LIST });
  await lab.run(1_000);
  assert.equal(haveIds(raw, from).length, 100, "a peer that fetches what it is told of is not held back");
  await lab.stop();
});
