/**
 * The peer manager's part of `NetworkConfig` (lib/peers/): bootstrap nodes, how many peers and from where,
 * maintenance, heartbeats and timeouts, and how addresses are taken, answered, tested and kept.
 *
 * @module
 */
import { DEFAULT_PEERS_CONFIG } from "../peers/config.ts";
import { int, type Rule } from "./rules.ts";

/** The peer manager's settings of a node (part of `NetworkConfig`). Each field documents its default and trade-off. */
export interface NetworkPeersConfig {
  /** Bootstrap nodes (`host:port`). Several protect against an eclipse through one of them. Default none. */
  bootstrap: string[];
  /** max_peers. Default 50. More: more bandwidth and memory, more robust. */
  maxPeers: number;
  /** min_peers: below it the node dials and discovers actively. Default 8. */
  minPeers: number;
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
}

/** The defaults of {@link NetworkPeersConfig}, each the one its field names. */
export const DEFAULT_NETWORK_PEERS_CONFIG: Readonly<NetworkPeersConfig> = Object.freeze({
  bootstrap: [],
  maxPeers: DEFAULT_PEERS_CONFIG.maxPeers,
  minPeers: DEFAULT_PEERS_CONFIG.minPeers,
  peerMaintenanceIntervalMs: DEFAULT_PEERS_CONFIG.maintenanceIntervalMs,
  heartbeatIntervalMs: DEFAULT_PEERS_CONFIG.heartbeatIntervalMs,
  rttProbeIntervalMs: DEFAULT_PEERS_CONFIG.rttProbeIntervalMs,
  peerTimeoutMs: DEFAULT_PEERS_CONFIG.peerTimeoutMs,
  discoveryIntervalMs: DEFAULT_PEERS_CONFIG.discoveryIntervalMs,
  outboundSlots: DEFAULT_PEERS_CONFIG.outboundSlots,
  maxPeersPerIp: DEFAULT_PEERS_CONFIG.maxPeersPerIp,
  maxPeersPerSubnet: DEFAULT_PEERS_CONFIG.maxPeersPerSubnet,
  addressIntervalMs: DEFAULT_PEERS_CONFIG.addressIntervalMs,
  addressBurst: DEFAULT_PEERS_CONFIG.addressBurst,
  addressCacheMs: DEFAULT_PEERS_CONFIG.addressCacheMs,
  feelerIntervalMs: DEFAULT_PEERS_CONFIG.feelerIntervalMs,
  anchors: DEFAULT_PEERS_CONFIG.anchors,
});

/** The rule each scalar setting of {@link NetworkPeersConfig} must pass (`bootstrap`: lists, checked in lib/config/validate.ts). */
export const NETWORK_PEERS_RULES: Readonly<Record<Exclude<keyof NetworkPeersConfig, "bootstrap">, Rule>> = {
  maxPeers: int(1, 10_000),
  minPeers: int(0, 10_000),
  peerMaintenanceIntervalMs: int(10),
  heartbeatIntervalMs: int(10),
  rttProbeIntervalMs: int(0),
  peerTimeoutMs: int(10),
  discoveryIntervalMs: int(10),
  outboundSlots: int(0),
  maxPeersPerIp: int(1),
  maxPeersPerSubnet: int(1),
  addressIntervalMs: int(1),
  addressBurst: int(1),
  addressCacheMs: int(1),
  // A feeler is a full handshake with a stranger: more than one a second is dialing, not testing the book.
  feelerIntervalMs: int(1_000),
  anchors: int(0),
};
