/**
 * The simulator: the node that ships ({@link KithNode}, from the main entry
 * point) on an in-memory network with per-link latency, loss and bandwidth,
 * driven by a virtual clock, so thousands of nodes run in one process and a
 * seed gives the same run every time. `scripts/simulate.ts` is its command
 * line (`deno task sim`).
 *
 * @example Two simulated nodes exchange a message
 * ```ts
 * import { seededRandom, SimNetwork, simAddress, startSimNode, VirtualClock } from "./mod.ts";
 *
 * const clock = new VirtualClock(1_700_000_000_000);
 * const network = new SimNetwork(clock, seededRandom(1));
 * const random = seededRandom(2);
 * const a = await startSimNode(network, 0, random, { minPeers: 0 });
 * const b = await startSimNode(network, 1, random, { minPeers: 1, bootstrap: [simAddress(0)] });
 * const got: string[] = [];
 * a.node.subscribe("chat", (message) => got.push(new TextDecoder().decode(message.data)));
 * // b publishes from outside "chat": it waits until a has told it that it is in the topic.
 * for (let i = 0; i < 20 && b.node.topicPeers("chat").length === 0; i++) {
 *   clock.runUntil(clock.now() + 50);
 *   await Promise.resolve();
 * }
 * b.node.broadcast("hello", { topic: "chat" });
 * clock.runUntil(clock.now() + 1_000);
 * console.log(got); // ["hello"]
 * await Promise.all([a.stop(), b.stop()]);
 * clock.runUntil(clock.now() + 1_000);
 * ```
 *
 * @module
 */
export { VirtualClock } from "./clock.ts";
export { DEFAULT_LINK_MODEL, type LinkModel, SimNetwork, SimTransport, type SimTransportOptions } from "./network.ts";
export { simAddress, type SimNode, startSimNode } from "./node.ts";
export { type DhtAdversary, simDhtAddress, SimDhtNetwork, type SimDhtNode } from "./dht.ts";
export { ManualClock } from "../clock.ts";
export { type RandomSource, seededRandom } from "../random.ts";
