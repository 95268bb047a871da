/**
 * Peer-management settings: the defaults and their validation, apart from the
 * manager so the CLI's config loader can resolve them without the rest of the layer.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { ConfigError } from "../errors.ts";
import { MAX_PEER_LIST } from "../protocol/mod.ts";

/** Peer-management settings. Every field documents its default and trade-off. */
export interface PeersConfig {
  /** Below this many active peers the node dials and discovers actively. Default 8. */
  minPeers: number;
  /** Most active peers. Default 50. More peers cost memory and bandwidth and speed up gossip. */
  maxPeers: number;
  /**
   * Slots of `maxPeers` kept for outbound connections, which inbound ones cannot take. Default 8 (at most
   * half of `maxPeers` when not set). An attacker that floods a node with inbound connections still leaves
   * it these peers of its own choosing.
   */
  outboundSlots: number;
  /** Most active peers on one host (IP address). Default 2. */
  maxPeersPerIp: number;
  /** Most active peers in one /24 (IPv4) or /48 (IPv6) subnet. Default 4. */
  maxPeersPerSubnet: number;
  /** Addresses (`host:port`) to dial first; unreachable ones are retried with backoff, never forgotten. */
  bootstrap: readonly string[];
  /** How often the manager checks timeouts, dials and discovery, ms. Default 1,000. */
  maintenanceIntervalMs: number;
  /** HEARTBEAT to each peer this often when nothing else was heard, ms. Default 10,000. */
  heartbeatIntervalMs: number;
  /**
   * HEARTBEAT to each peer this often whatever the traffic, ms, so every link's round trip (`rttMs`) is
   * measured: once just after the link opens, then at this interval. Default 20,000. Shorter: fresher round
   * trips for 2 small frames per peer per probe; 0: probe only silent peers (rttMs stays unknown on busy links).
   */
  rttProbeIntervalMs: number;
  /** A peer silent this long is timed out (trust -0.05) and disconnected, ms. Default 30,000. */
  peerTimeoutMs: number;
  /** Background discovery runs this often even with enough peers, ms. Default 30,000. */
  discoveryIntervalMs: number;
  /** Peers asked per discovery round while under `minPeers`. Default 3. */
  discoveryFanout: number;
  /** A peer's PEER_DISCOVERY is answered at most once per this interval, ms. Default 5,000. */
  discoveryMinIntervalMs: number;
  /** Entries per PEER_ANNOUNCEMENT sent, at most 64. Default 32. */
  announcementSize: number;
  /** First retry delay after a failed dial, ms; doubles per failure. Default 1,000. */
  dialBackoffMs: number;
  /** Longest retry delay, ms. Default 300,000. */
  maxDialBackoffMs: number;
  /** Consecutive failed dials after which an address is forgotten (bootstrap ones never are). Default 8. */
  maxDialFailures: number;
  /** Dials in flight at once. Default 4. */
  maxConcurrentDials: number;
  /**
   * Addresses kept in the book (and its table in storage). Default 1,000: three quarters for "new"
   * (hearsay) in buckets chosen by who told this node and the address's subnet, so one source fills at most
   * a sixteenth of them; a quarter for "tried" (reached by this node's own outbound connections).
   */
  maxKnownPeers: number;
  /** Candidates must have been seen within this, ms. Default 24 hours. */
  addressMaxAgeMs: number;
  /**
   * A peer's unsolicited addresses (announcements it was not asked for) are taken at one per this interval, ms.
   * Default 10,000 (0.1 per second, as Bitcoin Core). Answers to this node's own requests do not count.
   */
  addressIntervalMs: number;
  /** Most unsolicited addresses a peer can save up (it starts with one announcement's worth, 64). Default 1,000. */
  addressBurst: number;
  /**
   * How long this node's answer to PEER_DISCOVERY is reused, ms: every requester within the window gets the
   * same records (less itself), so probing cannot enumerate the book quickly. Default 600,000 (10 minutes).
   * While the answer is not full (a small book) it is rebuilt at most every `discoveryMinIntervalMs`.
   */
  addressCacheMs: number;
  /**
   * How often a feeler connection is made, ms: a short outbound dial to a "new" address (or to a "tried"
   * one about to be replaced by a colliding address, test-before-evict) that moves it to "tried" when it
   * answers, and is closed at once. Default 120,000 (as Bitcoin Core).
   */
  feelerIntervalMs: number;
  /**
   * Outbound peers kept as anchors: saved as they change and dialed first after a restart, so an attacker
   * that filled the address book meanwhile does not choose this node's first peers. Default 2; 0 disables.
   */
  anchors: number;
  /**
   * Outbound links kept for topic peers, beyond the `outboundSlots` target: dialed (by the topic finder) to
   * peers another peer or the DHT named as in a topic of this node's, so a node whose own peers are in none
   * of its topics still reaches some. Default 4: a node in 3 small topics (none of whose members are among
   * its own peers) gets a link into each and one more (with 2 the third had none). Each costs one more
   * outbound link; they are chosen from hearsay, so they never count as
   * (or become) the node's own outbound choice: not anchors, and the `outboundSlots` target is still filled
   * from the address book. Same dial policy, per-IP and per-subnet bounds and eviction rules as any outbound
   * link. 0: no topic links (a node then finds a topic's peers only among the peers it has).
   */
  topicSlots: number;
}

/** The default {@link PeersConfig}. */
export const DEFAULT_PEERS_CONFIG: Readonly<PeersConfig> = Object.freeze({
  minPeers: 8,
  maxPeers: 50,
  outboundSlots: 8,
  maxPeersPerIp: 2,
  maxPeersPerSubnet: 4,
  bootstrap: [],
  maintenanceIntervalMs: 1_000,
  heartbeatIntervalMs: 10_000,
  rttProbeIntervalMs: 20_000,
  peerTimeoutMs: 30_000,
  discoveryIntervalMs: 30_000,
  discoveryFanout: 3,
  discoveryMinIntervalMs: 5_000,
  announcementSize: 32,
  dialBackoffMs: 1_000,
  maxDialBackoffMs: 300_000,
  maxDialFailures: 8,
  maxConcurrentDials: 4,
  maxKnownPeers: 1_000,
  addressMaxAgeMs: 24 * 3_600_000,
  addressIntervalMs: 10_000,
  addressBurst: 1_000,
  addressCacheMs: 600_000,
  feelerIntervalMs: 120_000,
  anchors: 2,
  topicSlots: 4,
});

/**
 * The full peers config from defaults and `overrides`.
 *
 * @throws {ConfigError} naming the first invalid key
 */
export function resolvePeersConfig(overrides: Partial<PeersConfig> = {}): PeersConfig {
  const config = { ...DEFAULT_PEERS_CONFIG, ...overrides };
  if (overrides.outboundSlots === undefined && Number.isSafeInteger(config.maxPeers)) {
    config.outboundSlots = Math.min(DEFAULT_PEERS_CONFIG.outboundSlots, Math.floor(config.maxPeers / 2));
  }
  for (const [key, value] of Object.entries(config)) {
    if (key === "bootstrap") continue;
    const min = key === "outboundSlots" || key === "minPeers" || key === "anchors" || key === "rttProbeIntervalMs" ||
        key === "topicSlots"
      ? 0
      : 1;
    if (!Number.isSafeInteger(value) || (value as number) < min) {
      throw new ConfigError(
        `peers.${key}`,
        `peers.${key} must be an integer of at least ${min}, got ${JSON.stringify(value)}`,
      );
    }
  }
  if (config.minPeers > config.maxPeers) {
    throw new ConfigError(
      "peers.minPeers",
      `peers.minPeers (${config.minPeers}) must not exceed peers.maxPeers (${config.maxPeers})`,
    );
  }
  if (config.outboundSlots > config.maxPeers) {
    throw new ConfigError(
      "peers.outboundSlots",
      `peers.outboundSlots must not exceed peers.maxPeers (${config.maxPeers})`,
    );
  }
  if (config.announcementSize > MAX_PEER_LIST) {
    throw new ConfigError("peers.announcementSize", `peers.announcementSize must be at most ${MAX_PEER_LIST}`);
  }
  for (const address of config.bootstrap) {
    if (parseHostPort(address) === undefined) {
      throw new ConfigError("peers.bootstrap", `peers.bootstrap entry ${JSON.stringify(address)} is not host:port`);
    }
  }
  return config;
}
