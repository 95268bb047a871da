/**
 * The node: identity, storage, trust, peers, gossip and transport wired
 * together, with the design's lifecycle and an application API.
 *
 * ```
 * start: identity -> storage -> trust -> peers -> gossip -> transport (listen) -> bootstrap -> background tasks
 * stop:  background tasks -> gossip -> peers -> transport (DISCONNECT to peers) -> storage (flush, close)
 * ```
 *
 * Messages flow one way: transport -> peer manager (link messages) -> gossip
 * -> handlers -> application, with trust updated on the side.
 *
 * @module
 */
import { toHex } from "./bytes.ts";
import { CATCHUP_TYPES, type CatchupConfig, CatchupSync, resolveCatchupConfig } from "./catchup/mod.ts";
import { type Clock, systemClock } from "./clock.ts";
import { componentConfigs, type NetworkConfig, type PresetName, resolveNetworkConfig } from "./config.ts";
import { DataDirLock } from "./data_dir_lock.ts";
import {
  DIRECT_TYPES,
  DirectChannel,
  type DirectConfig,
  DirectInbox,
  type DirectMessage,
  registerHandler,
  type RequestHandler,
  type RequestOptions,
  resolveDirectConfig,
} from "./direct/mod.ts";
import { KithError } from "./errors.ts";
import { type EventStream, NodeEvents, peerConnected, peerDisconnected, type WatchOptions } from "./events.ts";
import { type GossipConfig, type GossipProtocol, type MessageHandler, resolveGossipConfig } from "./gossip/mod.ts";
import { Identity, loadOrCreateIdentity } from "./identity.ts";
import { reasonName, type Transport } from "./transport/mod.ts";
import { type PeerInfo, PeerManager } from "./peers/mod.ts";
import { DEFAULT_PROTOCOL_LIMITS, DisconnectReason, MessageCodec, MessageType } from "./protocol/mod.ts";
import { defaultLogSink, type LogSink } from "./log.ts";
import type { Storage } from "./storage/mod.ts";
import { TrustManager } from "./trust.ts";
import { TrustExchange } from "./trust_exchange.ts";
import { ParallelVerifier } from "./verifier.ts";
import { tcpTransport } from "./transport_factory.ts";
import type { BoundedStream, StreamOptions } from "./stream.ts";
import { type ReceivedMessage, type Subscription, Subscriptions } from "./subscriptions.ts";
import { TopicDelivery, type TopicLog } from "./catchup/mod.ts";
import {
  type HistoryOptions,
  openTopicLog,
  readHistory,
  sinceReplay,
  type SubscribeOptions,
  topicLogStats,
} from "./node_catchup.ts";
import {
  isTopicName,
  resolveTopicsConfig,
  type TopicFinder,
  type TopicInfo,
  type TopicOverlays,
  topicRetention,
  type TopicsConfig,
} from "./topics/mod.ts";
import { AGENT, AGENT_WITHOUT_DHT, announces, CATCHUP_CAPABILITY, TOPICS_CAPABILITY } from "./version.ts";
import { NodeDht } from "./node_dht.ts";
import { NAT_TYPES, type NatService, type NatStatus } from "./nat/mod.ts";
import { wireNat } from "./node_nat.ts";
import { sumGossipCounts } from "./node_stats.ts";
import { type NodeComponents, type NodeOptions, type NodeStats, openStorage } from "./node_options.ts";
import { wireGossip } from "./node_gossip.ts";
import { RELAY_TYPES, type RelayParts, wireRelay } from "./node_relay.ts";
import { type RelayConfig, resolveRelayConfig } from "./relay/config.ts";
import { abandonable, type WaitOptions, waitUntil } from "./wait.ts";

export { LATENCY_BUCKETS_MS, type LatencySnapshot } from "./latency.ts";
export type { ReceivedMessage, Subscription } from "./subscriptions.ts";
export type { NodeComponents, NodeOptions, NodeStats, TopicLogStats } from "./node_options.ts";
export type { HistoryOptions, SubscribeOptions } from "./node_catchup.ts";
export type { TopicFinderStats, TopicInfo, TopicStats } from "./topics/mod.ts";
export { tcpTransport, type TransportContext, type TransportFactory } from "./transport_factory.ts";

/**
 * A kith node.
 *
 * @example Two nodes on loopback exchange a message
 * ```ts
 * import { KithNode } from "./node.ts";
 * const config = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 1 };
 * const a = new KithNode({ config });
 * await a.start();
 * const b = new KithNode({ config: { ...config, bootstrap: [a.address] } });
 * await b.start();
 * const inbox = a.subscribe("greetings");
 * // b is not in "greetings": it publishes to the peers it knows are, once a has told it.
 * await b.waitForTopicPeers("greetings", 1, { timeout: 10_000 });
 * b.broadcast("hello", { topic: "greetings" });
 * for await (const message of inbox) {
 *   console.log(new TextDecoder().decode(message.data)); // "hello"
 *   break;
 * }
 * await b.stop();
 * await a.stop();
 * ```
 */
export class KithNode {
  /** The configuration in force. */
  readonly config: Readonly<NetworkConfig>;
  /**
   * Peer connected / disconnected and trust changed events, as `CustomEvent`s whose `detail` is the
   * {@link NodeEvent}; {@link KithNode.watch} iterates them.
   */
  readonly events: NodeEvents = new NodeEvents();
  readonly #options: NodeOptions;
  readonly #clock: Clock;
  readonly #onStop = new Set<() => void>();
  readonly #topicWaiters = new Set<() => void>();
  readonly #handlers: { type: MessageType; handler: MessageHandler; propagate: boolean }[] = [];
  #identity: Identity | undefined;
  #storage: Storage | undefined;
  #topicLog: TopicLog | undefined;
  #delivery: TopicDelivery | undefined;
  #codec: MessageCodec | undefined;
  #trust: TrustManager | undefined;
  #transport: Transport | undefined;
  #peers: PeerManager | undefined;
  #gossip: GossipProtocol | undefined;
  #topics: TopicOverlays | undefined;
  // The topic overlays take joins and leaves (set once start has joined the topics subscribed before it).
  #topicsLive = false;
  #finder: TopicFinder | undefined;
  #dht: NodeDht | undefined;
  readonly #topicsConfig: Readonly<TopicsConfig>;
  #verifier: ParallelVerifier | undefined;
  #address = "";
  #state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";
  #stopping: Promise<void> | undefined;
  #lock: DataDirLock | undefined;
  #trustExchange: TrustExchange | undefined;
  readonly #startedAt: number;
  readonly #gossipConfig: Partial<GossipConfig>;
  readonly #log: LogSink;
  readonly #subscriptions: Subscriptions;
  readonly #directConfig: Readonly<DirectConfig>;
  readonly #inbox: DirectInbox;
  readonly #requestHandlers = new Map<string, RequestHandler>();
  #direct: DirectChannel | undefined;
  readonly #catchupConfig: Readonly<CatchupConfig>;
  #catchup: CatchupSync | undefined;
  readonly #relayConfig: Readonly<RelayConfig>;
  #relay: RelayParts | undefined;
  #nat: NatService | undefined;

  /**
   * Creates a node; {@link KithNode.start} brings it up.
   *
   * @throws {ConfigError} one line naming the invalid setting
   */
  constructor(options: NodeOptions = {}) {
    this.config = Object.freeze(resolveNetworkConfig(options.config, options.preset));
    this.#relayConfig = Object.freeze(resolveRelayConfig(options.relay));
    this.#gossipConfig = { ...componentConfigs(this.config).gossip, ...options.gossip };
    this.#topicsConfig = resolveTopicsConfig(
      componentConfigs(this.config).topics,
      resolveGossipConfig(this.#gossipConfig),
    );
    this.#options = options;
    this.#log = options.log ?? defaultLogSink;
    this.#clock = options.clock ?? systemClock;
    this.#startedAt = this.#clock.now();
    this.#subscriptions = new Subscriptions(this.#clock, this.#log);
    this.#directConfig = resolveDirectConfig(
      options.direct ?? {},
      componentConfigs(this.config).protocol.maxPayloadBytes ?? DEFAULT_PROTOCOL_LIMITS.maxPayloadBytes,
    );
    this.#inbox = new DirectInbox(this.#log);
    this.#catchupConfig = resolveCatchupConfig(options.catchup);
  }

  /** This node's id (hex); available once started. */
  get nodeId(): string {
    return this.#require(this.#identity, "nodeId").nodeId;
  }

  /** This node's identity; available once started. */
  get identity(): Identity {
    return this.#require(this.#identity, "identity");
  }

  /** The bound listening address `host:port`; available once started. */
  get address(): string {
    return this.#require(this.#address || undefined, "address");
  }

  /** The trust manager; available once started. */
  get trust(): TrustManager {
    return this.#require(this.#trust, "trust");
  }

  /** Whether the node is running. */
  get running(): boolean {
    return this.#state === "running";
  }

  /** Milliseconds since the node was created. */
  get uptimeMs(): number {
    return this.#clock.now() - this.#startedAt;
  }

  #require<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new KithError("NOT_STARTED", `node.${what} is available once the node has started`);
    return value;
  }

  /**
   * Starts the node: identity, storage, trust, peers, gossip, transport,
   * bootstrap, background tasks. On failure everything opened is closed again.
   */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new KithError("ALREADY_STARTED", "a node can be started once");
    this.#state = "starting";
    try {
      await this.#bringUp();
      this.#state = "running";
    } catch (error) {
      // Close what was opened before the failure; the node ends stopped, never running.
      this.#stopping = this.#tearDown();
      await this.#stopping;
      throw error;
    }
  }

  async #bringUp(): Promise<void> {
    const options = this.#options;
    const parts = componentConfigs(this.config);
    // 1. identity
    this.#identity = options.identity ??
      (options.dataDir ? (await loadOrCreateIdentity(options.dataDir)).identity : Identity.generate());
    const identity = this.#identity;
    // One node per data directory: a second one would share the identity and fight the first for its links.
    if (options.dataDir && !options.storage) this.#lock = await DataDirLock.acquire(options.dataDir);
    // 2. storage
    const storage = this.#storage = options.storage ?? openStorage(options.dataDir, {
      clock: this.#clock,
      flushIntervalMs: this.config.storageFlushIntervalMs,
      seenRetentionMs: parts.gossip.dedupWindowMs,
      log: this.#log,
    });
    // 3. trust
    this.#trust = new TrustManager({ storage, clock: this.#clock, config: parts.trust, localNodeId: identity.nodeId });
    const trust = this.#trust;
    // Credits for valid messages (+0.001 each, per message) are no events: they would drown the rest.
    trust.onChange = (nodeId, before, after, cause) => {
      if (cause !== "valid_message") {
        this.events.emit({ type: "trust-changed", nodeId, before, after, cause, at: this.#clock.now() });
      }
    };
    const codec = this.#codec = new MessageCodec(parts.protocol);
    const retention = (topic: string) => topicRetention(this.#topicsConfig, topic);
    const topicLog = this.#topicLog = openTopicLog(options.topicLog, storage, {
      clock: this.#clock,
      flushIntervalMs: this.config.storageFlushIntervalMs,
      retention,
      log: this.#log,
    });
    // 4. peers (over the transport it will manage)
    this.#transport = (options.transport ?? tcpTransport)({
      identity,
      clock: this.#clock,
      codec,
      config: parts.transport,
      // No peer list in HANDSHAKE_ACK: the responder does not know yet who it talks to. Lists go over the
      // authenticated link, as answers to PEER_DISCOVERY.
      initialPeers: () => [],
      log: this.#log,
      // A node with the DHT off does not announce dht/1, so its peers never send it DHT messages.
      agent: this.config.dhtEnabled ? AGENT : AGENT_WITHOUT_DHT,
    });
    const transport = this.#transport;
    const peers = this.#peers = new PeerManager({
      identity,
      transport,
      trust,
      storage,
      codec,
      clock: this.#clock,
      random: options.random,
      config: parts.peers,
      selfAddress: () => transport.advertisedAddress || this.#address,
      log: this.#log,
      // Gossip is made next; eviction asks it only later, when a newcomer needs a slot.
      lastNovelAt: (nodeId) => this.#gossip?.peerStats(nodeId)?.lastFirstAt ?? -Infinity,
      // Topic queries are answered from the overlays' membership (made below; asked only once peers talk).
      topicPeers: (topic) => this.#topics?.topicPeers(topic) ?? [],
      answersTopics: (peer) => announces(peer.connection.agent, TOPICS_CAPABILITY),
    });
    // The DHT over the peers' links and transient ones (before gossip: the topic finder asks it).
    const dht = this.#dht = this.config.dhtEnabled
      ? new NodeDht({
        identity,
        clock: this.#clock,
        random: options.random ?? Math.random,
        log: this.#log,
        codec,
        config: this.config,
        peers,
        transport,
        trust,
        storage,
      })
      : undefined;
    // 5. gossip
    this.#verifier = new ParallelVerifier({ threads: this.config.verifyThreads }, this.#log);
    const { gossip, topics, finder } = wireGossip({
      identity,
      clock: this.#clock,
      random: options.random,
      log: this.#log,
      codec,
      config: this.#topicsConfig,
      gossipConfig: this.#gossipConfig,
      peers,
      trust,
      storage,
      verifier: this.#verifier,
      // Topic messages go through the delivery path (exactly once, logged, in causal order); others straight on.
      deliver: (message, from) => {
        if (message.type === MessageType.CUSTOM_DATA) this.#delivery!.acceptLive(message, from.nodeId);
        else this.#subscriptions.deliver(message, from.nodeId);
      },
      onPeerTopics: (nodeId) => {
        for (const wake of [...this.#topicWaiters]) wake();
        this.#catchup?.peerTopics(nodeId);
      },
      roundMs: this.config.peerMaintenanceIntervalMs,
      dhtSource: dht && {
        name: "dht",
        // Nothing to ask while the routing table is empty: the search is then not counted as done.
        find: (topic) => dht.service.table.size > 0 ? dht.topicProviders(topic, this.config.dhtK) : undefined,
      },
    });
    [this.#gossip, this.#topics, this.#finder] = [gossip, topics, finder];
    this.#delivery = new TopicDelivery({
      log: topicLog,
      retention,
      codec,
      clock: this.#clock,
      isIn: (topic) => topics.gossipOf(topic) !== undefined,
      deliver: (message, from, missing) => this.#subscriptions.deliver(message, from, missing),
      config: parts.causal,
      logSink: this.#log,
    });
    const speaksCatchup = (nodeId: string) => {
      const peer = peers.activePeer(nodeId);
      return peer !== undefined && announces(peer.connection.agent, CATCHUP_CAPABILITY);
    };
    const catchup = this.#catchup = new CatchupSync({
      identity,
      clock: this.#clock,
      random: options.random ?? Math.random,
      codec,
      config: this.#catchupConfig,
      log: topicLog,
      // Fetched messages take the live path's way to the application: exactly once, logged, in causal order.
      sink: this.#delivery,
      windowMs: (topic) => retention(topic).maxAgeMs,
      maxMessageBytes: (topic) =>
        this.#topicsConfig.topicSettings[topic]?.maxMessageBytes ?? gossip.config.maxApplicationPayloadBytes,
      joined: () => topics.topics().map((t) => t.topic),
      peersIn: (topic) => topics.topicPeers(topic),
      speaks: speaksCatchup,
      send: (nodeId, bytes) => peers.activePeer(nodeId)?.connection.sendEncoded(bytes) ?? false,
      penalise: (nodeId, code) => peers.penalise(nodeId, code),
      disconnect: (nodeId, detail) => {
        void peers.activePeer(nodeId)?.connection.close(DisconnectReason.PROTOCOL_ERROR, detail);
      },
      logSink: this.#log,
    });
    this.#trustExchange = new TrustExchange({
      identity,
      peers,
      trust,
      clock: this.#clock,
      random: options.random ?? Math.random,
      intervalMs: this.config.trustExchangeIntervalMs,
      maxAnswered: 4 * this.config.maxPeers,
    });
    this.#trustExchange.register(gossip);
    for (const { type, handler, propagate } of this.#handlers) gossip.registerHandler(type, handler, { propagate });
    const direct = this.#direct = new DirectChannel(
      {
        identity,
        codec,
        clock: this.#clock,
        // Penalties through the peer manager, which disconnects a peer below the threshold at once.
        trust: { recordInvalid: (nodeId, code) => peers.penalise(nodeId, code ?? "BAD_FIELD") },
        activePeer: (nodeId) => peers.activePeer(nodeId),
        config: this.#directConfig,
        log: this.#log,
      },
      this.#inbox,
      this.#requestHandlers,
    );
    const relay = this.#relay = wireRelay({
      config: this.#relayConfig,
      identity,
      clock: this.#clock,
      // Circuit tokens must not be guessable: a cryptographic source unless the caller gives one (tests).
      random: options.random ?? (() => crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32),
      codec,
      transport,
      peers,
      log: this.#log,
      reachability: () => this.#nat?.reachability.state ?? "unknown",
    });
    const nat = this.#nat = wireNat({
      identity,
      codec,
      clock: this.#clock,
      random: options.random ?? Math.random,
      config: this.config,
      nat: parts.nat,
      transport,
      peers,
      boundAddress: () => this.#address,
      log: this.#log,
      onReachability: () => relay.reachabilityChanged(),
    });
    // Direct traffic goes to its channel, never to gossip, which would take it for a message to spread.
    peers.onEnvelope = (peer, envelope) => {
      if (DIRECT_TYPES.has(envelope.type)) direct.receive(peer, envelope);
      else if (CATCHUP_TYPES.has(envelope.type)) catchup.receive(peer.nodeId, envelope);
      else if (RELAY_TYPES.has(envelope.type)) relay.receive(peer, envelope);
      else if (NAT_TYPES.has(envelope.type)) nat.receive(peer, envelope);
      else if (envelope.type === MessageType.DHT_REQUEST || envelope.type === MessageType.DHT_RESPONSE) {
        // With the DHT off, as any type this node does not speak; with it on, refused from peers without dht/1.
        if (dht) dht.receive(peer.connection, envelope);
        else peers.penalise(peer.nodeId, "UNKNOWN_TYPE");
      } else topics.receive(peer, envelope);
    };
    const log = this.#log;
    peers.onPeerConnected = (peer) => {
      topics.peerConnected(peer);
      // The peer's topics, if it told them over a transient link this link replaced (it will not tell again).
      const kept = dht?.transient.takeKept(peer.nodeId);
      if (kept) topics.receive(peer, kept);
      relay.peerConnected(peer);
      nat.peerConnected(peer);
      finder.peerConnected();
      dht?.peerConnected(peer.connection);
      log("info", "peer connected", {
        peer: peer.nodeId.slice(0, 16),
        address: peer.connection.remoteAddress,
        direction: peer.connection.direction,
      });
      this.events.emit(peerConnected(peer.connection, this.#clock.now()));
    };
    peers.onPeerDisconnected = (peer, info) => {
      topics.peerDisconnected(peer.nodeId);
      relay.peerDisconnected(peer.nodeId);
      direct.peerDisconnected(peer.nodeId);
      dht?.peerDisconnected(peer.nodeId);
      catchup.peerDisconnected(peer.nodeId);
      log("info", "peer disconnected", {
        peer: peer.nodeId.slice(0, 16),
        reason: reasonName(info.reason),
        by: info.by,
        why: info.detail || "-",
      });
      this.events.emit(peerDisconnected(peer.nodeId, info, this.#clock.now()));
    };
    // 6. transport
    this.#address = await transport.listen();
    await this.#lock?.recordAddress(this.#address);
    // 7. bootstrap, 8. background tasks (the DHT first: it loads its stored table and claims transient links)
    dht?.start();
    peers.start();
    gossip.start();
    // The topics subscribed to before start are joined now (each was checked against maxTopics then).
    for (const topic of this.#subscriptions.topics()) if (topic !== "") topics.join(topic);
    this.#topicsLive = true; // from here on, subscribe() joins at once
    topics.start();
    this.#delivery.start();
    finder.start();
    for (const topic of this.#subscriptions.topics()) {
      finder.want(topic);
      if (topic !== "") dht?.provideTopic(topic);
    }
    catchup.start();
    this.#trustExchange.start();
    relay.start();
    nat.start();
    log("info", "node started", { nodeId: identity.nodeId, address: this.#address });
  }

  /**
   * Publishes an application message to `options.topic` (default `""`, the network-wide topic every node
   * carries): through the topic's overlay when this node is in it, else in full to a few connected peers that
   * are (a fanout set; see {@link KithNode.waitForTopicPeers}).
   *
   * @param data bytes, or a string sent as UTF-8
   * @returns the message id (hex)
   * @throws {RangeError} when the payload is over `maxApplicationPayloadBytes` (or the topic's `maxMessageBytes`)
   * @throws {KithError} `BAD_TTL` when `ttl` is above the configured `maxTtl`; `BAD_TOPIC` for a name over 255
   * bytes; `NO_TOPIC_PEERS` when this node is not in the topic and no connected peer is known to be
   */
  broadcast(data: Uint8Array | string, options: { topic?: string; ttl?: number } = {}): string {
    const topics = this.#require(this.#state === "running" ? this.#topics : undefined, "broadcast");
    if (options.ttl !== undefined && options.ttl > this.config.maxTtl) {
      // Relays would cut it to their maximum anyway; refusing says so instead of sending something else.
      throw new KithError(
        "BAD_TTL",
        `ttl ${options.ttl} is above this node's maximum of ${this.config.maxTtl} (maxTtl)`,
      );
    }
    const topic = options.topic ?? "";
    if (topic !== "" && !isTopicName(topic)) throw badTopic(topic);
    try {
      const delivery = this.#delivery!;
      const message = topics.publish(topic, bytesOf(data), options.ttl, delivery.heads(topic));
      delivery.published(message);
      return toHex(message.id);
    } catch (error) {
      // No peer in the topic: search for some, so that a later publish finds them.
      if (error instanceof KithError && error.code === "NO_TOPIC_PEERS") this.#finder?.want(topic, true);
      throw error;
    }
  }

  /**
   * Subscribes to application messages of `topic`, and joins its overlay: from then on this node receives,
   * checks and relays the topic's messages (and only while some subscription to it lasts: the last
   * `unsubscribe`, or the end of its iteration, leaves the topic). `""` is the network-wide topic every node
   * is in. Without `topic`, every message this node delivers, of the topics it is in (it joins none). With
   * `callback`, each message is passed to it; the returned subscription is also an async iterator.
   *
   * With `options.since` (a started node, a named topic), the topic's log is replayed from that timestamp
   * first, then live messages follow, with no gap and no duplicate at the seam (see {@link SubscribeOptions});
   * a callback gets the whole replay before `subscribe` returns.
   *
   * A topic's messages come in causal order: after the predecessors their origin named, once those came, or
   * after `causalWaitMs` with those still missing named (`ReceivedMessage.missing`); each id once, across
   * reconnections and restarts.
   *
   * @throws {KithError} `BAD_TOPIC` for a name over 255 bytes; `TOO_MANY_TOPICS` when already in `maxTopics`;
   * `NOT_STARTED` for `since` before start
   * @throws {RangeError} for a `since` that is no timestamp, or given without a named topic
   */
  subscribe(
    topic?: string,
    optionsOrCallback?: SubscribeOptions | ((message: ReceivedMessage) => void),
    callback?: (message: ReceivedMessage) => void,
  ): Subscription {
    const options = typeof optionsOrCallback === "function" ? {} : optionsOrCallback ?? {};
    if (typeof optionsOrCallback === "function") callback = optionsOrCallback;
    const named = topic !== undefined && topic !== "";
    if (named && !isTopicName(topic)) throw badTopic(topic);
    const replay = options.since === undefined ? undefined : sinceReplay(
      () => this.#require(this.#state === "running" ? this.#topicLog : undefined, "subscribe with since"),
      this.#codec!,
      named ? topic : undefined,
      options.since,
    );
    const first = named && this.#subscriptions.count(topic) === 0;
    if (first && this.#topics && this.#topicsLive) {
      this.#topics.join(topic);
      this.#finder?.want(topic);
      this.#dht?.provideTopic(topic);
      this.#catchup?.joined(topic);
    } else if (first && this.#subscriptions.topics().filter((t) => t !== "").length >= this.#topicsConfig.maxTopics) {
      throw new KithError(
        "TOO_MANY_TOPICS",
        `already subscribed to maxTopics (${this.#topicsConfig.maxTopics}) topics`,
      );
    }
    const onEnd = named
      ? () => {
        if (this.#subscriptions.count(topic) === 0 && this.#topicsLive) {
          this.#topics?.leave(topic);
          this.#dht?.leaveTopic(topic);
        }
      }
      : undefined;
    return this.#subscriptions.subscribe(topic, callback, onEnd, replay);
  }

  /**
   * The messages of `topic` its log holds, oldest first: what this node delivered and published while in it,
   * within the topic's retention (`topicLogMaxMessages`, `topicLogMaxBytes`, `topicLogMaxAgeMs`). Marked
   * `replayed`, with `from` `""`.
   *
   * @throws {KithError} `NOT_STARTED` before start; `BAD_TOPIC` for a name of 0 or over 255 bytes
   * @throws {RangeError} for a `since` or `limit` out of range (limit 1..10,000)
   */
  history(topic: string, options: HistoryOptions = {}): ReceivedMessage[] {
    if (!isTopicName(topic)) throw badTopic(topic);
    const log = this.#require(this.#state === "running" ? this.#topicLog : undefined, "history");
    return readHistory(log, this.#codec!, topic, options);
  }

  /** The named topics this node is in, with their peers (see {@link TopicInfo}); empty before start. */
  topics(): TopicInfo[] {
    return this.#topics?.topics() ?? [];
  }

  /** Connected peers that said they are in `topic` (node ids), whether or not this node is in it. */
  topicPeers(topic: string): string[] {
    return this.#topics?.topicPeers(topic) ?? [];
  }

  /**
   * Resolves with the connected peers in `topic` once at least `count` are (at once when they already are):
   * before publishing to a topic this node is not in, which needs a peer that is, or to know a topic's
   * overlay has formed. A peer tells its topics right after connecting, so this may wait a round trip past
   * {@link KithNode.waitForPeers}.
   *
   * @throws {AbortedError} when `options.signal` aborts; {@link WaitTimeoutError} after `options.timeout` ms
   * @throws {KithError} `NOT_RUNNING` when the node is not running or stops while waiting
   */
  waitForTopicPeers(topic: string, count: number, options: WaitOptions = {}): Promise<string[]> {
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError("waitForTopicPeers: count must be >= 0");
    const check = () => {
      if (this.#state !== "running") throw new KithError("NOT_RUNNING", "waitForTopicPeers: the node is not running");
      const peers = this.topicPeers(topic);
      return peers.length >= count ? peers : undefined;
    };
    const subscribe = this.#wakeOn((wake) => this.#topicWaiters.add(wake), (wake) => this.#topicWaiters.delete(wake));
    return waitUntil("waitForTopicPeers", check, subscribe, this.#clock, options);
  }

  /**
   * Registers a handler for verified, first-seen messages of `type` (the
   * design's extension point). Registered before or after start.
   */
  registerHandler(type: MessageType, handler: MessageHandler, options: { propagate?: boolean } = {}): void {
    this.#handlers.push({ type, handler, propagate: options.propagate ?? false });
    this.#gossip?.registerHandler(type, handler, options);
  }

  /**
   * Sends `data` to the connected peer `nodeId` only: a signed DIRECT_MESSAGE over its encrypted link,
   * never gossiped or forwarded, delivered to its {@link KithNode.onDirect} handlers and
   * {@link KithNode.directMessages} streams. Queued at once; there is no delivery receipt (use
   * {@link KithNode.request} for an answer). Only to an active peer: reaching any node by id through the
   * DHT's `findPeer` is a later issue.
   *
   * @param data bytes, or a string sent as UTF-8
   * @throws {DirectError} `NOT_A_PEER`, `PEER_UNSUPPORTED` (an older kith), `TOO_LARGE`, `RATE_LIMITED`,
   * `QUEUE_FULL`, `NOT_RUNNING`
   */
  sendDirect(nodeId: string, data: Uint8Array | string): void {
    this.#require(this.#state === "running" ? this.#direct : undefined, "sendDirect").send(nodeId, bytesOf(data));
  }

  /** Calls `handler` with each direct message from now on (before or after start); returns what removes it. */
  onDirect(handler: (message: DirectMessage) => void): () => void {
    return this.#inbox.onMessage(handler);
  }

  /** Direct messages from now on as an async iterator with a bounded buffer (the oldest dropped and counted). */
  directMessages(options: StreamOptions = {}): BoundedStream<DirectMessage> {
    const stream = this.#inbox.stream(options);
    if (this.#state === "stopping" || this.#state === "stopped") stream.close();
    return stream;
  }

  /**
   * Asks the connected peer `nodeId` to run its handler for `protocol` on `data`; resolves with its answer.
   *
   * @param protocol 1..64 bytes of `[A-Za-z0-9._/-]`, e.g. `"echo/1"`
   * @param data bytes, or a string sent as UTF-8
   * @throws {DirectError} `UNKNOWN_PROTOCOL`, `REFUSED` (handler failed or peer busy: see `status`),
   * `TOO_LARGE`, `TOO_MANY_REQUESTS`, `PEER_DISCONNECTED`, `NOT_A_PEER`, `PEER_UNSUPPORTED`, `BAD_PROTOCOL`,
   * `RATE_LIMITED`, `QUEUE_FULL`, `NOT_RUNNING`
   * @throws {WaitTimeoutError} after `options.timeout` ms (default `requestTimeoutMs`)
   * @throws {AbortedError} when `options.signal` aborts
   */
  request(nodeId: string, protocol: string, data: Uint8Array | string, options?: RequestOptions): Promise<Uint8Array> {
    const direct = this.#state === "running" ? this.#direct : undefined;
    if (direct === undefined) return Promise.reject(new KithError("NOT_STARTED", "node.request needs a running node"));
    return direct.request(nodeId, protocol, bytesOf(data), options);
  }

  /**
   * Serves requests for `protocol` with `handler` (before or after start); returns what removes it. The
   * handler gets the bytes and a context with the requester's id and an `AbortSignal`; what it returns (or
   * resolves with) is the answer; a throw answers HANDLER_FAILED, without its message.
   *
   * @throws {DirectError} `BAD_PROTOCOL` for an invalid name or one already handled
   */
  handle(protocol: string, handler: RequestHandler): () => void {
    return registerHandler(this.#requestHandlers, protocol, handler);
  }

  /**
   * The DHT (issue 24; docs/protocol.md "DHT"): find a node's address by its id, announce and find a key's
   * providers (a topic's key is `topicKey(name)`), and store and read small signed records.
   * Available once started, when `dhtEnabled` (the default).
   *
   * @example Store a record at one node and read it at another
   * ```ts ignore
   * const { key } = await a.dht.put("profile", "hello");
   * const record = await b.dht.get(key);
   * console.log(new TextDecoder().decode(record?.value)); // "hello"
   * const address = await b.dht.findPeer(a.nodeId); // a's listening address
   * ```
   * @throws {KithError} `NOT_STARTED` before start; `DHT_DISABLED` when `dhtEnabled` is false
   */
  get dht(): NodeDht {
    this.#require(this.#state === "new" ? undefined : this.#peers, "dht");
    const dht = this.#dht;
    if (!dht) throw new KithError("DHT_DISABLED", "the DHT is off on this node (dhtEnabled: false)");
    return dht;
  }

  /**
   * This node's reachability (`public`, `private` or `unknown`), the address it was checked at, the address
   * peers of several network groups see it at, and the counters of its checks and of its dial-backs for others.
   */
  reachability(): NatStatus {
    return this.#require(this.#nat, "reachability").status();
  }

  /** Every known peer with its state, trust and reputation. */
  peers(): PeerInfo[] {
    const peers = this.#peers?.peers() ?? [];
    const layers = this.#gossip && this.#topics
      ? [this.#gossip, ...this.#topics.topics().map((t) => this.#topics!.gossipOf(t.topic)!)]
      : [];
    for (const peer of peers) {
      if (peer.state !== "active") continue;
      const counts = layers.map((layer) => layer.peerStats(peer.nodeId)?.received ?? 0);
      if (counts.length > 0) peer.messages = counts.reduce((a, b) => a + b, 0);
    }
    return peers;
  }

  /** Node events from now on as an async iterator with a bounded buffer (see {@link NodeEvents.watch}). */
  watch(options: WatchOptions = {}): EventStream {
    const stream = this.events.watch(options);
    if (this.#state === "stopping" || this.#state === "stopped") stream.close(); // no event will come
    return stream;
  }

  /**
   * Resolves with the active peers once at least `count` are active (at once when they already are).
   *
   * @throws {AbortedError} (name `AbortError`) when `options.signal` aborts
   * @throws {WaitTimeoutError} when `options.timeout` ms pass first
   * @throws {KithError} `NOT_RUNNING` when the node is not running or stops while waiting
   */
  waitForPeers(count: number, options: WaitOptions = {}): Promise<PeerInfo[]> {
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError("waitForPeers: count must be >= 0");
    const check = () => {
      if (this.#state !== "running") throw new KithError("NOT_RUNNING", "waitForPeers: the node is not running");
      const active = this.peers().filter((peer) => peer.state === "active");
      return active.length >= count ? active : undefined;
    };
    const subscribe = this.#wakeOn(
      (wake) => this.events.addEventListener("peer-connected", wake),
      (wake) => this.events.removeEventListener("peer-connected", wake),
    );
    return waitUntil("waitForPeers", check, subscribe, this.#clock, options);
  }

  /** A wait's subscription: woken by `add`'s source and by the node stopping, until the returned function ends it. */
  #wakeOn(add: (wake: () => void) => void, remove: (wake: () => void) => void) {
    return (wake: () => void) => {
      add(wake);
      this.#onStop.add(wake);
      return () => {
        remove(wake);
        this.#onStop.delete(wake);
      };
    };
  }

  /**
   * Dials a peer now; resolves when it is active. `signal` and `timeout` end the wait, not the dial: a
   * dial still under way finishes or fails in the background (the handshake timeout bounds it).
   *
   * @throws {AbortedError} when `options.signal` aborts; {@link WaitTimeoutError} after `options.timeout` ms
   */
  async connect(address: string, options: WaitOptions = {}): Promise<PeerInfo> {
    const peers = this.#require(this.#state === "running" ? this.#peers : undefined, "connect");
    const peer = await abandonable(`connect ${address}`, peers.connect(address), this.#clock, options);
    return peers.peers().find((p) => p.nodeId === peer.nodeId)!;
  }

  /** Counters of every layer. */
  stats(): NodeStats {
    const gossip = this.#require(this.#gossip, "stats");
    const topics = this.#require(this.#topics, "stats");
    const layers = [gossip, ...topics.topics().map((t) => topics.gossipOf(t.topic)!)];
    const summed = sumGossipCounts(layers);
    return {
      gossip: summed.stats,
      topics: { ...topics.stats },
      topicFinder: { ...this.#require(this.#finder, "stats").stats },
      peers: this.#require(this.#peers, "stats").stats,
      transport: this.#require(this.#transport, "stats").stats,
      deliveredToApplication: this.#subscriptions.delivered,
      byType: summed.byType,
      invalidByCode: summed.invalidByCode,
      deliveryLatency: this.#subscriptions.latency.snapshot(),
      direct: this.#direct!.stats,
      ...(this.#dht ? { dht: this.#dht.stats } : {}),
      signatureChecks: { ...this.#verifier!.stats },
      topicLog: topicLogStats(this.#require(this.#topicLog, "stats")),
      topicDelivery: this.#require(this.#delivery, "stats").stats,
      catchup: { ...this.#require(this.#catchup, "stats").stats },
      relay: this.#relay!.stats(),
      nat: this.#nat!.status(),
    };
  }

  /** The started node's components (for the simulator and tests; see {@link NodeComponents}). */
  get components(): NodeComponents {
    return {
      identity: this.#require(this.#identity, "components"),
      storage: this.#require(this.#storage, "components"),
      trust: this.#require(this.#trust, "components"),
      transport: this.#require(this.#transport, "components"),
      peers: this.#require(this.#peers, "components"),
      gossip: this.#require(this.#gossip, "components"),
      topics: this.#require(this.#topics, "components"),
      finder: this.#require(this.#finder, "components"),
      dht: this.#dht,
      topicLog: this.#require(this.#topicLog, "components"),
      topicDelivery: this.#require(this.#delivery, "components"),
      catchup: this.#require(this.#catchup, "components"),
      nat: this.#require(this.#nat, "components"),
    };
  }

  /** The preset the configuration started from. */
  get preset(): PresetName {
    return this.#options.preset ?? "default";
  }

  /**
   * Stops the node in the reverse order of start: background tasks, gossip,
   * peers, transport (DISCONNECT to every peer), storage (flushed, closed).
   * Idempotent; concurrent calls share one shutdown.
   */
  stop(): Promise<void> {
    if (this.#state === "new") {
      this.#state = "stopped";
      return Promise.resolve();
    }
    this.#stopping ??= this.#tearDown();
    return this.#stopping;
  }

  async #tearDown(): Promise<void> {
    this.#state = "stopping";
    for (const wake of [...this.#onStop]) wake();
    this.#trustExchange?.stop();
    this.#nat?.stop();
    this.#direct?.stop();
    this.#catchup?.stop();
    await this.#relay?.stop();
    this.#topicsLive = false;
    this.#finder?.stop();
    await this.#dht?.stop();
    this.#topics?.stop();
    this.#gossip?.stop();
    this.#verifier?.close();
    await this.#peers?.stop();
    await this.#transport?.close();
    this.#delivery?.stop();
    // The log is the node's own unless it was given one (a test's or the simulator's, kept across restarts).
    if (this.#topicLog && !this.#options.topicLog) this.#topicLog.close();
    else this.#topicLog?.flush();
    if (this.#storage && !this.#options.storage) this.#storage.close();
    else this.#storage?.flush();
    await this.#lock?.release();
    this.#lock = undefined;
    this.#subscriptions.clear();
    this.events.closeAll();
    this.#state = "stopped";
  }
}

function badTopic(topic: string): KithError {
  return new KithError("BAD_TOPIC", `topic ${JSON.stringify(topic.slice(0, 40))} is over 255 bytes of UTF-8`);
}

function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}
