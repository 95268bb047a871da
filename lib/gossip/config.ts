/**
 * Gossip's parameters, their defaults and their validation.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { MAX_WIRE_TTL } from "../protocol/mod.ts";

/** Gossip parameters, named as in the design and the gossipsub spec. Every field has a default. */
export interface GossipConfig {
  /**
   * The design's gossip_fanout: eager links per node, the peers each new message is pushed to in full
   * (the others hear its id). Default 3: a random 3-out mesh reaches every node with high probability.
   * At 2 or 1 some nodes are reached only by repair (slower); above 3 each step adds about one copy per
   * node (see BENCHMARKS.md). A node may hold more for a while after grafts.
   */
  fanout: number;
  /**
   * Of the eager links, how many go to peers this node dialed, when it has such peers (gossipsub's D_out): an
   * outbound peer that connects while fewer are takes the eager link of the least trusted inbound peer.
   * Default 2 (capped at `fanout`): inbound peers choose to connect, so a burst of Sybils at start-up could
   * otherwise hold every eager link; outbound peers are this node's own choice, from its tried addresses. 0
   * turns it off; higher leans harder on the few peers this node dials.
   */
  minOutboundEager: number;
  /** The design's gossip_interval, ms: repair rounds and retries of deferred sends. Default 1,000. */
  intervalMs: number;
  /**
   * Ids of new messages are announced (IHAVE) to lazy peers in batches this often, ms. Default 250.
   * Shorter repairs a lost path sooner but sends more, smaller records. Asks for missing messages are also
   * sent at these rounds, so a wait for one is rounded up to the next round.
   */
  lazyIntervalMs: number;
  /**
   * Lazy peers announced to per round, at least: the peers with ids waiting are shuffled and the first
   * max(`lazyFanout`, `lazyPercent`% of them) are sent their ids (as gossipsub's D_lazy and
   * gossip_factor); the others hear of those ids in the next repair digest, within `intervalMs`. Default
   * 3. Each node then hears of a message at once from about `lazyFanout` lazy neighbours whatever its
   * degree, enough to find a copy quickly when its tree parent fails, and from all of them within the
   * interval. Higher: more records, faster repair (see BENCHMARKS.md for what it was measured to cost).
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
   * shortest paths, and at 8 messages ran out of TTL in simulated networks (see BENCHMARKS.md).
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
   * copy per node instead of the eager mesh's several, each tree repaired by asking (IWANT grafts that
   * origin back). The price is one path per origin: near a node's CPU limit, or with a slow or withholding
   * parent, deliveries wait for an ask where the mesh's spare copies hid the delay (see BENCHMARKS.md).
   * Trees are per origin because one shared tree, pruned by the duplicates of many publishers at once, kept
   * being cut (see the module docs). Each peer's per-origin state is bounded (MAX_ORIGIN_PRUNES): beyond
   * it, the oldest origins go back to the mesh. Default true.
   */
  originPrune: boolean;
  /**
   * Peers sent a digest each interval (of the ids each is not known to have; empty digests are not sent).
   * Default 64, in effect every peer: this bounds the time to full coverage by one interval, for a few
   * percent more bytes (see BENCHMARKS.md).
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
  /**
   * Bytes of messages served per peer per interval in answer to `want` (the message that crosses it is
   * still sent; asks beyond it are dropped, and the asker asks another announcer). Default 4 MiB: a
   * peer catching up gets 64 full-size messages or thousands of small ones per interval, and an asker
   * cannot make this node send more than about this much per interval for its small asks.
   */
  maxServedBytesPerInterval: number;
  /**
   * Times one kept message is sent to one peer in answer to `want` (gossipsub's gossipRetransmission);
   * asks beyond it are dropped, and cost the asker a little trust. An id named twice in one ask, or asked
   * again within the interval it was sent in (its answer may still be queued), is also sent once.
   * Default 3: an honest node asks each announcer once per missing message.
   */
  maxRetransmissions: number;
  /**
   * Announcements (GOSSIP_MESSAGEs with ids) taken from one peer per interval (gossipsub's maxIHaveMessages);
   * beyond it their ids are ignored, unread. Checked before any id is looked up. Default 32: an honest peer
   * sends about one per announcement round (4 per interval), one per 256 new ids, a repair digest, and
   * per-origin PRUNEs; lower bounds a flooding peer's cost more tightly, at the risk of ignoring an honest
   * peer's ids in a busy interval (the messages still come by push or repair).
   */
  maxAnnouncementsPerInterval: number;
  /**
   * Announced ids looked at per peer per interval (gossipsub's maxIHaveLength); the rest are ignored.
   * Default 5,000: one id per new message of a network carrying up to 5,000 messages a second. Each costs
   * memory lookups (and a database read only when the seen-id filter says it may have been seen).
   */
  maxAnnouncedIdsPerInterval: number;
  /**
   * A peer asked (IWANT) for a message it announced has promised it: if no copy arrives from anyone within
   * this long, ms, the promise is broken, and a peer breaking promises steadily loses trust (gossipsub's
   * IWANT follow-up time and P7 penalty; see promises.ts). Default 3,000: an honest answer takes a round
   * trip; shorter catches a withholder sooner but blames peers behind slow links.
   */
  promiseTimeoutMs: number;
  /**
   * Delivery deficit (gossipsub's P3, see deficit.ts): a peer this node counts on to push to it that, over a
   * window, pushed under this share, percent, of the messages it evidently held (it pushed them, or announced
   * them instead while not pruned for their origin) is demoted: no longer counted as pushing here, its eager
   * link handed to another peer, no trust taken. Default 10: an honest pusher announces only origins this
   * node pruned, so it is at 100%; a peer that announces or serves what it will not push, or whose view of
   * the link changed, is near 0. Higher demotes half-hearted pushers too; 0 turns the deficit off.
   */
  deliveryDeficitPercent: number;
  /**
   * The deficit's window, ms: counts start again each window, a peer is judged only after counted on for a
   * whole window (the activation), and a demoted peer is not made eager again by this node for one window.
   * Default 10,000: long enough to see dozens of messages on a busy network; shorter demotes sooner but
   * judges by fewer messages.
   */
  deliveryDeficitWindowMs: number;
  /**
   * Messages a peer must have withheld in a window before it is judged. Default 16: a few ids announced in
   * the moment a graft or PRUNE crossed are not a deficit; lower catches a silent peer on a quiet network
   * sooner, at that risk.
   */
  deliveryDeficitMinWithheld: number;
  /** A peer with more bytes queued than this gets new messages on the next interval instead. Default 1 MiB. */
  sendHighWaterBytes: number;
  /** Most deferred sends held. Default 10,000; beyond it repair covers the rest. */
  maxDeferred: number;
}

/** The default {@link GossipConfig}. */
export const DEFAULT_GOSSIP_CONFIG: Readonly<GossipConfig> = Object.freeze({
  fanout: 3,
  minOutboundEager: 2,
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
  maxServedBytesPerInterval: 4 * 1024 * 1024,
  maxRetransmissions: 3,
  maxAnnouncementsPerInterval: 32,
  maxAnnouncedIdsPerInterval: 5_000,
  promiseTimeoutMs: 3_000,
  deliveryDeficitPercent: 10,
  deliveryDeficitWindowMs: 10_000,
  deliveryDeficitMinWithheld: 16,
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
    // repairFanout 0 turns repair digests off, minOutboundEager 0 the outbound minimum, deliveryDeficitPercent 0
    // the deficit; every other number counts something there must be one of.
    const min = key === "repairFanout" || key === "minOutboundEager" || key === "deliveryDeficitPercent" ? 0 : 1;
    if (!Number.isSafeInteger(value) || (value as number) < min) {
      throw new ConfigError(
        `gossip.${key}`,
        `gossip.${key} must be an integer of at least ${min}, got ${JSON.stringify(value)}`,
      );
    }
  }
  if (config.defaultTtl > MAX_WIRE_TTL) {
    throw new ConfigError("gossip.defaultTtl", `gossip.defaultTtl must be at most ${MAX_WIRE_TTL}`);
  }
  if (config.lazyPercent > 100) throw new ConfigError("gossip.lazyPercent", "gossip.lazyPercent must be at most 100");
  if (config.deliveryDeficitPercent > 100) {
    throw new ConfigError("gossip.deliveryDeficitPercent", "gossip.deliveryDeficitPercent must be at most 100");
  }
  if (config.repairWindowMs > config.dedupWindowMs) {
    throw new ConfigError("gossip.repairWindowMs", "gossip.repairWindowMs must not exceed gossip.dedupWindowMs");
  }
  return config;
}
