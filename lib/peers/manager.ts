/**
 * The peer manager: keeps the policy together. It takes every connection the
 * transport opens (admission), answers the link-level messages itself
 * (HEARTBEAT, PEER_DISCOVERY, PEER_ANNOUNCEMENT, through `link_messages.ts`;
 * topic queries through `topic_queries.ts`), passes every other envelope
 * up through {@link PeerManager.onEnvelope} (to gossip), and on each
 * maintenance tick checks liveness, dials (through `outbound.ts`) and
 * discovers. The rules it applies live in the sibling modules; this one holds
 * the active peers and the order of things.
 *
 * Only a peer's protocol violations (`ProtocolError`) cost it trust; a
 * failure of kith's own code while handling a peer's message is logged.
 *
 * @module
 */
import { announces, NAT_CAPABILITY } from "../version.ts";
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import type { Identity } from "../identity.ts";
import { defaultLogSink, errorFields, type LogSink } from "../log.ts";
import type { CloseInfo, Connection, Transport } from "../transport/types.ts";
import { reasonName, TransportError } from "../transport/types.ts";
import { DisconnectReason, type Envelope, MessageCodec, MessageType } from "../protocol/mod.ts";
import type { RandomSource } from "../random.ts";
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
import { AnswerCache, LINK_TYPES, recordsFor } from "./discovery.ts";
import { AddressIntake } from "./intake.ts";
import { LinkMessages } from "./link_messages.ts";
import { OutboundDials } from "./outbound.ts";
import { TopicExchange, type TopicPeerRecord } from "./topic_queries.ts";
import { isHeartbeatDue, isTimedOut, notePing } from "./liveness.ts";
import type { ActivePeer, ActiveState, AddressBookInfo, PeerInfo, PeerStats } from "./types.ts";

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
  /**
   * The connected peers (node ids) known to be in `topic` (a named one), which a PEER_DISCOVERY naming it is
   * answered with. From the topics layer, which this one does not depend on. Default: none, so topic queries
   * are answered with no records.
   */
  topicPeers?: (topic: string) => readonly string[];
  /** Whether `peer` answers topic queries (its agent announces topics); only those are asked. Default: none. */
  answersTopics?: (peer: ActivePeer) => boolean;
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
  /**
   * Called when a newer link to an active peer takes its old link's place (the transport's duplicate rule:
   * a reconnect while the old link is open, or both ends dialing at once). The peer stays active, so neither
   * {@link PeerManager.onPeerConnected} nor {@link PeerManager.onPeerDisconnected} is called; but what was in
   * flight on the old link may be lost, so what each layer keeps per link is sent again over `peer`'s new one.
   */
  onPeerReplaced: ((peer: ActivePeer) => void) | undefined;
  /**
   * Asked first of each new connection: true when another part of the node owns it (a transient link,
   * lib/peers/transient.ts and transient_inbound.ts), which is then never admitted as a peer. A transient
   * link nothing claims is refused.
   */
  claimConnection: ((connection: Connection) => boolean) | undefined;
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
  readonly #topicExchange: TopicExchange;
  readonly #links: LinkMessages;
  readonly #storage: Storage;
  readonly #outbound: OutboundDials;
  readonly #log: LogSink;
  readonly #lastNovelAt: (nodeId: string) => number;
  /** Key of the netgroup hash that picks the subnets protected from eviction; drawn at the first eviction. */
  #evictionSalt: number | undefined;
  #timer: TimerId | undefined;
  #started = false;
  #stopped = false;
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
    topicDials: 0,
    topicAnswers: 0,
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
      busy: (nodeId) => this.#outbound.busy(nodeId),
    });
    this.#intake = new AddressIntake(this.config);
    this.#answers = new AnswerCache(this.config);
    this.#topicExchange = new TopicExchange({
      config: this.config,
      clock: this.#clock,
      random: this.#random,
      selfNodeId: this.#identity.nodeId,
      active: this.#active,
      addressOf: (nodeId) => this.#book.get(nodeId)?.address ?? "",
      topicPeers: options.topicPeers ?? (() => []),
      answersTopics: options.answersTopics ?? (() => false),
      sendQuery: (peer, topic, now) => {
        this.#links.expectAnswer(peer, topic, now);
        this.#links.send(peer, MessageType.PEER_DISCOVERY, { limit: this.config.announcementSize, topic });
      },
    });
    this.#links = new LinkMessages({
      identity: this.#identity,
      config: this.config,
      clock: this.#clock,
      random: this.#random,
      codec: this.#codec,
      book: this.#book,
      intake: this.#intake,
      answers: this.#answers,
      topicExchange: this.#topicExchange,
      stats: this.#stats,
      active: this.#active,
      permitsDial: (address) => this.#outbound.permitsDial(address),
      penalise: (nodeId, code) => this.#penalise(nodeId, code),
      log: this.#log,
    });
    this.#outbound = new OutboundDials({
      config: this.config,
      transport: this.#transport,
      trust: this.#trust,
      book: this.#book,
      storage: this.#storage,
      clock: this.#clock,
      random: this.#random,
      stats: this.#stats,
      log: this.#log,
      active: this.#active,
    });
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
    this.#outbound.start();
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
    this.#topicExchange.clear();
    await this.#outbound.settle();
  }

  /** Active peers, for gossip. */
  activePeers(): ActivePeer[] {
    return [...this.#active.values()];
  }

  /** The active peer with this id. */
  activePeer(nodeId: string): ActivePeer | undefined {
    return this.#active.get(nodeId);
  }

  /** Whether this manager is dialing `nodeId` now (so another part of the node leaves the link to it). */
  isDialing(nodeId: string): boolean {
    return this.#outbound.isConnecting(nodeId);
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
        linkKind: peer.connection.linkKind,
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
        state: this.#outbound.isConnecting(known.nodeId) ? "connecting" : "known",
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

  /**
   * Charges a peer for an invalid input with `code` (as for link messages) and disconnects it (LOW_TRUST) at
   * once if its trust fell below the threshold. For the layers that check a peer's traffic themselves.
   */
  penalise(nodeId: string, code: string): void {
    this.#penalise(nodeId, code);
  }

  /** Sends an envelope to one active peer; false when it is not active or its queue is full. */
  send(nodeId: string, envelope: Envelope): boolean {
    return this.#active.get(nodeId)?.connection.send(envelope) ?? false;
  }

  // ---- topic peers (for the topic finder) ----

  /**
   * Asks one active peer that answers topic queries, and was not asked one within `discoveryMinIntervalMs`,
   * for peers in `topic` (a PEER_DISCOVERY naming it). Resolves with the records its answer carried that the
   * address intake took and the dial policy permits (they also enter the address book, as any announcement's),
   * or with none after `discoveryMinIntervalMs`; `undefined` when there is no peer to ask now.
   */
  findTopicPeers(topic: string): Promise<TopicPeerRecord[]> | undefined {
    if (!this.#started || this.#stopped || topic === "") return undefined;
    return this.#topicExchange.ask(topic);
  }

  /**
   * Dials `nodeId` at `address` into one of the `topicSlots` outbound links kept for topic peers, beyond the
   * outbound target, under the rules of every outbound dial (see `OutboundDials.dialTopicPeer`). Returns
   * whether the dial started: false when the slots are taken or the dial is one this node would not make.
   */
  dialTopicPeer(nodeId: string, address: string): boolean {
    if (!this.#started || this.#stopped) return false;
    return this.#outbound.dialTopicPeer(nodeId, address);
  }

  /** The links that hold topic slots now, with when each became active. */
  topicLinks(): { nodeId: string; since: number }[] {
    return this.#outbound.topicLinks();
  }

  /** Closes the topic link to `nodeId` (its peer is in none of this node's topics), freeing its slot. */
  releaseTopicLink(nodeId: string): void {
    const peer = this.#active.get(nodeId);
    if (!peer || !this.#outbound.isTopicLink(nodeId)) return;
    this.#outbound.freeTopicSlot(nodeId);
    this.#active.delete(nodeId);
    void peer.connection.close(DisconnectReason.SHUTDOWN, "topic link no longer needed");
  }

  // ---- admission, slots and eviction ----

  #admit(connection: Connection): void {
    const nodeId = connection.remoteNodeId;
    if (this.#stopped) {
      this.#refuse(connection, DisconnectReason.SHUTDOWN, "shutting down");
      return;
    }
    if (this.claimConnection?.(connection)) return;
    if (connection.transient) {
      // Marked by its dialer for DHT questions only, and no part of this node takes it (the DHT is off): it
      // is never a peer, so it cannot take a slot.
      this.#refuse(connection, DisconnectReason.TOO_MANY_CONNECTIONS, "this node takes no transient links");
      return;
    }
    if (this.#outbound.isFeeler(connection)) {
      // A feeler dials no linked node, but the node may link meanwhile, and the feeler's connection may be the
      // one the duplicate rule keeps, at both ends (the other end cannot know it for a feeler): closing it would
      // drop the peer. It answered as a feeler, and stays as the peer's link.
      const linked = this.#active.has(nodeId);
      this.#outbound.feelerAnswered(connection, !linked);
      if (!linked) return;
    }
    if (this.#trust.shouldDisconnect(nodeId)) {
      this.#stats.lowTrustDisconnects++;
      this.#refuse(connection, DisconnectReason.LOW_TRUST, "trust below threshold");
      return;
    }
    const replacing = this.#active.get(nodeId); // the transport replaced a duplicate link
    const group = groupOf(connection);
    if (overGroupBounds(groupCounts(this.#active.values(), group, nodeId), this.config)) {
      this.#stats.refusedByLimits++;
      this.#refuse(connection, DisconnectReason.TOO_MANY_CONNECTIONS, "too many peers from that address or subnet");
      return;
    }
    if (!replacing) {
      const { inbound } = directionCounts(this.#active.values());
      const full = slotsFull(this.config, this.#active.size, inbound, connection.direction);
      if (full && !this.#evictFor(connection)) {
        this.#stats.refusedByLimits++;
        // The dialer authenticated: tell it of others (the cached answer) so a refused newcomer can still join.
        connection.send(this.#links.message(MessageType.PEER_ANNOUNCEMENT, {
          peers: recordsFor(connection.agent, this.#links.answer(nodeId, this.config.announcementSize)),
        }));
        this.#refuse(connection, DisconnectReason.TOO_MANY_CONNECTIONS, "no free peer slot");
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
    } else if (connection.listenAddress === "" && announces(connection.agent, NAT_CAPABILITY)) {
      // The peer itself says it has no address to dial (its reachability check found it private): an
      // untried address others told of it is one nobody can dial, so it is not kept to be passed on.
      const known = this.#book.get(nodeId);
      if (known && !known.tried) this.#book.forget(nodeId);
    } else {
      // An inbound peer's claimed listen address is hearsay, from the peer's own network group.
      this.#book.hear(nodeId, dialableAddressOf(connection), now, group.subnet);
    }
    this.#outbound.noteConnected(connection);
    const initial = connection.initialPeers;
    const take = this.#intake.take(nodeId, initial.length, now, false);
    peer.announced = this.#book.learn(this.#links.dialable(initial), nodeId, group.subnet, take);
    if (connection.direction === "outbound" && !replacing) {
      // Ask the peer just reached for its peers: over the authenticated link, a solicited answer.
      this.#links.ask(peer, now);
      this.#outbound.saveAnchors();
    }
    try {
      if (replacing) this.onPeerReplaced?.(peer);
      else this.onPeerConnected?.(peer);
    } catch (error) {
      this.#log("error", `${replacing ? "onPeerReplaced" : "onPeerConnected"} handler failed`, errorFields(error));
    }
  }

  /** Closes a connection that never became an active peer, with a log line that says why (active peers' closes are logged by their owner). */
  #refuse(connection: Connection, reason: number, why: string): void {
    this.#log("info", "connection refused", {
      peer: connection.remoteNodeId.slice(0, 16),
      address: connection.remoteAddress,
      reason: reasonName(reason),
      why,
    });
    void connection.close(reason, why);
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
    if (!this.#active.has(peer.nodeId)) {
      this.#outbound.freeTopicSlot(peer.nodeId);
      this.#topicExchange.dropped(peer.nodeId);
    }
    if (peer.connection.direction === "outbound") this.#outbound.noteClosed(peer.connection, info);
    if (peer.replaced) return; // the peer is still active through its newer link
    this.#intake.drop(peer.nodeId);
    const known = this.#book.get(peer.nodeId);
    if (known && peer.lastHeard > known.lastSeen) {
      known.lastSeen = peer.lastHeard;
      this.#book.persist(known);
    }
    if (peer.connection.direction === "outbound" && !this.#stopped) this.#outbound.saveAnchors();
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
    if (LINK_TYPES.has(envelope.type)) return this.#links.receive(peer, envelope, arrived);
    try {
      this.onEnvelope?.(peer, envelope);
    } catch (error) {
      this.#log("error", "onEnvelope handler failed", errorFields(error));
    }
  }

  // ---- maintenance ----

  #tick(): void {
    if (this.#stopped) return;
    try {
      this.#checkLiveness();
      this.#outbound.round();
      this.#outbound.feel();
      this.#links.discover();
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
        this.#links.send(peer, MessageType.HEARTBEAT, { seq: notePing(peer, now), reply: false });
      }
    }
  }
}
