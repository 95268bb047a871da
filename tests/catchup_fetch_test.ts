/**
 * The catch-up fetcher on its own (lib/catchup/fetcher.ts, check.ts): what a fetched body must be before it
 * reaches the sink, the explicit path that takes logged messages older than live gossip's freshness rule, and
 * how unanswered ids are counted (skipped, not reached, timed out, asked of another claimant).
 */
import assert from "node:assert/strict";
import { bytesKey, toHex } from "../lib/bytes.ts";
import { CatchupFetcher, type CatchupSink, MemoryTopicLog, resolveCatchupConfig } from "../lib/catchup/mod.ts";
import { emptyCatchupStats } from "../lib/catchup/stats.ts";
import { ProtocolError } from "../lib/errors.ts";
import { Identity } from "../lib/identity.ts";
import {
  type CatchupFetchPayload,
  createMessage,
  type Envelope,
  type Message,
  MessageCodec,
  MessageType,
} from "../lib/protocol/mod.ts";

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const codec = new MessageCodec();
const origin = Identity.fromSecretKey(new Uint8Array(32).fill(7));

function message(topic: string, timestamp: number, text = "x"): Message {
  return createMessage(origin, MessageType.CUSTOM_DATA, { topic, data: new TextEncoder().encode(text) }, { timestamp });
}

/** A fetcher with a recording sink and transport, a 24-hour window and 1 KiB messages. */
function rig(config = {}) {
  const log = new MemoryTopicLog();
  const accepted: { envelope: Envelope; from: string }[] = [];
  const sink: CatchupSink = {
    accept(envelope, encoded, from) {
      accepted.push({ envelope, from });
      const m = envelope as Message;
      return log.append(
        { id: m.id, topic: "chat", timestamp: m.timestamp, origin: toHex(m.origin), envelope: encoded },
        NOW,
      );
    },
  };
  const sent: { peer: string; payload: CatchupFetchPayload }[] = [];
  const penalties: { peer: string; code: string }[] = [];
  const cut: string[] = [];
  const stats = emptyCatchupStats();
  const fetcher = new CatchupFetcher({
    config: resolveCatchupConfig(config),
    codec,
    log,
    sink,
    windowStart: (_topic, now) => now - 24 * HOUR,
    maxMessageBytes: () => 1_024,
    send: (peer, payload) => (sent.push({ peer, payload }), true),
    penalise: (peer, code) => penalties.push({ peer, code }),
    cutOff: (peer) => cut.push(peer),
    stats,
  });
  return { log, accepted, sent, penalties, cut, stats, fetcher };
}

function answer(r: ReturnType<typeof rig>, i: number, bodies: Message[], missing: Uint8Array[] = [], topic = "chat") {
  const { peer, payload } = r.sent[i];
  r.fetcher.receive(
    peer,
    { topic, requestId: payload.requestId, bodies: bodies.map((m) => codec.encode(m)), missing },
    NOW,
  );
}

Deno.test("a fetched message two hours old is taken by the log path, while live gossip's check refuses it as stale", () => {
  const old = message("chat", NOW - 2 * HOUR);
  assert.throws(
    () => codec.verify(codec.parse(codec.encode(old)), NOW),
    (e) => e instanceof ProtocolError && e.code === "STALE_TIMESTAMP",
  );
  const r = rig();
  r.fetcher.claim("peer-a", "chat", [old.id], NOW);
  assert.equal(r.sent.length, 1);
  assert.deepEqual(r.sent[0].payload.ids, [old.id]);
  answer(r, 0, [old]);
  assert.equal(r.stats.fetched, 1);
  assert.equal(r.accepted[0].from, "peer-a");
  assert.deepEqual(r.penalties, []);
  assert.equal(r.fetcher.wanted, 0);
});

Deno.test("a body is refused unless it is an asked id of the fetched topic within the window and signed by its origin", () => {
  const asked = message("chat", NOW - HOUR, "asked");
  const cases: { body: Message | Uint8Array; code: string; blamed: boolean }[] = [
    { body: message("chat", NOW - HOUR, "not asked"), code: "CATCHUP_UNSOLICITED", blamed: true },
    { body: message("chat", NOW - 25 * HOUR, "old"), code: "OUTSIDE_WINDOW", blamed: false },
    { body: message("chat", NOW + 60_000, "future"), code: "FUTURE_TIMESTAMP", blamed: true },
    { body: message("other", NOW - HOUR, "other topic"), code: "WRONG_TOPIC", blamed: true },
    { body: message("chat", NOW - HOUR, "y".repeat(2_000)), code: "PAYLOAD_TOO_LARGE", blamed: true },
  ];
  for (const { body, code, blamed } of cases) {
    const r = rig();
    const target = body instanceof Uint8Array ? asked : body;
    const claimed = code === "CATCHUP_UNSOLICITED" ? asked : target;
    r.fetcher.claim("peer-a", "chat", [claimed.id], NOW);
    r.fetcher.receive("peer-a", {
      topic: "chat",
      requestId: r.sent[0].payload.requestId,
      bodies: [codec.encode(target)],
      missing: [],
    }, NOW);
    assert.equal(r.accepted.length, 0, code);
    assert.equal(r.stats.refused, 1, code);
    assert.equal(r.penalties.some((p) => p.code === code), blamed, `${code}: ${JSON.stringify(r.penalties)}`);
  }
  // A forged signature: the id is the content's, the signature someone else's.
  const r = rig();
  const forged = { ...asked, signature: message("chat", NOW - HOUR, "other").signature };
  r.fetcher.claim("peer-a", "chat", [asked.id], NOW);
  answer(r, 0, [forged as Message]);
  assert.equal(r.accepted.length, 0);
  assert.ok(r.penalties.some((p) => p.code === "BAD_SIGNATURE"));
});

Deno.test("ids skipped before the last one answered are not served; ids after it were not reached and are asked again", () => {
  const r = rig();
  const m = [0, 1, 2, 3].map((i) => message("chat", NOW - HOUR + i, `m${i}`));
  r.fetcher.claim("peer-a", "chat", m.map((x) => x.id), NOW);
  const order = r.sent[0].payload.ids.map(bytesKey);
  const byKey = new Map(m.map((x) => [bytesKey(x.id), x]));
  // It serves the second id only: the first was skipped, the third and fourth not reached.
  answer(r, 0, [byKey.get(order[1])!]);
  assert.equal(r.stats.fetched, 1);
  assert.equal(r.stats.unserved, 1);
  assert.deepEqual(r.penalties.map((p) => p.code), ["CATCHUP_UNSERVED"]);
  assert.equal(r.sent.length, 2, "the rest asked again");
  assert.deepEqual(r.sent[1].payload.ids.map(bytesKey), [order[2], order[3]]);
});

Deno.test("a fetch left unanswered is asked of another peer that claimed the same ids, and the silent one is blamed", () => {
  const r = rig();
  const m = message("chat", NOW - HOUR);
  r.fetcher.claim("peer-a", "chat", [m.id], NOW);
  r.fetcher.claim("peer-b", "chat", [m.id], NOW);
  assert.equal(r.sent.length, 1, "one claimant asked at a time");
  const first = r.sent[0].peer;
  r.fetcher.expire(NOW + 5_000);
  assert.equal(r.sent.length, 2);
  assert.notEqual(r.sent[1].peer, first);
  assert.deepEqual(r.penalties, [{ peer: first, code: "CATCHUP_UNSERVED" }]);
  answer(r, 1, [m]);
  assert.equal(r.stats.fetched, 1);
});

Deno.test("ids in flight per peer are bounded, and a peer whose link drops is not blamed for what it was asked", () => {
  const r = rig({ maxInFlightIdsPerPeer: 300, fetchBatch: 200 });
  const ids = Array.from({ length: 1_000 }, (_, i) => message("chat", NOW - HOUR + i, `m${i}`).id);
  r.fetcher.claim("peer-a", "chat", ids, NOW);
  assert.equal(r.fetcher.inFlight, 300);
  assert.deepEqual(r.sent.map((s) => s.payload.ids.length), [200, 100]);
  r.fetcher.peerDisconnected("peer-a", NOW);
  assert.equal(r.fetcher.inFlight, 0);
  assert.equal(r.fetcher.wanted, 0, "no one else claimed them");
  assert.deepEqual(r.penalties, []);
});
