/**
 * The gossip protocol's policy: what is done with each envelope a peer
 * sends (receive, check, accept), how a new message spreads (eager links in
 * full, lazy ones by id), how links change (PRUNE, graft by IWANT,
 * per-origin trees), and the announcement and repair rounds. The state it
 * decides by lives in the pieces beside it (store, seen ids, missing ids,
 * lateness, copies under check, links, counters); the design is described
 * in `mod.ts`.
 *
 * @module
 */
import { bytesKey, keyBytes, toHex } from "../bytes.ts";
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import type { Identity } from "../identity.ts";
import { defaultLogSink, errorFields, type LogSink } from "../log.ts";
import type { Connection } from "../transport/types.ts";
import {
  type ApplicationPayload,
  createMessage,
  DisconnectReason,
  type Envelope,
  type GossipDigestPayload,
  MAX_DIGEST_IDS,
  type Message,
  MessageCodec,
  MessageType,
  type PayloadByType,
} from "../protocol/mod.ts";
import type { ProtocolError } from "../errors.ts";
import { TokenBucket } from "../ratelimit.ts";
import type { RandomSource } from "../random.ts";
import type { TrustModel } from "../trust.ts";
import { inlineVerifier } from "../verifier.ts";
import { AnnounceLimits } from "./announce_limits.ts";
import { CopiesUnderCheck, type CopyUnderCheck } from "./check.ts";
import { type GossipConfig, resolveGossipConfig } from "./config.ts";
import { LatenessEstimator } from "./lateness.ts";
import { type ConnectedPeer, type GossipLink, GossipLinks } from "./links.ts";
import { MissingTracker } from "./missing.ts";
import { OriginLimits } from "./origins.ts";
import { GossipOutbox } from "./outbox.ts";
import { AskPromises } from "./promises.ts";
import { SeenIds } from "./seen.ts";
import { SeenFilter } from "./seen_filter.ts";
import { GossipCounters, type GossipPeerStats, type GossipStats, type MessageTypeCounts } from "./stats.ts";
import { MessageStore, type StoredMessage } from "./store.ts";
import { OriginTrees } from "./trees.ts";
import type { GossipOptions, GossipPeers, GossipSender, MessageHandler } from "./types.ts";

/** A peer over a rate limit loses trust at most this often, ms: one burst costs one penalty, not one per envelope. */
const PENALTY_INTERVAL_MS = 1_000;
/**
 * Peers pushing to this node, as a multiple of `fanout`, beyond which a duplicate gets a whole-link PRUNE.
 * Twice the average: at the average itself, pruned senders would keep moving between nodes that are all
 * at their bound.
 */
const MAX_PUSHERS_PER_FANOUT = 2;
/**
 * The ask delay is `wantTimeoutMs` stretched by up to this share, fixed per node at random: nodes cut off
 * together then do not all ask, and graft, at once.
 */
const ASK_DELAY_SPREAD = 0.5;

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
  // Origin id bytes -> hex, shared by every message of that origin (the codec hands out one origin array
  // per public key): a string per kept message would cost one each.
  readonly #originHex = new WeakMap<Uint8Array, string>();
  readonly #links = new GossipLinks();
  readonly #out: GossipOutbox;
  readonly #trees: OriginTrees;
  readonly #origins: OriginLimits;
  readonly #missing: MissingTracker;
  readonly #announceLimits: AnnounceLimits;
  readonly #promises = new AskPromises();
  #timer: TimerId | undefined;
  #lazyTimer: TimerId | undefined;
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
    const start = this.#clock.now();
    this.#seen = new SeenIds(
      options.storage,
      this.config.messageCacheSize,
      new SeenFilter(this.config.dedupWindowMs, this.#random, start),
      start - this.config.dedupWindowMs,
      start,
    );
    this.#announceLimits = new AnnounceLimits(
      this.config.maxAnnouncementsPerInterval,
      this.config.maxAnnouncedIdsPerInterval,
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
      exhausted: (key, entry, now) => this.#checksExhausted(key, entry, now),
    });
    this.#origins = new OriginLimits(
      this.config.originRateLimit,
      this.config.originRateBurst,
      this.config.messageCacheSize,
      this.#clock.now(),
    );
    this.#trees = new OriginTrees(this.config.intervalMs);
    // Nodes cut off from the eager links together hear the same announcements at about the same time; if all
    // asked at once, each would graft its own link back, and the extra links would be pruned again,
    // racing each other into new cuts. Spread per node, the first graft usually repairs the rest.
    const askDelayMs = Math.round(this.config.wantTimeoutMs * (1 + this.#random() * ASK_DELAY_SPREAD));
    this.#missing = new MissingTracker(this.config.messageCacheSize, askDelayMs);
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
    this.#schedule();
  }

  /** Stops the rounds and lazy announcements. Idempotent. */
  stop(): void {
    this.#running = false;
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lazyTimer !== undefined) this.#clock.clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
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

  /** Makes the most trusted lazy peer (other than `except`) eager. */
  #promoteLazyPeer(except: string): void {
    this.#links.promoteLazy(
      except,
      (nodeId) => this.#trust.trust(nodeId),
      this.#random,
      Math.min(this.config.minOutboundEager, this.config.fanout),
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
    this.#promises.forget(nodeId);
    if (link?.eager && this.#links.eagerCount() < this.config.fanout) this.#promoteLazyPeer(nodeId);
  }

  /** The link to `nodeId`, made if there is none: a new link starts eager only while fewer than `fanout` are. */
  #link(nodeId: string, outbound = false): GossipLink {
    let link = this.#links.get(nodeId);
    if (!link) {
      const trustOf = (id: string) => this.#trust.trust(id);
      const eager = this.#links.admitEager(outbound, this.config.fanout, this.config.minOutboundEager, trustOf);
      const bucket = new TokenBucket(this.config.peerRateLimit, this.config.peerRateBurst, this.#clock.now());
      link = this.#links.open(nodeId, bucket, this.#store.takeSlot(), eager, outbound);
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
      this.#spread(stored, key, new Set([this.#identity.nodeId]), this.config.floodPublish);
    }
    return message;
  }

  /** Takes an envelope from a peer (wire this to the peer manager's `onEnvelope`). */
  receive(peer: GossipSender, envelope: Envelope): void {
    const now = this.#clock.now();
    const link = this.#link(peer.nodeId);
    link.received++;
    const key = bytesKey(envelope.id);
    // Any copy of an asked-for message keeps its promises, even one dropped below for this node's reasons.
    this.#promises.kept(key);
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
    if (kept) this.#out.markKnown(kept, peer.nodeId);
    if (kept || this.#seen.hasSeen(key, envelope.id)) {
      this.#countDuplicate(link, envelope.type);
      if (this.#propagating.has(envelope.type)) this.#pruneOnDuplicate(peer.nodeId, link, key, kept, now);
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

  /** Every copy held during a check failed: the peers that sent copies are asked for the message. */
  #checksExhausted(key: string, entry: CopyUnderCheck, now: number): void {
    for (const nodeId of entry.alsoFrom) {
      const link = this.#links.get(nodeId);
      const missing = link && this.#missing.entry(key, entry.id, nodeId, now);
      if (missing) this.#missing.addAnnouncer(missing, nodeId, link.pushing);
    }
    if (this.#missing.has(key)) this.#scheduleLazy();
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
      if (link) this.#onDigest(peer, link, message.payload);
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
      if (link) {
        this.#links.setPushing(link, true);
        this.#trees.broughtFirst(origin, peer.nodeId, link, missing?.lastAsked === peer.nodeId, now);
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
      const knownBy = announcers.filter((a) => a !== peer.nodeId);
      if (link) knownBy.unshift(peer.nodeId);
      const stored = this.#keep(key, message, message.ttl - 1, peer.nodeId, knownBy, now);
      // Copies that came while the signature was checked are duplicates now, as if they came just after
      // (from peers still connected: a gone peer's state is not made again).
      for (const nodeId of entry?.alsoFrom ?? []) {
        const other = this.#links.get(nodeId);
        if (other === undefined) continue;
        this.#out.markKnown(stored, nodeId);
        this.#pruneOnDuplicate(nodeId, other, key, stored, now);
      }
      this.#spread(stored, key, new Set([peer.nodeId, origin]), false);
    }
  }

  /**
   * A second full copy: the sender pushes to this node. While more than MAX_PUSHERS_PER_FANOUT times
   * `fanout` peers do (after grafts, or by the luck of who chose whom), the sender is told PRUNE and pushes
   * only ids from then on, and pushes to another peer instead. Links are directed: each node decides who
   * pushes to it (PRUNE, and IWANT to graft) and keeps `fanout` links it pushes on. Pruning whole links
   * down to a single pusher, a tree, was measured and churned (see the module docs and BENCHMARKS.md);
   * below the bound, and for a peer that is a recent parent in some origin's tree, duplicates prune per
   * origin.
   */
  #pruneOnDuplicate(
    duplicateFrom: string,
    link: GossipLink,
    key: string,
    kept: StoredMessage | undefined,
    now: number,
  ): void {
    this.#links.setPushing(link, true);
    // With per-origin trees, a peer that brought something first lately is some origin's parent here: a
    // PRUNE of the whole link would cut those trees and leave their messages to asks, so it is pruned per
    // origin only, and the duplicates it sends stop as each origin's tree settles.
    const parent = this.config.originPrune && this.#trees.isRecentParent(link, now);
    if (this.#links.pushers <= MAX_PUSHERS_PER_FANOUT * this.config.fanout || parent) {
      if (!kept || !this.config.originPrune) return;
      const to = this.#trees.pruneOnDuplicate(
        duplicateFrom,
        link,
        kept.origin,
        this.#links,
        () => this.#active(duplicateFrom),
      );
      if (to === undefined) return;
      this.#stats.originPrunes++;
      this.#out.sendLink(to, { have: [keyBytes(key)], want: [], prune: true });
      return;
    }
    this.#links.setPushing(link, false);
    const active = this.#active(duplicateFrom);
    if (active) {
      this.#stats.prunes++;
      this.#out.sendLink(active, { have: [], want: [], prune: true });
    }
  }

  /** `now` is the caller's reading of the clock: one number shared by the entries it makes. */
  #markSeen(key: string, id: Uint8Array, from: string, persist: boolean, now: number): void {
    this.#seen.add(key, id, from, persist, now);
    this.#missing.drop(key);
  }

  #hexOfOrigin(origin: Uint8Array): string {
    let hex = this.#originHex.get(origin);
    if (hex === undefined) {
      hex = toHex(origin);
      this.#originHex.set(origin, hex);
    }
    return hex;
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
    const stored = this.#codec.encodeWith(
      { ...envelope, ttl: forwardTtl },
      (shared) => this.#store.keep(key, shared, fields, now),
    );
    for (const nodeId of knownBy) this.#out.markKnown(stored, nodeId);
    return stored;
  }

  #active(nodeId: string): ConnectedPeer | undefined {
    return this.#peers.activePeers().find((p) => p.nodeId === nodeId);
  }

  /**
   * Pushes `stored` in full to the eager peers (every peer with `flood`) and queues its id for every
   * other peer, skipping `exclude` and peers known to have it.
   */
  #spread(stored: StoredMessage, key: string, exclude: Set<string>, flood: boolean): void {
    for (const peer of this.#peers.activePeers()) {
      if (exclude.has(peer.nodeId)) continue;
      if (this.#out.knows(stored, peer.nodeId)) continue;
      const link = this.#link(peer.nodeId);
      if (flood || (link.eager && this.#trees.pushesOrigin(link, stored.origin))) {
        this.#out.sendStored(peer, stored, key);
      } else this.#announce(peer, key);
    }
  }

  /** Queues `key` for the peer's next lazy announcement. */
  #announce(peer: ConnectedPeer, key: string): void {
    const link = this.#link(peer.nodeId);
    link.pendingHave.push(key);
    if (link.pendingHave.length >= MAX_DIGEST_IDS) this.#out.flushAnnouncements(peer, link);
    this.#scheduleLazy();
  }

  #scheduleLazy(): void {
    if (this.#lazyTimer !== undefined || !this.#running) return;
    this.#lazyTimer = this.#clock.setTimeout(() => {
      this.#lazyTimer = undefined;
      if (!this.#running) return;
      try {
        this.#lazyRound();
      } catch (error) {
        this.#log("error", "gossip announcement round failed", errorFields(error));
      }
    }, this.config.lazyIntervalMs);
  }

  /** Sends the queued announcements, and asks again for announced messages that have not come. */
  #lazyRound(): void {
    const byId = new Map(this.#peers.activePeers().map((p) => [p.nodeId, p]));
    this.#out.announceRound(byId);
    const now = this.#clock.now();
    const asks = this.#missing.planAsks(
      now,
      (nodeId) => byId.has(nodeId),
      (key) => this.#checking.has(key),
      () => this.#lateness.allowanceMs(now),
    );
    for (const [nodeId, want] of asks) this.#ask(byId.get(nodeId)!, want);
    if (this.#missing.size > 0) this.#scheduleLazy();
  }

  /** Asks `peer` for `want` (IWANT), which also grafts the link: it pushes to this node in full again. */
  #ask(peer: ConnectedPeer, want: Uint8Array[]): void {
    const link = this.#link(peer.nodeId);
    if (!link.pushing) {
      this.#links.setPushing(link, true);
      this.#stats.grafts++;
    }
    this.#stats.requested += want.length;
    this.#missing.noteAsked(want);
    // The ask's first id is promised (see promises.ts), unless the ask waits behind this node's own queue
    // or asks for more than half what an honest peer serves per interval.
    link.askedThisInterval += want.length;
    if (
      peer.connection.bufferedBytes <= this.config.sendHighWaterBytes &&
      link.askedThisInterval <= this.config.maxServedPerInterval / 2
    ) {
      const now = this.#clock.now();
      const deadline = now + this.config.promiseTimeoutMs + this.#lateness.allowanceMs(now);
      this.#promises.asked(peer.nodeId, bytesKey(want[0]), deadline);
    }
    this.#out.sendLink(peer, { have: [], want });
  }

  #onDigest(peer: GossipSender, link: GossipLink, digest: GossipDigestPayload): void {
    const now = this.#clock.now();
    // The per-peer caps on announcements come before any id is looked at (see announce_limits.ts).
    let have = digest.have;
    if (have.length > 0) {
      const admitted = digest.prune
        ? this.#announceLimits.admitPruned(link, have.length)
        : this.#announceLimits.admit(link, have.length);
      this.#stats.announcedIdsExamined += admitted;
      if (admitted < have.length) {
        this.#stats.announcementsDropped++;
        have = have.slice(0, admitted);
      }
    }
    if (digest.prune && digest.have.length > 0) {
      // Per origin: it has these messages' origins from another peer; send it only their ids from now on.
      for (const id of have) {
        const stored = this.#store.get(bytesKey(id));
        if (stored) this.#trees.prunedByPeer(link, stored.origin);
      }
    } else if (digest.prune && link.eager) {
      // It has enough other peers pushing to it: push to another, more trusted, peer instead.
      link.eager = false;
      link.prunedUs = true;
      if (this.#links.eagerCount() < this.config.fanout) this.#promoteLazyPeer(peer.nodeId);
    }
    if (digest.want.length > 0) {
      link.eager = true; // asked: the peer grafted this link
      link.prunedUs = false;
      // ... and the origins of what it asked for: their messages go to it in full again.
      for (const id of digest.want) {
        const stored = this.#store.get(bytesKey(id));
        if (stored) this.#trees.graftedByPeer(link, stored.origin);
      }
    }
    // With no peer pushing to this node (a node that joined after its neighbours had chosen their eager
    // links, or lost its pushers), nothing is on its way: ask this announcer at once, which makes it push
    // from now on. Otherwise wait: the full copy is usually already on its way, and asking would graft a
    // needless link. (Asking at once below `fanout` pushers was measured to graft needless links at
    // start-up: see BENCHMARKS.md.)
    const askNow: Uint8Array[] = [];
    for (const id of have) {
      const key = bytesKey(id);
      const kept = this.#store.get(key);
      if (kept) this.#out.markKnown(kept, peer.nodeId);
      // An id whose copy is under check is still noted as missing, with its announcers: if every copy
      // fails its check, they are asked for it (asks wait while a check runs).
      if (kept || this.#seen.has(key)) continue;
      let missing = this.#missing.get(key);
      if (!missing) {
        // The announcer's allowance of missing ids first, then the seen-id filter: storage is read only for
        // an id the filter may have (an id this node never stored costs no database lookup).
        if (!this.#missing.canStart(peer.nodeId) || this.#seen.hasSeenFiltered(key, id)) continue;
        missing = this.#missing.entry(key, id, peer.nodeId, now);
        if (!missing) continue;
      }
      this.#missing.addAnnouncer(missing, peer.nodeId, link.pushing);
      if (this.#links.pushers === 0 && !link.pushing && missing.asked === 0 && !this.#checking.has(key)) {
        this.#missing.markAsked(missing, peer.nodeId, now);
        askNow.push(id);
      }
    }
    if (this.#missing.size > 0) this.#scheduleLazy();
    const active = this.#active(peer.nodeId);
    if (!active) return;
    if (askNow.length > 0) this.#ask(active, askNow);
    if (this.#out.serve(active, link, digest.want) > 0 && now - link.lastPenaltyAt >= PENALTY_INTERVAL_MS) {
      // Asked for a message it was already sent maxRetransmissions times: a little trust, at most once a
      // penalty interval, as for going over a rate limit.
      link.lastPenaltyAt = now;
      this.#penalise(peer.nodeId, "RATE_LIMITED");
    }
  }

  /** Scores the promises broken by `now`, and penalises peers over the threshold, at most once a penalty interval. */
  #judgePromises(now: number): void {
    const { broken, overThreshold } = this.#promises.round(now);
    this.#stats.promisesBroken += broken;
    for (const nodeId of overThreshold) {
      const link = this.#links.get(nodeId);
      if (!link || now - link.lastPromisePenaltyAt < PENALTY_INTERVAL_MS) continue;
      link.lastPromisePenaltyAt = now;
      this.#penalise(nodeId, "BROKEN_PROMISE");
    }
  }

  #round(): void {
    const now = this.#clock.now();
    this.#missing.decay();
    this.#seen.expire(now, this.config.dedupWindowMs);
    this.#store.expire(now, this.config.repairWindowMs);
    this.#out.resetServing();
    this.#announceLimits.reset(this.#links.values());
    this.#judgePromises(now);
    const active = this.#peers.activePeers();
    const byId = new Map(active.map((p) => [p.nodeId, p]));
    this.#out.retryDeferred(byId);
    this.#out.repairRound(active, (nodeId) => this.#link(nodeId));
  }
}
