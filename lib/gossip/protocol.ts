/**
 * The gossip protocol's policy: what is done with each envelope a peer
 * sends (receive, check, accept), how a new message spreads (eager links in
 * full, lazy ones by id), which links are eager (at connect, on a penalty,
 * when one is lost), and the repair rounds. Announcements and asks are in
 * `announcements.ts`, what a duplicate changes in `duplicates.ts`; the
 * state it decides by lives in the pieces beside it (store, seen ids,
 * missing ids, lateness, copies under check, links, trees, counters); the
 * design is described in `mod.ts`.
 *
 * @module
 */
import { bytesKey, idKey } from "../bytes.ts";
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import type { Identity } from "../identity.ts";
import { defaultLogSink, errorFields, type LogSink } from "../log.ts";
import type { Connection } from "../transport/types.ts";
import {
  type ApplicationPayload,
  createMessage,
  DisconnectReason,
  type Envelope,
  MAX_DIGEST_IDS,
  type Message,
  MessageCodec,
  MessageType,
  originHex,
  type PayloadByType,
} from "../protocol/mod.ts";
import type { ProtocolError } from "../errors.ts";
import { TokenBucket } from "../ratelimit.ts";
import type { RandomSource } from "../random.ts";
import type { TrustModel } from "../trust.ts";
import { inlineVerifier } from "../verifier.ts";
import { GossipAnnouncements } from "./announcements.ts";
import { type DuplicateParts, pruneOnDuplicate } from "./duplicates.ts";
import { CopiesUnderCheck, type CopyUnderCheck } from "./check.ts";
import { type GossipConfig, resolveGossipConfig } from "./config.ts";
import { LatenessEstimator } from "./lateness.ts";
import { DeliveryDeficit } from "./deficit.ts";
import { type ConnectedPeer, type GossipLink, GossipLinks, PENALTY_INTERVAL_MS } from "./links.ts";
import type { MissingTracker } from "./missing.ts";
import { OriginLimits } from "./origins.ts";
import { GossipOutbox } from "./outbox.ts";
import { SeenIds } from "./seen.ts";
import { SeenFilter } from "./seen_filter.ts";
import { GossipCounters, type GossipPeerStats, type GossipStats, type MessageTypeCounts } from "./stats.ts";
import { MessageStore, type StoredMessage } from "./store.ts";
import { OriginTrees } from "./trees.ts";
import type { GossipOptions, GossipPeers, GossipSender, MessageHandler } from "./types.ts";

/**
 * The gossip layer of a node.
 *
 * @example
 * ```ts ignore
 * const gossip = new GossipProtocol({ identity, peers, trust, storage });
 * gossip.registerHandler(MessageType.CUSTOM_DATA, (message) => console.log("got", message.payload));
 * peers.onEnvelope = (peer, envelope) => gossip.receive(peer, envelope);
 * gossip.start();
 * gossip.publish(MessageType.CUSTOM_DATA, { topic: "chat", data: new TextEncoder().encode("hi") });
 * ```
 */
export class GossipProtocol {
  /** The configuration in force. */
  readonly config: Readonly<GossipConfig>;
  /** The topic this layer is the overlay of (`""`: the network-wide one). */
  readonly topic: string;
  readonly #identity: Identity;
  readonly #peers: GossipPeers;
  readonly #trust: TrustModel;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #codec: MessageCodec;
  readonly #log: LogSink;
  // id key -> the copy whose signature is being checked, and copies from other peers that came meanwhile.
  readonly #checking: CopiesUnderCheck;
  #stopped = false;
  readonly #handlers = new Map<number, MessageHandler[]>();
  readonly #propagating = new Set<number>([MessageType.CUSTOM_DATA]);
  readonly #seen: SeenIds;
  readonly #store: MessageStore;
  readonly #links = new GossipLinks();
  readonly #out: GossipOutbox;
  readonly #trees: OriginTrees;
  readonly #origins: OriginLimits;
  readonly #missing: MissingTracker;
  readonly #announcements: GossipAnnouncements;
  readonly #duplicateParts: DuplicateParts;
  readonly #deficit: DeliveryDeficit;
  #timer: TimerId | undefined;
  readonly #lateness = new LatenessEstimator();
  #running = false;
  readonly #counters = new GossipCounters();
  readonly #stats = this.#counters.totals;

  /**
   * Creates the gossip layer; repair rounds begin with {@link GossipProtocol.start}.
   *
   * @throws {ConfigError} when a config value is invalid
   */
  constructor(options: GossipOptions) {
    this.config = Object.freeze(resolveGossipConfig(options.config));
    this.#identity = options.identity;
    this.#peers = options.peers;
    this.#trust = options.trust;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#codec = options.codec ?? new MessageCodec();
    this.#log = options.log ?? defaultLogSink;
    this.topic = options.topic ?? "";
    const start = this.#clock.now();
    this.#seen = new SeenIds(
      options.storage,
      this.config.messageCacheSize,
      new SeenFilter(this.config.dedupWindowMs, this.#random, start),
      start - this.config.dedupWindowMs,
      start,
    );
    this.#store = new MessageStore(this.config.messageCacheSize, this.config.maxStoreBytes);
    this.#out = new GossipOutbox(
      this.#identity,
      this.#clock,
      this.#store,
      this.#links,
      this.#counters,
      this.config,
      this.#random,
      this.topic,
    );
    this.#checking = new CopiesUnderCheck({
      codec: this.#codec,
      verifier: options.verifier ?? inlineVerifier,
      clock: this.#clock,
      maxApplicationPayloadBytes: this.config.maxApplicationPayloadBytes,
      maxUnderCheck: this.config.messageCacheSize,
      stopped: () => this.#stopped,
      known: (key) => this.#store.has(key) || this.#seen.has(key),
      accept: (peer, key, message, entry, now) => this.#accept(peer, key, message, entry, now),
      reject: (peer, type, code) => this.#rejectCopy(peer, type, code),
      dropped: () => this.#stats.droppedUnderCheck++,
      exhausted: (key, entry, now) => this.#announcements.checksExhausted(key, entry, now),
    });
    this.#origins = new OriginLimits(
      this.config.originRateLimit,
      this.config.originRateBurst,
      this.config.messageCacheSize,
      this.#clock.now(),
    );
    this.#trees = new OriginTrees(this.config.intervalMs);
    this.#deficit = new DeliveryDeficit(this.config);
    this.#announcements = new GossipAnnouncements({
      config: this.config,
      clock: this.#clock,
      log: this.#log,
      peers: this.#peers,
      links: this.#links,
      out: this.#out,
      store: this.#store,
      seen: this.#seen,
      random: this.#random,
      checking: this.#checking,
      trees: this.#trees,
      lateness: this.#lateness,
      counters: this.#counters,
      deficit: this.#deficit,
      link: (nodeId) => this.#link(nodeId),
      active: (nodeId) => this.#active(nodeId),
      penalise: (nodeId, code) => this.#penalise(nodeId, code),
      promoteLazyPeer: (except) => this.#promoteLazyPeer(except),
    });
    this.#missing = this.#announcements.missing;
    this.#duplicateParts = {
      config: this.config,
      links: this.#links,
      trees: this.#trees,
      out: this.#out,
      counters: this.#counters,
      active: (nodeId) => this.#active(nodeId),
    };
  }

  /** Counters. */
  get stats(): Readonly<GossipStats> {
    const now = this.#clock.now();
    return {
      ...this.#stats,
      latenessMs: this.#lateness.meanMs(now),
      latenessDeviationMs: this.#lateness.deviationMs(now),
    };
  }

  /** First-seen messages delivered, by message type name; invalid envelopes, by error code. */
  get countsByKind(): { byType: Record<string, MessageTypeCounts>; invalidByCode: Record<string, number> } {
    return this.#counters.byKind();
  }

  /** Counters for one peer, while it is connected. */
  peerStats(nodeId: string): Readonly<GossipPeerStats> | undefined {
    return this.#links.stats(nodeId);
  }

  /** Ids kept for deduplication in memory, and messages kept for repair. */
  get cacheSizes(): { seen: number; stored: number; storedBytes: number } {
    return { seen: this.#seen.size, stored: this.#store.size, storedBytes: this.#store.bytes };
  }

  /**
   * Registers `handler` for verified, first-seen messages of `type` (the
   * design's extension point). With `propagate`, messages of that type are
   * also forwarded and repaired like application messages.
   */
  registerHandler(type: MessageType, handler: MessageHandler, options: { propagate?: boolean } = {}): void {
    const list = this.#handlers.get(type) ?? [];
    list.push(handler);
    this.#handlers.set(type, list);
    if (options.propagate) this.#propagating.add(type);
  }

  /** Starts the repair and retry rounds. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopped = false;
    this.#announcements.start();
    this.#schedule();
  }

  /** Stops the rounds and lazy announcements. Idempotent. */
  stop(): void {
    this.#running = false;
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#announcements.stop();
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      if (!this.#running) return;
      try {
        this.#round();
      } catch (error) {
        this.#log("error", "gossip round failed", errorFields(error));
      }
      this.#schedule();
    }, this.config.intervalMs);
  }

  /**
   * Tells gossip a peer connected: it gets a digest at once, so it can catch up, and starts eager if
   * fewer than `fanout` peers are.
   */
  peerConnected(peer: { readonly nodeId: string; readonly connection: Connection }): void {
    const link = this.#link(peer.nodeId, peer.connection.direction === "outbound");
    // A digest holds 256 ids: a peer that needs more gets the next 256 each repair round until it has all.
    link.catchingUp = this.#out.sendDigest(peer, [...this.#store.entries()]) === MAX_DIGEST_IDS;
    this.#announcements.linkOpened();
  }

  /**
   * Tells gossip a newer link to a connected peer replaced its old one: the peer stayed, so its place stands
   * (eager or lazy, its prunes and per-origin tree places both ways, its counters; the far end keeps its own
   * the same way), rather than being lost to a lazy peer promoted as for a peer that left. What went over the
   * old link may be lost: what the peer was known to have, what it announced and promised are forgotten, and it
   * gets a digest over the new link, as on a first one. A peer with no link here gets one ({@link peerConnected}).
   */
  peerReplaced(peer: { readonly nodeId: string; readonly connection: Connection }): void {
    const link = this.#links.get(peer.nodeId);
    if (!link) return this.peerConnected(peer);
    this.#store.forgetKnown(peer.nodeId, link.slot);
    this.#missing.forgetAnnouncer(peer.nodeId);
    this.#announcements.forget(peer.nodeId);
    link.catchingUp = this.#out.sendDigest(peer, [...this.#store.entries()]) === MAX_DIGEST_IDS;
  }

  /**
   * Costs a peer trust, and its eager link: full copies go to a peer that has not misbehaved instead
   * (the most trusted lazy one), so an attacker that grabbed one of a node's first links stops
   * swallowing its messages long before it is disconnected.
   */
  #penalise(nodeId: string, code: string): void {
    this.#trust.recordInvalid(nodeId, code);
    const link = this.#links.get(nodeId);
    if (!link?.eager) return;
    link.eager = false;
    if (this.#links.eagerCount() < this.config.fanout) this.#promoteLazyPeer(nodeId);
  }

  /**
   * The peer on `link` pushed too little of what it evidently held: it is demoted both ways for a window, at
   * no cost in trust (deficit.ts says what that does, and why this node also stops pushing to it).
   */
  #demoteForDeficit(nodeId: string, link: GossipLink, now: number): void {
    this.#links.setPushing(link, false, now);
    this.#deficit.demote(link, now);
    this.#stats.deficitDemotions++;
    if (!link.eager) return;
    link.eager = false;
    if (this.#links.eagerCount() < this.config.fanout) this.#promoteLazyPeer(nodeId);
  }

  /** Makes the most trusted lazy peer (other than `except`) eager. */
  #promoteLazyPeer(except: string): void {
    this.#links.promoteLazy(
      except,
      (nodeId) => this.#trust.trust(nodeId),
      this.#random,
      Math.min(this.config.minOutboundEager, this.config.fanout),
      this.#clock.now(),
    );
  }

  /**
   * Tells gossip a peer disconnected: its state is dropped, what it was known to have is forgotten (a
   * message sent as it went down may never have arrived, and it may come back without it), and a lost
   * eager link is replaced by the most trusted lazy one.
   */
  peerDisconnected(nodeId: string): void {
    const link = this.#links.close(nodeId);
    this.#store.forgetPeer(nodeId, link?.slot ?? -1);
    this.#missing.forgetAnnouncer(nodeId);
    this.#announcements.forget(nodeId);
    if (link?.eager && this.#links.eagerCount() < this.config.fanout) this.#promoteLazyPeer(nodeId);
  }

  /** The link to `nodeId`, made if there is none: a new link starts eager only while fewer than `fanout` are. */
  #link(nodeId: string, outbound = false): GossipLink {
    let link = this.#links.get(nodeId);
    if (!link) {
      const trustOf = (id: string) => this.#trust.trust(id);
      // In a topic's overlay, a peer outside the topic (a fanout publisher) gets a link but never an eager one:
      // it would count against `fanout` and push nothing to members.
      const member = this.topic === "" || this.#active(nodeId) !== undefined;
      const eager = member &&
        this.#links.admitEager(outbound, this.config.fanout, this.config.minOutboundEager, trustOf);
      const bucket = new TokenBucket(this.config.peerRateLimit, this.config.peerRateBurst, this.#clock.now());
      link = this.#links.open(nodeId, bucket, this.#store.takeSlot(), eager, outbound, this.#clock.now());
    }
    return link;
  }

  /**
   * Creates, signs and spreads a message from this node.
   *
   * @throws {RangeError} when an application payload is over `maxApplicationPayloadBytes`
   */
  publish<T extends MessageType>(type: T, payload: PayloadByType[T], options: { ttl?: number } = {}): Message<T> {
    if (type === MessageType.CUSTOM_DATA) {
      const size = (payload as ApplicationPayload).data.length;
      if (size > this.config.maxApplicationPayloadBytes) {
        throw new RangeError(
          `payload of ${size} bytes exceeds maxApplicationPayloadBytes ${this.config.maxApplicationPayloadBytes}`,
        );
      }
    }
    const ttl = options.ttl ?? this.config.defaultTtl;
    const message = createMessage(this.#identity, type, payload, { ttl, timestamp: this.#clock.now() });
    const key = bytesKey(message.id);
    const now = message.timestamp;
    this.#markSeen(key, message.id, this.#identity.nodeId, true, now);
    this.#stats.published++;
    if (ttl >= 1) {
      const stored = this.#keep(key, message, ttl, this.#identity.nodeId, [], now);
      this.#spread(stored, key, this.#identity.nodeId, this.#identity.nodeId, this.config.floodPublish);
    }
    return message;
  }

  /**
   * Records a message that reached this node another way (catch-up) as seen, in storage too: later copies by
   * gossip are then duplicates, dropped before their signature is checked, and everything gossip delivers is
   * new to the node (the topic delivery path relies on it to skip a log lookup per message).
   */
  markSeen(id: Uint8Array, from: string): void {
    this.#markSeen(bytesKey(id), id, from, true, this.#clock.now());
  }

  /** Takes an envelope from a peer (wire this to the peer manager's `onEnvelope`). */
  receive(peer: GossipSender, envelope: Envelope): void {
    const now = this.#clock.now();
    const link = this.#link(peer.nodeId);
    link.received++;
    const key = idKey(envelope.id);
    // Any copy of an asked-for message keeps its promises, even one dropped below for this node's reasons.
    this.#announcements.kept(key);
    if (!link.bucket.take(now)) {
      link.rateLimited++;
      this.#stats.rateLimited++;
      // Over the rate, envelopes are dropped (backpressure). Only the sender's own excess costs it trust:
      // copies of what it sent or this node has (in memory; no storage read per excess envelope), or
      // messages it claims to originate. An honest relay forwarding others' new messages loses none.
      const own = this.#store.has(key) || this.#seen.has(key) || this.#hexOfOrigin(envelope.origin) === peer.nodeId;
      if (own && now - link.lastPenaltyAt >= PENALTY_INTERVAL_MS) {
        link.lastPenaltyAt = now;
        this.#penalise(peer.nodeId, "RATE_LIMITED");
      }
      return;
    }
    this.#counters.count(envelope.type, "received");
    if (envelope.type === MessageType.GOSSIP_MESSAGE) {
      // A link message (announcements, asks, PRUNE): never kept or forwarded, and capped by what it
      // carries, so its id is not deduplicated (a storage read each, hundreds a second).
      this.#checking.check(peer, key, envelope, undefined, now);
      return;
    }
    const kept = this.#store.get(key);
    // A copy of what this node sent the peer (or heard of from it) proves no push: it may be an echo.
    const knownBefore = kept !== undefined && this.#out.knows(kept, peer.nodeId);
    if (kept) this.#out.markKnown(kept, peer.nodeId);
    if (kept || this.#seen.hasSeen(key, envelope.id)) {
      this.#countDuplicate(link, envelope.type);
      if (this.#propagating.has(envelope.type)) {
        if (kept && !knownBefore) this.#deficit.pushed(link, kept.storedAt, now);
        pruneOnDuplicate(this.#duplicateParts, peer.nodeId, link, key, kept, now);
      }
      return;
    }
    const checking = this.#checking.get(key);
    if (checking) {
      // Its first copy's signature is being checked: a duplicate, kept aside in case that check fails.
      this.#countDuplicate(link, envelope.type);
      this.#checking.hold(checking, peer, envelope);
      return;
    }
    this.#checking.check(peer, key, envelope, undefined, now);
  }

  #countDuplicate(link: GossipLink, type: number): void {
    link.duplicates++;
    this.#stats.duplicates++;
    this.#counters.count(type, "duplicate");
  }

  /** An invalid envelope: counted by code, and its sender penalised. */
  #rejectCopy(peer: GossipSender, type: number, code: ProtocolError["code"]): void {
    const link = this.#links.get(peer.nodeId);
    if (link) link.invalid++;
    this.#counters.countInvalid(type, code);
    this.#penalise(peer.nodeId, code);
    if (code === "PAYLOAD_TOO_LARGE") {
      // Tell the sender why, not only a counter here: it may run with a larger limit than this network's.
      const detail = type === MessageType.CUSTOM_DATA
        ? `application payload over this node's maxApplicationPayloadBytes of ${this.config.maxApplicationPayloadBytes}`
        : `payload over this node's limit of ${this.#codec.limits.maxPayloadBytes} bytes`;
      void this.#active(peer.nodeId)?.connection.close(DisconnectReason.MESSAGE_TOO_LARGE, detail);
    }
  }

  /**
   * A first copy that passed every check: delivered, kept and spread. `entry` names the peers that sent
   * copies while its signature was checked. The sender may have disconnected meanwhile: then the message
   * is still delivered and spread, but nothing is recorded about the sender's link.
   */
  #accept(peer: GossipSender, key: string, message: Message, entry: CopyUnderCheck | undefined, now: number): void {
    const link = this.#links.get(peer.nodeId);
    if (this.#trust.shouldDisconnect(peer.nodeId)) return;
    if (message.type === MessageType.GOSSIP_MESSAGE) {
      if (link) this.#announcements.onDigest(peer, link, message.payload);
      return;
    }
    const propagating = this.#propagating.has(message.type);
    const origin = this.#hexOfOrigin(message.origin);
    if (propagating) {
      if (!this.#origins.take(origin, now)) {
        this.#stats.originLimited++;
        if (link && origin === peer.nodeId && now - link.lastPenaltyAt >= PENALTY_INTERVAL_MS) {
          link.lastPenaltyAt = now;
          this.#penalise(peer.nodeId, "RATE_LIMITED");
        }
        return;
      }
    }
    const missing = this.#missing.get(key);
    const announcers = missing?.announcers ?? [];
    this.#markSeen(key, message.id, peer.nodeId, propagating, now);
    if (propagating) {
      // Credited whatever the origin: origins cost nothing to make, so crediting only relayed messages
      // would stop no one earning it and only withhold it from honest publishers (it is capped per interval).
      this.#trust.recordValid(peer.nodeId);
      const answered = missing?.lastAsked === peer.nodeId;
      if (link) {
        this.#links.setPushing(link, true, now);
        this.#trees.broughtFirst(origin, peer.nodeId, link, answered, now);
        if (!answered) this.#deficit.pushed(link, now, now);
      }
      // Peers counted on to push it that announced it instead (the one whose answer this is included) withheld it.
      for (const nodeId of this.#deficit.enabled ? announcers : []) {
        const other = nodeId === peer.nodeId && !answered ? undefined : this.#links.get(nodeId);
        if (other) this.#deficit.announcedBefore(other, origin, now);
      }
      // Only copies that came unasked time the paths: an answer is late by the ask's own delay.
      if (this.#missing.arrived(key, missing, peer.nodeId)) this.#lateness.sample(origin, now - message.timestamp, now);
    }
    this.#stats.delivered++;
    if (link) link.firsts++;
    this.#counters.count(message.type, "delivered");
    for (const handler of this.#handlers.get(message.type) ?? []) {
      try {
        handler(message, peer);
      } catch (error) {
        this.#log("error", "message handler failed", { type: message.type, ...errorFields(error) });
      }
    }
    // Forward while the TTL allows another hop after this one.
    if (propagating && message.ttl >= 2) {
      // Usually none announced it: then no filtered copy of the empty list.
      const knownBy = announcers.length === 0 ? [] : announcers.filter((a) => a !== peer.nodeId);
      if (link) knownBy.unshift(peer.nodeId);
      const stored = this.#keep(key, message, message.ttl - 1, peer.nodeId, knownBy, now);
      // Copies that came while the signature was checked are duplicates now, as if they came just after
      // (from peers still connected: a gone peer's state is not made again).
      for (const nodeId of entry?.alsoFrom ?? []) {
        const other = this.#links.get(nodeId);
        if (other === undefined) continue;
        this.#out.markKnown(stored, nodeId);
        pruneOnDuplicate(this.#duplicateParts, nodeId, other, key, stored, now);
      }
      this.#spread(stored, key, peer.nodeId, origin, false);
    }
  }

  /** `now` is the caller's reading of the clock: one number shared by the entries it makes. */
  #markSeen(key: string, id: Uint8Array, from: string, persist: boolean, now: number): void {
    this.#seen.add(key, id, from, persist, now);
    this.#missing.drop(key);
  }

  /** Shared by every message of that origin (`originHex`): a string per kept message would cost one each. */
  #hexOfOrigin(origin: Uint8Array): string {
    return originHex(origin);
  }

  /** Keeps `envelope` for repair with `forwardTtl`, known to the peers in `knownBy`. */
  #keep(
    key: string,
    envelope: Envelope,
    forwardTtl: number,
    from: string,
    knownBy: string[],
    now: number,
  ): StoredMessage {
    const fields = { forwardTtl, type: envelope.type, origin: this.#hexOfOrigin(envelope.origin), from };
    const stored = this.#codec.encodeWith(envelope, (shared) => this.#store.keep(key, shared, fields, now), forwardTtl);
    for (const nodeId of knownBy) this.#out.markKnown(stored, nodeId);
    return stored;
  }

  #active(nodeId: string): ConnectedPeer | undefined {
    return this.#peers.activePeers().find((p) => p.nodeId === nodeId);
  }

  /**
   * Pushes `stored` in full to the eager peers (every peer with `flood`) and queues its id for every
   * other peer, skipping `from` and `origin` (two node ids: no set per message) and peers known to have it.
   */
  #spread(stored: StoredMessage, key: string, from: string, origin: string, flood: boolean): void {
    for (const peer of this.#peers.activePeers()) {
      if (peer.nodeId === from || peer.nodeId === origin) continue;
      if (this.#out.knows(stored, peer.nodeId)) continue;
      const link = this.#link(peer.nodeId);
      if (flood || (link.eager && this.#trees.pushesOrigin(link, stored.origin))) {
        this.#out.sendStored(peer, stored, key);
      } else this.#announcements.announce(peer, link, key);
    }
  }

  #round(): void {
    const now = this.#clock.now();
    this.#missing.decay();
    this.#seen.expire(now, this.config.dedupWindowMs);
    this.#store.expire(now, this.config.repairWindowMs);
    this.#out.resetServing();
    this.#announcements.round(now);
    if (this.#deficit.enabled) {
      for (const [nodeId, link] of this.#links.entries()) {
        if (this.#deficit.judge(link, now)) this.#demoteForDeficit(nodeId, link, now);
      }
    }
    const active = this.#peers.activePeers();
    const byId = new Map(active.map((p) => [p.nodeId, p]));
    this.#out.retryDeferred(byId);
    this.#out.repairRound(active, (nodeId) => this.#link(nodeId));
  }
}
