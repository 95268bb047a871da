/**
 * Epidemic gossip: the design's algorithm with eager first delivery over a
 * small mesh of links, lazy announcement of ids on every other link,
 * anti-entropy repair, bounded caches and flood control.
 *
 * For every envelope a peer sends (after the peer manager has taken the
 * link-level ones):
 *
 * 1. per-peer rate limit (token bucket; a peer over it loses trust, at most once a second);
 * 2. deduplicate by message id, before paying for the signature; duplicates are counted per peer;
 * 3. verify timestamp, payload and the sender's trust here, and the signature through a verifier (inline,
 *    or on a helper thread under load, answering later; copies that come meanwhile wait, see `#check`);
 *    invalid input costs trust by code;
 * 4. per-origin rate limit for messages that spread;
 * 5. record as seen (memory, backed by the messages_seen table), credit the sender (+0.001);
 * 6. hand to the handlers of its type (the design's `register_handler`);
 * 7. if its TTL allows another hop, keep it for repair, push it at once, with the TTL decremented, to
 *    its *eager* peers, and announce its id (IHAVE) within `lazyIntervalMs` to a random subset of the
 *    others (`lazyFanout`, `lazyPercent`) and to the rest in the next repair digest; never to the peer it
 *    came from, its origin, or a peer known to have it.
 *
 * Eager and lazy links follow Plumtree (Leitão, Pereira and Rodrigues,
 * "Epidemic Broadcast Trees", SRDS 2007), with the eager set held at
 * `fanout` links per node instead of pruned to a tree, and links directed:
 * a node chooses whom it pushes to, and each receiver controls who pushes
 * to it. A node's first `fanout` peers are eager; every other link carries
 * only 32-byte ids. A node that hears of an id and still lacks the message
 * a little over `wantTimeoutMs` later (at once if nobody pushes to it) asks
 * the announcer for it (IWANT), which also grafts: the announcer pushes to
 * it in full from then on. If it is still missing, the next announcer is
 * asked, so a peer that drops or withholds messages costs delay, not
 * delivery. A node pushed to by more than twice `fanout` peers answers the
 * next duplicate with PRUNE; the pruned peer pushes to its most trusted lazy
 * peer instead. A lost eager link, or one to a peer that sent something
 * invalid, is replaced the same way.
 *
 * Why not Plumtree's single tree (prune on every duplicate): measured in
 * the simulator and on loopback at 50 nodes and 100 messages/s from random
 * origins, concurrent prunes on the same cycle keep cutting the tree, each
 * cut waits out the repair timeout, and the grafts that mend it form new
 * cycles: 10-20% of deliveries came by repair, with p99 latency 350-700 ms.
 * Three eager links per node (a random 3-out mesh, connected with high
 * probability) deliver everything eagerly at about 2.2 copies per node
 * against 3.2 for random fanout with digests, and stay put.
 *
 * On that mesh each origin's messages settle on a tree of their own
 * (`originPrune`, Plumtree's per-source trees): a peer's second later full
 * copy of an origin's messages is answered with a PRUNE naming the message,
 * and that peer sends the origin's messages only as ids from then on.
 * Prunes for one origin never cut another's tree, and a node never prunes
 * the peer whose copy of the origin's latest message came first (its
 * parent), so a copy that crossed a PRUNE in flight cannot cut it off. About one copy per node instead of
 * 2.2; a broken tree is mended by asking, as above (IWANT grafts the
 * origin back). The price: one path per origin, so a slow or withholding
 * parent costs an ask's delay where the mesh's spare copies hid it.
 *
 * First delivery therefore costs one network latency per hop, not a gossip
 * interval. The interval drives the rest: messages deferred because a peer's
 * send queue was full are retried, and a repair round sends digests of
 * kept ids a peer is not known to have (those the announcement rounds left
 * out). A peer that joins late gets a digest of the newest 256 kept
 * ids at once and the next 256 each repair round until it has heard of all,
 * so it still receives every message younger than the protocol's message
 * age limit. A message whose TTL is spent is neither forwarded nor
 * advertised, so repair never carries a message further than its TTL allows.
 *
 * Clock, peers (the transport side) and randomness come from outside.
 *
 * @module
 */
import { ByteArena, bytesKey, keyBytes, toHex } from "./bytes.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import { ConfigError, ProtocolError } from "./errors.ts";
import type { Identity } from "./identity.ts";
import type { Connection } from "./transport/types.ts";
import {
  createLinkMessage,
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
import { inlineVerifier, type SignatureVerifier } from "./verifier.ts";

/** Gossip parameters, named as in the design and the gossipsub spec. Every field has a default. */
export interface GossipConfig {
  /**
   * The design's gossip_fanout: eager links per node, the peers each new message is pushed to in full
   * (the others hear its id). Default 3: a random 3-out mesh reaches every node with high probability,
   * at about 2.2 copies per node. At 2 or 1 some nodes are reached only by repair (slower); above 3
   * each step adds about one copy per node. A node may hold more for a while after grafts.
   */
  fanout: number;
  /** The design's gossip_interval, ms: repair rounds and retries of deferred sends. Default 1,000. */
  intervalMs: number;
  /**
   * Ids of new messages are announced (IHAVE) to lazy peers in batches this often, ms. Default 250.
   * Shorter repairs a lost path sooner but sends more, smaller records; at 100 messages/s a batch carries
   * about 25 ids, so announcing costs about 40 bytes per id and peer. Asks for missing messages are also
   * sent at these rounds, so a wait for one is rounded up to the next round.
   */
  lazyIntervalMs: number;
  /**
   * Lazy peers announced to per round, at least: the peers with ids waiting are shuffled and the first
   * max(`lazyFanout`, `lazyPercent`% of them) are sent their ids (as gossipsub's D_lazy and
   * gossip_factor); the others hear of those ids in the next repair digest, within `intervalMs`. Default
   * 3. Each node then hears of a message at once from about `lazyFanout` lazy neighbours whatever its
   * degree, enough to find a copy quickly when its tree parent fails, and from all of them within the
   * interval. Measured at 50 nodes in one process, 75 messages/s: records per delivery 1.51 to 1.36, CPU
   * per delivery 15% lower, p99 480 to 152 ms; the Byzantine chaos run delivered every message
   * (BENCHMARKS.md). Higher: more records, faster repair.
   */
  lazyFanout: number;
  /** See `lazyFanout`: the share of lazy peers announced to per round, percent (1-100). Default 25. */
  lazyPercent: number;
  /**
   * A message announced (IHAVE) but not received within this long, ms (plus up to half again, fixed per
   * node, so that nodes cut off together do not all graft at once), is asked for (IWANT) from the first
   * peer that announced it, then from the next (at most 8 are remembered) after each further wait.
   * Default 250. It should exceed the eager path's delivery time, or nodes ask for messages already on
   * their way and graft needless links; lower it only where round trips are short.
   */
  wantTimeoutMs: number;

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
  /**
   * TTL of published messages: hops they may travel. Default 16: paths over eager links are longer than
   * shortest paths (mean 8.5 hops at 1,000 simulated nodes against log_3 = 6.3), and at 8 messages ran out
   * of TTL on 20- and 1,000-node networks.
   */
  defaultTtl: number;
  /**
   * Push own messages in full to every peer (gossipsub's flood publish) instead of to the eager ones.
   * Default false: it costs a full copy per peer for each message published. Turn it on for a
   * publisher that must not depend on any of its eager neighbours.
   */
  floodPublish: boolean;
  /**
   * Per-origin trees. A peer that pushes a second copy of an origin's message this node already had is
   * sent PRUNE with that message's id, and from then on pushes only the ids of that origin's messages (other
   * origins' messages still come in full), as long as the peer that brought them first still pushes them
   * here. Each publisher's messages then settle on a spanning tree (Plumtree's per-source trees): about one
   * copy per node instead of about 2.2 on the eager mesh, at about 45% of the bytes and 8-33% less CPU per
   * delivery, each tree repaired by asking (IWANT grafts that origin back). The price is one path per
   * origin: near a node's CPU limit, or with a slow or withholding parent, deliveries wait for an ask where
   * the mesh's spare copies hid the delay (at 50 nodes on one saturated core, p99 1,032 against 997 ms for
   * the mesh; 279 against 133 before whole-link PRUNEs spared parents). Trees are per origin because one
   * shared tree, pruned by the duplicates of many publishers at once, kept being cut (see the module docs).
   * Each peer's per-origin state is bounded (MAX_ORIGIN_PRUNES): beyond it, the oldest origins go back to
   * the mesh. Default true.
   */
  originPrune: boolean;
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
  lazyIntervalMs: 250,
  lazyFanout: 3,
  lazyPercent: 25,
  wantTimeoutMs: 250,

  messageCacheSize: 10_000,
  dedupWindowMs: 600_000,
  repairWindowMs: 240_000,
  maxStoreBytes: 64 * 1024 * 1024,
  defaultTtl: 16,
  floodPublish: false,
  originPrune: true,
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
    if (key === "floodPublish" || key === "originPrune") {
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
  if (config.lazyPercent > 100) throw new ConfigError("gossip.lazyPercent", "gossip.lazyPercent must be at most 100");
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
  /**
   * First copies dropped because `messageCacheSize` others were already waiting for their signature
   * check (an overloaded node; a later copy or an announcement brings them again).
   */
  droppedUnderCheck: number;
  /** Envelopes sent while forwarding (eager and deferred). */
  forwarded: number;
  /** GOSSIP_MESSAGEs with ids (`have`) sent: lazy announcements and repair digests. */
  digestsSent: number;
  /** Ids announced to peers in those digests. */
  announced: number;
  /** Message ids asked for with `want`. */
  requested: number;
  /** Messages sent in answer to `want`. */
  served: number;
  /** PRUNEs sent: peers moved from full messages to ids after a duplicate. */
  prunes: number;
  /** Per-origin PRUNEs sent: a peer asked to send only ids of one origin's messages (see `originPrune`). */
  originPrunes: number;
  /** Grafts: this node asked a peer that was not pushing to it for a message (it pushes from then on). */
  grafts: number;
  /**
   * How late messages reach this node now, in ms beyond the quickest each origin's messages came in the
   * last 10 minutes: the median, over origins heard from in the last 30 s, of each origin's smoothed
   * lateness. Near 0 while the network and this node keep up; it grows with queues anywhere on the paths,
   * this node's own unread backlog (and signature checks waiting for a helper thread) included.
   */
  latenessMs: number;
  /**
   * How much lateness varies: the same median of each origin's smoothed mean deviation, ms. Before its first
   * ask, a missing message waits the median of each origin's lateness plus four deviations longer (at most
   * MAX_LATENESS_MS), as TCP's retransmission timeout adds four deviations to the mean.
   */
  latenessDeviationMs: number;
}

/** Per-peer counters, for operators and the trust model. */
export interface GossipPeerStats {
  /** Envelopes received from the peer. */
  received: number;
  /** Copies of already-seen messages it sent. */
  duplicates: number;
  /** Messages it was first to bring (first-seen and valid). */
  firsts: number;
  /** Invalid envelopes it sent. */
  invalid: number;
  /** Envelopes it sent over its rate limit. */
  rateLimited: number;
  /** Whether this node pushes new messages to it in full (an eager link) rather than announcing their ids. */
  eager: boolean;
  /** Whether it pushes new messages to this node in full, as far as this node knows. */
  pushing: boolean;
}

/** A copy of a message from another peer, come while its first copy's signature was being checked. */
interface OtherCopy {
  peer: GossipSender;
  envelope: Envelope;
}

/** A message whose first copy's signature is being checked. */
interface CopyUnderCheck {
  /** Its id (a view of the first copy's record). */
  id: Uint8Array;
  /** The peer whose copy is being checked. */
  checking: string;
  /** Copies from other peers, checked in turn if the current one fails; at most MAX_COPIES_UNDER_CHECK. */
  others: OtherCopy[];
  /** Every other peer that sent a copy meanwhile (held or not), at most MAX_ANNOUNCERS: they have it. */
  alsoFrom: string[];
  /** Peers whose copies failed: not asked for it. */
  failed: string[];
}

/**
 * Copies of one message from other peers held while its first copy's signature is checked: if that
 * check fails (a peer altered the signature of a real message and sent it first), the next is checked,
 * so a forger cannot make a node drop the message. Three: a forger would need as many links.
 */
const MAX_COPIES_UNDER_CHECK = 3;

interface PeerState extends GossipPeerStats {
  bucket: TokenBucket;
  /** Its bit in kept messages' known-to-have masks, or -1 when all KNOWN_SLOTS are taken. */
  slot: number;
  /** It sent PRUNE: not made eager again unless it asks (IWANT). */
  prunedUs: boolean;
  /** Origins (hex) it asked, by PRUNE with ids, to get only as ids; oldest first, at most MAX_ORIGIN_PRUNES. */
  originsPrunedByIt: Set<string> | undefined;
  /** Origins (hex) this node asked it, by PRUNE with ids, to stop pushing; oldest first, same bound. */
  originsPrunedByUs: Set<string> | undefined;
  /** When it last brought a message first (ms): a recent parent in some origin's tree, if trees are on. */
  lastFirstAt: number;
  /** Origins (hex) of which it has sent one later copy: the next later copy of the same origin prunes. */
  originsDuplicatedOnce: Set<string> | undefined;
  /** It connected when more was kept than one digest holds: it gets the rest in the next repair rounds. */
  catchingUp: boolean;
  /** Ids (keys) to announce at the next lazy flush; at most MAX_DIGEST_IDS (a full batch is sent at once). */
  pendingHave: string[];
  servedThisInterval: number;
  lastPenaltyAt: number;
}

/** A message heard of (IHAVE) but not yet received. */
interface MissingMessage {
  id: Uint8Array;
  /** Peers that announced it, in order, at most MAX_ANNOUNCERS. */
  announcers: string[];
  /** How many of `announcers` have been asked. */
  asked: number;
  /** When it was first announced, then when the last ask went out. */
  askedAt: number;
  /** The peer last asked for it: a copy from that peer is an answer, from another one a late copy. */
  lastAsked: string | undefined;
  /** The peer whose announcement created the entry (counted against its MAX_MISSING_PER_ANNOUNCER). */
  startedBy: string;
}

/**
 * Origins per peer and direction whose messages go as ids only (per-origin PRUNE). Beyond it the oldest
 * is forgotten: its messages come in full again, and the next duplicate prunes it again.
 */
const MAX_ORIGIN_PRUNES = 256;

function addBounded(set: Set<string>, value: string, bound: number): void {
  set.delete(value);
  set.add(value);
  if (set.size > bound) set.delete(set.values().next().value!);
}

/**
 * The ask delay's stretch (see GossipProtocol's askBackoff): at most 4x; 1.5x up for each late copy that
 * came after an ask, 1.1x down for each answer and 1.25x down each repair round. Up by more than down: while
 * more than about one ask in five was needless, the delay grows.
 */
const MAX_ASK_BACKOFF = 4;
const ASK_BACKOFF_UP = 1.5;
const ASK_BACKOFF_DOWN = 1.1;
const ASK_BACKOFF_DECAY = 1.25;

/**
 * Lateness (GossipStats.latenessMs): each first copy that came unasked is timed as its age (now minus the
 * origin's timestamp) less the lowest age of that origin's messages in the last LATENESS_HISTORY_MS, kept
 * as one minimum per LATENESS_WINDOW_MS as LEDBAT keeps its base delay: this cancels the origin's clock
 * offset and the path's own delay, and an overload shorter than the history is not taken for the normal.
 * Each origin's samples are smoothed as TCP smooths round trips (RFC 6298's gains, the mean's doubled as
 * one origin's samples are few), and the node goes by the median over origins, so origins that back-date
 * their messages move it only when they are most of those heard from. Samples and the wait are capped.
 */
const LATENESS_WINDOW_MS = 60_000;
const LATENESS_HISTORY_MS = 10 * 60_000;
const LATENESS_SMOOTHING = 1 / 4;
const LATENESS_DEVIATION_SMOOTHING = 1 / 4;
const MAX_LATENESS_MS = 2_000;
/** Origins count toward the median while heard from this recently. */
const LATENESS_ACTIVE_MS = 30_000;
/**
 * A message this much later than its origin's quickest is not timed; the origin's reference starts afresh
 * from it. Queues do not grow this long on a live network, clocks that step (NTP, a suspended laptop) do.
 */
const LATENESS_RESET_MS = 10_000;
/** Ids asked for that are remembered so their copies are not timed (see #askedIds). */
const MAX_ASKED_REMEMBERED = 4_096;
/** Origins whose lateness is kept (the least recently heard from goes first). */
const MAX_LATENESS_ORIGINS = 1_024;

interface OriginLateness {
  /** Lowest age in the current window, and when that window began. */
  lowest: number;
  windowStart: number;
  /** Earlier windows' lowest ages as [window start, lowest] pairs, oldest first, within the history. */
  history: number[];
  /** Smoothed excess and its mean deviation, ms; `samples` counts the samples taken. */
  mean: number;
  deviation: number;
  samples: number;
  lastSampleAt: number;
}

/** Gossip intervals a peer counts as some origin's parent after it last brought a message first. */
const PARENT_MEMORY_INTERVALS = 10;

/** Announcers remembered per missing message: how many peers are asked before giving up. */
const MAX_ANNOUNCERS = 8;
/** Missing-message entries one peer's announcements may have open at once. */
const MAX_MISSING_PER_ANNOUNCER = 512;

type ActivePeer = { readonly nodeId: string; readonly connection: Connection };

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

/**
 * Connected peers numbered for the known-to-have bitmask of kept messages: bits 0-29, so a mask is always
 * a small integer in V8 (no allocation). A message kept by each of thousands of nodes would otherwise
 * carry a list of node ids: an array of a few ids costs about 150 bytes once it has grown by a push.
 */
const KNOWN_SLOTS = 30;

/** A view of a kept message's envelope, made when it is sent. */
function wireBytes(stored: StoredMessage): Uint8Array {
  return new Uint8Array(stored.buffer, stored.offset, stored.length);
}

function removeFrom(list: string[], nodeId: string): void {
  const i = list.indexOf(nodeId);
  if (i >= 0) list.splice(i, 1);
}

/** A message kept for forwarding and repair; its id is its key in the store (see `keyBytes`). */
interface StoredMessage {
  /**
   * The envelope as this node sends it on (TTL already decremented): `length` bytes at `offset` of
   * `buffer`, a chunk shared with other kept messages (see ByteArena). Not a view object of its own,
   * which would cost about 100 bytes per kept message; views are made when it is sent.
   */
  buffer: ArrayBufferLike;
  offset: number;
  length: number;
  /** TTL the kept envelope carries. */
  forwardTtl: number;
  /** Message type. */
  type: number;
  origin: string;
  /** The peer it first came from (this node's id for its own). */
  from: string;
  /**
   * Peers known to have it (sent it, announced it, or were sent it), never sent it or its id again: bit i
   * stands for the peer in slot i (see KNOWN_SLOTS).
   */
  knownMask: number;
  /** Peers known to have it that hold no slot (more than KNOWN_SLOTS peers connected); usually none. */
  knownOthers: string[] | undefined;
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
  /**
   * Checks signatures: at once on this thread by default; a {@link ParallelVerifier} moves them to a
   * helper thread under load (its answers come later). The caller owns it and closes it.
   */
  verifier?: SignatureVerifier;
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
  readonly #verifier: SignatureVerifier;
  // id key -> the copy whose signature is being checked, and copies from other peers that came meanwhile.
  readonly #checking = new Map<string, CopyUnderCheck>();
  #stopped = false;
  readonly #handlers = new Map<number, MessageHandler[]>();
  readonly #propagating = new Set<number>([MessageType.CUSTOM_DATA]);
  // id key -> when first seen; insertion order is age order.
  readonly #seen = new Map<string, number>();
  // id key -> message kept for repair; insertion order is age order.
  readonly #store = new Map<string, StoredMessage>();
  #storeBytes = 0;
  // Kept envelopes share chunks instead of a buffer each (see ByteArena): the store evicts oldest first.
  readonly #storeArena = new ByteArena();
  // Origin id bytes -> hex, shared by every message of that origin (the codec hands out one origin array
  // per public key); a string per kept message cost 80 bytes each.
  readonly #originHex = new WeakMap<Uint8Array, string>();
  readonly #peerState = new Map<string, PeerState>();
  // Origin (hex) -> the peer whose copy of its latest message came first: this node's parent in its tree.
  readonly #firstFrom = new BoundedMap<string, string>(4_096);
  // Slots of the known-to-have masks not held by a connected peer.
  readonly #freeSlots: number[] = Array.from({ length: KNOWN_SLOTS }, (_, i) => KNOWN_SLOTS - 1 - i);
  readonly #origins: BoundedMap<string, TokenBucket>;
  readonly #missing: BoundedMap<string, MissingMessage>;
  // Open missing-message entries by the peer that started them (entries leave by #dropMissing).
  readonly #missingStarted = new Map<string, number>();
  // Peers whose state says they push full copies to this node (kept by #setPushing; the duplicate path needs it).
  #pushers = 0;
  #deferred: { nodeId: string; key: string }[] = [];
  // Messages kept since the last repair round, and in the interval before it (each at most
  // messageCacheSize): a round's digests cover the interval before it, not the whole store.
  #keptSinceLastRound: [string, StoredMessage][] = [];
  #keptBeforeLastRound: [string, StoredMessage][] = [];
  #timer: TimerId | undefined;
  #lazyTimer: TimerId | undefined;
  /** wantTimeoutMs plus up to half again, fixed per node (see the constructor). */
  readonly #askDelayMs: number;
  /**
   * Multiplies the ask delay (1 to MAX_ASK_BACKOFF): up when an asked-for message comes first from a peer
   * not asked (the copy on its way was late, not lost), down when the asked peer's answer comes first, and
   * back toward 1 each repair round. When nodes are overloaded every copy is late, and asking for them
   * anyway adds copies and grafts that deepen the overload.
   */
  #askBackoff = 1;
  /** Ids asked for lately (their copies are not timed for lateness), oldest first. */
  readonly #askedIds = new Set<string>();
  /** Lateness per origin (see LATENESS_WINDOW_MS), least recently heard from first. */
  readonly #lateness = new Map<string, OriginLateness>();
  #running = false;
  readonly #byType = new Map<string, MessageTypeCounts>();
  readonly #invalidByCode = new Map<string, number>();
  /** The counters; lateness is derived from #lateness when read. */
  readonly #stats: Omit<GossipStats, "latenessMs" | "latenessDeviationMs"> = {
    published: 0,
    delivered: 0,
    duplicates: 0,
    invalid: 0,
    rateLimited: 0,
    originLimited: 0,
    droppedUnderCheck: 0,
    forwarded: 0,
    digestsSent: 0,
    announced: 0,
    requested: 0,
    served: 0,
    prunes: 0,
    originPrunes: 0,
    grafts: 0,
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
    this.#verifier = options.verifier ?? inlineVerifier;
    this.#origins = new BoundedMap(this.config.messageCacheSize);
    this.#missing = new BoundedMap(this.config.messageCacheSize);
    // Nodes cut off from the eager links together hear the same announcements at about the same time; if all
    // asked at once, each would graft its own link back, and the extra links would be pruned again,
    // racing each other into new cuts. Spread per node, the first graft usually repairs the rest.
    this.#askDelayMs = Math.round(this.config.wantTimeoutMs * (1 + this.#random() / 2));
  }

  /** Counters. */
  get stats(): Readonly<GossipStats> {
    const now = this.#clock.now();
    return {
      ...this.#stats,
      latenessMs: this.#medianLateness(now, (entry) => entry.mean),
      latenessDeviationMs: this.#medianLateness(now, (entry) => entry.deviation),
    };
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
        firsts: state.firsts,
        invalid: state.invalid,
        rateLimited: state.rateLimited,
        eager: state.eager,
        pushing: state.pushing,
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
        console.error(`kith: gossip round failed: ${error}`);
      }
      this.#schedule();
    }, this.config.intervalMs);
  }

  /**
   * Tells gossip a peer connected: it gets a digest at once, so it can catch up, and starts eager if
   * fewer than `fanout` peers are.
   */
  peerConnected(peer: { readonly nodeId: string; readonly connection: Connection }): void {
    const state = this.#state(peer.nodeId);
    // A digest holds 256 ids: a peer that needs more gets the next 256 each repair round until it has all.
    state.catchingUp = this.#sendDigest(peer, [...this.#store.entries()]) === MAX_DIGEST_IDS;
  }

  /**
   * Costs a peer trust, and its eager link: full copies go to a peer that has not misbehaved instead
   * (the most trusted lazy one), so an attacker that grabbed one of a node's first links stops
   * swallowing its messages long before it is disconnected.
   */
  #penalise(nodeId: string, code: string): void {
    this.#trust.recordInvalid(nodeId, code);
    const state = this.#peerState.get(nodeId);
    if (!state?.eager) return;
    state.eager = false;
    if (this.#eagerLinks() < this.config.fanout) this.#promoteLazyPeer(nodeId);
  }

  /** Makes the most trusted lazy peer (other than `except`) eager. */
  #promoteLazyPeer(except: string): void {
    let best: PeerState | undefined, bestTrust = -1;
    for (const [nodeId, state] of this.#peerState) {
      if (state.eager || state.prunedUs || nodeId === except) continue;
      const trust = this.#trust.trust(nodeId) + this.#random() * 1e-6; // ties broken at random
      if (trust > bestTrust) [best, bestTrust] = [state, trust];
    }
    if (best) best.eager = true;
  }

  /**
   * Tells gossip a peer disconnected: its state is dropped, what it was known to have is forgotten (a
   * message sent as it went down may never have arrived, and it may come back without it), and a lost
   * eager link is replaced by the most trusted lazy one.
   */
  peerDisconnected(nodeId: string): void {
    const state = this.#peerState.get(nodeId);
    if (state) this.#setPushing(state, false);
    this.#peerState.delete(nodeId);
    const keep = state && state.slot >= 0 ? ~(1 << state.slot) : -1;
    for (const stored of this.#store.values()) {
      stored.knownMask &= keep;
      if (stored.knownOthers !== undefined) removeFrom(stored.knownOthers, nodeId);
    }
    // Cleared from every kept message above, so the next peer to take the slot starts knowing nothing.
    if (state && state.slot >= 0) this.#freeSlots.push(state.slot);
    // Nor is it an announcer any more: it may come back without what it announced.
    for (const missing of this.#missing.values()) {
      const i = missing.announcers.indexOf(nodeId);
      if (i < 0) continue;
      missing.announcers.splice(i, 1);
      if (i < missing.asked) missing.asked--;
    }
    if (state?.eager && this.#eagerLinks() < this.config.fanout) this.#promoteLazyPeer(nodeId);
  }

  #state(nodeId: string): PeerState {
    let state = this.#peerState.get(nodeId);
    if (!state) {
      // A new link starts eager only while fewer than `fanout` are.
      const eagerLinks = this.#eagerLinks();
      state = {
        bucket: new TokenBucket(this.config.peerRateLimit, this.config.peerRateBurst, this.#clock.now()),
        slot: this.#freeSlots.pop() ?? -1,
        pendingHave: [],
        // Made on first use: most links of a node with many peers never prune (an empty Set is ~200 bytes).
        originsPrunedByIt: undefined,
        originsPrunedByUs: undefined,
        originsDuplicatedOnce: undefined,
        lastFirstAt: -Infinity,
        eager: eagerLinks < this.config.fanout,
        pushing: false,
        prunedUs: false,
        catchingUp: false,
        servedThisInterval: 0,
        lastPenaltyAt: -Infinity,
        received: 0,
        duplicates: 0,
        firsts: 0,
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
    const state = this.#state(peer.nodeId);
    state.received++;
    if (!state.bucket.take(now)) {
      state.rateLimited++;
      this.#stats.rateLimited++;
      if (now - state.lastPenaltyAt >= 1_000) {
        state.lastPenaltyAt = now;
        this.#penalise(peer.nodeId, "RATE_LIMITED");
      }
      return;
    }
    this.#count(envelope.type, "received");
    const key = bytesKey(envelope.id);
    const kept = this.#store.get(key);
    if (kept) this.#markKnown(kept, peer.nodeId);
    if (kept || this.#isSeen(key, envelope.id)) {
      state.duplicates++;
      this.#stats.duplicates++;
      this.#count(envelope.type, "duplicate");
      if (this.#propagating.has(envelope.type)) this.#pruneOnDuplicate(peer.nodeId, state, key, kept, now);
      return;
    }
    const checking = this.#checking.get(key);
    if (checking) {
      // Its first copy's signature is being checked: a duplicate, kept aside in case that check fails.
      state.duplicates++;
      this.#stats.duplicates++;
      this.#count(envelope.type, "duplicate");
      if (checking.checking === peer.nodeId || checking.failed.includes(peer.nodeId)) return;
      if (!checking.alsoFrom.includes(peer.nodeId) && checking.alsoFrom.length < MAX_ANNOUNCERS) {
        checking.alsoFrom.push(peer.nodeId);
      }
      if (
        checking.others.length < MAX_COPIES_UNDER_CHECK &&
        !checking.others.some((other) => other.peer.nodeId === peer.nodeId)
      ) checking.others.push({ peer, envelope });
      return;
    }
    this.#check(peer, key, envelope, undefined, now);
  }

  /**
   * Checks a first copy (everything but the signature here, the signature by the verifier, at once or
   * later) and accepts it; if it fails, the next copy that came meanwhile from another peer is checked.
   * `entry` is the message's entry in #checking once one copy went to the verifier.
   */
  #check(peer: GossipSender, key: string, envelope: Envelope, entry: CopyUnderCheck | undefined, now: number): void {
    let message: Message;
    try {
      message = this.#codec.verifyAllButSignature(envelope, now, { linkPeer: peer.nodeId });
      if (
        message.type === MessageType.CUSTOM_DATA && message.payload.data.length > this.config.maxApplicationPayloadBytes
      ) {
        throw new ProtocolError("PAYLOAD_TOO_LARGE", "application payload over the limit");
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#rejectCopy(peer, envelope.type, error.code);
      if (entry) this.#checkNextCopy(key, entry, peer.nodeId, now);
      return;
    }
    if (envelope.signature.length === 0) {
      if (entry) this.#checking.delete(key);
      this.#accept(peer, key, message, entry, now);
      return;
    }
    if (entry === undefined) {
      if (this.#checking.size >= this.config.messageCacheSize) {
        // More first copies under check than the node keeps messages: overloaded; a later copy or an
        // announcement brings it again.
        this.#stats.droppedUnderCheck++;
        return;
      }
      entry = { id: envelope.id, checking: peer.nodeId, others: [], alsoFrom: [], failed: [] };
      this.#checking.set(key, entry);
    }
    entry.checking = peer.nodeId;
    const under = entry;
    let late = false;
    this.#verifier.check(envelope.signature, envelope.id, envelope.publicKey, (valid) => {
      if (late && this.#stopped) {
        this.#checking.delete(key); // answered after stop(): nobody is listening
        return;
      }
      const at = this.#clock.now();
      if (valid) {
        this.#checking.delete(key);
        this.#accept(peer, key, message, under, at);
        return;
      }
      this.#rejectCopy(peer, envelope.type, "BAD_SIGNATURE");
      this.#checkNextCopy(key, under, peer.nodeId, at);
    });
    late = true;
  }

  /**
   * The copy from `failedFrom` failed: checks the next held copy, or, with none left, leaves the message
   * missing with the other peers that sent copies as its announcers, to be asked for like an announced one.
   */
  #checkNextCopy(key: string, entry: CopyUnderCheck, failedFrom: string, now: number): void {
    entry.failed.push(failedFrom);
    removeFrom(entry.alsoFrom, failedFrom);
    if (this.#store.has(key) || this.#seen.has(key)) {
      this.#checking.delete(key);
      return;
    }
    const next = entry.others.shift();
    if (next !== undefined) {
      this.#check(next.peer, key, next.envelope, entry, now);
      return;
    }
    this.#checking.delete(key);
    for (const nodeId of entry.alsoFrom) {
      const state = this.#peerState.get(nodeId);
      const missing = state && this.#missingEntry(key, entry.id, nodeId, now);
      if (missing) this.#addAnnouncer(missing, nodeId, state);
    }
    if (this.#missing.has(key)) this.#scheduleLazy();
  }

  /**
   * The missing-message entry for `key`, made if there is none and `startedBy` may start one: each peer
   * may leave at most MAX_MISSING_PER_ANNOUNCER ids waiting, so ids it announces and never serves cannot
   * push out what honest peers announced. The id is copied (it may be a view of a record).
   */
  #missingEntry(key: string, id: Uint8Array, startedBy: string, now: number): MissingMessage | undefined {
    let missing = this.#missing.get(key);
    if (missing) return missing;
    const started = this.#missingStarted.get(startedBy) ?? 0;
    if (started >= MAX_MISSING_PER_ANNOUNCER) return undefined;
    this.#missingStarted.set(startedBy, started + 1);
    missing = { id: id.slice(), announcers: [], asked: 0, askedAt: now, lastAsked: undefined, startedBy };
    if (this.#missing.size >= this.config.messageCacheSize) this.#dropMissing(this.#missing.entries().next().value![0]);
    this.#missing.set(key, missing);
    return missing;
  }

  /**
   * Adds a peer that has the message to those to ask. A peer that pushes to this node is asked before
   * those that do not: asking it grafts at most the message's origin back, where asking a lazy peer adds
   * an eager link, and under load such grafts push nodes over their bound and set off PRUNEs (measured:
   * 12,000 at 50 nodes on a saturated core).
   */
  #addAnnouncer(missing: MissingMessage, nodeId: string, state: PeerState): void {
    if (missing.announcers.length >= MAX_ANNOUNCERS || missing.announcers.includes(nodeId)) return;
    if (state.pushing) missing.announcers.splice(missing.asked, 0, nodeId);
    else missing.announcers.push(nodeId);
  }

  /** An invalid envelope: counted by code, and its sender penalised. */
  #rejectCopy(peer: GossipSender, type: number, code: ProtocolError["code"]): void {
    const state = this.#peerState.get(peer.nodeId);
    if (state) state.invalid++;
    this.#stats.invalid++;
    this.#invalidByCode.set(code, (this.#invalidByCode.get(code) ?? 0) + 1);
    this.#count(type, "invalid");
    this.#penalise(peer.nodeId, code);
  }

  /**
   * A first copy that passed every check: delivered, kept and spread. `entry` names the peers that sent
   * copies while its signature was checked. The sender may have disconnected meanwhile: then the message
   * is still delivered and spread, but nothing is recorded about the sender's link.
   */
  #accept(peer: GossipSender, key: string, message: Message, entry: CopyUnderCheck | undefined, now: number): void {
    const state = this.#peerState.get(peer.nodeId);
    if (this.#trust.shouldDisconnect(peer.nodeId)) return;
    if (message.type === MessageType.GOSSIP_MESSAGE) {
      if (state) this.#onDigest(peer, state, message.payload);
      return;
    }
    const propagating = this.#propagating.has(message.type);
    const origin = this.#hexOfOrigin(message.origin);
    if (propagating) {
      let bucket = this.#origins.get(origin);
      if (!bucket) {
        bucket = new TokenBucket(this.config.originRateLimit, this.config.originRateBurst, now);
        this.#origins.set(origin, bucket);
      }
      if (!bucket.take(now)) {
        this.#stats.originLimited++;
        if (state && origin === peer.nodeId && now - state.lastPenaltyAt >= 1_000) {
          state.lastPenaltyAt = now;
          this.#penalise(peer.nodeId, "RATE_LIMITED");
        }
        return;
      }
    }
    const missing = this.#missing.get(key);
    const announcers = missing?.announcers ?? [];
    this.#markSeen(key, message.id, peer.nodeId, propagating, now);
    if (propagating) {
      this.#trust.recordValid(peer.nodeId);
      if (state) {
        this.#setPushing(state, true);
        if (missing?.lastAsked === peer.nodeId) {
          // An answer (IWANT grafts the origin back at the peer asked): it pushes this origin in full again. A
          // copy that merely comes first from a peer asked to stop proves nothing: it may have crossed the PRUNE.
          state.originsPrunedByUs?.delete(origin);
        }
        this.#firstFrom.set(origin, peer.nodeId);
        state.lastFirstAt = now;
      }
      const asked = this.#askedIds.delete(key);
      if (missing?.lastAsked === peer.nodeId) {
        this.#askBackoff = Math.max(1, this.#askBackoff / ASK_BACKOFF_DOWN);
      } else if (missing?.lastAsked !== undefined) {
        // Asked too soon: the copy on its way came first. Wait longer before the next ask.
        this.#askBackoff = Math.min(MAX_ASK_BACKOFF, this.#askBackoff * ASK_BACKOFF_UP);
      } else if (!asked) {
        // Only copies that came unasked time the paths: an answer is late by the ask's own delay.
        this.#timeArrival(origin, now - message.timestamp, now);
      }
    }
    this.#stats.delivered++;
    if (state) state.firsts++;
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
      const knownBy = announcers.filter((a) => a !== peer.nodeId);
      if (state) knownBy.unshift(peer.nodeId);
      const stored = this.#keep(key, message, message.ttl - 1, peer.nodeId, knownBy, now);
      // Copies that came while the signature was checked are duplicates now, as if they came just after
      // (from peers still connected: a gone peer's state is not made again).
      for (const nodeId of entry?.alsoFrom ?? []) {
        const other = this.#peerState.get(nodeId);
        if (other === undefined) continue;
        this.#markKnown(stored, nodeId);
        this.#pruneOnDuplicate(nodeId, other, key, stored, now);
      }
      this.#spread(stored, key, new Set([peer.nodeId, origin]), false);
    }
  }

  /**
   * A second full copy: the sender pushes to this node. While more than twice `fanout` peers do (after
   * grafts, or by the luck of who chose whom), the sender is told PRUNE and pushes only ids from then on,
   * and pushes to another peer instead. Links are directed: each node decides who pushes to it (PRUNE,
   * and IWANT to graft) and keeps `fanout` links it pushes on. The bound is twice the average: at the
   * average itself, pruned senders would keep moving between nodes that are all at their bound (measured:
   * 18,000 prunes for 100 messages at 1,000 nodes). Pruning whole links down to a single pusher, a tree,
   * was measured and churned too (see the module docs); below the bound, and for a peer that is a recent
   * parent in some origin's tree, duplicates prune per origin.
   */
  #pruneOnDuplicate(
    duplicateFrom: string,
    state: PeerState,
    key: string,
    kept: StoredMessage | undefined,
    now: number,
  ): void {
    this.#setPushing(state, true);
    // With per-origin trees, a peer that brought something first lately is some origin's parent here: a
    // PRUNE of the whole link would cut those trees and leave their messages to asks, so it is pruned per
    // origin only, and the duplicates it sends stop as each origin's tree settles.
    const parent = this.config.originPrune &&
      now - state.lastFirstAt < PARENT_MEMORY_INTERVALS * this.config.intervalMs;
    if (this.#pushers <= 2 * this.config.fanout || parent) {
      if (kept && this.config.originPrune) this.#pruneOrigin(duplicateFrom, state, key, kept.origin);
      return;
    }
    this.#setPushing(state, false);
    const active = this.#active(duplicateFrom);
    if (active) {
      this.#stats.prunes++;
      this.#sendLink(active, { have: [], want: [], prune: true });
    }
  }

  /**
   * A duplicate of a kept message (`key`) of `origin` from a peer that pushes: at the second such copy of
   * that origin's messages from the peer, asks it to send only their ids, as long as the peer whose copy of
   * that origin's latest message came first is connected and has not been asked the same. That peer is
   * this node's parent in the origin's tree; checking it means a message of the origin that crossed a
   * PRUNE in flight (first here by the pruned peer, then duplicated by the parent) cannot get the parent
   * pruned too and cut this node off.
   */
  #pruneOrigin(duplicateFrom: string, state: PeerState, key: string, origin: string): void {
    if (state.originsPrunedByUs?.has(origin)) return; // asked already; copies were on their way
    const first = this.#firstFrom.get(origin);
    if (first === undefined || first === duplicateFrom) return;
    const firstState = this.#peerState.get(first);
    if (firstState === undefined || firstState.originsPrunedByUs?.has(origin)) return;
    // Only at the second later copy of an origin's messages from this peer: an origin that publishes once
    // (most of them, in a network of many publishers) would get a PRUNE per duplicate and no tree to show
    // for it (measured in the simulator at 1,000 nodes and 100 messages: 113,000 PRUNEs, 6% more bytes).
    if (!state.originsDuplicatedOnce?.has(origin)) {
      addBounded(state.originsDuplicatedOnce ??= new Set(), origin, MAX_ORIGIN_PRUNES);
      return;
    }
    const active = this.#active(duplicateFrom);
    if (!active) return;
    state.originsDuplicatedOnce.delete(origin);
    addBounded(state.originsPrunedByUs ??= new Set(), origin, MAX_ORIGIN_PRUNES);
    this.#stats.originPrunes++;
    this.#sendLink(active, { have: [keyBytes(key)], want: [], prune: true });
  }

  /** Removes a missing-message entry, releasing its place in its starter's allowance. */
  #dropMissing(key: string): void {
    const missing = this.#missing.get(key);
    if (!missing) return;
    this.#missing.delete(key);
    const started = this.#missingStarted.get(missing.startedBy);
    if (started !== undefined) {
      if (started <= 1) this.#missingStarted.delete(missing.startedBy);
      else this.#missingStarted.set(missing.startedBy, started - 1);
    }
  }

  /** Sets whether a peer pushes full copies to this node, keeping the count of such peers. */
  #setPushing(state: PeerState, pushing: boolean): void {
    if (state.pushing !== pushing) this.#pushers += pushing ? 1 : -1;
    state.pushing = pushing;
  }

  #eagerLinks(): number {
    let count = 0;
    for (const state of this.#peerState.values()) if (state.eager) count++;
    return count;
  }

  #isSeen(key: string, id: Uint8Array): boolean {
    if (this.#seen.has(key)) return true;
    return this.#storage.hasSeen(id);
  }

  /** `now` is the caller's reading of the clock: one number shared by the entries it makes. */
  #markSeen(key: string, id: Uint8Array, from: string, persist: boolean, now: number): void {
    this.#seen.set(key, now);
    this.#dropMissing(key);
    if (this.#seen.size > this.config.messageCacheSize) this.#seen.delete(this.#seen.keys().next().value!);
    if (persist) this.#storage.recordSeen({ messageId: id, timestamp: now, senderId: from });
  }

  #hexOfOrigin(origin: Uint8Array): string {
    let hex = this.#originHex.get(origin);
    if (hex === undefined) {
      hex = toHex(origin);
      this.#originHex.set(origin, hex);
    }
    return hex;
  }

  /** Whether the peer is known to have the kept message. */
  #knows(stored: StoredMessage, nodeId: string): boolean {
    const slot = this.#peerState.get(nodeId)?.slot ?? -1;
    if (slot >= 0 && (stored.knownMask & (1 << slot)) !== 0) return true;
    return stored.knownOthers !== undefined && stored.knownOthers.includes(nodeId);
  }

  /** Notes that the peer has the kept message. */
  #markKnown(stored: StoredMessage, nodeId: string): void {
    const slot = this.#peerState.get(nodeId)?.slot ?? -1;
    if (slot >= 0) stored.knownMask |= 1 << slot;
    else if (stored.knownOthers === undefined) stored.knownOthers = [nodeId];
    else if (!stored.knownOthers.includes(nodeId)) stored.knownOthers.push(nodeId);
  }

  #keep(
    key: string,
    envelope: Envelope,
    forwardTtl: number,
    from: string,
    knownBy: string[],
    now: number,
  ): StoredMessage {
    const bytes = this.#codec.encodeWith({ ...envelope, ttl: forwardTtl }, (shared) => this.#storeArena.copy(shared));
    const stored: StoredMessage = {
      buffer: bytes.buffer,
      offset: bytes.byteOffset,
      length: bytes.byteLength,
      forwardTtl,
      type: envelope.type,
      origin: this.#hexOfOrigin(envelope.origin),
      from,
      knownMask: 0,
      knownOthers: undefined,
      storedAt: now,
    };
    for (const nodeId of knownBy) this.#markKnown(stored, nodeId);
    this.#store.set(key, stored);
    this.#storeBytes += bytes.length;
    if (this.#keptSinceLastRound.length < this.config.messageCacheSize) this.#keptSinceLastRound.push([key, stored]);
    while (this.#store.size > this.config.messageCacheSize || this.#storeBytes > this.config.maxStoreBytes) {
      const [oldestKey, oldest] = this.#store.entries().next().value!;
      this.#store.delete(oldestKey);
      this.#storeBytes -= oldest.length;
    }
    return stored;
  }

  #active(nodeId: string): ActivePeer | undefined {
    return this.#peers.activePeers().find((p) => p.nodeId === nodeId);
  }

  /**
   * Pushes `stored` in full to the eager peers (every peer with `flood`) and queues its id for every
   * other peer, skipping `exclude` and peers known to have it.
   */
  #spread(stored: StoredMessage, key: string, exclude: Set<string>, flood: boolean): void {
    for (const peer of this.#peers.activePeers()) {
      if (exclude.has(peer.nodeId)) continue;
      if (this.#knows(stored, peer.nodeId)) continue;
      const link = this.#state(peer.nodeId);
      if (flood || (link.eager && !link.originsPrunedByIt?.has(stored.origin))) this.#sendStored(peer, stored, key);
      else this.#announce(peer, key);
    }
  }

  /** Queues `key` for the peer's next lazy announcement. */
  #announce(peer: ActivePeer, key: string): void {
    const state = this.#state(peer.nodeId);
    state.pendingHave.push(key);
    if (state.pendingHave.length >= MAX_DIGEST_IDS) this.#flushAnnouncements(peer, state);
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
        console.error(`kith: gossip announcement round failed: ${error}`);
      }
    }, this.config.lazyIntervalMs);
  }

  /** Times a first copy of `origin`'s message that came unasked, `age` ms after its timestamp. */
  #timeArrival(origin: string, age: number, now: number): void {
    let entry = this.#lateness.get(origin);
    if (entry === undefined) {
      if (this.#lateness.size >= MAX_LATENESS_ORIGINS) this.#lateness.delete(this.#lateness.keys().next().value!);
      // The first message only sets the reference: whether it came late is not known yet.
      entry = { lowest: age, windowStart: now, history: [], mean: 0, deviation: 0, samples: 0, lastSampleAt: now };
      this.#lateness.set(origin, entry);
      return;
    }
    this.#lateness.delete(origin); // least recently heard from first
    this.#lateness.set(origin, entry);
    if (now - entry.windowStart >= LATENESS_WINDOW_MS) {
      entry.history.push(entry.windowStart, entry.lowest);
      let drop = 0;
      while (drop < entry.history.length && entry.history[drop] < now - LATENESS_HISTORY_MS) drop += 2;
      if (drop > 0) entry.history.splice(0, drop);
      entry.lowest = age;
      entry.windowStart = now;
    } else if (age < entry.lowest) {
      entry.lowest = age;
    }
    let reference = entry.lowest;
    for (let i = 0; i < entry.history.length; i += 2) {
      if (entry.history[i] >= now - LATENESS_HISTORY_MS) reference = Math.min(reference, entry.history[i + 1]);
    }
    const rawExcess = age - reference;
    entry.lastSampleAt = now;
    if (rawExcess > LATENESS_RESET_MS) {
      // Far more than any queue: this node's clock stepped, or the origin's did. Start that origin afresh.
      entry.lowest = age;
      entry.windowStart = now;
      entry.history.length = 0;
      return;
    }
    const excess = Math.min(MAX_LATENESS_MS, Math.max(0, rawExcess));
    entry.deviation += (Math.abs(excess - entry.mean) - entry.deviation) * LATENESS_DEVIATION_SMOOTHING;
    entry.mean += (excess - entry.mean) * LATENESS_SMOOTHING;
    entry.samples++;
  }

  /** The lower median of `of` over the origins sampled in the last LATENESS_ACTIVE_MS (0 if none). */
  #medianLateness(now: number, of: (entry: OriginLateness) => number): number {
    const values: number[] = [];
    for (const entry of this.#lateness.values()) {
      if (entry.samples > 0 && now - entry.lastSampleAt <= LATENESS_ACTIVE_MS) values.push(of(entry));
    }
    if (values.length === 0) return 0;
    values.sort((a, b) => a - b);
    return values[(values.length - 1) >> 1];
  }

  /** How much longer than the ask delay a missing message waits before its first ask. */
  #lateAllowanceMs(now: number): number {
    return Math.min(MAX_LATENESS_MS, this.#medianLateness(now, (entry) => entry.mean + 4 * entry.deviation));
  }

  /** Sends the queued announcements, and asks again for announced messages that have not come. */
  #lazyRound(): void {
    const byId = new Map(this.#peers.activePeers().map((p) => [p.nodeId, p]));
    const due: [ActivePeer, PeerState][] = [];
    for (const [nodeId, state] of this.#peerState) {
      if (state.pendingHave.length === 0) continue;
      const peer = byId.get(nodeId);
      if (peer) due.push([peer, state]);
      else state.pendingHave = [];
    }
    // A random subset each round (see lazyFanout): which peers hear of a message differs from node to node
    // and round to round, so no peer is left out for long and none can count on being told.
    const announceTo = Math.max(this.config.lazyFanout, Math.ceil(due.length * this.config.lazyPercent / 100));
    if (due.length > announceTo) shuffleInPlace(due, this.#random);
    for (let i = 0; i < due.length; i++) {
      if (i < announceTo) this.#flushAnnouncements(due[i][0], due[i][1]);
      else due[i][1].pendingHave = [];
    }
    const now = this.#clock.now();
    const asks = new Map<string, Uint8Array[]>();
    const done: string[] = [];
    let allowance: number | undefined;
    for (const [key, missing] of this.#missing.entries()) {
      // Late copies are not lost ones: while messages come late, the first ask waits as much longer (once per
      // message: the next announcers are asked after the ask delay alone, so withholders cannot add it up).
      let askAfter = this.#askDelayMs * this.#askBackoff;
      if (missing.asked === 0) askAfter += allowance ??= this.#lateAllowanceMs(now);
      if (now - missing.askedAt < askAfter || this.#checking.has(key)) continue;
      let target: string | undefined, deferred = false;
      while (missing.asked < missing.announcers.length && target === undefined) {
        const candidate = missing.announcers[missing.asked];
        const list = asks.get(candidate) ?? [];
        if (byId.has(candidate) && list.length >= MAX_DIGEST_IDS) {
          deferred = true; // this round's ask to it is full: ask in the next round
          break;
        }
        missing.asked++;
        if (byId.has(candidate)) {
          target = candidate;
          list.push(missing.id);
          asks.set(candidate, list);
        }
      }
      if (deferred) continue;
      if (target === undefined) done.push(key); // every announcer asked: anti-entropy is the last resort
      else {
        missing.askedAt = now;
        missing.lastAsked = target;
      }
    }
    for (const key of done) this.#dropMissing(key);
    if (asks.size > 0) {
      // Ask each chosen peer also for everything else it announced that is still missing: one ask (and
      // graft) then repairs the path for all of them, and the nodes this one pushes to get them from it
      // in full instead of each timing out and grafting a link of its own.
      for (const missing of this.#missing.values()) {
        if (missing.askedAt === now) continue;
        for (const announcer of missing.announcers) {
          const list = asks.get(announcer);
          if (list && list.length < MAX_DIGEST_IDS) {
            list.push(missing.id);
            missing.askedAt = now;
            missing.lastAsked = announcer;
            break;
          }
        }
      }
    }
    for (const [nodeId, want] of asks) this.#ask(byId.get(nodeId)!, want);
    if (this.#missing.size > 0) this.#scheduleLazy();
  }

  #flushAnnouncements(peer: ActivePeer, state: PeerState): void {
    const have: Uint8Array[] = [];
    for (const key of state.pendingHave) {
      // Checked now, not when queued: the peer may have announced or sent it meanwhile.
      const stored = this.#store.get(key);
      if (!stored || this.#knows(stored, peer.nodeId)) continue;
      this.#markKnown(stored, peer.nodeId);
      have.push(keyBytes(key));
    }
    state.pendingHave = [];
    if (have.length === 0) return;
    this.#stats.digestsSent++;
    this.#stats.announced += have.length;
    this.#sendLink(peer, { have, want: [] });
  }

  /** Asks `peer` for `want` (IWANT), which also grafts the link: it pushes to this node in full again. */
  #ask(peer: ActivePeer, want: Uint8Array[]): void {
    const state = this.#state(peer.nodeId);
    if (!state.pushing) {
      this.#setPushing(state, true);
      this.#stats.grafts++;
    }
    this.#stats.requested += want.length;
    for (const id of want) addBounded(this.#askedIds, bytesKey(id), MAX_ASKED_REMEMBERED);
    this.#sendLink(peer, { have: [], want });
  }

  #sendLink(peer: ActivePeer, payload: PayloadByType[7]): void {
    peer.connection.send(
      createLinkMessage(this.#identity, MessageType.GOSSIP_MESSAGE, payload, { timestamp: this.#clock.now() }),
    );
  }

  #sendStored(peer: ActivePeer, stored: StoredMessage, key: string): void {
    this.#markKnown(stored, peer.nodeId);
    if (peer.connection.bufferedBytes > this.config.sendHighWaterBytes) {
      if (this.#deferred.length < this.config.maxDeferred) this.#deferred.push({ nodeId: peer.nodeId, key });
      return;
    }
    if (peer.connection.sendEncoded(wireBytes(stored))) {
      this.#stats.forwarded++;
      this.#count(stored.type, "forwarded");
    }
  }

  #onDigest(peer: GossipSender, state: PeerState, digest: PayloadByType[7]): void {
    const now = this.#clock.now();
    if (digest.prune && digest.have.length > 0) {
      // Per origin: it has these messages' origins from another peer; send it only their ids from now on.
      for (const id of digest.have) {
        const stored = this.#store.get(bytesKey(id));
        if (stored) addBounded(state.originsPrunedByIt ??= new Set(), stored.origin, MAX_ORIGIN_PRUNES);
      }
    } else if (digest.prune && state.eager) {
      // It has enough other peers pushing to it: push to another, more trusted, peer instead.
      state.eager = false;
      state.prunedUs = true;
      if (this.#eagerLinks() < this.config.fanout) this.#promoteLazyPeer(peer.nodeId);
    }
    if (digest.want.length > 0) {
      state.eager = true; // asked: the peer grafted this link
      state.prunedUs = false;
      // ... and the origins of what it asked for: their messages go to it in full again.
      for (const id of digest.want) {
        const stored = this.#store.get(bytesKey(id));
        if (stored) state.originsPrunedByIt?.delete(stored.origin);
      }
    }
    // With no peer pushing to this node (a node that joined after its neighbours had chosen their eager
    // links, or lost its pushers), nothing is on its way: ask this announcer at once, which makes it push
    // from now on. Otherwise wait: the full copy is usually already on its way, and asking would graft a
    // needless link. (Asking at once below `fanout` pushers was measured: it grafted needless links at
    // start-up, 2.7 copies per delivery instead of 2.2.)
    const askNow: Uint8Array[] = [];
    for (const id of digest.have) {
      const key = bytesKey(id);
      const kept = this.#store.get(key);
      if (kept) this.#markKnown(kept, peer.nodeId);
      // An id whose copy is under check is still noted as missing, with its announcers: if every copy
      // fails its check, they are asked for it (asks wait while a check runs).
      if (kept || this.#seen.has(key)) continue;
      if (!this.#missing.has(key) && this.#storage.hasSeen(id)) continue;
      const missing = this.#missingEntry(key, id, peer.nodeId, now);
      if (!missing) continue;
      this.#addAnnouncer(missing, peer.nodeId, state);
      if (this.#pushers === 0 && !state.pushing && missing.asked === 0 && !this.#checking.has(key)) {
        missing.asked = missing.announcers.indexOf(peer.nodeId) + 1;
        missing.askedAt = now;
        missing.lastAsked = peer.nodeId;
        askNow.push(id);
      }
    }
    if (this.#missing.size > 0) this.#scheduleLazy();
    const active = this.#active(peer.nodeId);
    if (!active) return;
    if (askNow.length > 0) this.#ask(active, askNow);
    for (const id of digest.want) {
      if (state.servedThisInterval >= this.config.maxServedPerInterval) break;
      const key = bytesKey(id);
      const stored = this.#store.get(key);
      if (!stored || stored.forwardTtl < 1) continue;
      state.servedThisInterval++;
      this.#markKnown(stored, peer.nodeId);
      if (active.connection.sendEncoded(wireBytes(stored))) {
        this.#stats.served++;
        this.#count(stored.type, "forwarded");
      }
    }
  }

  /** Sends `peer` a digest of kept messages it is not known to have, newest first. */
  /** Returns how many ids it announced (at most MAX_DIGEST_IDS). */
  #sendDigest(peer: ActivePeer, entries: [string, StoredMessage][]): number {
    this.#state(peer.nodeId);
    const have: Uint8Array[] = [];
    for (let i = entries.length - 1; i >= 0 && have.length < MAX_DIGEST_IDS; i--) {
      const [key, stored] = entries[i];
      if (stored.forwardTtl < 1 || this.#knows(stored, peer.nodeId) || stored.origin === peer.nodeId) continue;
      have.push(keyBytes(key));
      this.#markKnown(stored, peer.nodeId);
    }
    if (have.length === 0) return 0;
    this.#stats.digestsSent++;
    this.#stats.announced += have.length;
    this.#sendLink(peer, { have, want: [] });
    return have.length;
  }

  #round(): void {
    const now = this.#clock.now();
    this.#askBackoff = Math.max(1, this.#askBackoff / ASK_BACKOFF_DECAY);
    for (const [key, at] of this.#seen) {
      if (now - at < this.config.dedupWindowMs) break;
      this.#seen.delete(key);
    }
    for (const [key, stored] of this.#store) {
      if (now - stored.storedAt < this.config.repairWindowMs) break;
      this.#store.delete(key);
      this.#storeBytes -= stored.length;
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
      } else if (peer.connection.sendEncoded(wireBytes(stored))) {
        this.#stats.forwarded++;
        this.#count(stored.type, "forwarded");
      }
    }
    const digestTo = shuffleInPlace([...active], this.#random).slice(0, this.config.repairFanout);
    [this.#keptBeforeLastRound, this.#keptSinceLastRound] = [this.#keptSinceLastRound, []];
    if (digestTo.length > 0 && this.#store.size > 0) {
      // Only what was kept during the last interval: older messages were in earlier rounds' digests (or
      // in the full digest a peer gets when it connects), so each round costs what is new, not the store.
      const recent = this.#keptBeforeLastRound.filter(([key, stored]) => this.#store.get(key) === stored);
      for (const peer of digestTo) this.#sendDigest(peer, recent);
    }
    let all: [string, StoredMessage][] | undefined;
    for (const peer of active) {
      const state = this.#peerState.get(peer.nodeId);
      if (!state?.catchingUp) continue;
      all ??= [...this.#store.entries()];
      state.catchingUp = this.#sendDigest(peer, all) === MAX_DIGEST_IDS;
    }
  }
}
