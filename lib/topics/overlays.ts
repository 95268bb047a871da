/**
 * One gossip overlay per topic, and the routing between them: a message of topic T goes only to peers in T
 * and is taken only by a node in T. The network-wide overlay (topic `""`, which every node and peer is in)
 * carries untopiced messages and the protocol's own spreading types (TRUST_UPDATE); each named topic this
 * node is in has an overlay of its own, a {@link GossipProtocol} whose peers are the connected peers in that
 * topic, so eager links, lazy announcements, repair digests and per-origin trees are all per topic.
 *
 * Envelopes from peers are routed by the topic their payload names (read before the signature is checked):
 * - a topic this node is not in: dropped; the sender is penalised (`WRONG_TOPIC`) unless this node left the
 *   topic within the grace period, or the sender is an older kith that does not scope topics;
 * - relayed (the sender is not the origin) by a peer not in the topic: refused and penalised the same way, as
 *   only members relay; a message its origin sends from outside the topic is a fanout publish, and taken;
 * - digests of a topic this node is not in, or from a peer not in it, are dropped unread and unpenalised (a
 *   PRUNE answering a fanout publish is such a digest).
 *
 * Publishing to a topic this node is not in sends the message in full to a few of its peers in the topic (a
 * fanout set, kept while it publishes and forgotten `topicFanoutTtlMs` after the last publish, as gossipsub's).
 *
 * Subscriptions travel as TOPIC_SUBSCRIPTIONS link messages: the whole set on a new link, then what changes,
 * coalesced and paced by this node to the allowance its peers give (`subscriptionChangeBurst`).
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import type { Clock, TimerId } from "../clock.ts";
import { KithError, ProtocolError } from "../errors.ts";
import type { GossipPeers, GossipProtocol } from "../gossip/mod.ts";
import type { Identity } from "../identity.ts";
import { errorFields, type LogSink } from "../log.ts";
import {
  createLinkMessage,
  createMessage,
  DisconnectReason,
  type Envelope,
  type Message,
  type MessageCodec,
  MessageType,
  originHex,
  type TopicSubscriptionsPayload,
} from "../protocol/mod.ts";
import type { RandomSource } from "../random.ts";
import { TokenBucket } from "../ratelimit.ts";
import type { TopicsConfig } from "./config.ts";
import { PeerTopics, SubscriptionError } from "./membership.ts";
import { type TopicPeer, TopicView } from "./view.ts";

export type { TopicPeer } from "./view.ts";

/** Delay before local subscription changes are sent, ms: changes made together go in one message. */
const SUBSCRIPTION_FLUSH_MS = 50;

/** Least time between two penalties for a peer's own excess over the shared per-peer rate, ms. */
const EXCESS_PENALTY_INTERVAL_MS = 1_000;

/** What the overlays are made of. */
export interface TopicOverlaysOptions {
  /** This node's identity: signs fanout publishes and link messages. */
  identity: Identity;
  /** Time and timers. */
  clock: Clock;
  /** Randomness for fanout sets. */
  random: RandomSource;
  /** Where failures are logged. */
  log: LogSink;
  /** Codec that reads an envelope's topic before it is checked. */
  codec: MessageCodec;
  /** The topics config in force. */
  config: Readonly<TopicsConfig>;
  /** The connected peers. */
  peers: { activePeers(): readonly TopicPeer[] };
  /** The network-wide overlay (topic `""`). */
  global: GossipProtocol;
  /** Makes (not starts) the overlay of a named topic over the peers of `view`. */
  makeOverlay(topic: string, view: GossipPeers): GossipProtocol;
  /** Costs a peer trust by `code` (the peer manager disconnects it below the threshold). */
  penalise(nodeId: string, code: string): void;
  /** Whether the peer scopes topics (its handshake agent announces `topics/1`). */
  scopesTopics(peer: TopicPeer): boolean;
  /**
   * Envelopes of named topics taken from one peer per second, over all topic overlays together (each overlay
   * also applies its own per-peer limit); twice this is the burst. Beyond it they are dropped unchecked
   * (backpressure); only the peer's own (its link messages, messages it originates) cost it trust, at most
   * `RATE_LIMITED` once a second. Default: unbounded apart from the overlays' own limits.
   */
  peerRateLimit?: number;
  /** Called after a peer's topics changed (a subscription message was applied). */
  onPeerTopics?: (nodeId: string) => void;
  /** TTL of messages published to `topic` when the caller gives none. */
  defaultTtl(topic: string): number;
  /** Largest application payload of `topic`, bytes. */
  maxMessageBytes(topic: string): number;
}

/** Counters of topic routing. */
export interface TopicStats {
  /** Messages this node published to topics it is not in (fanout). */
  fanoutPublished: number;
  /** Messages refused because this node is not in their topic, or their relay is not (each cost the sender trust). */
  wrongTopic: number;
  /**
   * Messages and digests of topics this node left lately, or from older kiths, or (at an all-topics node)
   * of topics it had no room to join, dropped without penalty.
   */
  droppedAfterLeave: number;
  /** Digests of topics this node is not in, or from peers not in them, dropped unread. */
  digestsDropped: number;
  /** Subscription messages refused (over the bound or the change allowance); the link was closed. */
  subscriptionsRefused: number;
  /** Subscription messages sent. */
  subscriptionsSent: number;
  /** Envelopes of named topics dropped over a peer's limit for all topics together (`peerRateLimit`). */
  rateLimited: number;
}

/** One topic this node is in, as {@link TopicOverlays.topics} reports it. */
export interface TopicInfo {
  /** The topic's name. */
  topic: string;
  /** Whether this node is in it because the application subscribed (else it relays it for every topic). */
  subscribed: boolean;
  /** Connected peers in its overlay. */
  peers: number;
  /** Of them, those this node pushes new messages to in full. */
  eager: number;
  /** Messages of the topic delivered here, first copies. */
  delivered: number;
}

interface Overlay {
  readonly gossip: GossipProtocol;
  readonly view: TopicView;
  subscribed: boolean;
}

/** The topic overlays of one node, and the routing of envelopes to them. */
export class TopicOverlays {
  /** Counters. */
  readonly stats: TopicStats = {
    fanoutPublished: 0,
    wrongTopic: 0,
    droppedAfterLeave: 0,
    digestsDropped: 0,
    subscriptionsRefused: 0,
    subscriptionsSent: 0,
    rateLimited: 0,
  };
  /** What each connected peer said it is in. */
  readonly membership: PeerTopics;
  readonly #options: TopicOverlaysOptions;
  readonly #overlays = new Map<string, Overlay>();
  // Topic -> when this node left it (for the grace period); at most maxTopics, the oldest dropped first.
  readonly #leftAt = new Map<string, number>();
  readonly #fanout = new Map<string, { peers: string[]; lastPublishAt: number }>();
  readonly #pendingJoin = new Set<string>();
  readonly #pendingLeave = new Set<string>();
  // This node paces its own changes to the allowance its peers give it, so they never close its links.
  readonly #changes: TokenBucket;
  // Peer -> its allowance of named-topic envelopes over all overlays: being in many topics multiplies no limit.
  readonly #peerBuckets = new Map<string, TokenBucket>();
  // Peer -> when its own excess over that allowance last cost it trust.
  readonly #excessPenalisedAt = new Map<string, number>();
  #flushTimer: TimerId | undefined;
  #running = false;

  /** Creates the overlays; only the network-wide one exists until {@link TopicOverlays.join}. */
  constructor(options: TopicOverlaysOptions) {
    this.#options = options;
    this.membership = new PeerTopics(options.config);
    const { subscriptionChangesPerSecond, subscriptionChangeBurst } = options.config;
    this.#changes = new TokenBucket(subscriptionChangesPerSecond, subscriptionChangeBurst, options.clock.now());
  }

  /** Starts the overlays' rounds (the network-wide one is started by the node). */
  start(): void {
    this.#running = true;
    for (const overlay of this.#overlays.values()) overlay.gossip.start();
  }

  /** Stops every named overlay and the pending announcement. Idempotent. */
  stop(): void {
    this.#running = false;
    for (const overlay of this.#overlays.values()) overlay.gossip.stop();
    if (this.#flushTimer !== undefined) this.#options.clock.clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }

  /** Whether this node is in `topic` (every node is in `""`). */
  isIn(topic: string): boolean {
    return topic === "" || this.#overlays.has(topic);
  }

  /** The overlay of `topic` (the network-wide one for `""`), if this node is in it. */
  gossipOf(topic: string): GossipProtocol | undefined {
    return topic === "" ? this.#options.global : this.#overlays.get(topic)?.gossip;
  }

  /**
   * Joins `topic`'s overlay for the application (`subscribed`) or as an all-topics relay, and tells peers.
   *
   * @throws {KithError} `TOO_MANY_TOPICS` when this node is already in `maxTopics` topics
   */
  join(topic: string, subscribed = true): void {
    const existing = this.#overlays.get(topic);
    if (existing) {
      existing.subscribed ||= subscribed;
      return;
    }
    const { config, peers, makeOverlay, scopesTopics } = this.#options;
    if (this.#overlays.size >= config.maxTopics) {
      throw new KithError(
        "TOO_MANY_TOPICS",
        `this node is already in ${this.#overlays.size} topics, its maxTopics; leave one first or raise maxTopics`,
      );
    }
    const view = new TopicView();
    const overlay: Overlay = { gossip: makeOverlay(topic, view), view, subscribed };
    this.#overlays.set(topic, overlay);
    this.#leftAt.delete(topic);
    this.#fanout.delete(topic);
    if (this.#running) overlay.gossip.start();
    for (const peer of peers.activePeers()) {
      if (scopesTopics(peer) && this.membership.isIn(peer.nodeId, topic)) this.#addMember(overlay, peer);
    }
    this.#queueChange(topic, true);
  }

  /** Leaves `topic`'s overlay (its kept messages go with it) and tells peers. */
  leave(topic: string): void {
    const overlay = this.#overlays.get(topic);
    if (!overlay) return;
    if (this.#options.config.relayAllTopics && overlay.view.size > 0) {
      // An all-topics node stays in it for its peers; only the application's interest ends.
      overlay.subscribed = false;
      return;
    }
    this.#drop(topic, overlay);
  }

  /** Stops and forgets `topic`'s overlay, and tells peers. */
  #drop(topic: string, overlay: Overlay): void {
    overlay.gossip.stop();
    this.#overlays.delete(topic);
    this.#leftAt.set(topic, this.#options.clock.now());
    if (this.#leftAt.size > this.#options.config.maxTopics) this.#leftAt.delete(this.#leftAt.keys().next().value!);
    this.#queueChange(topic, false);
  }

  /** A peer connected: it joins the network-wide overlay, and is sent this node's whole set of topics. */
  peerConnected(peer: TopicPeer): void {
    this.#options.global.peerConnected(peer);
    if (this.#options.scopesTopics(peer)) this.#send(peer, { full: true, ...this.#localSet(), leave: [] });
  }

  /**
   * A newer link to a connected peer took its old link's place: what went over the old one may be lost, so each
   * overlay it is a member of moves it to the new link, which gets a digest, its gossip role kept (eager or lazy,
   * per-origin trees: `GossipProtocol.peerReplaced`), and it is sent this node's whole set again. What it said it is in stands until its own whole set
   * comes over the new link (free, as on a first link); a new link that no longer scopes topics forgets it.
   */
  peerReplaced(peer: TopicPeer): void {
    const { global, scopesTopics } = this.#options;
    // It keeps its place in each overlay's gossip (eager or lazy, its per-origin trees): it never left.
    global.peerReplaced(peer);
    const scopes = scopesTopics(peer);
    for (const overlay of this.#overlays.values()) {
      const member = overlay.view.delete(peer.nodeId);
      if (member && scopes) {
        overlay.view.add(peer);
        overlay.gossip.peerReplaced(peer);
      } else if (member || overlay.gossip.peerStats(peer.nodeId) !== undefined) {
        overlay.gossip.peerDisconnected(peer.nodeId);
      }
    }
    if (!scopes) {
      this.membership.forget(peer.nodeId);
      this.#leaveUnusedRelays();
      return;
    }
    this.membership.newLink(peer.nodeId);
    this.#send(peer, { full: true, ...this.#localSet(), leave: [] });
  }

  /** A peer disconnected: it leaves every overlay, and what it said it was in is forgotten. */
  peerDisconnected(nodeId: string): void {
    this.#options.global.peerDisconnected(nodeId);
    // Every overlay: one it sent a fanout publish to holds its link though it is no member.
    for (const overlay of this.#overlays.values()) {
      const member = overlay.view.delete(nodeId);
      if (member || overlay.gossip.peerStats(nodeId) !== undefined) overlay.gossip.peerDisconnected(nodeId);
    }
    this.membership.forget(nodeId);
    this.#peerBuckets.delete(nodeId);
    this.#excessPenalisedAt.delete(nodeId);
    this.#leaveUnusedRelays();
  }

  /** Routes an envelope from `peer` (see the module docs): TOPIC_SUBSCRIPTIONS here, the rest to an overlay. */
  receive(peer: TopicPeer, envelope: Envelope): void {
    const { global, codec, clock } = this.#options;
    if (envelope.type === MessageType.TOPIC_SUBSCRIPTIONS) return this.#receiveSubscriptions(peer, envelope);
    if (envelope.type !== MessageType.CUSTOM_DATA && envelope.type !== MessageType.GOSSIP_MESSAGE) {
      return global.receive(peer, envelope);
    }
    const topic = codec.peekTopic(envelope);
    // Undecodable, or of the network-wide topic: the network-wide overlay checks it (and refuses the former).
    if (topic === undefined || topic === "") return global.receive(peer, envelope);
    const rate = this.#options.peerRateLimit;
    if (rate !== undefined) {
      // The network-wide overlay has its own limit; this one bounds all named topics together.
      let bucket = this.#peerBuckets.get(peer.nodeId);
      if (!bucket) this.#peerBuckets.set(peer.nodeId, bucket = new TokenBucket(rate, 2 * rate, clock.now()));
      if (!bucket.take(clock.now())) {
        this.stats.rateLimited++;
        return this.#chargeExcess(peer.nodeId, envelope, clock.now());
      }
    }
    const overlay = this.#overlays.get(topic);
    const now = clock.now();
    if (envelope.type === MessageType.GOSSIP_MESSAGE) {
      if (overlay && this.membership.isIn(peer.nodeId, topic)) return overlay.gossip.receive(peer, envelope);
      this.stats.digestsDropped++;
      return;
    }
    const relayed = originHex(envelope.origin) !== peer.nodeId;
    if (!overlay || (relayed && !this.membership.isIn(peer.nodeId, topic))) {
      const relaysAll = this.#options.config.relayAllTopics;
      if (!overlay && relaysAll && !relayed && this.#tryRelay(topic)) {
        return this.#overlays.get(topic)!.gossip.receive(peer, envelope);
      }
      // An all-topics node is counted in every topic by its peers: a member's message (or a publish from
      // outside) of a topic it had no room to join was sent in good faith.
      const excused = !this.#options.scopesTopics(peer) || this.#leftLately(topic, now) ||
        this.membership.leftLately(peer.nodeId, topic, now) ||
        (!overlay && relaysAll && (!relayed || this.membership.isIn(peer.nodeId, topic)));
      if (excused) this.stats.droppedAfterLeave++;
      else {
        this.stats.wrongTopic++;
        this.#options.penalise(peer.nodeId, "WRONG_TOPIC");
      }
      return;
    }
    overlay.gossip.receive(peer, envelope);
  }

  /**
   * Publishes an application message to `topic`: through its overlay when this node is in it, else in full to
   * a fanout set of the topic's peers. `after` names its causal predecessors (none by default).
   *
   * @returns the message
   * @throws {KithError} `NO_TOPIC_PEERS` when this node is not in `topic` and knows no connected peer in it
   * @throws {RangeError} when the payload is over the topic's largest message
   */
  publish(
    topic: string,
    data: Uint8Array,
    ttl: number | undefined,
    after: Uint8Array[] = [],
  ): Message<typeof MessageType.CUSTOM_DATA> {
    const payload = after.length > 0 ? { topic, data, after } : { topic, data };
    const gossip = this.gossipOf(topic);
    if (gossip) return gossip.publish(MessageType.CUSTOM_DATA, payload, { ttl });
    const max = this.#options.maxMessageBytes(topic);
    if (data.length > max) {
      throw new RangeError(`payload of ${data.length} bytes exceeds topic "${topic}"'s largest message of ${max}`);
    }
    const { identity, clock } = this.#options;
    const targets = this.#fanoutSet(topic, clock.now());
    if (targets.length === 0) {
      throw new KithError(
        "NO_TOPIC_PEERS",
        `no connected peer is in topic "${topic}": subscribe to it, or connect to a peer that is, then publish`,
      );
    }
    const message = createMessage(identity, MessageType.CUSTOM_DATA, payload, {
      ttl: ttl ?? this.#options.defaultTtl(topic),
      timestamp: clock.now(),
    });
    for (const peer of targets) peer.connection.send(message);
    this.stats.fanoutPublished++;
    return message;
  }

  /** The topics this node is in, named ones only. */
  topics(): TopicInfo[] {
    return [...this.#overlays].map(([topic, overlay]) => {
      const gossip = overlay.gossip;
      let eager = 0;
      for (const peer of overlay.view.ids()) if (gossip.peerStats(peer)?.eager) eager++;
      return {
        topic,
        subscribed: overlay.subscribed,
        peers: overlay.view.size,
        eager,
        delivered: gossip.stats.delivered,
      };
    });
  }

  /** Connected peers that said they are in `topic` (or relay every topic), whether or not this node is. */
  topicPeers(topic: string): string[] {
    if (topic === "") return this.#options.peers.activePeers().map((peer) => peer.nodeId);
    return this.membership.peersIn(topic);
  }

  /**
   * Over the shared rate, a peer's own envelopes (its link messages, messages it claims to originate) cost
   * it RATE_LIMITED at most once a second, as each overlay charges its own senders' excess: else what this
   * router drops before any overlay (digests of topics this node is not in, messages excused as from an older
   * kith) could be sent at any rate forever. An honest relay forwarding others' messages loses nothing.
   */
  #chargeExcess(nodeId: string, envelope: Envelope, now: number): void {
    if (toHex(envelope.origin) !== nodeId) return;
    if (now - (this.#excessPenalisedAt.get(nodeId) ?? -Infinity) < EXCESS_PENALTY_INTERVAL_MS) return;
    this.#excessPenalisedAt.set(nodeId, now);
    this.#options.penalise(nodeId, "RATE_LIMITED");
  }

  #leftLately(topic: string, now: number): boolean {
    const at = this.#leftAt.get(topic);
    return at !== undefined && now - at < this.#options.config.leaveGraceMs;
  }

  /** Joins `topic` as an all-topics relay, if there is room; whether this node is in it now. */
  #tryRelay(topic: string): boolean {
    if (this.#overlays.has(topic)) return true;
    if (this.#overlays.size >= this.#options.config.maxTopics) return false;
    this.join(topic, false);
    return true;
  }

  #receiveSubscriptions(peer: TopicPeer, envelope: Envelope): void {
    const { codec, clock, penalise, log } = this.#options;
    // A link closing (replaced by a newer one, or going) no longer speaks for the peer's set: a change sent
    // over it before the newer link's whole set would, read after it, undo that set.
    if (!peer.connection.isOpen) return;
    let payload: TopicSubscriptionsPayload;
    try {
      // Only the peer's own set, as a link message: one signed by someone else and relayed says nothing of it.
      if (envelope.ttl !== 0 || toHex(envelope.origin) !== peer.nodeId) {
        throw new ProtocolError("BAD_FIELD", "TOPIC_SUBSCRIPTIONS must be the sender's own link message (TTL 0)");
      }
      const message = codec.verify(envelope, clock.now(), { linkPeer: peer.nodeId });
      if (message.type !== MessageType.TOPIC_SUBSCRIPTIONS) return;
      payload = message.payload;
      this.membership.apply(peer.nodeId, payload, clock.now());
    } catch (error) {
      if (!(error instanceof KithError)) {
        log("error", "subscription message check failed", { peer: peer.nodeId, ...errorFields(error) });
        return;
      }
      penalise(peer.nodeId, error.code);
      if (error instanceof SubscriptionError) {
        // Its set can no longer be followed: the link goes, and its membership with it.
        this.stats.subscriptionsRefused++;
        void peer.connection.close(DisconnectReason.RATE_LIMITED, `topic subscriptions: ${error.message}`);
      }
      return;
    }
    if (this.#options.config.relayAllTopics) {
      for (const topic of payload.join) if (!this.#tryRelay(topic)) break;
    }
    const scopes = this.#options.scopesTopics(peer);
    for (const [topic, overlay] of this.#overlays) {
      const member = scopes && this.membership.isIn(peer.nodeId, topic);
      if (member && !overlay.view.has(peer.nodeId)) this.#addMember(overlay, peer);
      // A peer that left keeps no link either: what it sent as a member is forgotten with it.
      else if (!member && overlay.view.delete(peer.nodeId)) overlay.gossip.peerDisconnected(peer.nodeId);
    }
    this.#leaveUnusedRelays();
    this.#options.onPeerTopics?.(peer.nodeId);
  }

  /**
   * Leaves the topics this node relays for no subscriber of its own once no peer is in them: else an
   * all-topics node would keep every topic ever announced to it, and once at `maxTopics` relay no new one.
   */
  #leaveUnusedRelays(): void {
    for (const [topic, overlay] of [...this.#overlays]) {
      if (!overlay.subscribed && overlay.view.size === 0) this.#drop(topic, overlay);
    }
  }

  #addMember(overlay: Overlay, peer: TopicPeer): void {
    overlay.view.add(peer);
    overlay.gossip.peerConnected(peer);
  }

  /** The fanout set of `topic` at `now`: the last one's peers still connected and in it, topped up at random. */
  #fanoutSet(topic: string, now: number): TopicPeer[] {
    const { peers, config, random } = this.#options;
    const byId = new Map(peers.activePeers().map((peer) => [peer.nodeId, peer]));
    let entry = this.#fanout.get(topic);
    if (entry && now - entry.lastPublishAt > config.topicFanoutTtlMs) entry = undefined;
    const kept = (entry?.peers ?? []).filter((nodeId) => byId.has(nodeId) && this.membership.isIn(nodeId, topic));
    const candidates = this.membership.peersIn(topic).filter((nodeId) => byId.has(nodeId) && !kept.includes(nodeId));
    while (kept.length < config.topicFanoutPeers && candidates.length > 0) {
      const i = Math.floor(random() * candidates.length);
      kept.push(candidates[i]);
      candidates[i] = candidates[candidates.length - 1];
      candidates.pop();
    }
    this.#fanout.set(topic, { peers: kept, lastPublishAt: now });
    // Bounded like the overlays: the least recently published-to fanout set goes first.
    if (this.#fanout.size > config.maxTopics) this.#fanout.delete(this.#fanout.keys().next().value!);
    return kept.map((nodeId) => byId.get(nodeId)!);
  }

  /** The whole set as sent on a new link: an all-topics node names none, as its peers count it in every one. */
  #localSet(): { all: boolean; join: string[] } {
    const all = this.#options.config.relayAllTopics;
    return { all, join: all ? [] : [...this.#overlays.keys()] };
  }

  #queueChange(topic: string, joined: boolean): void {
    (joined ? this.#pendingLeave : this.#pendingJoin).delete(topic);
    (joined ? this.#pendingJoin : this.#pendingLeave).add(topic);
    this.#scheduleFlush(SUBSCRIPTION_FLUSH_MS);
  }

  #scheduleFlush(delayMs: number): void {
    if (this.#flushTimer !== undefined) return;
    this.#flushTimer = this.#options.clock.setTimeout(() => {
      this.#flushTimer = undefined;
      try {
        this.#flush();
      } catch (error) {
        this.#options.log("error", "topic subscription announcement failed", errorFields(error));
      }
    }, delayMs);
  }

  /** Sends what changed since the last announcement, when this node's own allowance covers it. */
  #flush(): void {
    if (this.#options.config.relayAllTopics) {
      // Its peers count it in every topic: there is nothing to tell them.
      this.#pendingJoin.clear();
      this.#pendingLeave.clear();
      return;
    }
    const join = [...this.#pendingJoin].filter((topic) => this.#overlays.has(topic));
    const leave = [...this.#pendingLeave].filter((topic) => !this.#overlays.has(topic));
    if (join.length + leave.length === 0) {
      this.#pendingJoin.clear();
      this.#pendingLeave.clear();
      return;
    }
    if (!this.#changes.takeMany(this.#options.clock.now(), join.length + leave.length)) {
      this.#scheduleFlush(1_000); // changes keep coalescing meanwhile
      return;
    }
    this.#pendingJoin.clear();
    this.#pendingLeave.clear();
    const all = this.#options.config.relayAllTopics;
    for (const peer of this.#options.peers.activePeers()) {
      if (this.#options.scopesTopics(peer)) this.#send(peer, { full: false, all, join, leave });
    }
  }

  #send(peer: TopicPeer, payload: TopicSubscriptionsPayload): void {
    const { identity, clock } = this.#options;
    peer.connection.send(
      createLinkMessage(identity, MessageType.TOPIC_SUBSCRIPTIONS, payload, { timestamp: clock.now() }),
    );
    this.stats.subscriptionsSent++;
  }
}
