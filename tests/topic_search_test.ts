/**
 * The topic finder's own rules (lib/topics/finder.ts), over a manual clock and recording stand-ins for its
 * sources and topic slots: when a topic is searched, how often, how many questions and dials a search makes,
 * and which topic links it releases.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { TOPIC_LINK_GRACE_MS, TopicFinder, type TopicPeerCandidate } from "../lib/topics/mod.ts";

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

Deno.test("a search that finds no one doubles the interval, up to 16 times it; a search naming someone new resets it", async () => {
  let answer: TopicPeerCandidate[] = [];
  const t = setup(() => answer, { minTopicPeers: 1, slots: 0 });
  t.joined.add("t");
  t.finder.want("t");
  const searchesAt: number[] = [t.clock.now()];
  for (let i = 0; i < 240; i++) {
    const before = t.questions.length;
    t.clock.advance(1_000);
    await t.settle();
    if (t.questions.length > before) searchesAt.push(t.clock.now());
  }
  const gaps = searchesAt.slice(1).map((at, i) => at - searchesAt[i]);
  assert.deepEqual(gaps.slice(0, 6), [5_000, 10_000, 20_000, 40_000, 80_000, 80_000]);
  answer = candidates("new"); // named, but no slot: the search still found someone
  t.clock.advance(80_000);
  await t.settle();
  const after = t.questions.length;
  t.clock.advance(INTERVAL_MS);
  await t.settle();
  assert.ok(t.questions.length > after, "back to the base interval");
  t.finder.stop();
});

Deno.test("a search dials only as many candidates as the topic lacks, skipping its members, into free slots", async () => {
  const t = setup(() => candidates("m1", "a", "b", "c"), { slots: 4 });
  t.joined.add("t");
  t.members.set("t", ["m1"]);
  t.finder.want("t");
  await t.settle();
  // Three answers of four candidates each; the topic lacks one peer: one dial in all (the first answer's), never m1.
  assert.deepEqual(t.dials, ["a"]);
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
