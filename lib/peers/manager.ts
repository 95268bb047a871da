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
import { type Anchor, loadAnchors, saveAnchors } from "./anchors.ts";
import { AddressBook } from "./book.ts";
import { type PeersConfig, resolvePeersConfig } from "./config.ts";
import { backoffMs, dialBudget, isDialable, pickDialTargets } from "./dialer.ts";
import { announceable, AnswerCache, discoveryTargets, LINK_TYPES, takeDiscoveryAnswer } from "./discovery.ts";
import { AddressIntake } from "./intake.ts";
import { isHeartbeatDue, isTimedOut, notePing, notePong, takeHeartbeatAnswer } from "./liveness.ts";
import type {
  ActivePeer,
  ActiveState,
  AddressBookInfo,
  BootstrapEntry,
  KnownPeer,
  PeerInfo,
  PeerStats,
} from "./types.ts";

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
  /**
   * When a peer last brought a first-seen message (gossip's counters), ms, -Infinity when never: one of the
   * criteria that protect a peer from eviction (lib/peers/eviction.ts). Default: never, for every peer.
   */
  lastNovelAt?: (nodeId: string) => number;
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
  readonly #intake: AddressIntake;
  readonly #answers: AnswerCache;
  readonly #storage: Storage;
  #anchors: Anchor[] = []; // saved anchors still to dial after a restart
  readonly #feelers = new Set<string>(); // node ids being dialed as feelers
  #nextFeelerAt = 0;
  readonly #connecting = new Set<string>(); // node ids or bootstrap addresses
  readonly #log: LogSink;
  readonly #lastNovelAt: (nodeId: string) => number;
  /** Key of the netgroup hash that picks the subnets protected from eviction; drawn at the first eviction. */
  #evictionSalt: number | undefined;
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
    feelers: 0,
    anchorDials: 0,
    announcementsDropped: 0,
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
    this.#storage = options.storage;
    this.#lastNovelAt = options.lastNovelAt ?? (() => -Infinity);
    this.#book = new AddressBook({
      selfNodeId: this.#identity.nodeId,
      selfAddress: options.selfAddress ?? (() => ""),
      storage: options.storage,
      clock: this.#clock,
      random: this.#random,
      capacity: this.config.maxKnownPeers,
      maxAgeMs: this.config.addressMaxAgeMs,
      busy: (nodeId) => this.#active.has(nodeId) || this.#connecting.has(nodeId),
    });
    this.#intake = new AddressIntake(this.config);
    this.#answers = new AnswerCache(this.config);
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

  /** The address book's occupancy and counters, and what the address intake took and dropped. */
  addressBook(): AddressBookInfo {
    const book = this.#book;
    return {
      size: book.size,
      tried: book.triedCount,
      capacity: book.capacity,
      book: { ...book.stats },
      intake: { ...this.#intake.stats },
    };
  }

  /**
   * Loads the address book from storage, takes over the transport's
   * connections, and starts maintenance (dials bootstrap and stored peers at once).
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#book.load();
    this.#anchors = loadAnchors(this.#storage, this.config.anchors);
    this.#nextFeelerAt = this.#clock.now() + this.config.feelerIntervalMs;
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
        tried: this.#book.get(peer.nodeId)?.tried ?? false,
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
        tried: known.tried,
      });
    }
    return out;
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
    if (connection.direction === "outbound" && this.#feelers.has(nodeId)) {
      this.#feelerAnswered(connection);
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
        // The dialer authenticated: tell it of others (the cached answer) so a refused newcomer can still join.
        connection.send(this.#linkMessage(MessageType.PEER_ANNOUNCEMENT, {
          peers: this.#answer(nodeId, this.config.announcementSize),
        }));
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
    if (connection.direction === "outbound") {
      // Only this node's own outbound connection makes an address tried: the one it dialed.
      const occupant = this.#book.markTried(nodeId, connection.remoteAddress, now);
      if (occupant && this.#active.has(occupant.nodeId)) this.#book.resolveCollision(occupant.nodeId, true);
    } else {
      // An inbound peer's claimed listen address is hearsay, from the peer's own network group.
      this.#book.hear(nodeId, dialableAddressOf(connection), now, group.subnet);
    }
    for (const entry of this.#bootstrap) {
      if (entry.address === connection.remoteAddress) {
        entry.nodeId = nodeId;
        entry.failures = 0;
      }
    }
    const initial = connection.initialPeers;
    const take = this.#intake.take(nodeId, initial.length, now, false);
    peer.announced = this.#book.learn(this.#dialable(initial), nodeId, group.subnet, take);
    if (connection.direction === "outbound" && !replacing) {
      // Ask the peer just reached for its peers: over the authenticated link, a solicited answer.
      this.#ask(peer, now);
      this.#saveAnchors();
    }
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
    this.#evictionSalt ??= Math.floor(this.#random() * 2 ** 32);
    const worst = evictionVictim(this.#active.values(), newcomer, {
      trust: this.#trust,
      lastNovelAt: this.#lastNovelAt,
      salt: this.#evictionSalt,
    });
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
    this.#intake.drop(peer.nodeId);
    const known = this.#book.get(peer.nodeId);
    if (known && peer.lastHeard > known.lastSeen) {
      known.lastSeen = peer.lastHeard;
      this.#book.persist(known);
    }
    if (peer.connection.direction === "outbound" && !this.#stopped) this.#saveAnchors();
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
    const arrived = peer.lastHeard = this.#clock.now();
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
      // Cheap checks next: what would be dropped anyway is not verified (nor decoded).
      if (envelope.type === MessageType.PEER_ANNOUNCEMENT && !this.#intake.wants(peer.nodeId, arrived)) {
        this.#stats.announcementsDropped++;
        return;
      }
      if (
        envelope.type === MessageType.PEER_DISCOVERY &&
        arrived - peer.lastDiscoveryAnswered < this.config.discoveryMinIntervalMs
      ) return;
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
            peers: this.#answer(peer.nodeId, Math.min(message.payload.limit, this.config.announcementSize)),
          });
        }
        break;
      case MessageType.PEER_ANNOUNCEMENT: {
        const records = message.payload.peers;
        const take = this.#intake.take(peer.nodeId, records.length, now);
        peer.announced = this.#book.learn(this.#dialable(records), peer.nodeId, peer.group.subnet, take);
        break;
      }
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
    peer.connection.send(this.#linkMessage(type, payload));
  }

  #linkMessage<T extends MessageType>(type: T, payload: PayloadByType[T]): Message<T> {
    return createLinkMessage(this.#identity, type, payload, { timestamp: this.#clock.now() });
  }

  /** Sends `peer` a PEER_DISCOVERY and notes the request, so its answer is taken (once, up to the limit). */
  #ask(peer: ActiveState, now: number): void {
    peer.lastDiscoveryAsked = now;
    this.#intake.asked(peer.nodeId, this.config.announcementSize, now);
    this.#sendLink(peer, MessageType.PEER_DISCOVERY, { limit: this.config.announcementSize });
  }

  /** The (cached) answer to a request for peers from `requester`, at most `limit` records. */
  #answer(requester: string, limit: number): PeerRecord[] {
    return this.#answers.answer(requester, limit, this.#clock.now(), (max) => this.#announceable("", max));
  }

  /** Saves the current outbound peers (feelers aside), longest connected first, as the anchors. */
  #saveAnchors(): void {
    if (this.config.anchors === 0) return;
    const outbound = [...this.#active.values()]
      .filter((p) => p.connection.direction === "outbound" && parseHostPort(p.connection.remoteAddress))
      .sort((a, b) => a.since - b.since)
      .map((p) => ({ nodeId: p.nodeId, address: p.connection.remoteAddress }));
    saveAnchors(this.#storage, outbound, this.config.anchors);
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
      this.#feel();
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
    let budget = dialBudget(this.config, active, outbound, this.#dials.size - this.#feelers.size);
    if (budget <= 0) return;
    const now = this.#clock.now();
    const busy = (nodeId: string) => this.#active.has(nodeId) || this.#connecting.has(nodeId);
    // Anchors first after a restart: the peers this node itself chose last time, alone in their round, before
    // anything it was told.
    if (this.#anchors.length > 0) {
      for (const anchor of this.#anchors.splice(0, budget)) {
        if (busy(anchor.nodeId) || !this.#trust.canDial(anchor.nodeId)) continue;
        this.#stats.anchorDials++;
        this.#dial(anchor.address, anchor.nodeId);
      }
      return;
    }
    // Bootstrap nodes next while below min_peers: they are the way back into the network.
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
    const candidates = this.#sampleCandidates(now, busy, Math.max(8, 4 * budget))
      .filter((known) => isDialable(known, now, busy, this.config, this.#trust) && this.#permitsDial(known.address));
    for (const known of pickDialTargets(candidates, this.#active.values(), pending, budget, this.config, this.#trust)) {
      this.#dial(known.address, known.nodeId);
    }
  }

  /**
   * Up to `count` entries that may be dialed now, half tried and half new where both have enough (as
   * addrman selects), shuffled. Sampling first bounds the trust lookups per round, however full the book.
   */
  #sampleCandidates(now: number, busy: (nodeId: string) => boolean, count: number): KnownPeer[] {
    const tried: KnownPeer[] = [], fresh: KnownPeer[] = [];
    for (const known of this.#book.values()) {
      if (busy(known.nodeId) || known.nextDialAt > now || now - known.lastSeen > this.config.addressMaxAgeMs) continue;
      (known.tried ? tried : fresh).push(known);
    }
    this.#shuffled(tried);
    this.#shuffled(fresh);
    const out: KnownPeer[] = [];
    for (let i = 0; out.length < count && (i < tried.length || i < fresh.length); i++) {
      if (i < tried.length) out.push(tried[i]);
      if (i < fresh.length && out.length < count) out.push(fresh[i]);
    }
    return out;
  }

  /**
   * Every `feelerIntervalMs`, one short outbound dial: to a tried entry a newcomer collided with (test-before-
   * evict), else to a random new entry; if it answers, it becomes tried and the connection is closed at once.
   */
  #feel(): void {
    const now = this.#clock.now();
    if (now < this.#nextFeelerAt || this.#feelers.size > 0) return;
    this.#nextFeelerAt = now + Math.round(this.config.feelerIntervalMs * (0.5 + this.#random()));
    const busy = (nodeId: string) => this.#active.has(nodeId) || this.#connecting.has(nodeId);
    let target = this.#book.collisionToTest();
    if (target && busy(target.nodeId)) {
      // Connected or being dialed right now: as good as an answer.
      this.#book.resolveCollision(target.nodeId, this.#active.has(target.nodeId));
      target = undefined;
    }
    if (!target) {
      target = this.#shuffled(
        [...this.#book.values()].filter((k) => !k.tried && !busy(k.nodeId) && k.nextDialAt <= now),
      ).find((k) => this.#trust.canDial(k.nodeId));
    }
    if (!target) return;
    this.#stats.feelers++;
    this.#feelers.add(target.nodeId);
    this.#dial(target.address, target.nodeId);
  }

  /** A feeler reached its peer: the address becomes tried (a collision is decided for it), and the link closes. */
  #feelerAnswered(connection: Connection): void {
    const nodeId = connection.remoteNodeId;
    const now = this.#clock.now();
    const known = this.#book.get(nodeId);
    if (known?.tried) {
      this.#book.markTried(nodeId, connection.remoteAddress, now);
      this.#book.resolveCollision(nodeId, true);
    } else {
      const occupant = this.#book.markTried(nodeId, connection.remoteAddress, now);
      if (occupant && this.#active.has(occupant.nodeId)) this.#book.resolveCollision(occupant.nodeId, true);
    }
    void connection.close(DisconnectReason.SHUTDOWN, "feeler connection");
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
        if (nodeId) this.#feelers.delete(nodeId);
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
    if (this.#feelers.has(nodeId) && known.tried) this.#book.resolveCollision(nodeId, false);
    known.failures++;
    known.nextDialAt = now + backoffMs(known.failures, this.config, this.#random);
    if (wrongPeer || known.failures >= this.config.maxDialFailures) {
      this.#book.forget(nodeId);
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
    for (const peer of targets) this.#ask(peer, now);
  }
}
