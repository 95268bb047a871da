/**
 * The DHT's part of `NetworkConfig` (lib/dht/, lib/node_dht.ts): on or off, Kademlia's k, alpha and paths,
 * transient links, timeouts, refresh and republishing, the query rate, and the bounds of what it keeps for others.
 *
 * @module
 */
import { DEFAULT_DHT_CONFIG } from "../dht/service.ts";
import { DEFAULT_ROUTING_TABLE_CONFIG } from "../dht/routing_table.ts";
import { DEFAULT_DHT_STORE_CONFIG } from "../dht/store.ts";
import { MAX_DHT_CONTACTS } from "../protocol/mod.ts";
import { int, type Rule } from "./rules.ts";

/** The DHT settings of a node (part of `NetworkConfig`). Each field documents its default and trade-off. */
export interface NetworkDhtConfig {
  /**
   * Run the DHT (lib/dht/, docs/protocol.md "DHT"): announce `dht/1`, answer peers' DHT queries from the
   * routing table and store, and offer `node.dht` (find a node by id, provide and find a key's providers,
   * signed records) and the DHT as the topic finder's second source. Default true: a DHT is only as good as
   * the share of nodes that serve it, and what serving costs is bounded (queries per peer, the store's bounds,
   * `dhtTransientLinks`). Off: the node neither sends nor answers DHT messages and refuses them as unknown.
   */
  dhtEnabled: boolean;
  /**
   * Contacts per routing-table bucket, and nodes a record or provider is stored at (Kademlia's k). Default 20,
   * as libp2p's kad-dht. Larger: more copies and more robust lookups, longer answers and more stores per put.
   * At most 32 (one DHT_RESPONSE's contacts).
   */
  dhtK: number;
  /**
   * Queries in flight per lookup path (Kademlia's alpha). Default 3. More: lookups finish sooner past dead or
   * slow contacts, at more queries (and transient links) per lookup.
   */
  dhtAlpha: number;
  /**
   * Disjoint lookup paths for provide, findProviders, put and get (S/Kademlia's d). Default 1. 3 against a
   * Sybil region (BENCHMARKS.md: at 30% liars, 3 paths find 65 of 100 records one path misses), at about
   * three times the queries.
   */
  dhtPaths: number;
  /**
   * Transient links open at once: short outbound connections to contacts this node is not connected to,
   * opened for one lookup's queries, never peers (no slot, no gossip, never anchors), closed when idle or when
   * the lookup ends. Default 8. More: lookups go wider at once, each costing a handshake; 0: only connected
   * peers are asked (lookups then reach only as far as their tables).
   */
  dhtTransientLinks: number;
  /** A transient link with nothing in flight is closed after this long, ms. Default 10,000. */
  dhtTransientIdleMs: number;
  /**
   * Inbound transient links held at once: the links other nodes dial to this one only to ask DHT questions
   * (marked in their HANDSHAKE), held outside the peer slots (lib/peers/transient_inbound.ts). Default 16. More:
   * more nodes that are not peers can ask at once, and one that takes them all (they idle out after
   * `dhtTransientIdleMs`) needs more subnets, at a socket and a session each; 0: none, so only peers ask this
   * node (its answers still reach everyone through them, but a lookup's transient links to it are refused).
   */
  dhtInboundTransientLinks: number;
  /** Of the inbound transient links, most from one IP address. Default 2 (the peers' `maxPeersPerIp`). */
  dhtInboundTransientPerIp: number;
  /**
   * Of the inbound transient links, most from one /24 (IPv4) or /48 (IPv6) subnet. Default 4 (the peers'
   * `maxPeersPerSubnet`): whoever takes all of them needs `dhtInboundTransientLinks` / this many subnets. Lower:
   * more subnets to take them, but fewer honest nodes behind one subnet (a NAT, a hosting range) ask at once.
   */
  dhtInboundTransientPerSubnet: number;
  /**
   * A DHT query not answered within this long fails, ms; it covers a transient link's dial and handshake.
   * Default 2,000. Shorter: dead contacts cost less, but slow links count as dead.
   */
  dhtQueryTimeoutMs: number;
  /** A lookup ends with what it has after this long, ms. Default 10,000. */
  dhtLookupTimeoutMs: number;
  /**
   * A routing-table bucket not heard from in this long is refreshed (a lookup of an id in it), and the table
   * is saved to storage at this interval, ms. Default 600,000 (10 minutes, as libp2p). Shorter: fresher
   * buckets after churn, more lookups while idle.
   */
  dhtRefreshIntervalMs: number;
  /**
   * This node's provider records (`provide`, and its topics) are announced again this often, ms. Default
   * 43,200,000 (12 hours): half of the 24-hour provider lifetime, so one missed round does not drop them.
   */
  dhtProviderRepublishMs: number;
  /**
   * This node's signed records (`put`) are signed again with a higher sequence number and a fresh expiry and
   * stored again this often, ms. Default 3,600,000 (1 hour): records live 24 hours, and nodes that joined near
   * the key since get a copy.
   */
  dhtRecordRepublishMs: number;
  /** DHT queries answered per peer per second; twice it is the burst. Default 20. */
  dhtQueriesPerPeerPerSecond: number;
  /** Signed records this node keeps for others. Default 4,096. Each is at most about 1.2 KiB. */
  dhtMaxRecords: number;
  /** Bytes of record values this node keeps for others. Default 4 MiB. */
  dhtMaxRecordBytes: number;
  /** Provider records this node keeps for others. Default 16,384 (about 100 bytes each). */
  dhtMaxProviders: number;
}

/** The defaults of {@link NetworkDhtConfig}, each the one its field names. */
export const DEFAULT_NETWORK_DHT_CONFIG: Readonly<NetworkDhtConfig> = Object.freeze({
  dhtEnabled: true,
  dhtK: DEFAULT_ROUTING_TABLE_CONFIG.k,
  dhtAlpha: DEFAULT_DHT_CONFIG.alpha,
  dhtPaths: DEFAULT_DHT_CONFIG.paths,
  dhtTransientLinks: 8,
  dhtTransientIdleMs: 10_000,
  dhtInboundTransientLinks: 16,
  dhtInboundTransientPerIp: 2,
  dhtInboundTransientPerSubnet: 4,
  dhtQueryTimeoutMs: 2_000,
  dhtLookupTimeoutMs: DEFAULT_DHT_CONFIG.lookupTimeoutMs,
  dhtRefreshIntervalMs: 600_000,
  dhtProviderRepublishMs: 12 * 3_600_000,
  dhtRecordRepublishMs: 3_600_000,
  dhtQueriesPerPeerPerSecond: DEFAULT_DHT_CONFIG.queriesPerPeerPerSecond,
  dhtMaxRecords: DEFAULT_DHT_STORE_CONFIG.maxRecords,
  dhtMaxRecordBytes: DEFAULT_DHT_STORE_CONFIG.maxRecordBytes,
  dhtMaxProviders: DEFAULT_DHT_STORE_CONFIG.maxProviders,
});

/** The rule each scalar setting of {@link NetworkDhtConfig} must pass. */
export const NETWORK_DHT_RULES: Readonly<Record<keyof NetworkDhtConfig, Rule>> = {
  dhtEnabled: { kind: "bool" },
  dhtK: int(1, MAX_DHT_CONTACTS),
  // Past 16 queries in flight a lookup would outrun one peer's allowance (MAX_DHT_REQUESTS_IN_FLIGHT).
  dhtAlpha: int(1, 16),
  dhtPaths: int(1, 8),
  dhtTransientLinks: int(0, 256),
  dhtTransientIdleMs: int(100),
  dhtInboundTransientLinks: int(0, 1_024),
  dhtInboundTransientPerIp: int(1, 1_024),
  dhtInboundTransientPerSubnet: int(1, 1_024),
  dhtQueryTimeoutMs: int(50),
  dhtLookupTimeoutMs: int(100),
  dhtRefreshIntervalMs: int(1_000),
  dhtProviderRepublishMs: int(1_000),
  dhtRecordRepublishMs: int(1_000),
  dhtQueriesPerPeerPerSecond: int(1),
  dhtMaxRecords: int(1),
  dhtMaxRecordBytes: int(1_024),
  dhtMaxProviders: int(1),
};
