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
 * Each layer is wired by a function of its own module (`lib/node_*.ts`); {@link KithNode} calls them in order.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { componentConfigs, type NetworkConfig, type PresetName } from "./config.ts";
import {
  DirectInbox,
  type DirectMessage,
  registerHandler,
  type RequestHandler,
  type RequestOptions,
} from "./direct/mod.ts";
import { KithError } from "./errors.ts";
import { type EventStream, NodeEvents, type WatchOptions } from "./events.ts";
import type { MessageHandler } from "./gossip/mod.ts";
import type { Identity } from "./identity.ts";
import type { PeerInfo } from "./peers/mod.ts";
import { MessageCodec, MessageType } from "./protocol/mod.ts";
import { defaultLogSink, type LogSink } from "./log.ts";
import type { TrustManager } from "./trust.ts";
import { ParallelVerifier } from "./verifier.ts";
import type { BoundedStream, StreamOptions } from "./stream.ts";
import { type ReceivedMessage, type Subscription, Subscriptions } from "./subscriptions.ts";
import { isTopicName, type TopicInfo, topicRetention } from "./topics/mod.ts";
import type { NatStatus } from "./nat/mod.ts";
import { type HistoryOptions, openTopicLog, readHistory, type SubscribeOptions, wireCatchup } from "./node_catchup.ts";
import { NodeDht } from "./node_dht.ts";
import { wireDirect } from "./node_direct.ts";
import { dhtTopicSource, wireGossip } from "./node_gossip.ts";
import { wireNat } from "./node_nat.ts";
import { badTopic, publishTo, subscribeTo, type TopicSubscribing } from "./node_topics.ts";
import {
  type NodeComponents,
  nodeComponents,
  type NodeLayers,
  type NodeOptions,
  type NodeSettings,
  type NodeStats,
  resolveNodeSettings,
} from "./node_options.ts";
import { routePeers, wirePeers, wireTransport } from "./node_peers.ts";
import { openKept } from "./node_storage.ts";
import { wireRelay } from "./node_relay.ts";
import { allOverlays, countPeerMessages, nodeStats } from "./node_stats.ts";
import { wireTrust, wireTrustExchange } from "./node_trust.ts";
import { abandonable, type WaitOptions, waitUntil, wakeOn } from "./wait.ts";

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
  readonly #settings: NodeSettings;
  readonly #clock: Clock;
  readonly #log: LogSink;
  readonly #startedAt: number;
  readonly #onStop = new Set<() => void>();
  readonly #topicWaiters = new Set<() => void>();
  readonly #handlers: { type: MessageType; handler: MessageHandler; propagate: boolean }[] = [];
  readonly #subscriptions: Subscriptions;
  readonly #subscribing: TopicSubscribing;
  readonly #inbox: DirectInbox;
  readonly #requestHandlers = new Map<string, RequestHandler>();
  // What start has made so far (see NodeLayers); stop closes it.
  readonly #layers: NodeLayers = {};
  // The topic overlays take joins and leaves (set once start has joined the topics subscribed before it).
  #topicsLive = false;
  #address = "";
  #state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";
  #stopping: Promise<void> | undefined;

  /**
   * Creates a node; {@link KithNode.start} brings it up.
   *
   * @throws {ConfigError} one line naming the invalid setting
   */
  constructor(options: NodeOptions = {}) {
    this.#settings = resolveNodeSettings(options);
    this.config = this.#settings.config;
    this.#options = options;
    this.#log = options.log ?? defaultLogSink;
    this.#clock = options.clock ?? systemClock;
    this.#startedAt = this.#clock.now();
    this.#subscriptions = new Subscriptions(this.#clock, this.#log);
    this.#subscribing = {
      layers: this.#layers,
      subscriptions: this.#subscriptions,
      maxTopics: this.#settings.topics.maxTopics,
      live: () => this.#topicsLive,
      log: () => this.#require(this.#state === "running" ? this.#layers.topicLog : undefined, "subscribe with since"),
    };
    this.#inbox = new DirectInbox(this.#log);
  }

  /** This node's id (hex); available once started. */
  get nodeId(): string {
    return this.#require(this.#layers.identity, "nodeId").nodeId;
  }

  /** This node's identity; available once started. */
  get identity(): Identity {
    return this.#require(this.#layers.identity, "identity");
  }

  /** The bound listening address `host:port`; available once started. */
  get address(): string {
    return this.#require(this.#address || undefined, "address");
  }

  /** The trust manager; available once started. */
  get trust(): TrustManager {
    return this.#require(this.#layers.trust, "trust");
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
    const [options, settings, layers] = [this.#options, this.#settings, this.#layers];
    const { config, topics: topicsConfig } = settings;
    const parts = componentConfigs(config);
    const [clock, log, random, events] = [this.#clock, this.#log, options.random, this.events];
    const subscriptions = this.#subscriptions;
    // 1. identity, 2. storage
    const [flushIntervalMs, seenRetentionMs] = [config.storageFlushIntervalMs, parts.gossip.dedupWindowMs];
    const { identity, storage } = await openKept(layers, options, { clock, flushIntervalMs, seenRetentionMs, log });
    // 3. trust
    const trust = layers.trust = wireTrust({ storage, clock, config: parts.trust, identity, events });
    const codec = layers.codec = new MessageCodec(parts.protocol);
    const retention = (topic: string) => topicRetention(topicsConfig, topic);
    const logOptions = { clock, flushIntervalMs, retention, log };
    const topicLog = layers.topicLog = openTopicLog(options.topicLog, storage, logOptions);
    // 4. peers (over the transport it will manage)
    const base = { identity, clock, random, log, codec };
    const [dhtEnabled, factory] = [config.dhtEnabled, options.transport];
    const transport = layers.transport = wireTransport({ ...base, factory, config: parts.transport, dhtEnabled });
    const peers = layers.peers = wirePeers({
      ...base,
      transport,
      trust,
      storage,
      config: parts.peers,
      selfAddress: () => transport.advertisedAddress || this.#address,
      // Gossip is made next; eviction asks it only later, when a newcomer needs a slot.
      lastNovelAt: (nodeId) => layers.gossip?.peerStats(nodeId)?.lastFirstAt ?? -Infinity,
      // Topic queries are answered from the overlays' membership (made below; asked only once peers talk).
      topicPeers: (topic) => layers.topics?.topicPeers(topic) ?? [],
    });
    // The DHT over the peers' links and transient ones (before gossip: the topic finder asks it).
    const dht = layers.dht = dhtEnabled
      ? new NodeDht({ ...base, random: random ?? Math.random, config, peers, transport, trust, storage })
      : undefined;
    // 5. gossip
    const verifier = layers.verifier = new ParallelVerifier(
      { threads: config.verifyThreads },
      log,
      options.checkSignature,
    );
    const { gossip, topics, finder } = wireGossip({
      ...base,
      config: topicsConfig,
      gossipConfig: settings.gossip,
      peers,
      trust,
      storage,
      verifier,
      // Topic messages go through the delivery path (exactly once, logged, in causal order); others straight on.
      deliver: (message, from) => {
        if (message.type === MessageType.CUSTOM_DATA) layers.delivery!.acceptLive(message, from.nodeId);
        else subscriptions.deliver(message, from.nodeId);
      },
      onPeerTopics: (nodeId) => {
        for (const wake of [...this.#topicWaiters]) wake();
        layers.catchup?.peerTopics(nodeId);
      },
      roundMs: config.peerMaintenanceIntervalMs,
      dhtSource: dht && dhtTopicSource(dht, config.dhtK),
    });
    [layers.gossip, layers.topics, layers.finder] = [gossip, topics, finder];
    const catchupParts = { topicLog, retention, causal: parts.causal, settings, gossip, topics, peers, subscriptions };
    const { delivery, catchup } = wireCatchup({ ...base, ...catchupParts });
    [layers.delivery, layers.catchup] = [delivery, catchup];
    const exchange = layers.trustExchange = wireTrustExchange({ ...base, peers, trust, config, gossip });
    for (const { type, handler, propagate } of this.#handlers) gossip.registerHandler(type, handler, { propagate });
    const [inbox, handlers] = [this.#inbox, this.#requestHandlers];
    const direct = layers.direct = wireDirect({ ...base, peers, config: settings.direct, inbox, handlers });
    const relay = layers.relay = wireRelay({
      ...base,
      config: settings.relay,
      // Circuit tokens must not be guessable: a cryptographic source unless the caller gives one (tests).
      random: random ?? (() => crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32),
      transport,
      peers,
      reachability: () => layers.nat?.reachability.state ?? "unknown",
    });
    const nat = layers.nat = wireNat({
      ...base,
      random: random ?? Math.random,
      config,
      nat: parts.nat,
      transport,
      peers,
      boundAddress: () => this.#address,
      onReachability: () => relay.reachabilityChanged(),
    });
    routePeers(peers, { topics, finder, direct, catchup, relay, nat, dht, log, events, clock });
    // 6. transport
    this.#address = await transport.listen();
    await layers.lock?.recordAddress(this.#address);
    // 7. bootstrap, 8. background tasks (the DHT first: it loads its stored table and claims transient links)
    dht?.start();
    peers.start();
    gossip.start();
    // The topics subscribed to before start are joined now (each was checked against maxTopics then).
    for (const topic of subscriptions.topics()) if (topic !== "") topics.join(topic);
    this.#topicsLive = true; // from here on, subscribe() joins at once
    topics.start();
    delivery.start();
    finder.start();
    for (const topic of subscriptions.topics()) {
      finder.want(topic);
      if (topic !== "") dht?.provideTopic(topic);
    }
    catchup.start();
    exchange.start();
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
    const topics = this.#require(this.#state === "running" ? this.#layers.topics : undefined, "broadcast");
    return publishTo(this.#layers, topics, this.config.maxTtl, bytesOf(data), options);
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
    return subscribeTo(this.#subscribing, topic, optionsOrCallback, callback);
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
    const log = this.#require(this.#state === "running" ? this.#layers.topicLog : undefined, "history");
    return readHistory(log, this.#layers.codec!, topic, options);
  }

  /** The named topics this node is in, with their peers (see {@link TopicInfo}); empty before start. */
  topics(): TopicInfo[] {
    return this.#layers.topics?.topics() ?? [];
  }

  /** Connected peers that said they are in `topic` (node ids), whether or not this node is in it. */
  topicPeers(topic: string): string[] {
    return this.#layers.topics?.topicPeers(topic) ?? [];
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
    const waiters = this.#topicWaiters;
    const subscribe = wakeOn(this.#onStop, (wake) => waiters.add(wake), (wake) => waiters.delete(wake));
    return waitUntil("waitForTopicPeers", check, subscribe, this.#clock, options);
  }

  /**
   * Registers a handler for verified, first-seen messages of `type` (the
   * design's extension point). Registered before or after start.
   */
  registerHandler(type: MessageType, handler: MessageHandler, options: { propagate?: boolean } = {}): void {
    this.#handlers.push({ type, handler, propagate: options.propagate ?? false });
    this.#layers.gossip?.registerHandler(type, handler, options);
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
    this.#require(this.#state === "running" ? this.#layers.direct : undefined, "sendDirect").send(
      nodeId,
      bytesOf(data),
    );
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
   * `TOO_LARGE`, `TOO_MANY_REQUESTS`, `PEER_DISCONNECTED`, `LINK_REPLACED` (the peer stayed: retry), `NOT_A_PEER`, `PEER_UNSUPPORTED`, `BAD_PROTOCOL`,
   * `RATE_LIMITED`, `QUEUE_FULL`, `NOT_RUNNING`
   * @throws {WaitTimeoutError} after `options.timeout` ms (default `requestTimeoutMs`)
   * @throws {AbortedError} when `options.signal` aborts
   */
  request(nodeId: string, protocol: string, data: Uint8Array | string, options?: RequestOptions): Promise<Uint8Array> {
    const direct = this.#state === "running" ? this.#layers.direct : undefined;
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
    this.#require(this.#state === "new" ? undefined : this.#layers.peers, "dht");
    const dht = this.#layers.dht;
    if (!dht) throw new KithError("DHT_DISABLED", "the DHT is off on this node (dhtEnabled: false)");
    return dht;
  }

  /**
   * This node's reachability (`public`, `private` or `unknown`), the address it was checked at, the address
   * peers of several network groups see it at, and the counters of its checks and of its dial-backs for others.
   */
  reachability(): NatStatus {
    return this.#require(this.#layers.nat, "reachability").status();
  }

  /** Every known peer with its state, trust and reputation. */
  peers(): PeerInfo[] {
    const { peers, gossip, topics } = this.#layers;
    return countPeerMessages(peers?.peers() ?? [], gossip && topics ? allOverlays(gossip, topics) : []);
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
    const subscribe = wakeOn(
      this.#onStop,
      (wake) => this.events.addEventListener("peer-connected", wake),
      (wake) => this.events.removeEventListener("peer-connected", wake),
    );
    return waitUntil("waitForPeers", check, subscribe, this.#clock, options);
  }

  /**
   * Dials a peer now; resolves when it is active. `signal` and `timeout` end the wait, not the dial: a
   * dial still under way finishes or fails in the background (the handshake timeout bounds it).
   *
   * @throws {AbortedError} when `options.signal` aborts; {@link WaitTimeoutError} after `options.timeout` ms
   */
  async connect(address: string, options: WaitOptions = {}): Promise<PeerInfo> {
    const peers = this.#require(this.#state === "running" ? this.#layers.peers : undefined, "connect");
    const peer = await abandonable(`connect ${address}`, peers.connect(address), this.#clock, options);
    return peers.peers().find((p) => p.nodeId === peer.nodeId)!;
  }

  /** Counters of every layer. */
  stats(): NodeStats {
    return nodeStats(this.#layers, this.#subscriptions, (layer) => this.#require(layer, "stats"));
  }

  /** The started node's components (for the simulator and tests; see {@link NodeComponents}). */
  get components(): NodeComponents {
    return nodeComponents(this.#layers, (layer) => this.#require(layer, "components"));
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
    const layers = this.#layers;
    for (const wake of [...this.#onStop]) wake();
    layers.trustExchange?.stop();
    layers.nat?.stop();
    layers.direct?.stop();
    layers.catchup?.stop();
    await layers.relay?.stop();
    this.#topicsLive = false;
    layers.finder?.stop();
    await layers.dht?.stop();
    layers.topics?.stop();
    layers.gossip?.stop();
    layers.verifier?.close();
    await layers.peers?.stop();
    await layers.transport?.close();
    layers.delivery?.stop();
    // The log is the node's own unless it was given one (a test's or the simulator's, kept across restarts).
    if (layers.topicLog && !this.#options.topicLog) layers.topicLog.close();
    else layers.topicLog?.flush();
    if (layers.storage && !this.#options.storage) layers.storage.close();
    else layers.storage?.flush();
    await layers.lock?.release();
    layers.lock = undefined;
    this.#subscriptions.clear();
    this.events.closeAll();
    this.#state = "stopped";
  }
}

function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}
