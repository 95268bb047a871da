/**
 * The topic finder's own rules (lib/topics/finder.ts), over a manual clock and recording stand-ins for its
 * sources and topic slots: when a topic is searched, how often, how many questions and dials a search makes,
 * and which topic links it releases.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { SPARE_TOPIC_PEERS, TOPIC_LINK_GRACE_MS, TopicFinder, type TopicPeerCandidate } from "../lib/topics/mod.ts";

const INTERVAL_MS = 5_000;

/** A finder over a source answering `answer` to each question (undefined: no one to ask) and recorded slots. */
function setup(
  answer: () => TopicPeerCandidate[] | undefined,
  options: { slots?: number; minTopicPeers?: number } = {},
) {
  const clock = new ManualClock(1_000_000);
  const questions: string[] = [];
  const dials: string[] = [];
  const links: { nodeId: string; since: number }[] = [];
  const released: string[] = [];
  const joined = new Set<string>();
  const members = new Map<string, string[]>();
  const finder = new TopicFinder({
    config: {
      minTopicPeers: options.minTopicPeers ?? 2,
      topicSearchIntervalMs: INTERVAL_MS,
      topicSearchPeers: 3,
      topicFanoutTtlMs: 60_000,
    },
    clock,
    log: () => {},
    sources: [{
      name: "test",
      find: (topic) => {
        const found = answer();
        if (found === undefined) return undefined;
        questions.push(topic);
        return Promise.resolve(found);
      },
    }],
    links: {
      dialTopicPeer: (nodeId) => {
        // As the peer manager's: no dial to a peer already linked, none beyond the slots.
        if (links.length >= (options.slots ?? 2) || links.some((l) => l.nodeId === nodeId)) return false;
        dials.push(nodeId);
        links.push({ nodeId, since: clock.now() });
        return true;
      },
      topicLinks: () => links,
      releaseTopicLink: (nodeId) => {
        released.push(nodeId);
        links.splice(links.findIndex((l) => l.nodeId === nodeId), 1);
      },
    },
    joined: () => [...joined],
    peersIn: (topic) => members.get(topic) ?? [],
    roundMs: 1_000,
    maxTopics: 64,
    topicSlots: options.slots ?? 2,
  });
  finder.start();
  const settle = async () => {
    for (let i = 0; i < 4; i++) await Promise.resolve();
  };
  return { clock, finder, questions, dials, links, released, joined, members, settle };
}

const candidates = (...ids: string[]) => ids.map((nodeId) => ({ nodeId, address: "127.0.0.1:1" }));

Deno.test("a topic is searched when joined, with topicSearchPeers questions, and at most once per interval", async () => {
  const t = setup(() => []);
  t.joined.add("t");
  t.finder.want("t");
  assert.deepEqual(t.questions, ["t", "t", "t"], "three questions at once");
  t.finder.want("t");
  t.clock.advance(INTERVAL_MS - 1);
  assert.equal(t.questions.length, 3, "not again within the interval");
  await t.settle();
  t.finder.stop();
});

/** The times (virtual ms) at which `t` searched over `ms`, stepping a second at a time. */
async function searchTimes(t: ReturnType<typeof setup>, ms: number, onStep = () => {}): Promise<number[]> {
  const at: number[] = [];
  for (let i = 0; i < ms / 1_000; i++) {
    const before = t.questions.length;
    t.clock.advance(1_000);
    await t.settle();
    onStep();
    if (t.questions.length > before) at.push(t.clock.now());
  }
  return at;
}

const gapsOf = (times: number[]) => times.slice(1).map((at, i) => at - times[i]);

Deno.test("a search that finds no one doubles the interval, up to 16 times it; a dialed peer joining the topic resets it", async () => {
  let answer: TopicPeerCandidate[] = [];
  const t = setup(() => answer, { minTopicPeers: 1 });
  t.joined.add("t");
  t.finder.want("t");
  const searchesAt = [t.clock.now(), ...await searchTimes(t, 240_000)];
  assert.deepEqual(gapsOf(searchesAt).slice(0, 6), [5_000, 10_000, 20_000, 40_000, 80_000, 80_000]);
  answer = candidates("new");
  t.clock.advance(80_000);
  await t.settle();
  assert.deepEqual(t.dials, ["new"]);
  t.members.set("t", ["new"]); // its subscriptions arrived; then it leaves again
  t.clock.advance(1_000);
  t.members.set("t", []);
  const after = t.questions.length;
  t.clock.advance(INTERVAL_MS);
  await t.settle();
  assert.ok(t.questions.length > after, "back to the base interval");
  t.finder.stop();
});

Deno.test("a search does not back off before it asked each of a source's answerers once (its reach)", async () => {
  const t = setup(() => []);
  const asked: string[] = [];
  const finder = new TopicFinder({
    config: { minTopicPeers: 2, topicSearchIntervalMs: INTERVAL_MS, topicSearchPeers: 3, topicFanoutTtlMs: 60_000 },
    clock: t.clock,
    log: () => {},
    // Six peers to ask, three a search: two searches a round over them.
    sources: [{ name: "peers", reach: () => 6, find: (topic) => (asked.push(topic), Promise.resolve([])) }],
    links: { dialTopicPeer: () => false, topicLinks: () => [], releaseTopicLink: () => {} },
    joined: () => ["t"],
    peersIn: () => [],
    roundMs: 1_000,
    maxTopics: 64,
    topicSlots: 2,
  });
  finder.start();
  finder.want("t");
  const searchesAt = [t.clock.now()];
  for (let i = 0; i < 200; i++) {
    const before = asked.length;
    t.clock.advance(1_000);
    await t.settle();
    if (asked.length > before) searchesAt.push(t.clock.now());
  }
  assert.deepEqual(gapsOf(searchesAt).slice(0, 6), [5_000, 5_000, 10_000, 10_000, 20_000, 20_000]);
  finder.stop();
  t.finder.stop();
});

Deno.test("answers naming peers that never join the topic (a Sybil's) do not hold the search at its fastest", async () => {
  let fake = 0;
  // Every answer names two peers never named before; the dials go out, but no one ever joins the topic.
  const t = setup(() => candidates(`fake${++fake}`, `fake${++fake}`), { slots: 64 });
  t.joined.add("t");
  t.finder.want("t");
  const searchesAt = [t.clock.now(), ...await searchTimes(t, 240_000)];
  assert.deepEqual(gapsOf(searchesAt).slice(0, 5), [5_000, 10_000, 20_000, 40_000, 80_000]);
  // Each search's answers dial at most what the topic lacks of minTopicPeers (2) and the spare, whatever they name.
  const most = (2 + SPARE_TOPIC_PEERS) * searchesAt.length;
  assert.ok(t.dials.length <= most, `${t.dials.length} dials in ${searchesAt.length} searches`);
  assert.ok(t.finder.stats.candidates >= 6 * searchesAt.length, "every answer was full of names");
  t.finder.stop();
});

Deno.test("a search dials as many candidates as the topic lacks of minTopicPeers, then one more, skipping its members", async () => {
  const t = setup(() => candidates("m1", "a", "b", "c"), { slots: 4 });
  t.joined.add("t");
  t.members.set("t", ["m1"]);
  t.finder.want("t");
  await t.settle();
  // Three answers of four candidates each; the topic lacks one peer of the minimum (2): one dial for that (the first
  // answer's), one more towards the spare peer (the second's), none for the third; never m1.
  assert.deepEqual(t.dials, ["a", "b"]);
  t.finder.stop();
});

Deno.test(`a topic at minTopicPeers is still searched until it has ${SPARE_TOPIC_PEERS} more peer, and not past it`, async () => {
  const t = setup(() => candidates("c"), { slots: 4 });
  t.joined.add("t");
  t.members.set("t", ["a", "b"]); // a triangle with a and b: the minimum
  t.finder.want("t");
  await t.settle();
  assert.equal(t.finder.stats.searches, 1, "searched at the minimum");
  assert.deepEqual(t.dials, ["c"]);
  t.members.set("t", ["a", "b", "c"]);
  t.clock.advance(60_000);
  await t.settle();
  assert.equal(t.finder.stats.searches, 1, "not searched at the minimum and a spare");
  t.finder.stop();
});

Deno.test("a source that asks one question a search (the DHT's lookup) is asked once, peer exchange topicSearchPeers times", () => {
  const asked: string[] = [];
  const t = setup(() => []);
  const finder = new TopicFinder({
    config: { minTopicPeers: 2, topicSearchIntervalMs: INTERVAL_MS, topicSearchPeers: 3, topicFanoutTtlMs: 60_000 },
    clock: t.clock,
    log: () => {},
    sources: [
      { name: "peers", find: () => (asked.push("peers"), Promise.resolve([])) },
      { name: "dht", questions: 1, find: () => (asked.push("dht"), Promise.resolve([])) },
    ],
    links: { dialTopicPeer: () => false, topicLinks: () => [], releaseTopicLink: () => {} },
    joined: () => ["t"],
    peersIn: () => [],
    roundMs: 1_000,
    maxTopics: 64,
    topicSlots: 2,
  });
  finder.start();
  finder.want("t");
  assert.deepEqual(asked, ["peers", "peers", "peers", "dht"]);
  finder.stop();
  t.finder.stop();
});

Deno.test("a topic under minTopicPeers with every slot taken closes one topic link whose peer's topics keep the minimum, never one they need", async () => {
  let answer: TopicPeerCandidate[] = [];
  const t = setup(() => answer, { slots: 2 });
  t.joined.add("a").add("b");
  // Two topic links to peers in "a": p1 in a topic with peers to spare (4 besides it), p2 also in "b", which needs it.
  t.links.push({ nodeId: "p1", since: t.clock.now() }, { nodeId: "p2", since: t.clock.now() });
  t.members.set("a", ["p1", "p2", "x", "y", "z"]);
  t.members.set("b", ["p2"]);
  t.clock.advance(TOPIC_LINK_GRACE_MS);
  t.joined.add("c"); // a topic with no peer at all
  answer = candidates("n1", "n2");
  t.finder.want("c");
  await t.settle();
  assert.deepEqual(t.released, ["p1"], "p1 closed, p2 kept: b has no other peer");
  assert.deepEqual(t.dials, ["n1"], "the freed slot dialed (one link closed a search at most)");
  assert.equal(t.finder.stats.rebalanced, 1);
  t.finder.stop();
});

Deno.test("no one to ask is no search: the topic is searched as soon as a peer connects", () => {
  let available = false;
  const t = setup(() => available ? [] : undefined);
  t.joined.add("t");
  t.finder.want("t");
  assert.equal(t.finder.stats.searches, 0);
  available = true;
  t.finder.peerConnected();
  assert.equal(t.finder.stats.searches, 1, "at once, not an interval later");
  t.finder.stop();
});

Deno.test("a publish that found no peer searches the topic, and its links are kept only while wanted", async () => {
  const t = setup(() => candidates("a"), { minTopicPeers: 1 });
  t.finder.want("p", true);
  await t.settle();
  assert.deepEqual(t.dials, ["a"]);
  t.members.set("p", ["a"]);
  t.clock.advance(TOPIC_LINK_GRACE_MS + 1_000);
  assert.deepEqual(t.released, [], "kept: the topic is published to");
  t.clock.advance(60_000);
  assert.deepEqual(t.released, ["a"], "released once the publishing window passed");
  t.finder.stop();
});

Deno.test("a topic link is released after the grace period when its peer is in none of the wanted topics", async () => {
  const t = setup(() => candidates("x"), { minTopicPeers: 1 });
  t.joined.add("t");
  t.finder.want("t");
  await t.settle();
  assert.deepEqual(t.dials, ["x"]);
  t.clock.advance(TOPIC_LINK_GRACE_MS - 1_000);
  assert.deepEqual(t.released, [], "within the grace period");
  t.clock.advance(2_000);
  assert.deepEqual(t.released, ["x"], "x never said it is in t");
  t.finder.stop();
});
