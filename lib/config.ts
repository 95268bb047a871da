/**
 * `NetworkConfig`: every knob of a node in one flat, documented struct, the
 * design's three presets, and validation that names the key at fault.
 *
 * The design's names map to these keys: gossip_fanout -> `gossipFanout`,
 * gossip_interval -> `gossipIntervalMs` (milliseconds, not seconds),
 * max_peers -> `maxPeers`, min_peers -> `minPeers`, message_cache_size ->
 * `messageCacheSize`, initial_trust_score -> `initialTrustScore`,
 * min_trust_threshold -> `minTrustThreshold`, trust_decay_rate ->
 * `trustDecayRate`.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "./address.ts";
import { type CausalConfig, DEFAULT_CAUSAL_CONFIG } from "./catchup/causal.ts";
import { DIAL_POLICY_NAMES, type DialPolicyName, resolveDialPolicy } from "./dial_policy.ts";
import { ConfigError } from "./errors.ts";
import { DEFAULT_GOSSIP_CONFIG, type GossipConfig, resolveGossipConfig } from "./gossip/mod.ts";
import { DEFAULT_TRANSPORT_CONFIG, resolveTransportConfig, type TransportConfig } from "./transport/config.ts";
import { DEFAULT_PEERS_CONFIG, type PeersConfig, resolvePeersConfig } from "./peers/config.ts";
import { DEFAULT_PROTOCOL_LIMITS, MAX_DHT_CONTACTS, MessageCodec, type ProtocolLimits } from "./protocol/mod.ts";
import { DEFAULT_TOPICS_CONFIG, resolveTopicsConfig, type TopicsConfig, type TopicSettings } from "./topics/mod.ts";
import { DEFAULT_NAT_CONFIG, type NatConfig, resolveNatConfig } from "./nat/config.ts";
import { DEFAULT_TRUST_CONFIG, resolveTrustConfig, type TrustConfig } from "./trust.ts";
import { DEFAULT_PARALLEL_VERIFIER_CONFIG } from "./verifier.ts";
import { DEFAULT_DHT_CONFIG } from "./dht/service.ts";
import { DEFAULT_ROUTING_TABLE_CONFIG } from "./dht/routing_table.ts";
import { DEFAULT_DHT_STORE_CONFIG } from "./dht/store.ts";
import { MAX_RECORD_LIFETIME_MS } from "./dht/records.ts";

/** Every setting of a node. Defaults in {@link DEFAULT_NETWORK_CONFIG}; each documents its trade-off. */
export interface NetworkConfig {
  /** Network id (1 to 64 bytes of UTF-8); nodes with different ids refuse each other. Default `"kith-main"`. */
  networkId: string;
  /** Address to listen on. Default `"0.0.0.0"`. */
  listenHost: string;
  /** Port to listen on; 0 picks one. Default 7400. */
  listenPort: number;
  /** `host:port` announced to peers; `""` derives it from a specific listen address. Default `""`. */
  advertisedAddress: string;
  /** Bootstrap nodes (`host:port`). Several protect against an eclipse through one of them. Default none. */
  bootstrap: string[];
  /**
   * Which addresses the node dials (see {@link resolveDialPolicy}). Default `"auto"`: `"loopback"` when
   * `listenHost` is a loopback address (the README walkthrough, `kith devnet`, tests), `"private"` when it
   * is a private one, else `"public"`. `"public"` dials global unicast addresses only, refusing loopback,
   * private (RFC 1918, fc00::/7), CGNAT, link-local, documentation, multicast and reserved ranges, so peers
   * cannot point the node at hosts inside its network; `"private"` also dials the private ranges (a LAN or
   * data centre network); `"loopback"` dials 127.0.0.0/8 and ::1 only. Outside `"loopback"` the bootstrap
   * hosts are dialed whatever their range (they are the operator's choice, not hearsay); a bootstrap entry
   * the policy refuses is a configuration error. Host names are resolved only for bootstrap entries, and
   * their addresses must pass the policy.
   */
  dialPolicy: DialPolicyName;
  /**
   * CIDR ranges dialed even where the preset refuses them, e.g. `["10.20.0.0/16"]` for a private network
   * beside public peers. Default none. Each range widens what announced addresses can make the node dial.
   */
  dialAllow: string[];
  /**
   * CIDR ranges never dialed, whatever else allows them (bootstrap entries included). Default none. For
   * networks the node must never touch; announced addresses there are ignored.
   */
  dialDeny: string[];

  /**
   * gossip_fanout: eager links per node, the peers each new message is pushed to in full (the others get
   * its id). Default 3, a mesh that reaches every node. Fewer: fewer copies, but some nodes are reached only
   * by asking after a timeout; more: about one more copy per node for each step.
   */
  gossipFanout: number;
  /**
   * Per-origin trees: a peer that pushes a copy of a message this node already had is asked to send only
   * ids of that origin's messages from then on (while the peer that brought them first keeps pushing).
   * Default true: about one copy per node instead of about 2.2, half the bytes and less CPU per delivery.
   * Off: the plain mesh, whose spare copies mask a slow or withholding parent, for lower tail latency when
   * nodes are overloaded or many peers misbehave (see BENCHMARKS.md and SECURITY.md).
   */
  gossipOriginPrune: boolean;
  /** gossip_interval, ms: repair rounds and deferred sends. Default 1,000. Shorter: faster repair, more digests. */
  gossipIntervalMs: number;
  /** max_peers. Default 50. More: more bandwidth and memory, more robust. */
  maxPeers: number;
  /** min_peers: below it the node dials and discovers actively. Default 8. */
  minPeers: number;
  /** message_cache_size: ids and messages kept in memory for dedup and repair. Default 10,000. */
  messageCacheSize: number;
  /** initial_trust_score of a stranger. Default 0.5. Lower resists Sybils, slows newcomers. */
  initialTrustScore: number;
  /** min_trust_threshold: peers below are disconnected and not dialed. Default 0.3. */
  minTrustThreshold: number;
  /** trust_decay_rate: share of the distance to initial trust recovered per decay interval. Default 0.01. */
  trustDecayRate: number;
  /** Length of a trust decay interval, ms. Default 60,000. */
  trustDecayIntervalMs: number;

  /** TTL (hops) of published messages, 1 up to `maxTtl`. Default 16; enough for O(log n) hops in large networks. */
  messageTtl: number;
  /** Received TTLs above this are clamped. Default 16. */
  maxTtl: number;
  /** Messages older than this are refused, ms. Default 300,000. */
  maxMessageAgeMs: number;
  /** Messages dated further ahead than this are refused, ms. Default 30,000. */
  maxClockSkewMs: number;
  /** Largest application payload, bytes. Default 65,536. */
  maxApplicationPayloadBytes: number;
  /** Largest envelope on the wire, bytes. Default 1 MiB. */
  maxFrameBytes: number;
  /**
   * Helper threads for signature checks, shared by the nodes of a process. Default 1. Checks go to a
   * helper only while the node's JavaScript thread is behind (its timers run more than 10 ms late) and the
   * process uses most of a core (late for lack of CPU of its own, a helper would only compete), so an idle
   * or lightly loaded node never starts one and pays nothing. Under load the largest single cost of a
   * delivery moves to a second core: a lower tail latency and more messages per second fully delivered
   * (figures in BENCHMARKS.md). A started helper costs tens of MB of RSS and stops after 30 s without
   * work. 0: every check on the node's thread.
   */
  verifyThreads: number;

  /** How often peer maintenance runs (timeouts, dials, discovery), ms. Default 1,000. */
  peerMaintenanceIntervalMs: number;
  /** Heartbeat interval, ms. Default 10,000. */
  heartbeatIntervalMs: number;
  /**
   * Round-trip probe interval, ms: a HEARTBEAT to every peer this often whatever the traffic (and one just
   * after a link opens), so `rttMs` is known on busy links too. Default 20,000. Shorter: fresher round
   * trips for two small frames per peer per probe; 0: only silent peers are probed.
   */
  rttProbeIntervalMs: number;
  /** A peer silent this long is timed out, ms. Default 30,000. */
  peerTimeoutMs: number;
  /** Background discovery interval, ms. Default 30,000. */
  discoveryIntervalMs: number;
  /** Handshake deadline, ms. Default 5,000. */
  handshakeTimeoutMs: number;
  /** Longest a write waits in memory before reaching SQLite, ms. Default 100. */
  storageFlushIntervalMs: number;
  /** How often a node asks a peer for its most trusted peers (transitive trust), ms. Default 300,000. */
  trustExchangeIntervalMs: number;

  /** Most inbound connections (the connection semaphore). Default 64. */
  maxInbound: number;
  /** Most outbound connections. Default 32. */
  maxOutbound: number;
  /** Most inbound connections from one IP address. Default 8. */
  maxConnectionsPerIp: number;
  /** New inbound connections accepted per second from one IP address (before anything is read). Default 20. */
  inboundRatePerIp: number;
  /** Largest burst of new inbound connections from one IP address. Default 100. */
  inboundBurstPerIp: number;
  /** New inbound connections accepted per second from one /24 (IPv4) or /48 (IPv6). Default 50. */
  inboundRatePerSubnet: number;
  /** Largest burst of new inbound connections from one /24 or /48. Default 200. */
  inboundBurstPerSubnet: number;
  /** New inbound connections accepted per second in all. Default 200. */
  inboundRateGlobal: number;
  /** Largest burst of new inbound connections in all. Default 400. */
  inboundBurstGlobal: number;
  /** Peer slots only outbound connections may take (eclipse resistance). Default 8, at most half of maxPeers unless set. */
  outboundSlots: number;
  /** Most active peers per IP address. Default 2. */
  maxPeersPerIp: number;
  /** Most active peers per /24 (IPv4) or /48 (IPv6). Default 4. */
  maxPeersPerSubnet: number;
  /**
   * A peer's unsolicited addresses (announcements this node did not ask for) are taken at one per this
   * interval, ms; answers to this node's own PEER_DISCOVERY requests do not count. Default 10,000 (0.1 per
   * second, as Bitcoin Core). Shorter: new addresses spread faster, but one peer can fill the address book
   * with addresses of its choosing (an eclipse attack's first step) sooner.
   */
  addressIntervalMs: number;
  /**
   * Most unsolicited addresses a peer can save up at that rate (it starts with one announcement's worth, 64).
   * Default 1,000. Larger: a peer that was quiet for long may push more at once; smaller: announcements from
   * long-connected peers are cut short sooner.
   */
  addressBurst: number;
  /**
   * How long this node's answer to PEER_DISCOVERY is reused, ms: every requester within the window gets the
   * same records (less itself). Default 600,000 (10 minutes). Shorter: fresher answers, but a prober asking
   * again and again enumerates the address book faster. While the answer is not full (a small book) it is
   * rebuilt sooner, so a young node's answers still grow.
   */
  addressCacheMs: number;
  /**
   * Mean interval between feeler connections, ms (each wait is drawn from half to one and a half of it): one
   * short dial to an address not yet tried, or to a tried one a newcomer would replace (test-before-evict),
   * that moves it to "tried" when it answers and is closed at once. Default 120,000 (as Bitcoin Core); at
   * least 1,000. Shorter: the book learns sooner which addresses work, at one handshake per feeler; longer:
   * fewer dials to strangers, staler "tried" entries.
   */
  feelerIntervalMs: number;
  /**
   * Outbound peers kept as anchors: saved as they change and dialed first after a restart, so an attacker
   * that filled the address book while the node was down does not choose its first peers. Default 2; 0
   * disables. More: more of the old neighbourhood is back at once, but also more peers the node dials again
   * without asking its (possibly newer) address book.
   */
  anchors: number;
  /** Envelopes accepted per peer per second. Default 1,000. */
  peerRateLimit: number;
  /** New messages accepted per origin per second. Default 200. */
  originRateLimit: number;

  /**
   * Topics this node may be in at once (lib/topics/): each is an overlay with its own caches and rounds.
   * Default 64, the most its peers count of a node that names its topics; above 64 only with
   * `relayAllTopics`.
   */
  maxTopics: number;
  /**
   * Relay every topic (an operator's "all topics" node): join the overlay of each topic a peer announces, up
   * to `maxTopics`, and tell peers to count this node in all of them. Default false: a node carries only the
   * topics its application subscribes to. A well-connected relay helps small topics, at the cost of carrying
   * all their traffic.
   */
  relayAllTopics: boolean;
  /**
   * Peers of a topic a message published from outside it is sent to in full (gossipsub's fanout). Default 6:
   * with a third of the topic's peers Byzantine, all six are with probability 1/729; each more costs one
   * copy per publish.
   */
  topicFanoutPeers: number;
  /** A fanout set is forgotten this long after the last publish through it, ms. Default 60,000. */
  topicFanoutTtlMs: number;
  /**
   * Per-topic settings by topic name: `fanout`, `ttl`, `maxMessageBytes` (at most
   * `maxApplicationPayloadBytes`), `originRateLimit`, `peerRateLimit`; each defaults to the node-wide
   * setting of the same role (`gossipFanout`, `messageTtl`, ...). Default none.
   */
  topicSettings: Record<string, TopicSettings>;
  /**
   * A topic this node is in with fewer connected peers in it than this is searched for: its peers are asked
   * for the topic's peers (PEER_DISCOVERY naming the topic), which are dialed into the `topicSlots`. Default 2:
   * one peer makes the node part of the topic, a second keeps it there when one leaves. Higher: more searches
   * and topic links per topic; 0: never search (a node then reaches a topic only through the peers it has).
   */
  minTopicPeers: number;
  /**
   * Outbound links kept for topic peers, beyond the `outboundSlots` target, so a node whose peers are in none
   * of its topics still reaches some. Default 2. Each costs one more link (memory, heartbeats); they are dialed
   * on other peers' word, so they are never anchors and never count toward `outboundSlots`, and they follow
   * the dial policy, the per-IP and per-subnet bounds and the eviction rules of every outbound link. A link
   * whose peer is in none of this node's topics is closed after 10 s. 0: no topic links.
   */
  topicSlots: number;

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
  /**
   * Most messages of each topic this node is in that its log keeps (lib/catchup/), to replay them to the
   * application (`subscribe(topic, { since })`, `history`) and serve them to peers that were away. Default
   * 10,000; a topic's `logMaxMessages` overrides it. More: a longer absence is caught up, at more disk;
   * 0: no log (nothing replayed, and exactly-once delivery only within gossip's dedup window).
   */
  topicLogMaxMessages: number;
  /**
   * Most bytes of each topic's envelopes its log keeps. Default 16 MiB (at 64 topics, at most 1 GiB); a topic's
   * `logMaxBytes` overrides it.
   */
  topicLogMaxBytes: number;
  /**
   * Oldest message a topic's log keeps, ms: older ones are pruned (each minute), and refused when they come.
   * Default 86,400,000 (24 hours); a topic's `logMaxAgeMs` overrides it. A node away longer catches up only
   * what is younger.
   */
  topicLogMaxAgeMs: number;
  /**
   * Longest a message of a topic waits for the predecessors its origin named, ms; then it is delivered with
   * those still missing named (`ReceivedMessage.missing`). Default 10,000: longer than gossip's repair and a
   * catch-up fetch, short enough that a message whose predecessor is gone for good is seen soon. 0: never wait.
   */
  causalWaitMs: number;
  /**
   * Most messages held at once waiting for their predecessors (a quarter of it per sending peer); over it the
   * one held longest is delivered at once. Default 2,048.
   */
  causalBufferMessages: number;
  /** Most bytes of messages held at once waiting for their predecessors. Default 8,388,608 (8 MiB). */
  causalBufferBytes: number;
  /**
   * Reachability check (AutoNAT): this node asks peers to dial its observed address back and advertises a
   * direct address only once they reached it (public), none once they could not (private). Default true.
   * Off: it advertises as it binds (its `advertisedAddress`, else a specific listen address) and never asks.
   */
  reachabilityCheck: boolean;
  /**
   * Network groups (subnets) that must report the same IP for this node before that observed address is
   * trusted and checked. Default 3: a thousand identities in one subnet are one voice. Fewer: a small or
   * single-subnet network confirms sooner, and fewer colluding subnets can plant an address (the check still
   * runs before it is advertised).
   */
  observedAddressGroups: number;
  /** Peers asked per reachability check, one per network group. Default 3. More: more dial-backs per check. */
  reachabilityPeers: number;
  /**
   * Answers from distinct network groups that decide a verdict. Default 2: one lying or broken peer cannot.
   * At most `reachabilityPeers`; 1 believes a single peer (a lab, a two-host network).
   */
  reachabilityQuorum: number;
  /** How long a check waits for its answers, ms. Default 15,000. Shorter: slow dial-backs count as no answer. */
  reachabilityTimeoutMs: number;
  /** Time between checks once one decided, ms. Default 900,000 (15 min); sooner when the observed IP changes. */
  reachabilityRecheckMs: number;
  /** Time before checking again after a check that decided nothing, ms. Default 60,000. */
  reachabilityRetryMs: number;
  /** Dial-backs done for one asker IP: one per this many ms, with a burst of 2. Default 60,000. */
  dialBackAskerIntervalMs: number;
  /** Dial-backs done for all askers together, per second (burst 4 times that, at least 4). Default 1. */
  dialBackRatePerSecond: number;
  /** Dial-backs in flight at once, one per asker. Default 4: each holds a socket at most a handshake timeout. */
  maxConcurrentDialBacks: number;
}

/** The defaults. */
export const DEFAULT_NETWORK_CONFIG: Readonly<NetworkConfig> = Object.freeze({
  networkId: DEFAULT_TRANSPORT_CONFIG.networkId,
  listenHost: DEFAULT_TRANSPORT_CONFIG.listenHost,
  listenPort: DEFAULT_TRANSPORT_CONFIG.listenPort,
  advertisedAddress: "",
  bootstrap: [],
  dialPolicy: "auto",
  dialAllow: [],
  dialDeny: [],
  gossipFanout: DEFAULT_GOSSIP_CONFIG.fanout,
  gossipOriginPrune: DEFAULT_GOSSIP_CONFIG.originPrune,
  gossipIntervalMs: DEFAULT_GOSSIP_CONFIG.intervalMs,
  maxPeers: DEFAULT_PEERS_CONFIG.maxPeers,
  minPeers: DEFAULT_PEERS_CONFIG.minPeers,
  messageCacheSize: DEFAULT_GOSSIP_CONFIG.messageCacheSize,
  initialTrustScore: DEFAULT_TRUST_CONFIG.initialTrust,
  minTrustThreshold: DEFAULT_TRUST_CONFIG.minTrustThreshold,
  trustDecayRate: DEFAULT_TRUST_CONFIG.decayRate,
  trustDecayIntervalMs: DEFAULT_TRUST_CONFIG.decayIntervalMs,
  messageTtl: DEFAULT_GOSSIP_CONFIG.defaultTtl,
  maxTtl: DEFAULT_PROTOCOL_LIMITS.maxTtl,
  maxMessageAgeMs: DEFAULT_PROTOCOL_LIMITS.maxMessageAgeMs,
  maxClockSkewMs: DEFAULT_PROTOCOL_LIMITS.maxClockSkewMs,
  maxApplicationPayloadBytes: DEFAULT_GOSSIP_CONFIG.maxApplicationPayloadBytes,
  maxFrameBytes: DEFAULT_TRANSPORT_CONFIG.maxFrameBytes,
  verifyThreads: DEFAULT_PARALLEL_VERIFIER_CONFIG.threads,
  peerMaintenanceIntervalMs: DEFAULT_PEERS_CONFIG.maintenanceIntervalMs,
  heartbeatIntervalMs: DEFAULT_PEERS_CONFIG.heartbeatIntervalMs,
  rttProbeIntervalMs: DEFAULT_PEERS_CONFIG.rttProbeIntervalMs,
  peerTimeoutMs: DEFAULT_PEERS_CONFIG.peerTimeoutMs,
  discoveryIntervalMs: DEFAULT_PEERS_CONFIG.discoveryIntervalMs,
  handshakeTimeoutMs: DEFAULT_TRANSPORT_CONFIG.handshakeTimeoutMs,
  storageFlushIntervalMs: 100,
  trustExchangeIntervalMs: 300_000,
  maxInbound: DEFAULT_TRANSPORT_CONFIG.maxInbound,
  maxOutbound: DEFAULT_TRANSPORT_CONFIG.maxOutbound,
  maxConnectionsPerIp: DEFAULT_TRANSPORT_CONFIG.maxConnectionsPerIp,
  inboundRatePerIp: DEFAULT_TRANSPORT_CONFIG.inboundRatePerIp,
  inboundBurstPerIp: DEFAULT_TRANSPORT_CONFIG.inboundBurstPerIp,
  inboundRatePerSubnet: DEFAULT_TRANSPORT_CONFIG.inboundRatePerSubnet,
  inboundBurstPerSubnet: DEFAULT_TRANSPORT_CONFIG.inboundBurstPerSubnet,
  inboundRateGlobal: DEFAULT_TRANSPORT_CONFIG.inboundRateGlobal,
  inboundBurstGlobal: DEFAULT_TRANSPORT_CONFIG.inboundBurstGlobal,
  outboundSlots: DEFAULT_PEERS_CONFIG.outboundSlots,
  maxPeersPerIp: DEFAULT_PEERS_CONFIG.maxPeersPerIp,
  maxPeersPerSubnet: DEFAULT_PEERS_CONFIG.maxPeersPerSubnet,
  addressIntervalMs: DEFAULT_PEERS_CONFIG.addressIntervalMs,
  addressBurst: DEFAULT_PEERS_CONFIG.addressBurst,
  addressCacheMs: DEFAULT_PEERS_CONFIG.addressCacheMs,
  feelerIntervalMs: DEFAULT_PEERS_CONFIG.feelerIntervalMs,
  anchors: DEFAULT_PEERS_CONFIG.anchors,
  peerRateLimit: DEFAULT_GOSSIP_CONFIG.peerRateLimit,
  originRateLimit: DEFAULT_GOSSIP_CONFIG.originRateLimit,
  maxTopics: DEFAULT_TOPICS_CONFIG.maxTopics,
  relayAllTopics: DEFAULT_TOPICS_CONFIG.relayAllTopics,
  topicFanoutPeers: DEFAULT_TOPICS_CONFIG.topicFanoutPeers,
  topicFanoutTtlMs: DEFAULT_TOPICS_CONFIG.topicFanoutTtlMs,
  topicSettings: {},
  minTopicPeers: DEFAULT_TOPICS_CONFIG.minTopicPeers,
  topicSlots: DEFAULT_PEERS_CONFIG.topicSlots,
  dhtEnabled: true,
  dhtK: DEFAULT_ROUTING_TABLE_CONFIG.k,
  dhtAlpha: DEFAULT_DHT_CONFIG.alpha,
  dhtPaths: DEFAULT_DHT_CONFIG.paths,
  dhtTransientLinks: 8,
  dhtTransientIdleMs: 10_000,
  dhtQueryTimeoutMs: 2_000,
  dhtLookupTimeoutMs: DEFAULT_DHT_CONFIG.lookupTimeoutMs,
  dhtRefreshIntervalMs: 600_000,
  dhtProviderRepublishMs: 12 * 3_600_000,
  dhtRecordRepublishMs: 3_600_000,
  dhtQueriesPerPeerPerSecond: DEFAULT_DHT_CONFIG.queriesPerPeerPerSecond,
  dhtMaxRecords: DEFAULT_DHT_STORE_CONFIG.maxRecords,
  dhtMaxRecordBytes: DEFAULT_DHT_STORE_CONFIG.maxRecordBytes,
  dhtMaxProviders: DEFAULT_DHT_STORE_CONFIG.maxProviders,
  topicLogMaxMessages: DEFAULT_TOPICS_CONFIG.topicLogMaxMessages,
  topicLogMaxBytes: DEFAULT_TOPICS_CONFIG.topicLogMaxBytes,
  topicLogMaxAgeMs: DEFAULT_TOPICS_CONFIG.topicLogMaxAgeMs,
  causalWaitMs: DEFAULT_CAUSAL_CONFIG.causalWaitMs,
  causalBufferMessages: DEFAULT_CAUSAL_CONFIG.causalBufferMessages,
  causalBufferBytes: DEFAULT_CAUSAL_CONFIG.causalBufferBytes,
  reachabilityCheck: DEFAULT_NAT_CONFIG.enabled,
  observedAddressGroups: DEFAULT_NAT_CONFIG.minGroups,
  reachabilityPeers: DEFAULT_NAT_CONFIG.peersPerCheck,
  reachabilityQuorum: DEFAULT_NAT_CONFIG.quorum,
  reachabilityTimeoutMs: DEFAULT_NAT_CONFIG.checkTimeoutMs,
  reachabilityRecheckMs: DEFAULT_NAT_CONFIG.recheckIntervalMs,
  reachabilityRetryMs: DEFAULT_NAT_CONFIG.retryIntervalMs,
  dialBackAskerIntervalMs: DEFAULT_NAT_CONFIG.dialBackAskerIntervalMs,
  dialBackRatePerSecond: DEFAULT_NAT_CONFIG.dialBackRatePerSecond,
  maxConcurrentDialBacks: DEFAULT_NAT_CONFIG.maxConcurrentDialBacks,
});

/** Names of the presets. */
export type PresetName = "default" | "high-throughput" | "low-resource" | "high-security";

/** The design's presets, with exactly its values ("Configuration Tuning"). */
export const PRESETS: Readonly<Record<PresetName, Readonly<Partial<NetworkConfig>>>> = Object.freeze({
  "default": Object.freeze({}),
  "high-throughput": Object.freeze({ gossipFanout: 5, gossipIntervalMs: 500, maxPeers: 100 }),
  // The DHT settings below are kith's, not the design's (it has no DHT): a small node keeps an eighth of the store
  // and opens fewer transient links; a cautious one looks up over three disjoint paths.
  "low-resource": Object.freeze({
    gossipFanout: 2,
    gossipIntervalMs: 2_000,
    maxPeers: 20,
    messageCacheSize: 1_000,
    dhtTransientLinks: 4,
    dhtMaxRecords: 512,
    dhtMaxRecordBytes: 512 * 1024,
    dhtMaxProviders: 2_048,
  }),
  "high-security": Object.freeze({ initialTrustScore: 0.3, minTrustThreshold: 0.5, trustDecayRate: 0.02, dhtPaths: 3 }),
});

type Rule =
  | { kind: "int"; min: number; max: number }
  | { kind: "unit" }
  | { kind: "string"; maxBytes: number }
  | { kind: "host" }
  | { kind: "address" }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] };

const int = (min: number, max = Number.MAX_SAFE_INTEGER): Rule => ({ kind: "int", min, max });
const RULES: Record<Exclude<keyof NetworkConfig, "bootstrap" | "dialAllow" | "dialDeny" | "topicSettings">, Rule> = {
  networkId: { kind: "string", maxBytes: 64 },
  dialPolicy: { kind: "enum", values: DIAL_POLICY_NAMES },
  listenHost: { kind: "host" },
  listenPort: int(0, 65535),
  advertisedAddress: { kind: "address" },
  gossipFanout: int(1, 1000),
  gossipOriginPrune: { kind: "bool" },
  gossipIntervalMs: int(10),
  maxPeers: int(1, 10_000),
  minPeers: int(0, 10_000),
  messageCacheSize: int(16),
  initialTrustScore: { kind: "unit" },
  minTrustThreshold: { kind: "unit" },
  trustDecayRate: { kind: "unit" },
  trustDecayIntervalMs: int(1),
  messageTtl: int(1, 255),
  maxTtl: int(0, 255),
  maxMessageAgeMs: int(1_000),
  maxClockSkewMs: int(0),
  maxApplicationPayloadBytes: int(1),
  maxFrameBytes: int(1024, 16 * 1024 * 1024),
  verifyThreads: int(0, 64),
  peerMaintenanceIntervalMs: int(10),
  heartbeatIntervalMs: int(10),
  rttProbeIntervalMs: int(0),
  peerTimeoutMs: int(10),
  discoveryIntervalMs: int(10),
  handshakeTimeoutMs: int(10),
  storageFlushIntervalMs: int(0),
  trustExchangeIntervalMs: int(1_000),
  maxInbound: int(1),
  maxOutbound: int(1),
  maxConnectionsPerIp: int(1),
  inboundRatePerIp: int(1),
  inboundBurstPerIp: int(1),
  inboundRatePerSubnet: int(1),
  inboundBurstPerSubnet: int(1),
  inboundRateGlobal: int(1),
  inboundBurstGlobal: int(1),
  outboundSlots: int(0),
  maxPeersPerIp: int(1),
  maxPeersPerSubnet: int(1),
  addressIntervalMs: int(1),
  addressBurst: int(1),
  addressCacheMs: int(1),
  // A feeler is a full handshake with a stranger: more than one a second is dialing, not testing the book.
  feelerIntervalMs: int(1_000),
  anchors: int(0),
  peerRateLimit: int(1),
  originRateLimit: int(1),
  maxTopics: int(1, 4096),
  relayAllTopics: { kind: "bool" },
  topicFanoutPeers: int(1, 1000),
  topicFanoutTtlMs: int(1),
  minTopicPeers: int(0, 64),
  topicSlots: int(0, 64),
  dhtEnabled: { kind: "bool" },
  dhtK: int(1, MAX_DHT_CONTACTS),
  // Past 16 queries in flight a lookup would outrun one peer's allowance (MAX_DHT_REQUESTS_IN_FLIGHT).
  dhtAlpha: int(1, 16),
  dhtPaths: int(1, 8),
  dhtTransientLinks: int(0, 256),
  dhtTransientIdleMs: int(100),
  dhtQueryTimeoutMs: int(50),
  dhtLookupTimeoutMs: int(100),
  dhtRefreshIntervalMs: int(1_000),
  dhtProviderRepublishMs: int(1_000),
  dhtRecordRepublishMs: int(1_000),
  dhtQueriesPerPeerPerSecond: int(1),
  dhtMaxRecords: int(1),
  dhtMaxRecordBytes: int(1_024),
  dhtMaxProviders: int(1),
  topicLogMaxMessages: int(0),
  topicLogMaxBytes: int(1),
  topicLogMaxAgeMs: int(1_000),
  causalWaitMs: int(0, 3_600_000),
  causalBufferMessages: int(1, 1_000_000),
  causalBufferBytes: int(1),
  reachabilityCheck: { kind: "bool" },
  observedAddressGroups: int(1, 64),
  reachabilityPeers: int(1, 16),
  reachabilityQuorum: int(1, 16),
  reachabilityTimeoutMs: int(10),
  reachabilityRecheckMs: int(10),
  reachabilityRetryMs: int(10),
  dialBackAskerIntervalMs: int(1),
  dialBackRatePerSecond: int(1, 1000),
  maxConcurrentDialBacks: int(1, 256),
};

/**
 * The full config: defaults, then the preset, then `overrides`.
 *
 * @example
 * ```ts
 * import { resolveNetworkConfig } from "./config.ts";
 * const config = resolveNetworkConfig({ listenPort: 0 }, "low-resource");
 * console.log(config.maxPeers, config.gossipFanout); // 20 2
 * ```
 * @throws {ConfigError} one line naming the key, the value and what is allowed
 */
export function resolveNetworkConfig(
  overrides: Partial<NetworkConfig> = {},
  preset: PresetName = "default",
): NetworkConfig {
  if (!(preset in PRESETS)) {
    throw new ConfigError(
      "preset",
      `preset must be one of ${Object.keys(PRESETS).join(", ")}, got ${JSON.stringify(preset)}`,
    );
  }
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_NETWORK_CONFIG)) throw new ConfigError(key, `unknown setting ${JSON.stringify(key)}`);
  }
  const config = { ...DEFAULT_NETWORK_CONFIG, ...PRESETS[preset], ...overrides } as NetworkConfig;
  if (overrides.outboundSlots === undefined && typeof config.maxPeers === "number") {
    // Leave room for inbound peers when max_peers is small, unless told otherwise.
    config.outboundSlots = Math.min(DEFAULT_NETWORK_CONFIG.outboundSlots, Math.floor(config.maxPeers / 2));
  }
  for (const [key, rule] of Object.entries(RULES) as [keyof typeof RULES, Rule][]) {
    const value = config[key] as unknown;
    const fail = (allowed: string) => {
      throw new ConfigError(key, `${key} must be ${allowed}, got ${JSON.stringify(value)}`);
    };
    switch (rule.kind) {
      case "int":
        if (typeof value !== "number" || !Number.isSafeInteger(value) || value < rule.min || value > rule.max) {
          fail(`an integer in ${rule.min}..${rule.max}`);
        }
        break;
      case "unit":
        if (typeof value !== "number" || !(value >= 0 && value <= 1)) fail("a number in [0, 1]");
        break;
      case "string":
        if (typeof value !== "string" || value.length === 0 || new TextEncoder().encode(value).length > rule.maxBytes) {
          fail(`a string of 1 to ${rule.maxBytes} bytes`);
        }
        break;
      case "host":
        if (typeof value !== "string" || parseHostPort(formatHostPort(value, 1)) === undefined) {
          fail("an IP address or host name");
        }
        break;
      case "bool":
        if (typeof value !== "boolean") fail("true or false");
        break;
      case "enum":
        if (typeof value !== "string" || !rule.values.includes(value)) fail(`one of ${rule.values.join(", ")}`);
        break;
      case "address":
        if (typeof value !== "string" || (value !== "" && parseHostPort(value) === undefined)) fail('"" or host:port');
        break;
    }
  }
  if (!Array.isArray(config.bootstrap) || config.bootstrap.some((a) => typeof a !== "string" || !parseHostPort(a))) {
    throw new ConfigError(
      "bootstrap",
      `bootstrap must be a list of host:port addresses, got ${JSON.stringify(config.bootstrap)}`,
    );
  }
  for (const key of ["dialAllow", "dialDeny"] as const) {
    if (!Array.isArray(config[key]) || config[key].some((range) => typeof range !== "string")) {
      throw new ConfigError(key, `${key} must be a list of CIDR ranges, got ${JSON.stringify(config[key])}`);
    }
  }
  dialPolicyOf(config); // malformed ranges and refused bootstrap entries are refused here, naming the key
  if (config.minPeers > config.maxPeers) {
    throw new ConfigError("minPeers", `minPeers (${config.minPeers}) must not exceed maxPeers (${config.maxPeers})`);
  }
  if (config.outboundSlots > config.maxPeers) {
    throw new ConfigError(
      "outboundSlots",
      `outboundSlots (${config.outboundSlots}) must not exceed maxPeers (${config.maxPeers})`,
    );
  }
  if (config.maxApplicationPayloadBytes > config.maxFrameBytes - 1024) {
    throw new ConfigError(
      "maxApplicationPayloadBytes",
      `maxApplicationPayloadBytes must be at least 1 KiB below maxFrameBytes`,
    );
  }
  if (config.maxMessageAgeMs > 600_000) {
    throw new ConfigError("maxMessageAgeMs", "maxMessageAgeMs must be at most 600000 (the dedup window must cover it)");
  }
  if (config.heartbeatIntervalMs >= config.peerTimeoutMs) {
    throw new ConfigError(
      "heartbeatIntervalMs",
      `heartbeatIntervalMs (${config.heartbeatIntervalMs}) must be below peerTimeoutMs (${config.peerTimeoutMs}), ` +
        "or idle peers time out without ever being probed",
    );
  }
  if (config.dhtLookupTimeoutMs < config.dhtQueryTimeoutMs) {
    throw new ConfigError(
      "dhtLookupTimeoutMs",
      `dhtLookupTimeoutMs (${config.dhtLookupTimeoutMs}) must be at least dhtQueryTimeoutMs (${config.dhtQueryTimeoutMs})`,
    );
  }
  if (config.dhtProviderRepublishMs >= DEFAULT_DHT_CONFIG.providerTtlMs) {
    throw new ConfigError(
      "dhtProviderRepublishMs",
      `dhtProviderRepublishMs must be below the provider lifetime (${DEFAULT_DHT_CONFIG.providerTtlMs} ms), or provider records lapse between rounds`,
    );
  }
  if (config.dhtRecordRepublishMs >= MAX_RECORD_LIFETIME_MS) {
    throw new ConfigError(
      "dhtRecordRepublishMs",
      `dhtRecordRepublishMs must be below the record lifetime (${MAX_RECORD_LIFETIME_MS} ms), or records lapse between rounds`,
    );
  }
  if (config.messageTtl > config.maxTtl) {
    throw new ConfigError("messageTtl", `messageTtl (${config.messageTtl}) must not exceed maxTtl (${config.maxTtl})`);
  }
  checkComponents(config);
  return config;
}

/**
 * The components' own settings that each {@link NetworkConfig} key becomes (see {@link componentConfigs}),
 * so that a component's refusal names the key the user wrote.
 */
const SOURCE_OF: Readonly<Record<string, keyof NetworkConfig>> = {
  "transport.networkId": "networkId",
  "transport.listenHost": "listenHost",
  "transport.listenPort": "listenPort",
  "transport.advertisedAddress": "advertisedAddress",
  "transport.maxInbound": "maxInbound",
  "transport.maxOutbound": "maxOutbound",
  "transport.maxConnectionsPerIp": "maxConnectionsPerIp",
  "transport.inboundRatePerIp": "inboundRatePerIp",
  "transport.inboundBurstPerIp": "inboundBurstPerIp",
  "transport.inboundRatePerSubnet": "inboundRatePerSubnet",
  "transport.inboundBurstPerSubnet": "inboundBurstPerSubnet",
  "transport.inboundRateGlobal": "inboundRateGlobal",
  "transport.inboundBurstGlobal": "inboundBurstGlobal",
  "transport.handshakeTimeoutMs": "handshakeTimeoutMs",
  "transport.maxFrameBytes": "maxFrameBytes",
  "transport.maxHandshakeFrameBytes": "maxFrameBytes",
  "peers.minPeers": "minPeers",
  "peers.maxPeers": "maxPeers",
  "peers.outboundSlots": "outboundSlots",
  "peers.maxPeersPerIp": "maxPeersPerIp",
  "peers.maxPeersPerSubnet": "maxPeersPerSubnet",
  "peers.bootstrap": "bootstrap",
  "peers.maintenanceIntervalMs": "peerMaintenanceIntervalMs",
  "peers.heartbeatIntervalMs": "heartbeatIntervalMs",
  "peers.rttProbeIntervalMs": "rttProbeIntervalMs",
  "peers.peerTimeoutMs": "peerTimeoutMs",
  "peers.discoveryIntervalMs": "discoveryIntervalMs",
  "peers.addressIntervalMs": "addressIntervalMs",
  "peers.addressBurst": "addressBurst",
  "peers.addressCacheMs": "addressCacheMs",
  "peers.feelerIntervalMs": "feelerIntervalMs",
  "peers.anchors": "anchors",
  "peers.topicSlots": "topicSlots",
  "trust.initialTrust": "initialTrustScore",
  "trust.minTrustThreshold": "minTrustThreshold",
  "trust.decayRate": "trustDecayRate",
  "trust.decayIntervalMs": "trustDecayIntervalMs",
  "gossip.fanout": "gossipFanout",
  "gossip.originPrune": "gossipOriginPrune",
  "gossip.intervalMs": "gossipIntervalMs",
  "gossip.messageCacheSize": "messageCacheSize",
  "gossip.defaultTtl": "messageTtl",
  "gossip.maxApplicationPayloadBytes": "maxApplicationPayloadBytes",
  "gossip.peerRateLimit": "peerRateLimit",
  "gossip.peerRateBurst": "peerRateLimit",
  "gossip.originRateLimit": "originRateLimit",
  "gossip.originRateBurst": "originRateLimit",
  "gossip.dedupWindowMs": "maxMessageAgeMs",
  "gossip.repairWindowMs": "maxMessageAgeMs",
  "nat.quorum": "reachabilityQuorum",
  "nat.minGroups": "observedAddressGroups",
};

/**
 * Runs every component's own validation on what `config` becomes, so that a setting no component would
 * take is refused here (by `new KithNode`), naming the key, and never later in `start()`.
 */
function checkComponents(config: NetworkConfig): void {
  const parts = componentConfigs(config);
  try {
    resolveTransportConfig(parts.transport);
    resolvePeersConfig(parts.peers);
    resolveTrustConfig(parts.trust);
    resolveTopicsConfig(parts.topics, resolveGossipConfig(parts.gossip));
    resolveNatConfig(parts.nat);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const key = SOURCE_OF[error.key] ?? error.key;
    // Named once: some components' messages already begin with the key.
    throw new ConfigError(key, error.message.startsWith(key) ? error.message : `${key}: ${error.message}`);
  }
  try {
    new MessageCodec(parts.protocol);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new ConfigError("maxTtl", `${error.message} (from maxTtl, maxMessageAgeMs, maxClockSkewMs, maxFrameBytes)`);
  }
}

/** The parts of a node's configuration, as its components take them. */
export interface ComponentConfigs {
  /** For the transport. */
  transport: Partial<TransportConfig>;
  /** For the peer manager. */
  peers: Partial<PeersConfig>;
  /** For the trust manager. */
  trust: Partial<TrustConfig>;
  /** For gossip. */
  gossip: Partial<GossipConfig>;
  /** For the codec. */
  protocol: Partial<ProtocolLimits>;
  /** For the topic overlays and the topic log's retention. */
  topics: Partial<TopicsConfig>;
  /** For the causal buffer of topic delivery. */
  causal: CausalConfig;
  /** For observed addresses and the reachability check. */
  nat: Partial<NatConfig>;
}

/** The dial policy `config` stands for. @throws {ConfigError} naming `dialAllow`, `dialDeny` or `bootstrap` */
function dialPolicyOf(config: NetworkConfig) {
  return resolveDialPolicy({
    preset: config.dialPolicy,
    listenHost: config.listenHost,
    allow: config.dialAllow,
    deny: config.dialDeny,
    bootstrap: config.bootstrap,
  });
}

/** Splits a resolved config into the components' own settings. */
export function componentConfigs(config: NetworkConfig): ComponentConfigs {
  return {
    transport: {
      networkId: config.networkId,
      listenHost: config.listenHost,
      listenPort: config.listenPort,
      advertisedAddress: config.advertisedAddress,
      maxInbound: config.maxInbound,
      maxOutbound: config.maxOutbound,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      inboundRatePerIp: config.inboundRatePerIp,
      inboundBurstPerIp: config.inboundBurstPerIp,
      inboundRatePerSubnet: config.inboundRatePerSubnet,
      inboundBurstPerSubnet: config.inboundBurstPerSubnet,
      inboundRateGlobal: config.inboundRateGlobal,
      inboundBurstGlobal: config.inboundBurstGlobal,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      maxFrameBytes: config.maxFrameBytes,
      maxHandshakeFrameBytes: Math.min(64 * 1024, config.maxFrameBytes),
      // Room for two of the largest frames (headers aside): below one, a message near maxFrameBytes could never be queued and
      // every link it is sent on would drop as a stalled reader.
      maxSendQueueBytes: Math.max(DEFAULT_TRANSPORT_CONFIG.maxSendQueueBytes, 2 * config.maxFrameBytes),
      dialPolicy: dialPolicyOf(config),
    },
    peers: {
      minPeers: config.minPeers,
      maxPeers: config.maxPeers,
      outboundSlots: config.outboundSlots,
      maxPeersPerIp: config.maxPeersPerIp,
      maxPeersPerSubnet: config.maxPeersPerSubnet,
      bootstrap: config.bootstrap,
      maintenanceIntervalMs: config.peerMaintenanceIntervalMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      rttProbeIntervalMs: config.rttProbeIntervalMs,
      peerTimeoutMs: config.peerTimeoutMs,
      discoveryIntervalMs: config.discoveryIntervalMs,
      addressIntervalMs: config.addressIntervalMs,
      addressBurst: config.addressBurst,
      addressCacheMs: config.addressCacheMs,
      feelerIntervalMs: config.feelerIntervalMs,
      anchors: config.anchors,
      topicSlots: config.topicSlots,
    },
    trust: {
      initialTrust: config.initialTrustScore,
      minTrustThreshold: config.minTrustThreshold,
      decayRate: config.trustDecayRate,
      decayIntervalMs: config.trustDecayIntervalMs,
    },
    gossip: {
      fanout: config.gossipFanout,
      originPrune: config.gossipOriginPrune,
      intervalMs: config.gossipIntervalMs,
      messageCacheSize: config.messageCacheSize,
      defaultTtl: config.messageTtl,
      maxApplicationPayloadBytes: config.maxApplicationPayloadBytes,
      peerRateLimit: config.peerRateLimit,
      peerRateBurst: config.peerRateLimit * 2,
      originRateLimit: config.originRateLimit,
      originRateBurst: config.originRateLimit * 2,
      dedupWindowMs: Math.max(600_000, config.maxMessageAgeMs + config.maxClockSkewMs),
      repairWindowMs: Math.max(1_000, config.maxMessageAgeMs - 60_000),
    },
    topics: {
      maxTopics: config.maxTopics,
      relayAllTopics: config.relayAllTopics,
      topicFanoutPeers: config.topicFanoutPeers,
      topicFanoutTtlMs: config.topicFanoutTtlMs,
      topicSettings: config.topicSettings,
      minTopicPeers: config.minTopicPeers,
      topicLogMaxMessages: config.topicLogMaxMessages,
      topicLogMaxBytes: config.topicLogMaxBytes,
      topicLogMaxAgeMs: config.topicLogMaxAgeMs,
    },
    causal: {
      causalWaitMs: config.causalWaitMs,
      causalBufferMessages: config.causalBufferMessages,
      causalBufferBytes: config.causalBufferBytes,
      causalBufferPerPeer: Math.max(1, Math.floor(config.causalBufferMessages / 4)),
    },
    nat: {
      enabled: config.reachabilityCheck,
      minGroups: config.observedAddressGroups,
      peersPerCheck: config.reachabilityPeers,
      quorum: config.reachabilityQuorum,
      checkTimeoutMs: config.reachabilityTimeoutMs,
      recheckIntervalMs: config.reachabilityRecheckMs,
      retryIntervalMs: config.reachabilityRetryMs,
      dialBackAskerIntervalMs: config.dialBackAskerIntervalMs,
      dialBackRatePerSecond: config.dialBackRatePerSecond,
      maxConcurrentDialBacks: config.maxConcurrentDialBacks,
    },
    protocol: {
      maxTtl: config.maxTtl,
      maxMessageAgeMs: config.maxMessageAgeMs,
      maxClockSkewMs: config.maxClockSkewMs,
      // At least the largest application payload with its CUSTOM_DATA fields (a topic of at most 255 bytes and
      // the keys), or a message the node lets its application publish would be refused by every receiver.
      maxPayloadBytes: Math.min(
        config.maxFrameBytes - 512,
        Math.max(DEFAULT_PROTOCOL_LIMITS.maxPayloadBytes * 4, config.maxApplicationPayloadBytes + 512),
      ),
    },
  };
}
