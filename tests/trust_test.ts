import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { ConfigError } from "../lib/errors.ts";
import { seededRandom } from "../lib/random.ts";
import { MemoryStorage, SqliteStorage, type Storage } from "../lib/storage/mod.ts";
import {
  DEFAULT_PENALTIES,
  DEFAULT_TRUST_CONFIG,
  type PeerTrustState,
  type ReputationBreakdown,
  resolveTrustConfig,
  type TrustConfig,
  TrustManager,
} from "../lib/trust.ts";

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;
const close = (actual: number, expected: number, what = "") =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what} expected ${expected}, got ${actual}`);

function setup(config: Partial<TrustConfig> = {}, storage?: Storage) {
  const clock = new ManualClock(T0);
  const store = storage ?? new MemoryStorage({ clock, pruneIntervalMs: 0 });
  return { clock, storage: store, trust: new TrustManager({ storage: store, clock, config, localNodeId: "me" }) };
}

/** Puts a peer at an exact trust through storage, as a restart would. */
function seed(storage: Storage, nodeId: string, trustScore: number, at = T0) {
  storage.savePeer({
    nodeId,
    address: "",
    publicKey: null,
    firstSeen: at,
    lastSeen: at,
    trustScore,
    trustUpdatedAt: at,
    validCount: 0,
    invalidCount: 0,
    timeoutCount: 0,
    failures: 0,
  });
}

Deno.test("the design's defaults: initial 0.5, +0.001, -0.1, -0.05, decay 0.01", () => {
  assert.equal(DEFAULT_TRUST_CONFIG.initialTrust, 0.5);
  assert.equal(DEFAULT_TRUST_CONFIG.validMessageDelta, 0.001);
  assert.equal(DEFAULT_TRUST_CONFIG.invalidMessagePenalty, 0.1);
  assert.equal(DEFAULT_TRUST_CONFIG.timeoutPenalty, 0.05);
  assert.equal(DEFAULT_TRUST_CONFIG.decayRate, 0.01);
  assert.equal(DEFAULT_TRUST_CONFIG.recommendationWeight, 0.1);
});

Deno.test("from 0.5, 100 valid messages give 0.6", () => {
  const { trust } = setup();
  assert.equal(trust.trust("a"), 0.5);
  for (let i = 0; i < 100; i++) trust.recordValid("a");
  close(trust.trust("a"), 0.6);
});

Deno.test("one invalid message takes 0.1; a timeout takes 0.05", () => {
  const { trust } = setup();
  trust.recordInvalid("a");
  close(trust.trust("a"), 0.4);
  trust.recordInvalid("b", "MALFORMED");
  close(trust.trust("b"), 0.4);
  trust.recordTimeout("c");
  close(trust.trust("c"), 0.45);
});

Deno.test("penalties depend on the code: a forged signature costs more than a stale timestamp", () => {
  const { trust } = setup();
  trust.recordInvalid("forger", "BAD_SIGNATURE");
  trust.recordInvalid("skewed", "STALE_TIMESTAMP");
  close(trust.trust("forger"), 0.5 - DEFAULT_PENALTIES.BAD_SIGNATURE);
  close(trust.trust("skewed"), 0.5 - DEFAULT_PENALTIES.STALE_TIMESTAMP);
  assert.ok(trust.trust("forger") < trust.trust("skewed"));
  assert.equal(trust.penaltyFor("SOMETHING_NEW"), 0.1);
});

Deno.test("a decay step with rate 0.01 moves 1% of the distance to initial, one step per interval", () => {
  const { trust, clock, storage } = setup();
  seed(storage, "low", 0.1);
  seed(storage, "high", 0.9);
  clock.advance(MINUTE - 1);
  close(trust.trust("low"), 0.1, "before the interval ends");
  clock.advance(1);
  close(trust.trust("low"), 0.1 + 0.4 * 0.01);
  close(trust.trust("high"), 0.9 - 0.4 * 0.01);
  clock.advance(10 * MINUTE);
  let expected = 0.104;
  for (let i = 0; i < 10; i++) expected += (0.5 - expected) * 0.01;
  close(trust.trust("low"), expected, "ten more steps");
});

Deno.test("a recommendation of 0.8 from a recommender at 0.7 adds 0.056 to the recommended part, not to trust", () => {
  const { trust, storage } = setup();
  seed(storage, "recommender", 0.7);
  const applied = trust.recordRecommendation("recommender", "subject", 0.8);
  close(applied, 0.056);
  close(trust.recommended("subject"), 0.056);
  assert.equal(trust.trust("subject"), 0.5, "earned trust comes only from this node's own observations");
  close(trust.reputation("subject"), 0.5, "the reputation reads earned trust only");
});

Deno.test("a recommendation never makes a recommender: a chain of recommended identities stops at its first link", () => {
  const { trust, storage } = setup();
  seed(storage, "s1", 0.7); // earned its trust here
  const chain = ["s1", "s2", "s3", "s4"];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i + 1 < chain.length; i++) trust.recordRecommendation(chain[i], chain[i + 1], 1);
  }
  assert.ok(trust.recommended("s2") > 0, "s1 earned the right to recommend");
  assert.equal(trust.canRecommend("s2"), false);
  assert.equal(trust.recommended("s3"), 0, "s2 was only recommended, so it recommends nothing");
  assert.equal(trust.recommended("s4"), 0);
  const fresh = Array.from({ length: 50 }, (_, i) => `fresh-${i}`);
  for (const id of fresh) trust.recordRecommendation("s4", id, 1);
  for (const id of fresh) {
    assert.equal(trust.recommended(id), 0);
    assert.equal(trust.reputation(id), trust.reputation("honest-stranger"));
  }
});

Deno.test("recommended ids get no stored row and no trust event; the recommended part is capped and decays to 0", () => {
  const { trust, storage, clock } = setup();
  for (let i = 0; i < 3; i++) seed(storage, `r${i}`, 1);
  for (let i = 0; i < 3; i++) trust.recordRecommendation(`r${i}`, "s", 1);
  close(trust.recommended("s"), DEFAULT_TRUST_CONFIG.recommendationWeight, "capped at one full recommendation");
  assert.equal(storage.getPeer("s"), undefined, "hearsay creates no peers row");
  assert.equal(storage.listTrustEvents("s", { limit: 10 }).length, 0);
  clock.advance(MINUTE);
  close(trust.recommended("s"), DEFAULT_TRUST_CONFIG.recommendationWeight * 0.99, "one decay step towards 0");
  const small = setup({ maxTrackedPeers: 5 });
  seed(small.storage, "r", 1);
  for (let i = 0; i < 20; i++) small.trust.recordRecommendation("r", `id-${i}`, 1);
  assert.equal(small.trust.trackedRecommended, 5);
});

Deno.test("a stranger recommends nothing even when strangers start above the recommender bar", () => {
  const { trust, storage } = setup({ initialTrust: 0.6 });
  assert.equal(trust.recordRecommendation("stranger", "s", 1), 0);
  seed(storage, "earned", 0.65);
  assert.ok(trust.recordRecommendation("earned", "s", 1) > 0);
});

Deno.test("a recommender under the threshold, or a fresh identity, has no effect", () => {
  const { trust, storage } = setup();
  seed(storage, "distrusted", 0.2);
  assert.equal(trust.recordRecommendation("distrusted", "subject", 1), 0);
  assert.equal(trust.recordRecommendation("newcomer", "subject", 1), 0); // at initial 0.5 < 0.55
  assert.equal(trust.trust("subject"), 0.5);
});

Deno.test("one recommender boosts a peer at most once per decay interval", () => {
  const { trust, storage, clock } = setup();
  seed(storage, "r", 0.9);
  assert.ok(trust.recordRecommendation("r", "s", 0.5) > 0);
  assert.equal(trust.recordRecommendation("r", "s", 0.5), 0);
  clock.advance(MINUTE);
  assert.ok(trust.recordRecommendation("r", "s", 0.5) > 0);
});

Deno.test("self-recommendations, recommendations of this node, and out-of-range values are ignored", () => {
  const { trust, storage } = setup();
  seed(storage, "r", 0.9);
  assert.equal(trust.recordRecommendation("r", "r", 1), 0);
  assert.equal(trust.recordRecommendation("r", "me", 1), 0);
  assert.equal(trust.recordRecommendation("r", "s", 1.5), 0);
  assert.equal(trust.recordRecommendation("r", "s", Number.NaN), 0);
});

Deno.test("a ring of Sybil identities cannot pump each other", () => {
  const { trust, storage, clock } = setup();
  const ring = Array.from({ length: 20 }, (_, i) => `sybil-${i}`);
  // Fresh identities: no recommendation counts at all.
  for (const a of ring) for (const b of ring) trust.recordRecommendation(a, b, 1);
  for (const s of ring) assert.equal(trust.trust(s), 0.5);
  // Even identities that earned some trust gain at most the per-interval cap, never above themselves.
  for (const s of ring) seed(storage, s, 0.6, clock.now());
  const fresh = setup({}, storage); // reload them from storage
  for (let round = 0; round < 5; round++) {
    for (const a of ring) for (const b of ring) fresh.trust.recordRecommendation(a, b, 1);
    fresh.clock.advance(MINUTE);
  }
  for (const s of ring) {
    assert.ok(fresh.trust.trust(s) <= 0.6 + 1e-9, `${s} was pumped to ${fresh.trust.trust(s)}`);
  }
});

Deno.test("recommendations together add at most the per-interval cap to one peer", () => {
  const { trust, storage } = setup();
  for (let i = 0; i < 10; i++) seed(storage, `r${i}`, 1);
  let total = 0;
  for (let i = 0; i < 10; i++) total += trust.recordRecommendation(`r${i}`, "s", 1);
  close(total, DEFAULT_TRUST_CONFIG.maxRecommendationBoostPerInterval);
  close(trust.recommended("s"), DEFAULT_TRUST_CONFIG.maxRecommendationBoostPerInterval);
  assert.equal(trust.trust("s"), 0.5);
});

Deno.test("property: trust and reputation never leave [0, 1] under random events and time", () => {
  const random = seededRandom(3);
  const { trust, storage, clock } = setup({ decayRate: 0.3 });
  const peers = Array.from({ length: 12 }, (_, i) => `p${i}`);
  seed(storage, "p0", 1);
  seed(storage, "p1", 0);
  const codes = [...Object.keys(DEFAULT_PENALTIES), undefined];
  for (let i = 0; i < 5000; i++) {
    const p = peers[Math.floor(random() * peers.length)];
    switch (Math.floor(random() * 5)) {
      case 0:
        for (let k = 0; k < 50; k++) trust.recordValid(p);
        break;
      case 1:
        trust.recordInvalid(p, codes[Math.floor(random() * codes.length)]);
        break;
      case 2:
        trust.recordTimeout(p);
        break;
      case 3:
        trust.recordRecommendation(peers[Math.floor(random() * peers.length)], p, random());
        break;
      default:
        clock.advance(Math.floor(random() * 3 * MINUTE));
    }
    const t = trust.trust(p), r = trust.reputation(p);
    assert.ok(t >= 0 && t <= 1, `trust ${t}`);
    assert.ok(r >= 0 && r <= 1, `reputation ${r}`);
  }
});

Deno.test("property: repeated decay converges to initial from anywhere", () => {
  for (const start of [0, 0.1, 0.3, 0.5, 0.77, 1]) {
    const { trust, storage, clock } = setup();
    seed(storage, "p", start);
    let previous = Math.abs(start - 0.5);
    for (let i = 0; i < 50; i++) {
      clock.advance(20 * MINUTE);
      const distance = Math.abs(trust.trust("p") - 0.5);
      assert.ok(distance <= previous, "distance to initial never grows");
      previous = distance;
    }
    assert.ok(previous < 1e-4, `from ${start}, still ${previous} away after 1000 steps`);
  }
});

Deno.test("below the threshold a peer is to be disconnected and not redialed until decay brings it back", () => {
  const { trust, clock } = setup();
  trust.recordInvalid("p", "BAD_SIGNATURE");
  assert.equal(trust.shouldDisconnect("p"), false); // 0.3: at the threshold, not below
  trust.recordInvalid("p", "MALFORMED");
  assert.equal(trust.shouldDisconnect("p"), true); // 0.2
  assert.equal(trust.canDial("p"), false);
  // 0.2 -> 0.3 needs (0.99)^n <= 2/3: n = 41 steps.
  clock.advance(40 * MINUTE);
  assert.equal(trust.canDial("p"), false);
  clock.advance(MINUTE);
  assert.equal(trust.canDial("p"), true);
});

Deno.test("reputation = trust x 0.6 + trend x 0.2 + stats x 0.2, and eviction orders lowest first", () => {
  const { trust, clock } = setup();
  close(trust.reputation("new"), 0.5, "a new peer");
  for (let i = 0; i < 100; i++) trust.recordValid("good");
  trust.recordInvalid("bad");
  clock.advance(DEFAULT_TRUST_CONFIG.trendWindowMs);
  const good = trust.explain("good");
  close(good.reputation, good.trust * 0.6 + good.trend * 0.2 + good.stats * 0.2);
  close(good.stats, 101 / 102);
  assert.ok(good.trend > 0.5, "trust rose over the window");
  const bad = trust.explain("bad");
  close(bad.stats, 1 / 12);
  assert.ok(bad.trend < 0.5);
  assert.deepEqual(trust.evictionOrder(["good", "new", "bad"]), ["bad", "new", "good"]);
});

Deno.test("every change is recorded as a trust event that explains the score", () => {
  const { trust, clock } = setup();
  trust.recordValid("p");
  trust.recordInvalid("p", "BAD_ID");
  trust.recordTimeout("p");
  clock.advance(MINUTE);
  const events = trust.explain("p").events;
  assert.deepEqual(events.map((e) => e.eventType), ["decay", "timeout", "invalid_message:BAD_ID", "valid_message"]);
  close(events[1].trustDelta, -0.05);
  close(events[0].trustAfter, trust.trust("p"));
});

Deno.test("scores, counters and decay time survive a restart", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const clock = new ManualClock(T0);
    const path = `${dir}/kith.db`;
    const first = new SqliteStorage(path, { clock, pruneIntervalMs: 0 });
    const before = new TrustManager({ storage: first, clock });
    before.recordInvalid("p", "BAD_SIGNATURE");
    for (let i = 0; i < 10; i++) before.recordValid("p");
    const trustBefore = before.trust("p");
    first.close();
    clock.advance(30_000); // half an interval passes while the node is down
    const second = new SqliteStorage(path, { clock, pruneIntervalMs: 0 });
    const after = new TrustManager({ storage: second, clock });
    close(after.trust("p"), trustBefore);
    clock.advance(30_000); // the interval completes: exactly one decay step
    close(after.trust("p"), trustBefore + (0.5 - trustBefore) * 0.01);
    close(after.explain("p").stats, 11 / (12 + 10));
    second.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("memory holds at most maxTrackedPeers; an evicted punished peer keeps its score", () => {
  const { trust } = setup({ maxTrackedPeers: 10 });
  trust.recordInvalid("villain", "BAD_SIGNATURE");
  for (let i = 0; i < 100; i++) trust.recordValid(`sybil-${i}`);
  assert.equal(trust.trackedPeers, 10);
  close(trust.trust("villain"), 0.3);
});

Deno.test("an application can replace the reputation metric by subclassing", () => {
  class StatsOnly extends TrustManager {
    protected override computeReputation(state: PeerTrustState): ReputationBreakdown {
      const base = super.computeReputation(state);
      return { ...base, reputation: state.timeoutCount === 0 ? 1 : 0 };
    }
  }
  const clock = new ManualClock(T0);
  const custom = new StatsOnly({ storage: new MemoryStorage({ clock, pruneIntervalMs: 0 }), clock });
  custom.recordTimeout("flaky");
  custom.recordInvalid("liar");
  assert.equal(custom.reputation("liar"), 1);
  assert.deepEqual(custom.evictionOrder(["liar", "flaky"]), ["flaky", "liar"]);
});

Deno.test("an invalid trust setting is refused with the key's name", () => {
  assert.throws(
    () => resolveTrustConfig({ decayRate: 2 }),
    (e: unknown) => e instanceof ConfigError && e.key === "trust.decayRate",
  );
  assert.throws(
    () => resolveTrustConfig({ decayIntervalMs: 0 }),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith("trust.decayIntervalMs"),
  );
  assert.throws(
    () => resolveTrustConfig({ penaltiesByCode: { BAD_SIGNATURE: -1 } }),
    (e: unknown) => e instanceof ConfigError && e.key === "trust.penaltiesByCode.BAD_SIGNATURE",
  );
});

Deno.test("with a threshold above initial trust (high security), strangers stay on probation until they lose trust", () => {
  const { trust, clock } = setup({ initialTrust: 0.3, minTrustThreshold: 0.5, decayRate: 0.02 });
  assert.equal(trust.shouldDisconnect("stranger"), false);
  assert.ok(Math.abs(trust.disconnectThreshold - 0.29) < 1e-12);
  trust.recordInvalid("stranger", "MALFORMED"); // 0.2
  assert.equal(trust.shouldDisconnect("stranger"), true);
  // Decay toward 0.3 lifts it past 0.29 in finite time: 0.3 - 0.1 x 0.98^n >= 0.29 at n = 114.
  clock.advance(113 * MINUTE);
  assert.equal(trust.canDial("stranger"), false);
  clock.advance(MINUTE);
  assert.equal(trust.canDial("stranger"), true);
});

Deno.test("volume cannot buy trust: valid messages are credited at most maxValidCreditsPerInterval per interval", () => {
  const { trust, clock } = setup();
  for (let i = 0; i < 1_000; i++) trust.recordValid("loud");
  close(trust.trust("loud"), 0.6, "100 credited, 900 not");
  assert.equal(trust.explain("loud").stats, 1_001 / 1_002, "every valid message still counts in the stats");
  clock.advance(MINUTE);
  trust.recordValid("loud");
  assert.ok(trust.trust("loud") > 0.599, "a new interval credits again");
});
