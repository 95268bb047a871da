/**
 * The peer manager: keeps the policy together. It takes every connection the
 * transport opens (admission), answers the link-level messages itself
 * (HEARTBEAT, PEER_DISCOVERY, PEER_ANNOUNCEMENT), passes every other envelope
 * up through {@link PeerManager.onEnvelope} (to gossip), and on each
 * maintenance tick checks liveness, dials and discovers. The rules it applies
 * live in the sibling modules; this one holds the state and the order of things.
 *
 * Only a peer's protocol violations ({@link ProtocolError}) cost it trust; a
 * failure of kith's own code while handling a peer's message is logged.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { bytesEqual, fromHex } from "../bytes.ts";
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import { ProtocolError } from "../errors.ts";
import type { Identity } from "../identity.ts";
import { defaultLogSink, errorFields, type LogSink } from "../log.ts";
import { networkGroup } from "../netgroup.ts";
import type { CloseInfo, Connection, Transport } from "../transport/types.ts";
import { TransportError } from "../transport/types.ts";
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
} from "../protocol/mod.ts";
import { type RandomSource, shuffleInPlace } from "../random.ts";
import { BoundedMap } from "../ratelimit.ts";
import type { Storage } from "../storage/types.ts";
import type { TrustModel } from "../trust.ts";
import {
  dialableAddressOf,
  directionCounts,
  evictionVictim,
  groupCounts,
  groupOf,
  newActiveState,
  overGroupBounds,
  slotsFull,
} from "./admission.ts";
import { AddressBook } from "./book.ts";
import { type PeersConfig, resolvePeersConfig } from "./config.ts";
import { backoffMs, dialBudget, isDialable, pickDialTargets } from "./dialer.ts";
import { announceable, discoveryTargets, LINK_TYPES, takeDiscoveryAnswer } from "./discovery.ts";
import { isHeartbeatDue, isTimedOut, notePing, notePong, takeHeartbeatAnswer } from "./liveness.ts";
import type { ActivePeer, ActiveState, BootstrapEntry, PeerInfo, PeerStats } from "./types.ts";

/** Refused addresses remembered so that each is logged and counted once. */
const REFUSED_ADDRESSES_REMEMBERED = 1_000;

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
  /** Overrides of `DEFAULT_PEERS_CONFIG`. */
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
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #codec: MessageCodec;
  readonly #active = new Map<string, ActiveState>();
  readonly #book: AddressBook;
  readonly #connecting = new Set<string>(); // node ids or bootstrap addresses
  readonly #log: LogSink;
  readonly #bootstrap: BootstrapEntry[];
  readonly #dials = new Set<Promise<void>>();
  #timer: TimerId | undefined;
  #started = false;
  #stopped = false;
  #lastDiscovery = 0;
  // Addresses the dial policy refused, so each is logged and counted once (while remembered).
  readonly #refusedAddresses = new BoundedMap<string, true>(REFUSED_ADDRESSES_REMEMBERED);
  readonly #stats: PeerStats = {
    dials: 0,
    dialFailures: 0,
    refusedByLimits: 0,
    evictions: 0,
    timeouts: 0,
    lowTrustDisconnects: 0,
    forgotten: 0,
    refusedByPolicy: 0,
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
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#codec = options.codec ?? new MessageCodec();
    this.#log = options.log ?? defaultLogSink;
    this.#book = new AddressBook({
      selfNodeId: this.#identity.nodeId,
      selfAddress: options.selfAddress ?? (() => ""),
      storage: options.storage,
      trust: this.#trust,
      clock: this.#clock,
      maxKnownPeers: this.config.maxKnownPeers,
      busy: (nodeId) => this.#active.has(nodeId) || this.#connecting.has(nodeId),
    });
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
    this.#book.load();
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
        address: this.#book.get(peer.nodeId)?.address ?? peer.connection.listenAddress,
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
    for (const known of this.#book.values()) {
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
    const group = groupOf(connection);
    if (overGroupBounds(groupCounts(this.#active.values(), group, nodeId), this.config)) {
      this.#stats.refusedByLimits++;
      void connection.close(DisconnectReason.TOO_MANY_CONNECTIONS, "too many peers from that network");
      return;
    }
    if (!replacing) {
      const { inbound } = directionCounts(this.#active.values());
      const full = slotsFull(this.config, this.#active.size, inbound, connection.direction);
      if (full && !this.#evictFor(connection)) {
        this.#stats.refusedByLimits++;
        void connection.close(DisconnectReason.TOO_MANY_CONNECTIONS, "no free peer slot");
        return;
      }
    }
    const now = this.#clock.now();
    const peer = newActiveState(connection, group, now);
    if (replacing) replacing.replaced = true;
    this.#active.set(nodeId, peer);
    connection.onEnvelope = (envelope) => this.#receive(peer, envelope);
    connection.onClose = (info) => this.#closed(peer, info);
    this.#book.remember(nodeId, dialableAddressOf(connection), now, {
      connected: true,
      publicKey: connection.remotePublicKey,
    });
    for (const entry of this.#bootstrap) {
      if (entry.address === connection.remoteAddress) {
        entry.nodeId = nodeId;
        entry.failures = 0;
      }
    }
    peer.announced = this.#book.learn(this.#dialable(connection.initialPeers), nodeId);
    if (!replacing) {
      try {
        this.onPeerConnected?.(peer);
      } catch (error) {
        this.#log("error", "onPeerConnected handler failed", errorFields(error));
      }
    }
  }

  /** Makes room for `newcomer` by evicting the peer {@link evictionVictim} names; returns whether room was made. */
  #evictFor(newcomer: Connection): boolean {
    const worst = evictionVictim(this.#active.values(), newcomer, this.#trust);
    if (worst === undefined) return false;
    const victim = this.#active.get(worst)!;
    this.#active.delete(worst); // free the slot now; the close completes in the background
    this.#stats.evictions++;
    void victim.connection.close(DisconnectReason.EVICTED, "replaced by a better peer");
    return true;
  }

  #closed(peer: ActiveState, info: CloseInfo): void {
    if (this.#active.get(peer.nodeId) === peer) this.#active.delete(peer.nodeId);
    if (peer.replaced) return; // the peer is still active through its newer link
    const known = this.#book.get(peer.nodeId);
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
        throw new ProtocolError("BAD_FIELD", "link message from another origin");
      }
      message = this.#codec.verify(envelope, this.#clock.now(), { linkPeer: peer.nodeId });
    } catch (error) {
      // Only the peer's own violations cost it trust; anything else is a bug here, not the peer's doing.
      if (error instanceof ProtocolError) this.#penalise(peer.nodeId, error.code);
      else this.#log("error", "link message check failed", { peer: peer.nodeId, ...errorFields(error) });
      return;
    }
    const now = this.#clock.now();
    switch (message.type) {
      case MessageType.HEARTBEAT:
        if (message.payload.reply) notePong(peer, message.payload.seq, now);
        else if (takeHeartbeatAnswer(peer, now)) {
          this.#sendLink(peer, MessageType.HEARTBEAT, { seq: message.payload.seq, reply: true });
        }
        break;
      case MessageType.PEER_DISCOVERY:
        if (takeDiscoveryAnswer(peer, now, this.config)) {
          this.#sendLink(peer, MessageType.PEER_ANNOUNCEMENT, {
            peers: this.#announceable(peer.nodeId, Math.min(message.payload.limit, this.config.announcementSize)),
          });
        }
        break;
      case MessageType.PEER_ANNOUNCEMENT:
        peer.announced = this.#book.learn(this.#dialable(message.payload.peers), peer.nodeId);
        break;
    }
  }

  /**
   * The announced records whose addresses the dial policy permits: the others are hearsay pointing where
   * this node must not connect, so they never enter the book (nor take its room from dialable ones).
   */
  #dialable(records: readonly PeerRecord[]): PeerRecord[] {
    return records.filter((record) => this.#permitsDial(record.address));
  }

  /** Whether the transport's dial policy permits `address`; a refusal is counted and logged once per address. */
  #permitsDial(address: string): boolean {
    if (typeof address !== "string") return false;
    if (this.#transport.permitsDial(address)) return true;
    if (!this.#refusedAddresses.has(address)) {
      this.#refusedAddresses.set(address, true);
      this.#stats.refusedByPolicy++;
      this.#log("debug", "address refused by the dial policy", { address });
    }
    return false;
  }

  #sendLink<T extends MessageType>(peer: ActiveState, type: T, payload: PayloadByType[T]): void {
    peer.connection.send(createLinkMessage(this.#identity, type, payload, { timestamp: this.#clock.now() }));
  }

  #announceable(requester: string, limit: number): PeerRecord[] {
    return announceable(
      requester,
      limit,
      this.#clock.now(),
      this.#active.values(),
      this.#book.values(),
      (nodeId) => this.#book.get(nodeId)?.address ?? "",
      this.config,
      (items) => this.#shuffled(items),
    );
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
      if (isTimedOut(peer, now, this.config)) {
        this.#stats.timeouts++;
        this.#trust.recordTimeout(peer.nodeId);
        this.#active.delete(peer.nodeId);
        void peer.connection.close(DisconnectReason.TIMEOUT, "no traffic or heartbeat reply");
        continue;
      }
      this.#enforceTrust(peer.nodeId);
      if (!this.#active.has(peer.nodeId)) continue;
      if (isHeartbeatDue(peer, now, this.config)) {
        this.#sendLink(peer, MessageType.HEARTBEAT, { seq: notePing(peer, now), reply: false });
      }
    }
  }

  #dialCandidates(): void {
    const { outbound } = directionCounts(this.#active.values());
    const active = this.#active.size;
    let budget = dialBudget(this.config, active, outbound, this.#dials.size);
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
    const pending = [...this.#connecting].map((key) => this.#book.get(key)).filter((k) => k !== undefined)
      .map((k) => networkGroup(parseHostPort(k!.address)!.host));
    const busy = (nodeId: string) => this.#active.has(nodeId) || this.#connecting.has(nodeId);
    const candidates = this.#shuffled(
      [...this.#book.values()].filter((known) =>
        isDialable(known, now, busy, this.config, this.#trust) && this.#permitsDial(known.address)
      ),
    );
    for (const known of pickDialTargets(candidates, this.#active.values(), pending, budget, this.config, this.#trust)) {
      this.#dial(known.address, known.nodeId);
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

  #dialFailed(
    nodeId: string | undefined,
    bootstrap: BootstrapEntry | undefined,
    error: unknown,
  ): void {
    const now = this.#clock.now();
    const wrongPeer = error instanceof TransportError && error.code === "WRONG_PEER";
    if (bootstrap) {
      bootstrap.failures++;
      bootstrap.nextDialAt = now + backoffMs(bootstrap.failures, this.config, this.#random);
      if (wrongPeer) bootstrap.nodeId = undefined; // the bootstrap node was re-keyed: learn its new id
    }
    if (!nodeId) return;
    const known = this.#book.get(nodeId);
    if (!known) return;
    known.failures++;
    known.nextDialAt = now + backoffMs(known.failures, this.config, this.#random);
    if (wrongPeer || known.failures >= this.config.maxDialFailures) {
      this.#book.forget(nodeId, known.failures);
      this.#stats.forgotten++;
      return;
    }
    this.#book.persist(known);
  }

  #discover(): void {
    const now = this.#clock.now();
    const targets = discoveryTargets(
      this.#active.values(),
      this.#active.size,
      now,
      this.#lastDiscovery,
      this.config,
      (items) => this.#shuffled(items),
    );
    if (targets === undefined) return;
    this.#lastDiscovery = now;
    for (const peer of targets) {
      peer.lastDiscoveryAsked = now;
      this.#sendLink(peer, MessageType.PEER_DISCOVERY, { limit: this.config.announcementSize });
    }
  }
}
