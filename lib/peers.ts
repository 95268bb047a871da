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
 * - candidates to dial are chosen for subnet diversity first, then trust.
 *
 * On loopback every client socket comes from 127.0.0.1, so to let tests and
 * devnets model distinct hosts, an inbound peer whose socket address is
 * loopback is grouped by the loopback listen address it announced.
 *
 * @module
 */
import { parseHostPort } from "./address.ts";
import { bytesEqual, fromHex, toHex } from "./bytes.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import { ConfigError, type ProtocolError } from "./errors.ts";
import type { Identity } from "./identity.ts";
import { defaultLogSink, errorFields, type LogSink } from "./log.ts";
import { isLoopback, type NetworkGroup, networkGroup } from "./netgroup.ts";
import type { CloseInfo, Connection, Transport } from "./transport/types.ts";
import { TransportError } from "./transport/types.ts";
import {
  createLinkMessage,
  DisconnectReason,
  type Envelope,
  MAX_PEER_LIST,
  type Message,
  MessageCodec,
  MessageType,
  type PayloadByType,
  type PeerRecord,
} from "./protocol/mod.ts";
import { type RandomSource, shuffleInPlace } from "./random.ts";
import type { Storage, StoredPeer } from "./storage/types.ts";
import type { TrustModel } from "./trust.ts";

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
  /** Addresses kept in the book. Default 1,000. The least useful go first (never connected, oldest). */
  maxKnownPeers: number;
  /** Candidates must have been seen within this, ms. Default 24 hours. */
  addressMaxAgeMs: number;
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
    const min = key === "outboundSlots" || key === "minPeers" ? 0 : 1;
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

/** Where a peer stands. */
export type PeerState = "known" | "connecting" | "active";

/** A peer as reported by {@link PeerManager.peers}. */
export interface PeerInfo {
  /** Node id (hex). */
  nodeId: string;
  /** Listening address `host:port` (`""` when unknown). */
  address: string;
  /** Current state. */
  state: PeerState;
  /** Direction of the connection, when active. */
  direction?: "inbound" | "outbound";
  /** Current trust. */
  trust: number;
  /** Current reputation. */
  reputation: number;
  /** When last heard from (active) or last seen (known), ms since the epoch. */
  lastSeen: number;
  /** Consecutive failed dials. */
  failures: number;
  /** Last measured heartbeat round trip, ms. */
  rttMs?: number;
  /** Envelopes received from it on its current connection (filled in by the node from gossip's counters). */
  messages?: number;
  /**
   * Node ids (hex) in the latest peer list this active peer sent (its handshake's initial list or its last
   * announcement), at most `MAX_PEER_LIST`: what it says its own neighbours are. Claimed, not verified.
   */
  announced?: readonly string[];
}

/** An active peer, as gossip sees it. */
export interface ActivePeer {
  /** Node id (hex). */
  readonly nodeId: string;
  /** Its connection. */
  readonly connection: Connection;
  /** Its host and subnet, for diversity decisions. */
  readonly group: NetworkGroup;
  /** When it became active, ms since the epoch. */
  readonly since: number;
}

interface ActiveState extends ActivePeer {
  /** Set when a newer link to the same node took this one's place (no disconnect event then). */
  replaced: boolean;
  lastHeard: number;
  lastPingAt: number;
  pingSeq: number;
  pingSentAt: number;
  rttMs: number | undefined;
  lastDiscoveryAnswered: number;
  lastDiscoveryAsked: number;
  lastHeartbeatAnswered: number;
  /** Node ids from its latest peer list (replaced, never appended, so it stays within MAX_PEER_LIST). */
  announced: readonly string[];
}

interface KnownPeer {
  nodeId: string;
  address: string;
  lastSeen: number;
  failures: number;
  nextDialAt: number;
  everConnected: boolean;
}

interface BootstrapEntry {
  address: string;
  nodeId: string | undefined;
  failures: number;
  nextDialAt: number;
}

/** Counters of a peer manager. */
export interface PeerStats {
  /** Dials attempted. */
  dials: number;
  /** Dials that failed. */
  dialFailures: number;
  /** Connections refused or closed by the slot, IP and subnet bounds. */
  refusedByLimits: number;
  /** Peers evicted for a better one. */
  evictions: number;
  /** Peers disconnected for silence. */
  timeouts: number;
  /** Peers disconnected for low trust. */
  lowTrustDisconnects: number;
  /** Addresses forgotten after too many failures. */
  forgotten: number;
}

/** Options of {@link PeerManager}. */
export interface PeerManagerOptions {
  /** This node's identity (signs link messages). */
  identity: Identity;
  /** The transport whose connections this manager takes over. */
  transport: Transport;
  /** The trust model consulted and updated. */
  trust: TrustModel;
  /** The durable address book. */
  storage: Storage;
  /** Overrides of {@link DEFAULT_PEERS_CONFIG}. */
  config?: Partial<PeersConfig>;
  /** Time source and timers. Default: the system clock. */
  clock?: Clock;
  /** Randomness for peer selection. Default: `Math.random`. */
  random?: RandomSource;
  /** Codec for verifying link messages. Default: the protocol's default limits. */
  codec?: MessageCodec;
  /** The address this node listens on, so it never dials itself through an announcement. */
  selfAddress?: () => string;
  /** Where failures of handlers and of maintenance are logged. Default {@link defaultLogSink}. */
  log?: LogSink;
}

const LINK_TYPES: ReadonlySet<number> = new Set([
  MessageType.HEARTBEAT,
  MessageType.PEER_DISCOVERY,
  MessageType.PEER_ANNOUNCEMENT,
]);

/**
 * Keeps a node connected to a healthy, diverse set of peers.
 *
 * @example
 * ```ts ignore
 * const peers = new PeerManager({ identity, transport, trust, storage, config: { bootstrap: ["10.0.0.1:7400"] } });
 * peers.onEnvelope = (peer, envelope) => gossip.receive(peer, envelope);
 * peers.start();
 * ```
 */
export class PeerManager {
  /** The configuration in force. */
  readonly config: Readonly<PeersConfig>;
  /** Called with each envelope that is not link-level (gossip and application traffic). */
  onEnvelope: ((peer: ActivePeer, envelope: Envelope) => void) | undefined;
  /** Called when a peer becomes active. */
  onPeerConnected: ((peer: ActivePeer) => void) | undefined;
  /** Called when an active peer's connection closes. */
  onPeerDisconnected: ((peer: ActivePeer, info: CloseInfo) => void) | undefined;
  readonly #identity: Identity;
  readonly #transport: Transport;
  readonly #trust: TrustModel;
  readonly #storage: Storage;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #codec: MessageCodec;
  readonly #selfAddress: () => string;
  readonly #active = new Map<string, ActiveState>();
  readonly #known = new Map<string, KnownPeer>();
  readonly #connecting = new Set<string>(); // node ids or bootstrap addresses
  readonly #log: LogSink;
  readonly #bootstrap: BootstrapEntry[];
  readonly #dials = new Set<Promise<void>>();
  #timer: TimerId | undefined;
  #started = false;
  #stopped = false;
  #lastDiscovery = 0;
  readonly #stats: PeerStats = {
    dials: 0,
    dialFailures: 0,
    refusedByLimits: 0,
    evictions: 0,
    timeouts: 0,
    lowTrustDisconnects: 0,
    forgotten: 0,
  };

  /**
   * Creates a peer manager; nothing happens until {@link PeerManager.start}.
   *
   * @throws {ConfigError} when a config value is invalid
   */
  constructor(options: PeerManagerOptions) {
    this.config = Object.freeze(resolvePeersConfig(options.config));
    this.#identity = options.identity;
    this.#transport = options.transport;
    this.#trust = options.trust;
    this.#storage = options.storage;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#codec = options.codec ?? new MessageCodec();
    this.#selfAddress = options.selfAddress ?? (() => "");
    this.#log = options.log ?? defaultLogSink;
    this.#bootstrap = this.config.bootstrap.map((address) => ({
      address,
      nodeId: undefined,
      failures: 0,
      nextDialAt: 0,
    }));
  }

  /** Counters. */
  get stats(): Readonly<PeerStats> {
    return { ...this.#stats };
  }

  /**
   * Loads the address book from storage, takes over the transport's
   * connections, and starts maintenance (dials bootstrap and stored peers at once).
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const stored of this.#storage.listPeers({ limit: this.config.maxKnownPeers })) {
      if (stored.address && parseHostPort(stored.address) && stored.nodeId !== this.#identity.nodeId) {
        this.#known.set(stored.nodeId, {
          nodeId: stored.nodeId,
          address: stored.address,
          lastSeen: stored.lastSeen,
          failures: stored.failures,
          nextDialAt: 0,
          // Only a handshake tells us a public key, so a stored key means we once connected.
          everConnected: stored.publicKey !== null,
        });
      }
    }
    this.#transport.onConnection = (connection) => this.#admit(connection);
    this.#transport.onProtocolError = (connection, error) => this.#penalise(connection.remoteNodeId, error.code);
    this.#tick();
  }

  /** Stops maintenance and waits for dials in flight. Connections stay open: closing the transport closes them. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#dials.size > 0) await Promise.allSettled([...this.#dials]);
  }

  /** Active peers, for gossip. */
  activePeers(): ActivePeer[] {
    return [...this.#active.values()];
  }

  /** The active peer with this id. */
  activePeer(nodeId: string): ActivePeer | undefined {
    return this.#active.get(nodeId);
  }

  /** Every peer this node knows, with state, trust and reputation. */
  peers(): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const peer of this.#active.values()) {
      out.push({
        nodeId: peer.nodeId,
        address: this.#known.get(peer.nodeId)?.address ?? peer.connection.listenAddress,
        state: "active",
        direction: peer.connection.direction,
        trust: this.#trust.trust(peer.nodeId),
        reputation: this.#trust.reputation(peer.nodeId),
        lastSeen: peer.lastHeard,
        failures: 0,
        rttMs: peer.rttMs,
        announced: peer.announced,
      });
    }
    for (const known of this.#known.values()) {
      if (this.#active.has(known.nodeId)) continue;
      out.push({
        nodeId: known.nodeId,
        address: known.address,
        state: this.#connecting.has(known.nodeId) ? "connecting" : "known",
        trust: this.#trust.trust(known.nodeId),
        reputation: this.#trust.reputation(known.nodeId),
        lastSeen: known.lastSeen,
        failures: known.failures,
      });
    }
    return out;
  }

  /**
   * Peer records to offer `requester` (for HANDSHAKE_ACK's initial list and PEER_ANNOUNCEMENT): active
   * peers with dialable addresses first, then recently connected known ones, at most `limit`.
   */
  peerRecordsFor(requester: string, limit: number = this.config.announcementSize): PeerRecord[] {
    return this.#announceable(requester, Math.min(limit, MAX_PEER_LIST));
  }

  /** Dials `address` now (outside the automatic policy); resolves when the peer is active. */
  async connect(address: string): Promise<ActivePeer> {
    const connection = await this.#transport.dial(address);
    const peer = this.#active.get(connection.remoteNodeId);
    if (!peer) throw new TransportError("REFUSED_BY_LIMITS", `${address} was connected but refused by peer limits`);
    return peer;
  }

  /** Sends an envelope to one active peer; false when it is not active or its queue is full. */
  send(nodeId: string, envelope: Envelope): boolean {
    return this.#active.get(nodeId)?.connection.send(envelope) ?? false;
  }

  // ---- admission, slots and eviction ----

  #groupOf(connection: Connection): NetworkGroup {
    const socketHost = parseHostPort(connection.remoteAddress)?.host ?? "";
    if (connection.direction === "inbound" && isLoopback(socketHost)) {
      const announced = parseHostPort(connection.listenAddress)?.host;
      if (announced && isLoopback(announced)) return networkGroup(announced);
    }
    return networkGroup(socketHost);
  }

  #groupCounts(group: NetworkGroup, except?: string): { host: number; subnet: number } {
    let host = 0, subnet = 0;
    for (const peer of this.#active.values()) {
      if (peer.nodeId === except) continue;
      if (peer.group.host === group.host) host++;
      if (peer.group.subnet === group.subnet) subnet++;
    }
    return { host, subnet };
  }

  #counts(): { inbound: number; outbound: number } {
    let inbound = 0, outbound = 0;
    for (const peer of this.#active.values()) {
      if (peer.connection.direction === "inbound") inbound++;
      else outbound++;
    }
    return { inbound, outbound };
  }

  #admit(connection: Connection): void {
    const nodeId = connection.remoteNodeId;
    if (this.#stopped) {
      void connection.close(DisconnectReason.SHUTDOWN, "shutting down");
      return;
    }
    if (this.#trust.shouldDisconnect(nodeId)) {
      this.#stats.lowTrustDisconnects++;
      void connection.close(DisconnectReason.LOW_TRUST, "trust below threshold");
      return;
    }
    const replacing = this.#active.get(nodeId); // the transport replaced a duplicate link
    const group = this.#groupOf(connection);
    const counts = this.#groupCounts(group, nodeId);
    if (counts.host >= this.config.maxPeersPerIp || counts.subnet >= this.config.maxPeersPerSubnet) {
      this.#stats.refusedByLimits++;
      void connection.close(DisconnectReason.TOO_MANY_CONNECTIONS, "too many peers from that network");
      return;
    }
    if (!replacing) {
      const { inbound } = this.#counts();
      const total = this.#active.size;
      const inboundCap = this.config.maxPeers - this.config.outboundSlots;
      const full = total >= this.config.maxPeers || (connection.direction === "inbound" && inbound >= inboundCap);
      if (full && !this.#evictFor(connection)) {
        this.#stats.refusedByLimits++;
        void connection.close(DisconnectReason.TOO_MANY_CONNECTIONS, "no free peer slot");
        return;
      }
    }
    const now = this.#clock.now();
    const peer: ActiveState = {
      nodeId,
      connection,
      group,
      since: now,
      replaced: false,
      lastHeard: now,
      lastPingAt: now,
      pingSeq: 0,
      pingSentAt: 0,
      rttMs: undefined,
      lastDiscoveryAnswered: -Infinity,
      lastDiscoveryAsked: -Infinity,
      lastHeartbeatAnswered: -Infinity,
      announced: [],
    };
    if (replacing) replacing.replaced = true;
    this.#active.set(nodeId, peer);
    connection.onEnvelope = (envelope) => this.#receive(peer, envelope);
    connection.onClose = (info) => this.#closed(peer, info);
    const address = parseHostPort(connection.listenAddress)
      ? connection.listenAddress
      : connection.direction === "outbound"
      ? connection.remoteAddress
      : "";
    this.#remember(nodeId, address, now, { connected: true, publicKey: connection.remotePublicKey });
    for (const entry of this.#bootstrap) {
      if (entry.address === connection.remoteAddress) {
        entry.nodeId = nodeId;
        entry.failures = 0;
      }
    }
    peer.announced = this.#learn(connection.initialPeers, nodeId);
    if (!replacing) {
      try {
        this.onPeerConnected?.(peer);
      } catch (error) {
        this.#log("error", "onPeerConnected handler failed", errorFields(error));
      }
    }
  }

  /**
   * Makes room for `newcomer` by evicting the lowest-reputation peer that may
   * be evicted for it (inbound newcomers only displace inbound peers, so
   * outbound slots stay protected), if that peer's reputation is below the
   * newcomer's. Returns whether room was made.
   */
  #evictFor(newcomer: Connection): boolean {
    const candidates = [...this.#active.values()]
      .filter((p) => newcomer.direction === "outbound" || p.connection.direction === "inbound")
      .map((p) => p.nodeId);
    if (candidates.length === 0) return false;
    const [worst] = this.#trust.evictionOrder(candidates);
    if (this.#trust.reputation(worst) >= this.#trust.reputation(newcomer.remoteNodeId)) return false;
    const victim = this.#active.get(worst)!;
    this.#active.delete(worst); // free the slot now; the close completes in the background
    this.#stats.evictions++;
    void victim.connection.close(DisconnectReason.EVICTED, "replaced by a better peer");
    return true;
  }

  #closed(peer: ActiveState, info: CloseInfo): void {
    if (this.#active.get(peer.nodeId) === peer) this.#active.delete(peer.nodeId);
    if (peer.replaced) return; // the peer is still active through its newer link
    const known = this.#known.get(peer.nodeId);
    if (known) known.lastSeen = Math.max(known.lastSeen, peer.lastHeard);
    try {
      this.onPeerDisconnected?.(peer, info);
    } catch (error) {
      this.#log("error", "onPeerDisconnected handler failed", errorFields(error));
    }
  }

  #penalise(nodeId: string, code: string): void {
    this.#trust.recordInvalid(nodeId, code);
    this.#enforceTrust(nodeId);
  }

  #enforceTrust(nodeId: string): void {
    const peer = this.#active.get(nodeId);
    if (peer && this.#trust.shouldDisconnect(nodeId)) {
      this.#stats.lowTrustDisconnects++;
      this.#active.delete(nodeId);
      void peer.connection.close(DisconnectReason.LOW_TRUST, "trust below threshold");
    }
  }

  // ---- the address book ----

  #remember(
    nodeId: string,
    address: string,
    seen: number,
    extra: { connected?: boolean; publicKey?: Uint8Array } = {},
  ) {
    if (nodeId === this.#identity.nodeId) return;
    let known = this.#known.get(nodeId);
    if (!known) {
      if (!address) return;
      if (this.#known.size >= this.config.maxKnownPeers && !this.#dropLeastUseful()) return;
      known = { nodeId, address, lastSeen: 0, failures: 0, nextDialAt: 0, everConnected: false };
      this.#known.set(nodeId, known);
    }
    if (extra.connected) {
      known.failures = 0;
      known.everConnected = true;
      if (address) known.address = address;
    } else if (!known.everConnected && address) {
      known.address = address; // hearsay may update hearsay, never a verified address
    }
    known.lastSeen = Math.max(known.lastSeen, Math.min(seen, this.#clock.now()));
    this.#persist(known, extra.publicKey);
  }

  #persist(known: KnownPeer, publicKey?: Uint8Array): void {
    const stored = this.#storage.getPeer(known.nodeId);
    const now = this.#clock.now();
    const row: StoredPeer = stored ?? {
      nodeId: known.nodeId,
      address: known.address,
      publicKey: null,
      firstSeen: now,
      lastSeen: 0,
      trustScore: this.#trust.trust(known.nodeId),
      trustUpdatedAt: now,
      validCount: 0,
      invalidCount: 0,
      timeoutCount: 0,
      failures: 0,
    };
    this.#storage.savePeer({
      ...row,
      address: known.address,
      lastSeen: known.lastSeen,
      failures: known.failures,
      publicKey: publicKey ?? row.publicKey,
    });
  }

  /** Drops the least useful known, inactive address to make room; false when none can go. */
  #dropLeastUseful(): boolean {
    let worst: KnownPeer | undefined;
    for (const known of this.#known.values()) {
      if (this.#active.has(known.nodeId) || this.#connecting.has(known.nodeId)) continue;
      if (
        !worst || Number(known.everConnected) < Number(worst.everConnected) ||
        (known.everConnected === worst.everConnected &&
          (known.failures > worst.failures || (known.failures === worst.failures && known.lastSeen < worst.lastSeen)))
      ) worst = known;
    }
    if (!worst) return false;
    this.#known.delete(worst.nodeId);
    return true;
  }

  /**
   * Takes peer records from an announcement or HANDSHAKE_ACK. Being announced earns no trust. Returns
   * the node ids the sender listed: its claimed neighbours, for views of the graph beyond one hop.
   */
  #learn(records: readonly PeerRecord[], from: string): string[] {
    const self = this.#selfAddress();
    const listed = new Set<string>();
    for (const record of records.slice(0, MAX_PEER_LIST)) {
      const nodeId = toHex(record.nodeId);
      if (nodeId === from) continue;
      listed.add(nodeId);
      if (nodeId === this.#identity.nodeId || record.address === self) continue;
      if (!parseHostPort(record.address)) continue;
      this.#remember(nodeId, record.address, record.lastSeen);
    }
    return [...listed];
  }

  // ---- messages ----

  #receive(peer: ActiveState, envelope: Envelope): void {
    peer.lastHeard = this.#clock.now();
    if (!LINK_TYPES.has(envelope.type)) {
      try {
        this.onEnvelope?.(peer, envelope);
      } catch (error) {
        this.#log("error", "onEnvelope handler failed", errorFields(error));
      }
      return;
    }
    let message: Message;
    try {
      if (!bytesEqual(envelope.origin, fromHex(peer.nodeId)!)) {
        throw Object.assign(new Error("link message from another origin"), { code: "BAD_FIELD" });
      }
      message = this.#codec.verify(envelope, this.#clock.now(), { linkPeer: peer.nodeId });
    } catch (error) {
      this.#penalise(peer.nodeId, (error as ProtocolError).code ?? "BAD_FIELD");
      return;
    }
    const now = this.#clock.now();
    switch (message.type) {
      case MessageType.HEARTBEAT:
        if (message.payload.reply) {
          if (message.payload.seq === peer.pingSeq && peer.pingSentAt > 0) {
            peer.rttMs = now - peer.pingSentAt;
            peer.pingSentAt = 0;
          }
        } else if (now - peer.lastHeartbeatAnswered >= 1_000) {
          peer.lastHeartbeatAnswered = now;
          this.#sendLink(peer, MessageType.HEARTBEAT, { seq: message.payload.seq, reply: true });
        }
        break;
      case MessageType.PEER_DISCOVERY:
        if (now - peer.lastDiscoveryAnswered >= this.config.discoveryMinIntervalMs) {
          peer.lastDiscoveryAnswered = now;
          this.#sendLink(peer, MessageType.PEER_ANNOUNCEMENT, {
            peers: this.#announceable(peer.nodeId, Math.min(message.payload.limit, this.config.announcementSize)),
          });
        }
        break;
      case MessageType.PEER_ANNOUNCEMENT:
        peer.announced = this.#learn(message.payload.peers, peer.nodeId);
        break;
    }
  }

  #sendLink<T extends MessageType>(peer: ActiveState, type: T, payload: PayloadByType[T]): void {
    peer.connection.send(createLinkMessage(this.#identity, type, payload, { timestamp: this.#clock.now() }));
  }

  /** Up to `limit` dialable addresses to tell `requester` about: active peers first, then recent known ones. */
  #announceable(requester: string, limit: number): PeerRecord[] {
    const now = this.#clock.now();
    const records: PeerRecord[] = [];
    const add = (nodeId: string, address: string, lastSeen: number) => {
      if (nodeId !== requester && parseHostPort(address)) {
        records.push({ nodeId: fromHex(nodeId)!, address, lastSeen });
      }
    };
    for (const peer of this.#shuffled([...this.#active.values()])) {
      add(peer.nodeId, this.#known.get(peer.nodeId)?.address ?? "", now);
    }
    const recent = [...this.#known.values()].filter((k) =>
      !this.#active.has(k.nodeId) && k.everConnected && now - k.lastSeen <= this.config.addressMaxAgeMs
    );
    for (const known of this.#shuffled(recent)) add(known.nodeId, known.address, known.lastSeen);
    return records.slice(0, limit);
  }

  #shuffled<T>(items: T[]): T[] {
    return shuffleInPlace(items, this.#random);
  }

  // ---- maintenance ----

  #tick(): void {
    if (this.#stopped) return;
    try {
      this.#checkLiveness();
      this.#dialCandidates();
      this.#discover();
    } catch (error) {
      this.#log("error", "peer maintenance failed", errorFields(error));
    }
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.config.maintenanceIntervalMs);
  }

  #checkLiveness(): void {
    const now = this.#clock.now();
    for (const peer of [...this.#active.values()]) {
      if (now - peer.lastHeard >= this.config.peerTimeoutMs) {
        this.#stats.timeouts++;
        this.#trust.recordTimeout(peer.nodeId);
        this.#active.delete(peer.nodeId);
        void peer.connection.close(DisconnectReason.TIMEOUT, "no traffic or heartbeat reply");
        continue;
      }
      this.#enforceTrust(peer.nodeId);
      if (!this.#active.has(peer.nodeId)) continue;
      const quiet = now - Math.max(peer.lastHeard, peer.lastPingAt);
      if (quiet >= this.config.heartbeatIntervalMs) {
        peer.lastPingAt = now;
        peer.pingSeq++;
        peer.pingSentAt = now;
        this.#sendLink(peer, MessageType.HEARTBEAT, { seq: peer.pingSeq, reply: false });
      }
    }
  }

  #dialCandidates(): void {
    const { outbound } = this.#counts();
    const active = this.#active.size;
    const connectingOut = this.#dials.size;
    const want = Math.max(this.config.minPeers - active, this.config.outboundSlots - outbound) - connectingOut;
    let budget = Math.min(
      want,
      this.config.maxConcurrentDials - connectingOut,
      this.config.maxPeers - active - connectingOut,
    );
    if (budget <= 0) return;
    const now = this.#clock.now();
    // Bootstrap nodes first while below min_peers: they are the way back into the network.
    if (active < this.config.minPeers) {
      for (const entry of this.#bootstrap) {
        if (budget <= 0) break;
        if (entry.nodeId && (this.#active.has(entry.nodeId) || this.#connecting.has(entry.nodeId))) continue;
        if (this.#connecting.has(entry.address) || entry.nextDialAt > now) continue;
        budget--;
        this.#dial(entry.address, entry.nodeId, entry);
      }
    }
    if (budget <= 0) return;
    const pendingGroups = [...this.#connecting].map((key) => this.#known.get(key)).filter((k) => k !== undefined)
      .map((k) => networkGroup(parseHostPort(k!.address)!.host));
    const candidates = this.#shuffled(
      [...this.#known.values()].filter((known) =>
        !this.#active.has(known.nodeId) && !this.#connecting.has(known.nodeId) && known.nextDialAt <= now &&
        now - known.lastSeen <= this.config.addressMaxAgeMs && this.#trust.canDial(known.nodeId)
      ),
    );
    const scored = candidates.map((known) => {
      const group = networkGroup(parseHostPort(known.address)!.host);
      const counts = this.#groupCounts(group);
      for (const g of pendingGroups) {
        if (g.host === group.host) counts.host++;
        if (g.subnet === group.subnet) counts.subnet++;
      }
      return { known, group, counts, trust: this.#trust.trust(known.nodeId) };
    }).filter((c) => c.counts.host < this.config.maxPeersPerIp && c.counts.subnet < this.config.maxPeersPerSubnet)
      // Diversity first (fewest peers in the same subnet), then trust.
      .sort((a, b) => a.counts.subnet - b.counts.subnet || b.trust - a.trust);
    const chosenSubnets = new Map<string, number>();
    for (const candidate of scored) {
      if (budget <= 0) break;
      const planned = chosenSubnets.get(candidate.group.subnet) ?? 0;
      if (candidate.counts.subnet + planned >= this.config.maxPeersPerSubnet) continue;
      chosenSubnets.set(candidate.group.subnet, planned + 1);
      budget--;
      this.#dial(candidate.known.address, candidate.known.nodeId);
    }
  }

  #dial(address: string, nodeId: string | undefined, bootstrap?: BootstrapEntry): void {
    const key = nodeId ?? address;
    this.#connecting.add(key);
    if (bootstrap) this.#connecting.add(address);
    this.#stats.dials++;
    const attempt = (async () => {
      try {
        await this.#transport.dial(address, nodeId ? { expectedNodeId: nodeId } : {});
        if (bootstrap) bootstrap.failures = 0;
      } catch (error) {
        this.#stats.dialFailures++;
        this.#dialFailed(nodeId, bootstrap, error);
      } finally {
        this.#connecting.delete(key);
        if (bootstrap) this.#connecting.delete(address);
      }
    })();
    this.#dials.add(attempt);
    attempt.finally(() => this.#dials.delete(attempt));
  }

  #backoff(failures: number): number {
    const base = Math.min(this.config.maxDialBackoffMs, this.config.dialBackoffMs * 2 ** Math.min(30, failures - 1));
    return Math.round(base * (0.75 + 0.5 * this.#random())); // jitter, so peers do not retry in lockstep
  }

  #dialFailed(
    nodeId: string | undefined,
    bootstrap: BootstrapEntry | undefined,
    error: unknown,
  ): void {
    const now = this.#clock.now();
    const wrongPeer = error instanceof TransportError && error.code === "WRONG_PEER";
    if (bootstrap) {
      bootstrap.failures++;
      bootstrap.nextDialAt = now + this.#backoff(bootstrap.failures);
      if (wrongPeer) bootstrap.nodeId = undefined; // the bootstrap node was re-keyed: learn its new id
    }
    if (!nodeId) return;
    const known = this.#known.get(nodeId);
    if (!known) return;
    known.failures++;
    known.nextDialAt = now + this.#backoff(known.failures);
    if (wrongPeer || known.failures >= this.config.maxDialFailures) {
      this.#known.delete(nodeId);
      this.#stats.forgotten++;
      const stored = this.#storage.getPeer(nodeId);
      if (stored) this.#storage.savePeer({ ...stored, address: "", failures: known.failures });
      return;
    }
    this.#persist(known);
  }

  #discover(): void {
    const now = this.#clock.now();
    const below = this.#active.size < this.config.minPeers;
    const due = now - this.#lastDiscovery >= this.config.discoveryIntervalMs;
    if (!below && !due) return;
    const askable = [...this.#active.values()].filter((p) =>
      now - p.lastDiscoveryAsked >= this.config.discoveryMinIntervalMs
    );
    if (askable.length === 0) return;
    this.#lastDiscovery = now;
    for (const peer of this.#shuffled(askable).slice(0, below ? this.config.discoveryFanout : 1)) {
      peer.lastDiscoveryAsked = now;
      this.#sendLink(peer, MessageType.PEER_DISCOVERY, { limit: this.config.announcementSize });
    }
  }
}
export type { NetworkGroup } from "./netgroup.ts";
