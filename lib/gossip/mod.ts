/**
 * Epidemic gossip: the design's algorithm with eager first delivery over a
 * small mesh of links, lazy announcement of ids on every other link,
 * anti-entropy repair, bounded caches and flood control.
 *
 * For every envelope a peer sends (after the peer manager has taken the
 * link-level ones):
 *
 * 1. per-peer rate limit (token bucket; a peer over it loses trust, at most once a second);
 * 2. deduplicate by message id, before paying for the signature; duplicates are counted per peer;
 * 3. verify timestamp, payload and the sender's trust here, and the signature through a verifier (inline,
 *    or on a helper thread under load, answering later; copies that come meanwhile wait, see `check.ts`);
 *    invalid input costs trust by code;
 * 4. per-origin rate limit for messages that spread;
 * 5. record as seen (memory, backed by the messages_seen table), credit the sender;
 * 6. hand to the handlers of its type (the design's `register_handler`);
 * 7. if its TTL allows another hop, keep it for repair, push it at once, with the TTL decremented, to
 *    its *eager* peers, and announce its id (IHAVE) within `lazyIntervalMs` to a random subset of the
 *    others (`lazyFanout`, `lazyPercent`) and to the rest in the next repair digest (in a small overlay, a
 *    short queue waits up to 3/4 of an interval for a message pushed to that peer to carry it); never to the peer it
 *    came from, its origin, or a peer known to have it.
 *
 * Eager and lazy links follow Plumtree (Leitão, Pereira and Rodrigues,
 * "Epidemic Broadcast Trees", SRDS 2007), with the eager set held at
 * `fanout` links per node instead of pruned to a tree, and links directed:
 * a node chooses whom it pushes to, and each receiver controls who pushes
 * to it. A node's first `fanout` peers are eager; every other link carries
 * only 32-byte ids. A node that hears of an id and still lacks the message
 * a little over `wantTimeoutMs` later (at once if nobody pushes to it) asks
 * the announcer for it (IWANT), which also grafts: the announcer pushes to
 * it in full from then on. If it is still missing, the next announcer is
 * asked, so a peer that drops or withholds messages costs delay, not
 * delivery. A node pushed to by more than twice `fanout` peers answers the
 * next duplicate with PRUNE; the pruned peer pushes to its most trusted lazy
 * peer instead. A lost eager link, or one to a peer that sent something
 * invalid, is replaced the same way, and so is one to a peer this node
 * counts on to push that announces instead (a delivery deficit, after
 * gossipsub's P3: see `deficit.ts`; no trust is taken).
 *
 * Why not Plumtree's single tree (prune on every duplicate): under load from
 * many origins, concurrent prunes on the same cycle keep cutting the tree,
 * each cut waits out the repair timeout, and the grafts that mend it form
 * new cycles, so a large share of deliveries came by repair, with a long
 * latency tail. A few eager links per node (a random 3-out mesh, connected
 * with high probability) deliver everything eagerly with fewer copies than
 * random fanout with digests, and stay put (see BENCHMARKS.md).
 *
 * On that mesh each origin's messages settle on a tree of their own
 * (`originPrune`, Plumtree's per-source trees, see `trees.ts`): a peer's
 * second later full copy of an origin's messages is answered with a PRUNE
 * naming the message, and that peer sends the origin's messages only as ids
 * from then on. Prunes for one origin never cut another's tree, and a node
 * never prunes the peer whose copy of the origin's latest message came first
 * (its parent), so a copy that crossed a PRUNE in flight cannot cut it off.
 * About one copy per node instead of the mesh's several; a broken tree is
 * mended by asking, as above (IWANT grafts the origin back). The price: one
 * path per origin, so a slow or withholding parent costs an ask's delay
 * where the mesh's spare copies hid it.
 *
 * First delivery therefore costs one network latency per hop, not a gossip
 * interval. The interval drives the rest: messages deferred because a peer's
 * send queue was full are retried, and a repair round sends digests of
 * kept ids a peer is not known to have (those the announcement rounds left
 * out). A peer that joins late gets a digest of the newest 256 kept
 * ids at once and the next 256 each repair round until it has heard of all,
 * so it still receives every message younger than the protocol's message
 * age limit. A message whose TTL is spent is neither forwarded nor
 * advertised, so repair never carries a message further than its TTL allows.
 *
 * Clock, peers (the transport side) and randomness come from outside.
 *
 * The pieces: `config.ts` (parameters), `protocol.ts` (the policy, in
 * {@link GossipProtocol}), `announcements.ts` (announcements in and out,
 * asks and their promises), `duplicates.ts` (PRUNE on duplicates),
 * `deficit.ts` (peers counted on to push that announce instead),
 * `store.ts` (kept messages), `seen.ts` (dedup),
 * `missing.ts` (announced ids not yet received and the asks for them),
 * `lateness.ts` (how late messages come), `check.ts` (copies held during a
 * signature check), `links.ts` (per-link state), `trees.ts` (per-origin
 * trees), `outbox.ts` (sending), `stats.ts` (counters), `types.ts` (the
 * interfaces to the rest of a node).
 *
 * @example One layer publishes; its peer's layer receives what it sent and hands it to a handler.
 * ```ts
 * import { GossipProtocol } from "./mod.ts";
 * import { ManualClock } from "../clock.ts";
 * import { Identity } from "../identity.ts";
 * import type { Connection } from "../transport/types.ts";
 * import { type Envelope, MessageCodec, MessageType } from "../protocol/mod.ts";
 * import { MemoryStorage } from "../storage/mod.ts";
 * import { TrustManager } from "../trust.ts";
 *
 * const clock = new ManualClock(1_700_000_000_000);
 * const codec = new MessageCodec();
 * const sent: Envelope[] = [];
 * const connection = {
 *   bufferedBytes: 0,
 *   send: (envelope: Envelope) => sent.push(envelope) > 0,
 *   sendEncoded: (bytes: Uint8Array) => sent.push(codec.parse(bytes)) > 0,
 * } as unknown as Connection;
 * const layer = (identity: Identity, peerId: string) => {
 *   const storage = new MemoryStorage({ clock });
 *   const peers = { activePeers: () => [{ nodeId: peerId, connection }] };
 *   return new GossipProtocol({ identity, peers, trust: new TrustManager({ storage, clock }), storage, clock });
 * };
 * const [alice, bob] = [Identity.generate(), Identity.generate()];
 * const sender = layer(alice, bob.nodeId);
 * const receiver = layer(bob, alice.nodeId);
 * const got: string[] = [];
 * receiver.registerHandler(MessageType.CUSTOM_DATA, (message) => {
 *   if (message.type === MessageType.CUSTOM_DATA) got.push(new TextDecoder().decode(message.payload.data));
 * });
 * sender.publish(MessageType.CUSTOM_DATA, { topic: "chat", data: new TextEncoder().encode("hi") });
 * for (const envelope of sent.splice(0)) receiver.receive({ nodeId: alice.nodeId }, envelope);
 * console.assert(got[0] === "hi");
 * ```
 *
 * @module
 */
export { DEFAULT_GOSSIP_CONFIG, type GossipConfig, resolveGossipConfig } from "./config.ts";
export { GossipProtocol } from "./protocol.ts";
export type { GossipPeerStats, GossipStats, MessageTypeCounts } from "./stats.ts";
export type { GossipOptions, GossipPeers, GossipSender, MessageHandler } from "./types.ts";
export {
  DEFAULT_PARALLEL_VERIFIER_CONFIG,
  inlineVerifier,
  ParallelVerifier,
  type ParallelVerifierConfig,
  type ParallelVerifierStats,
  type SignatureVerifier,
} from "../verifier.ts";
