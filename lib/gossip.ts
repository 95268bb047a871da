/**
 * Epidemic gossip: the design's algorithm with eager first delivery,
 * anti-entropy repair, bounded caches and flood control.
 *
 * For every envelope a peer sends (after the peer manager has taken the
 * link-level ones):
 *
 * 1. per-peer rate limit (token bucket; a peer over it loses trust, at most once a second);
 * 2. deduplicate by message id, before paying for the signature; duplicates are counted per peer;
 * 3. verify signature, timestamp and payload, and the sender's trust (invalid input costs trust by code);
 * 4. per-origin rate limit for messages that spread;
 * 5. record as seen (memory, backed by the messages_seen table), credit the sender (+0.001);
 * 6. hand to the handlers of its type (the design's `register_handler`);
 * 7. if its TTL allows another hop, keep it for repair and forward it at once to `fanout` random peers,
 *    never back to the peer it came from nor to its origin, with the TTL decremented.
 *
 * First delivery therefore costs one network latency per hop, not a gossip
 * interval. The interval drives the rest: messages deferred because a peer's
 * send queue was full are retried, and a repair round sends digests of
 * recently seen ids (GOSSIP_MESSAGE `have`) to a few random peers, which pull
 * what they miss (`want`). A peer that joins late, or lost a link, thus
 * still receives every message younger than the protocol's message age
 * limit. A message whose TTL is spent is neither forwarded nor advertised,
 * so repair never carries a message further than its TTL allows.
 *
 * Clock, peers (the transport side) and randomness come from outside.
 *
 * @module
 */
import { bytesKey, toHex } from "./bytes.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import { ConfigError, ProtocolError } from "./errors.ts";
import type { Identity } from "./identity.ts";
import type { Connection } from "./network.ts";
import {
  createMessage,
  type Envelope,
  MAX_DIGEST_IDS,
  type Message,
  MESSAGE_TYPE_NAMES,
  MessageCodec,
  MessageType,
  type PayloadByType,
} from "./protocol.ts";
import { BoundedMap, TokenBucket } from "./ratelimit.ts";
import { type RandomSource, shuffleInPlace } from "./random.ts";
import type { Storage } from "./storage.ts";
import type { TrustModel } from "./trust.ts";

/** Gossip parameters, named as in the design and the gossipsub spec. Every field has a default. */
export interface GossipConfig {
  /** The design's gossip_fanout: peers each new message is forwarded to. Default 3. */
  fanout: number;
  /** The design's gossip_interval, ms: repair rounds and retries of deferred sends. Default 1,000. */
  intervalMs: number;
  /**
   * The design's message_cache_size: ids kept in memory for deduplication, and messages kept for repair.
   * Default 10,000. The messages_seen table backs the id cache beyond it.
   */
  messageCacheSize: number;
  /** Seen ids are kept this long, ms. Default 600,000; it must cover the protocol's message age (5 min). */
  dedupWindowMs: number;
  /** Messages are kept for repair this long, ms. Default 240,000: inside the 5-minute age limit receivers apply. */
  repairWindowMs: number;
  /** Most bytes of messages kept for repair. Default 64 MiB. */
  maxStoreBytes: number;
  /** TTL of published messages: hops they may travel. Default 8. */
  defaultTtl: number;
  /** Publish own messages to every peer rather than `fanout` (gossipsub's flood publish). Default true. */
  floodPublish: boolean;
  /**
   * Peers sent a digest each interval (of the ids each is not known to have; empty digests are not sent).
   * Default 64, in effect every peer: in simulation at 50 nodes this bounds the time to full coverage by
   * one interval (it was up to five with 2 peers) for 3% more bytes.
   */
  repairFanout: number;
  /** Envelopes accepted per peer per second (all kinds), steady. Default 1,000. */
  peerRateLimit: number;
  /** Burst allowed over the per-peer rate. Default 2,000. */
  peerRateBurst: number;
  /** New messages accepted per origin per second, steady. Default 200. */
  originRateLimit: number;
  /** Burst allowed over the per-origin rate. Default 400. */
  originRateBurst: number;
  /** Largest application payload (CUSTOM_DATA data), bytes. Default 65,536. */
  maxApplicationPayloadBytes: number;
  /** Messages served per peer per interval in answer to `want`. Default 512. */
  maxServedPerInterval: number;
  /** A peer with more bytes queued than this gets new messages on the next interval instead. Default 1 MiB. */
  sendHighWaterBytes: number;
  /** Most deferred sends held. Default 10,000; beyond it repair covers the rest. */
  maxDeferred: number;
}

/** The default {@link GossipConfig}. */
export const DEFAULT_GOSSIP_CONFIG: Readonly<GossipConfig> = Object.freeze({
  fanout: 3,
  intervalMs: 1_000,
  messageCacheSize: 10_000,
  dedupWindowMs: 600_000,
  repairWindowMs: 240_000,
  maxStoreBytes: 64 * 1024 * 1024,
  defaultTtl: 8,
  floodPublish: true,
  repairFanout: 64,
  peerRateLimit: 1_000,
  peerRateBurst: 2_000,
  originRateLimit: 200,
  originRateBurst: 400,
  maxApplicationPayloadBytes: 65_536,
  maxServedPerInterval: 512,
  sendHighWaterBytes: 1024 * 1024,
  maxDeferred: 10_000,
});

/**
 * The full gossip config from defaults and `overrides`.
 *
 * @throws {ConfigError} naming the first invalid key
 */
export function resolveGossipConfig(overrides: Partial<GossipConfig> = {}): GossipConfig {
  const config = { ...DEFAULT_GOSSIP_CONFIG, ...overrides };
  for (const [key, value] of Object.entries(config)) {
    if (key === "floodPublish") {
      if (typeof value !== "boolean") throw new ConfigError(`gossip.${key}`, `gossip.${key} must be true or false`);
      continue;
    }
    const min = key === "repairFanout" ? 0 : 1;
    if (!Number.isSafeInteger(value) || (value as number) < min) {
      throw new ConfigError(
        `gossip.${key}`,
        `gossip.${key} must be an integer of at least ${min}, got ${JSON.stringify(value)}`,
      );
    }
  }
  if (config.defaultTtl > 255) throw new ConfigError("gossip.defaultTtl", "gossip.defaultTtl must be at most 255");
  if (config.repairWindowMs > config.dedupWindowMs) {
    throw new ConfigError("gossip.repairWindowMs", "gossip.repairWindowMs must not exceed gossip.dedupWindowMs");
  }
  return config;
}

/** The peers gossip talks to: the peer manager in a node, an in-memory set in a simulation. */
export interface GossipPeers {
  /** Peers with an open connection. */
  activePeers(): readonly { readonly nodeId: string; readonly connection: Connection }[];
}

/** A peer as gossip sees the sender of a message. */
export interface GossipSender {
  /** Node id (hex). */
  readonly nodeId: string;
}

/** Called with each verified, first-seen message of a type. */
export type MessageHandler = (message: Message, from: GossipSender) => void;

/** Counters of a gossip protocol instance. */
export interface GossipStats {
  /** Messages this node published. */
  published: number;
  /** First-seen messages received and handed to handlers. */
  delivered: number;
  /** Copies of already-seen messages received. */
  duplicates: number;
  /** Envelopes refused as invalid (each cost the sender trust). */
  invalid: number;
  /** Envelopes dropped by the per-peer rate limit. */
  rateLimited: number;
  /** Messages dropped by the per-origin rate limit. */
  originLimited: number;
  /** Envelopes sent while forwarding (eager and deferred). */
  forwarded: number;
  /** Digests sent in repair rounds. */
  digestsSent: number;
  /** Message ids asked for with `want`. */
  requested: number;
  /** Messages sent in answer to `want`. */
  served: number;
}

/** Per-peer counters, for operators and the trust model. */
export interface GossipPeerStats {
  /** Envelopes received from the peer. */
  received: number;
  /** Copies of already-seen messages it sent. */
  duplicates: number;
  /** Invalid envelopes it sent. */
  invalid: number;
  /** Envelopes it sent over its rate limit. */
  rateLimited: number;
}

interface PeerState extends GossipPeerStats {
  bucket: TokenBucket;
  knows: BoundedMap<string, true>;
  servedThisInterval: number;
  lastPenaltyAt: number;
}

/** Counts of one message type. */
export interface MessageTypeCounts {
  /** Envelopes received (within the rate limit). */
  received: number;
  /** First-seen, valid messages handed to handlers. */
  delivered: number;
  /** Envelopes sent on to peers (eager, deferred or on request). */
  forwarded: number;
  /** Copies of already-seen messages. */
  duplicate: number;
  /** Envelopes refused as invalid. */
  invalid: number;
}

interface StoredMessage {
  id: Uint8Array;
  /** The envelope as this node sends it on (TTL already decremented). */
  bytes: Uint8Array;
  /** TTL carried by `bytes`. */
  forwardTtl: number;
  /** Message type. */
  type: number;
  origin: string;
  storedAt: number;
}

/** Options of {@link GossipProtocol}. */
export interface GossipOptions {
  /** This node's identity (signs published messages and digests). */
  identity: Identity;
  /** The peers to gossip with. */
  peers: GossipPeers;
  /** The trust model: credited and penalised by what peers send. */
  trust: TrustModel;
  /** Backs the dedup cache (messages_seen). */
  storage: Storage;
  /** Overrides of {@link DEFAULT_GOSSIP_CONFIG}. */
  config?: Partial<GossipConfig>;
  /** Time and timers. Default: the system clock. */
  clock?: Clock;
  /** Randomness for peer selection. Default: `Math.random`. */
  random?: RandomSource;
  /** Codec for verifying envelopes. Default: the protocol's default limits. */
  codec?: MessageCodec;
}

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
  readonly #storage: Storage;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #codec: MessageCodec;
  readonly #handlers = new Map<number, MessageHandler[]>();
  readonly #propagating = new Set<number>([MessageType.CUSTOM_DATA]);
  // id key -> when first seen; insertion order is age order.
  readonly #seen = new Map<string, number>();
  // id key -> message kept for repair; insertion order is age order.
  readonly #store = new Map<string, StoredMessage>();
  #storeBytes = 0;
  readonly #peerState = new Map<string, PeerState>();
  readonly #origins: BoundedMap<string, TokenBucket>;
  readonly #requested: BoundedMap<string, number>;
  #deferred: { nodeId: string; key: string }[] = [];
  #timer: TimerId | undefined;
  #running = false;
  readonly #byType = new Map<string, MessageTypeCounts>();
  readonly #invalidByCode = new Map<string, number>();
  readonly #stats: GossipStats = {
    published: 0,
    delivered: 0,
    duplicates: 0,
    invalid: 0,
    rateLimited: 0,
    originLimited: 0,
    forwarded: 0,
    digestsSent: 0,
    requested: 0,
    served: 0,
  };

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
    this.#storage = options.storage;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#codec = options.codec ?? new MessageCodec();
    this.#origins = new BoundedMap(this.config.messageCacheSize);
    this.#requested = new BoundedMap(this.config.messageCacheSize);
  }

  /** Counters. */
  get stats(): Readonly<GossipStats> {
    return { ...this.#stats };
  }

  /** First-seen messages delivered, by message type name; invalid envelopes, by error code. */
  get countsByKind(): { byType: Record<string, MessageTypeCounts>; invalidByCode: Record<string, number> } {
    return {
      byType: Object.fromEntries([...this.#byType].map(([type, counts]) => [type, { ...counts }])),
      invalidByCode: Object.fromEntries(this.#invalidByCode),
    };
  }

  #count(type: number, field: keyof MessageTypeCounts): void {
    const name = MESSAGE_TYPE_NAMES[type as MessageType] ?? `TYPE_${type}`;
    let counts = this.#byType.get(name);
    if (!counts) {
      counts = { received: 0, delivered: 0, forwarded: 0, duplicate: 0, invalid: 0 };
      this.#byType.set(name, counts);
    }
    counts[field]++;
  }

  /** Counters for one peer, while it is connected. */
  peerStats(nodeId: string): Readonly<GossipPeerStats> | undefined {
    const state = this.#peerState.get(nodeId);
    return state &&
      {
        received: state.received,
        duplicates: state.duplicates,
        invalid: state.invalid,
        rateLimited: state.rateLimited,
      };
  }

  /** Ids kept for deduplication in memory, and messages kept for repair. */
  get cacheSizes(): { seen: number; stored: number; storedBytes: number } {
    return { seen: this.#seen.size, stored: this.#store.size, storedBytes: this.#storeBytes };
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
    this.#schedule();
  }

  /** Stops the rounds. Idempotent. */
  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      if (!this.#running) return;
      try {
        this.#round();
      } catch (error) {
        console.error(`kith: gossip round failed: ${error}`);
      }
      this.#schedule();
    }, this.config.intervalMs);
  }

  /** Tells gossip a peer connected: it gets a digest at once, so it can catch up. */
  peerConnected(peer: { readonly nodeId: string; readonly connection: Connection }): void {
    this.#state(peer.nodeId);
    this.#sendDigest(peer);
  }

  /** Tells gossip a peer disconnected: its state is dropped. */
  peerDisconnected(nodeId: string): void {
    this.#peerState.delete(nodeId);
  }

  #state(nodeId: string): PeerState {
    let state = this.#peerState.get(nodeId);
    if (!state) {
      state = {
        bucket: new TokenBucket(this.config.peerRateLimit, this.config.peerRateBurst, this.#clock.now()),
        knows: new BoundedMap(4_096),
        servedThisInterval: 0,
        lastPenaltyAt: -Infinity,
        received: 0,
        duplicates: 0,
        invalid: 0,
        rateLimited: 0,
      };
      this.#peerState.set(nodeId, state);
    }
    return state;
  }

  /**
   * Creates, signs and spreads a message from this node.
   *
   * @throws {RangeError} when an application payload is over `maxApplicationPayloadBytes`
   */
  publish<T extends MessageType>(type: T, payload: PayloadByType[T], options: { ttl?: number } = {}): Message<T> {
    if (type === MessageType.CUSTOM_DATA) {
      const size = (payload as PayloadByType[8]).data.length;
      if (size > this.config.maxApplicationPayloadBytes) {
        throw new RangeError(
          `payload of ${size} bytes exceeds maxApplicationPayloadBytes ${this.config.maxApplicationPayloadBytes}`,
        );
      }
    }
    const ttl = options.ttl ?? this.config.defaultTtl;
    const message = createMessage(this.#identity, type, payload, { ttl, timestamp: this.#clock.now() });
    const key = bytesKey(message.id);
    this.#markSeen(key, message.id, this.#identity.nodeId, true);
    this.#stats.published++;
    if (ttl >= 1) {
      const stored = this.#keep(key, message, ttl);
      const targets = this.#targets(
        key,
        new Set([this.#identity.nodeId]),
        this.config.floodPublish ? Infinity : this.config.fanout,
      );
      for (const peer of targets) this.#sendStored(peer, stored, key);
    }
    return message;
  }

  /** Takes an envelope from a peer (wire this to the peer manager's `onEnvelope`). */
  receive(peer: GossipSender, envelope: Envelope): void {
    const now = this.#clock.now();
    const state = this.#state(peer.nodeId);
    state.received++;
    if (!state.bucket.take(now)) {
      state.rateLimited++;
      this.#stats.rateLimited++;
      if (now - state.lastPenaltyAt >= 1_000) {
        state.lastPenaltyAt = now;
        this.#trust.recordInvalid(peer.nodeId, "RATE_LIMITED");
      }
      return;
    }
    this.#count(envelope.type, "received");
    const key = bytesKey(envelope.id);
    state.knows.set(key, true);
    if (this.#isSeen(key, envelope.id)) {
      state.duplicates++;
      this.#stats.duplicates++;
      this.#count(envelope.type, "duplicate");
      return;
    }
    let message: Message;
    try {
      message = this.#codec.verify(envelope, now);
      if (
        message.type === MessageType.CUSTOM_DATA && message.payload.data.length > this.config.maxApplicationPayloadBytes
      ) {
        throw new ProtocolError("PAYLOAD_TOO_LARGE", "application payload over the limit");
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      state.invalid++;
      this.#stats.invalid++;
      this.#invalidByCode.set(error.code, (this.#invalidByCode.get(error.code) ?? 0) + 1);
      this.#count(envelope.type, "invalid");
      this.#trust.recordInvalid(peer.nodeId, error.code);
      return;
    }
    if (this.#trust.shouldDisconnect(peer.nodeId)) return;
    if (message.type === MessageType.GOSSIP_MESSAGE) {
      this.#onDigest(peer, state, message.payload);
      return;
    }
    const propagating = this.#propagating.has(message.type);
    const origin = toHex(message.origin);
    if (propagating) {
      let bucket = this.#origins.get(origin);
      if (!bucket) {
        bucket = new TokenBucket(this.config.originRateLimit, this.config.originRateBurst, now);
        this.#origins.set(origin, bucket);
      }
      if (!bucket.take(now)) {
        this.#stats.originLimited++;
        if (origin === peer.nodeId && now - state.lastPenaltyAt >= 1_000) {
          state.lastPenaltyAt = now;
          this.#trust.recordInvalid(peer.nodeId, "RATE_LIMITED");
        }
        return;
      }
    }
    this.#markSeen(key, message.id, peer.nodeId, propagating);
    if (propagating) this.#trust.recordValid(peer.nodeId);
    this.#stats.delivered++;
    this.#count(message.type, "delivered");
    for (const handler of this.#handlers.get(message.type) ?? []) {
      try {
        handler(message, peer);
      } catch (error) {
        console.error(`kith: handler for message type ${message.type} failed: ${error}`);
      }
    }
    // Forward while the TTL allows another hop after this one.
    if (propagating && message.ttl >= 2) {
      const stored = this.#keep(key, message, message.ttl - 1);
      for (const target of this.#targets(key, new Set([peer.nodeId, origin]), this.config.fanout)) {
        this.#sendStored(target, stored, key);
      }
    }
  }

  #isSeen(key: string, id: Uint8Array): boolean {
    if (this.#seen.has(key)) return true;
    return this.#storage.hasSeen(id);
  }

  #markSeen(key: string, id: Uint8Array, from: string, persist: boolean): void {
    const now = this.#clock.now();
    this.#seen.set(key, now);
    if (this.#seen.size > this.config.messageCacheSize) this.#seen.delete(this.#seen.keys().next().value!);
    if (persist) this.#storage.recordSeen({ messageId: id, timestamp: now, senderId: from });
  }

  #keep(key: string, envelope: Envelope, forwardTtl: number): StoredMessage {
    const bytes = this.#codec.encode({ ...envelope, ttl: forwardTtl });
    const stored: StoredMessage = {
      id: envelope.id,
      bytes,
      forwardTtl,
      type: envelope.type,
      origin: toHex(envelope.origin),
      storedAt: this.#clock.now(),
    };
    this.#store.set(key, stored);
    this.#storeBytes += bytes.length;
    while (this.#store.size > this.config.messageCacheSize || this.#storeBytes > this.config.maxStoreBytes) {
      const [oldestKey, oldest] = this.#store.entries().next().value!;
      this.#store.delete(oldestKey);
      this.#storeBytes -= oldest.bytes.length;
    }
    return stored;
  }

  /** Up to `count` random active peers not in `exclude` and not known to have `key`. */
  #targets(key: string, exclude: Set<string>, count: number) {
    const candidates = this.#peers.activePeers().filter((p) =>
      !exclude.has(p.nodeId) && !this.#peerState.get(p.nodeId)?.knows.has(key)
    );
    if (count >= candidates.length) return candidates;
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(this.#random() * (candidates.length - i));
      [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
    }
    return candidates.slice(0, count);
  }

  #sendStored(
    peer: { readonly nodeId: string; readonly connection: Connection },
    stored: StoredMessage,
    key: string,
  ): void {
    const state = this.#state(peer.nodeId);
    state.knows.set(key, true);
    if (peer.connection.bufferedBytes > this.config.sendHighWaterBytes) {
      if (this.#deferred.length < this.config.maxDeferred) this.#deferred.push({ nodeId: peer.nodeId, key });
      return;
    }
    if (peer.connection.sendEncoded(stored.bytes)) {
      this.#stats.forwarded++;
      this.#count(stored.type, "forwarded");
    }
  }

  #onDigest(peer: GossipSender, state: PeerState, digest: PayloadByType[7]): void {
    const now = this.#clock.now();
    const want: Uint8Array[] = [];
    for (const id of digest.have) {
      const key = bytesKey(id);
      state.knows.set(key, true);
      if (want.length >= MAX_DIGEST_IDS || this.#seen.has(key)) continue;
      const askedAt = this.#requested.get(key);
      if (askedAt !== undefined && now - askedAt < 2 * this.config.intervalMs) continue; // asked elsewhere already
      if (this.#storage.hasSeen(id)) continue;
      this.#requested.set(key, now);
      want.push(id);
    }
    const active = this.#peers.activePeers().find((p) => p.nodeId === peer.nodeId);
    if (!active) return;
    if (want.length > 0) {
      this.#stats.requested += want.length;
      active.connection.send(createMessage(this.#identity, MessageType.GOSSIP_MESSAGE, { have: [], want }, {
        ttl: 0,
        timestamp: now,
      }));
    }
    for (const id of digest.want) {
      if (state.servedThisInterval >= this.config.maxServedPerInterval) break;
      const key = bytesKey(id);
      const stored = this.#store.get(key);
      if (!stored || stored.forwardTtl < 1) continue;
      state.servedThisInterval++;
      state.knows.set(key, true);
      if (active.connection.sendEncoded(stored.bytes)) {
        this.#stats.served++;
        this.#count(stored.type, "forwarded");
      }
    }
  }

  /** Sends `peer` a digest of kept messages it is not known to have, newest first. */
  #sendDigest(peer: { readonly nodeId: string; readonly connection: Connection }): void {
    const state = this.#state(peer.nodeId);
    const have: Uint8Array[] = [];
    const entries = [...this.#store.entries()];
    for (let i = entries.length - 1; i >= 0 && have.length < MAX_DIGEST_IDS; i--) {
      const [key, stored] = entries[i];
      if (stored.forwardTtl < 1 || state.knows.has(key) || stored.origin === peer.nodeId) continue;
      have.push(stored.id);
      state.knows.set(key, true);
    }
    if (have.length === 0) return;
    this.#stats.digestsSent++;
    peer.connection.send(createMessage(this.#identity, MessageType.GOSSIP_MESSAGE, { have, want: [] }, {
      ttl: 0,
      timestamp: this.#clock.now(),
    }));
  }

  #round(): void {
    const now = this.#clock.now();
    for (const [key, at] of this.#seen) {
      if (now - at < this.config.dedupWindowMs) break;
      this.#seen.delete(key);
    }
    for (const [key, stored] of this.#store) {
      if (now - stored.storedAt < this.config.repairWindowMs) break;
      this.#store.delete(key);
      this.#storeBytes -= stored.bytes.length;
    }
    for (const state of this.#peerState.values()) state.servedThisInterval = 0;
    const active = this.#peers.activePeers();
    const byId = new Map(active.map((p) => [p.nodeId, p]));
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const { nodeId, key } of deferred) {
      const peer = byId.get(nodeId);
      const stored = this.#store.get(key);
      if (!peer || !stored) continue;
      if (peer.connection.bufferedBytes > this.config.sendHighWaterBytes) {
        if (this.#deferred.length < this.config.maxDeferred) this.#deferred.push({ nodeId, key });
      } else if (peer.connection.sendEncoded(stored.bytes)) {
        this.#stats.forwarded++;
        this.#count(stored.type, "forwarded");
      }
    }
    for (const peer of shuffleInPlace([...active], this.#random).slice(0, this.config.repairFanout)) {
      this.#sendDigest(peer);
    }
  }
}
