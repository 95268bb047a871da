/**
 * Peer management: the address book, connection slots, discovery,
 * heartbeats, eviction, and the bounds that resist eclipse and Sybil attacks.
 *
 * A peer is `known` (in the address book, durable in the peers table),
 * `connecting` (a dial is under way) or `active` (an authenticated
 * connection is open), and returns to `known` when its connection closes.
 *
 * The manager sits on the link: it takes every connection the transport
 * opens, answers the link-level messages itself (HEARTBEAT, PEER_DISCOVERY,
 * PEER_ANNOUNCEMENT), and passes every other envelope up through
 * {@link PeerManager.onEnvelope} (to gossip). Like all core logic it gets its
 * clock, transport and randomness from outside.
 *
 * Beyond the design, as Bitcoin Core does against eclipse attacks:
 * - at most `maxPeersPerIp` active peers per host and `maxPeersPerSubnet` per
 *   /24 (IPv4) or /48 (IPv6);
 * - `outboundSlots` of the `maxPeers` are for connections this node chose:
 *   inbound connections never take them, and are never evicted into them;
 * - candidates to dial are chosen for subnet diversity first, then trust;
 * - when a newcomer needs a slot, peers are protected from eviction on several
 *   criteria (subnet, round trip, novel messages, longevity, then earned
 *   reputation), as Bitcoin Core's SelectNodeToEvict, so no one score decides.
 *
 * On loopback every client socket comes from 127.0.0.1, so to let tests and
 * devnets model distinct hosts, an inbound peer whose socket address is
 * loopback is grouped by the loopback listen address it announced.
 *
 * Only a peer's protocol violations cost it trust: a failure of kith's own
 * code while handling its messages is logged, never charged to the peer.
 *
 * The address book works as Bitcoin Core's addrman does (issue 21): hearsay
 * goes to a "new" table in buckets chosen by who told this node and the
 * address's subnet, so one source fills at most a sixteenth of it; only this
 * node's own outbound connection moves an address to "tried"; feelers (short
 * outbound dials) test new addresses, and a tried entry is tested before a
 * colliding one replaces it; the last outbound peers are saved as anchors and
 * dialed first after a restart. Unsolicited addresses are rate-limited per
 * peer (0.1/s, burst 1,000); answers are taken only to this node's own
 * requests; HANDSHAKE_ACK carries no list, and answers are cached.
 *
 * The pieces: `config.ts` (settings), `types.ts` (shared shapes), `addrman.ts`
 * (the new and tried tables), `book.ts` (the address book over them and its
 * durable table), `intake.ts` (per-peer address budgets, solicited answers),
 * `anchors.ts` (saved outbound peers), `admission.ts` (groups, bounds,
 * slots), `eviction.ts` (whom a newcomer displaces), `dialer.ts` (dial budget, candidates, backoff),
 * `liveness.ts` (timeouts, heartbeats), `discovery.ts` (PEER_DISCOVERY and
 * PEER_ANNOUNCEMENT, the answer cache), `topic_queries.ts` (PEER_DISCOVERY
 * naming a topic: answers from the connected peers the topics layer says are in
 * it, and this node's queries awaiting theirs), `outbound.ts` (the dials each
 * round runs: anchors, bootstrap, book samples, feelers, backoff; the few topic
 * slots beyond the outbound target), `link_messages.ts` (the link messages'
 * checks, answers and this node's own queries), `manager.ts`
 * ({@link PeerManager}, which applies them).
 *
 * @example Two nodes on the simulator's network: the second dials the first, its bootstrap node.
 * ```ts
 * import { PeerManager } from "./mod.ts";
 * import { Identity } from "../identity.ts";
 * import { seededRandom } from "../random.ts";
 * import { VirtualClock } from "../sim/clock.ts";
 * import { SimNetwork } from "../sim/network.ts";
 * import { MemoryStorage } from "../storage/mod.ts";
 * import { TrustManager } from "../trust.ts";
 *
 * const clock = new VirtualClock(1_700_000_000_000);
 * const network = new SimNetwork(clock, seededRandom(1));
 * const node = (address: string, bootstrap: string[]) => {
 *   const identity = Identity.generate();
 *   const storage = new MemoryStorage({ clock, pruneIntervalMs: 0 });
 *   const trust = new TrustManager({ storage, clock, localNodeId: identity.nodeId });
 *   const transport = network.transport(identity, address);
 *   const config = { minPeers: 1, bootstrap };
 *   const peers = new PeerManager({ identity, transport, trust, storage, clock, codec: network.codec, config });
 *   peers.start();
 *   return peers;
 * };
 * const first = node("127.0.1.1:7400", []);
 * const second = node("127.0.2.1:7400", ["127.0.1.1:7400"]);
 * for (let ms = 0; ms < 5_000 && second.activePeers().length === 0; ms++) {
 *   clock.runUntil(clock.now() + 1);
 *   for (let turn = 0; turn < 10; turn++) await Promise.resolve(); // let dial results land
 * }
 * console.assert(second.activePeers().length === 1);
 * console.assert(first.peers().some((p) => p.state === "active"));
 * ```
 *
 * @module
 */
export { DEFAULT_PEERS_CONFIG, type PeersConfig, resolvePeersConfig } from "./config.ts";
export { PeerManager, type PeerManagerOptions } from "./manager.ts";
export type { TopicPeerRecord } from "./topic_queries.ts";
export type { ActivePeer, AddressBookInfo, PeerInfo, PeerState, PeerStats } from "./types.ts";
export type { NetworkGroup } from "../netgroup.ts";
export {
  TransientLinks,
  type TransientLinksConfig,
  type TransientLinksOptions,
  type TransientLinksStats,
} from "./transient.ts";
export {
  type InboundTransientConfig,
  InboundTransientLinks,
  type InboundTransientOptions,
  type InboundTransientStats,
} from "./transient_inbound.ts";
