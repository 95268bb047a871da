/**
 * Catch-up between peers (issue 25): when two peers in a topic get a link, when this node joins a topic, and
 * every `intervalMs` with one of the topic's peers, they reconcile the ids they hold for the topic's window
 * ({@link ReconcileSessions}); the bodies one lacks are then fetched from peers that said they hold them
 * ({@link CatchupFetcher}), checked, and handed to a {@link CatchupSink}; this node answers its peers'
 * fetches from its log ({@link CatchupServer}).
 *
 * Only with peers whose handshake agent announces `catchup/1`: an older kith is sent nothing new, and what
 * it would send of these types it does not speak. Of two peers that link, the one with the lower node id
 * starts (the other answers), so a link costs one session per topic.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { toHex } from "../bytes.ts";
import { KithError, ProtocolError } from "../errors.ts";
import type { Identity } from "../identity.ts";
import { errorFields, type LogSink } from "../log.ts";
import {
  createLinkMessage,
  type Envelope,
  type MessageCodec,
  MessageType,
  type PayloadByType,
} from "../protocol/mod.ts";
import type { RandomSource } from "../random.ts";
import type { CatchupConfig } from "./config.ts";
import { CatchupFetcher, type CatchupSink } from "./fetcher.ts";
import type { TopicLog } from "./log.ts";
import { CatchupServer } from "./server.ts";
import { ReconcileSessions } from "./sessions.ts";
import { type CatchupStats, emptyCatchupStats } from "./stats.ts";

/** The catch-up message types. */
export const CATCHUP_TYPES: ReadonlySet<number> = new Set<number>([
  MessageType.CATCHUP_RECONCILE,
  MessageType.CATCHUP_FETCH,
  MessageType.CATCHUP_BODIES,
]);

/** How often sessions and fetches are checked for time-outs, ms. */
const SWEEP_MS = 1_000;

/**
 * After a fetch brought new messages of a topic, this node reconciles with the topic's other peers this much
 * later (what came in meanwhile goes in the same sessions), so that what one node caught up spreads hop by hop
 * instead of waiting for the periodic round; the session allowances bound how often.
 */
const SPREAD_DELAY_MS = 500;

/** What catch-up is made of. */
export interface CatchupOptions {
  /** This node's identity: signs nothing, but is the origin of its link messages. */
  identity: Identity;
  /** Time and timers. */
  clock: Clock;
  /** Randomness: session ids, the peer of a periodic session. */
  random: RandomSource;
  /** Checks link messages and fetched bodies. */
  codec: MessageCodec;
  /** The settings in force (resolved). */
  config: Readonly<CatchupConfig>;
  /** The topic log reconciled and served. */
  log: TopicLog;
  /** Where verified fetched messages go. */
  sink: CatchupSink;
  /** Oldest timestamp kept of `topic`, ms before now (its retention's age bound). */
  windowMs(topic: string): number;
  /** The largest application payload of `topic`. */
  maxMessageBytes(topic: string): number;
  /** The named topics this node is in. */
  joined(): readonly string[];
  /** Connected peers that said they are in `topic` (node ids). */
  peersIn(topic: string): readonly string[];
  /** Whether the connected peer `nodeId` takes catch-up (announces `catchup/1`). */
  speaks(nodeId: string): boolean;
  /** Sends encoded envelope bytes to a connected peer; false when it is not connected. */
  send(nodeId: string, bytes: Uint8Array): boolean;
  /** Costs a peer trust by `code`. */
  penalise(nodeId: string, code: string): void;
  /** Closes the link to a peer, saying why. */
  disconnect(nodeId: string, detail: string): void;
  /** Where failures are logged. */
  logSink: LogSink;
}

/** Catch-up of one node. */
export class CatchupSync {
  /** Counters. */
  readonly stats: CatchupStats = emptyCatchupStats();
  /** The settings in force. */
  readonly config: Readonly<CatchupConfig>;
  readonly #options: CatchupOptions;
  readonly #sessions: ReconcileSessions;
  readonly #fetcher: CatchupFetcher;
  readonly #server: CatchupServer;
  readonly #localId: string;
  #sweep: TimerId | undefined;
  // topic -> the pending spread of what was fetched, and the peers that served it
  readonly #spreads = new Map<string, { timer: TimerId; from: Set<string> }>();
  #periodic: TimerId | undefined;
  #running = false;

  /** Catch-up over `options`; {@link CatchupSync.start} starts its rounds. */
  constructor(options: CatchupOptions) {
    this.#options = options;
    this.config = options.config;
    this.#localId = options.identity.nodeId;
    const { config, log, clock } = options;
    const windowStart = (topic: string, now: number) => now - options.windowMs(topic);
    const isIn = (topic: string) => options.joined().includes(topic);
    const penalise = (peer: string, code: string) => options.penalise(peer, code);
    this.#sessions = new ReconcileSessions({
      config,
      log,
      windowStart,
      isIn,
      send: (peer, payload) => this.#send(peer, MessageType.CATCHUP_RECONCILE, payload),
      claim: (peer, topic, ids) => this.#fetcher.claim(peer, topic, ids, clock.now()),
      penalise,
      random: options.random,
      stats: this.stats,
    });
    this.#fetcher = new CatchupFetcher({
      config,
      codec: options.codec,
      log,
      sink: options.sink,
      windowStart,
      maxMessageBytes: options.maxMessageBytes,
      send: (peer, payload) => this.#send(peer, MessageType.CATCHUP_FETCH, payload),
      penalise,
      cutOff: (peer, detail) => options.disconnect(peer, detail),
      onFetched: (topic, from) => this.#spread(topic, from),
      stats: this.stats,
    });
    this.#server = new CatchupServer({
      config,
      clock,
      log,
      isIn,
      send: (peer, payload) => {
        // Bodies fetched give back their ids to the peer's allowance of ids told of in `have`.
        this.#sessions.served(peer, payload.bodies.length);
        this.#send(peer, MessageType.CATCHUP_BODIES, payload);
      },
      penalise,
      stats: this.stats,
    });
  }

  /** Sessions open and ids wanted and in flight now (for status displays). */
  get progress(): { sessions: number; wanted: number; inFlight: number } {
    return { sessions: this.#sessions.open, wanted: this.#fetcher.wanted, inFlight: this.#fetcher.inFlight };
  }

  /** Starts the time-out sweep and the periodic sessions. */
  start(): void {
    if (this.#running || !this.#options.config.enabled) return;
    this.#running = true;
    this.#scheduleSweep();
    this.#schedulePeriodic();
  }

  /** Stops every timer. Idempotent. */
  stop(): void {
    this.#running = false;
    const { clock } = this.#options;
    if (this.#sweep !== undefined) clock.clearTimeout(this.#sweep);
    if (this.#periodic !== undefined) clock.clearTimeout(this.#periodic);
    this.#sweep = this.#periodic = undefined;
    for (const { timer } of this.#spreads.values()) clock.clearTimeout(timer);
    this.#spreads.clear();
    this.#server.stop();
  }

  /**
   * A peer's topics changed (or it told them on a new link): of each topic both are in with no session open,
   * the peer with the lower node id starts one.
   */
  peerTopics(nodeId: string): void {
    if (!this.#running || this.#localId > nodeId || !this.#options.speaks(nodeId)) return;
    for (const topic of this.#options.joined()) {
      if (this.#options.peersIn(topic).includes(nodeId)) this.#start(nodeId, topic);
    }
  }

  /** This node joined `topic`: it reconciles with up to `joinPeers` of the topic's peers. */
  joined(topic: string): void {
    if (!this.#running) return;
    const peers = this.#options.peersIn(topic).filter((peer) => this.#options.speaks(peer));
    for (const peer of this.#pick(peers, this.#options.config.joinPeers)) this.#start(peer, topic);
  }

  /** Starts a session now with `peer` about `topic` (for tests and tools); false when one is open or refused. */
  reconcileNow(peer: string, topic: string): boolean {
    return this.#running && this.#options.speaks(peer) && this.#start(peer, topic);
  }

  /** A peer disconnected: its sessions, fetches and queue go. */
  peerDisconnected(nodeId: string): void {
    const now = this.#options.clock.now();
    this.#sessions.peerDisconnected(nodeId);
    this.#fetcher.peerDisconnected(nodeId, now);
    this.#server.peerDisconnected(nodeId);
  }

  /** Takes a catch-up envelope from `peer`: checked as a link message, then handled by its type. */
  receive(peer: string, envelope: Envelope): void {
    const { codec, clock, logSink } = this.#options;
    if (!this.#running || !this.#options.speaks(peer)) {
      // Not spoken here (disabled) or by the peer's own account: as any type a node does not speak.
      this.#options.penalise(peer, "UNKNOWN_TYPE");
      return;
    }
    const size = codec.encode(envelope).length;
    const reconcile = envelope.type === MessageType.CATCHUP_RECONCILE;
    if (reconcile) this.stats.reconcileBytesReceived += size;
    else this.stats.bodyBytesReceived += size;
    try {
      // The peer's own, as a link message: one signed by another node and relayed says nothing of this link.
      if (toHex(envelope.origin) !== peer) {
        throw new ProtocolError("BAD_FIELD", "a catch-up message must be the sender's own link message");
      }
      const message = codec.verify(envelope, clock.now(), { linkPeer: peer });
      const now = clock.now();
      if (message.type === MessageType.CATCHUP_RECONCILE) this.#sessions.receive(peer, message.payload, now);
      else if (message.type === MessageType.CATCHUP_FETCH) this.#server.receive(peer, message.payload);
      else if (message.type === MessageType.CATCHUP_BODIES) this.#fetcher.receive(peer, message.payload, now);
    } catch (error) {
      if (error instanceof KithError) this.#options.penalise(peer, error.code);
      else logSink("error", "catch-up message failed", { peer: peer.slice(0, 16), ...errorFields(error) });
    }
  }

  /** New messages of `topic` came from `from`: the topic's other peers are reconciled with shortly. */
  #spread(topic: string, from: string): void {
    const pending = this.#spreads.get(topic);
    if (pending) {
      pending.from.add(from);
      return;
    }
    const timer = this.#options.clock.setTimeout(() => {
      const spread = this.#spreads.get(topic);
      this.#spreads.delete(topic);
      if (!this.#running || !this.#options.joined().includes(topic)) return;
      for (const peer of this.#options.peersIn(topic)) {
        if (!spread?.from.has(peer) && this.#options.speaks(peer)) this.#start(peer, topic);
      }
    }, SPREAD_DELAY_MS);
    this.#spreads.set(topic, { timer, from: new Set([from]) });
  }

  #start(peer: string, topic: string): boolean {
    return this.#sessions.start(peer, topic, this.#options.clock.now());
  }

  #send<T extends MessageType>(peer: string, type: T, payload: PayloadByType[T]): boolean {
    const { identity, clock, codec } = this.#options;
    const bytes = codec.encode(createLinkMessage(identity, type, payload, { timestamp: clock.now() }));
    if (type === MessageType.CATCHUP_RECONCILE) this.stats.reconcileBytesSent += bytes.length;
    else this.stats.bodyBytesSent += bytes.length;
    return this.#options.send(peer, bytes);
  }

  #scheduleSweep(): void {
    this.#sweep = this.#options.clock.setTimeout(() => {
      if (!this.#running) return;
      const now = this.#options.clock.now();
      try {
        this.#sessions.expire(now);
        this.#fetcher.expire(now);
      } catch (error) {
        this.#options.logSink("error", "catch-up sweep failed", errorFields(error));
      }
      this.#scheduleSweep();
    }, SWEEP_MS);
  }

  /** Every `intervalMs`, each topic is reconciled with one of its peers, chosen at random. */
  #schedulePeriodic(): void {
    this.#periodic = this.#options.clock.setTimeout(() => {
      if (!this.#running) return;
      try {
        for (const topic of this.#options.joined()) {
          const peers = this.#options.peersIn(topic).filter((peer) => this.#options.speaks(peer));
          for (const peer of this.#pick(peers, 1)) this.#start(peer, topic);
        }
      } catch (error) {
        this.#options.logSink("error", "catch-up round failed", errorFields(error));
      }
      this.#schedulePeriodic();
    }, this.#options.config.intervalMs);
  }

  /** Up to `count` of `peers`, at random. */
  #pick(peers: readonly string[], count: number): string[] {
    const pool = [...peers];
    const out: string[] = [];
    while (out.length < count && pool.length > 0) {
      const i = Math.floor(this.#options.random() * pool.length);
      out.push(pool[i]);
      pool[i] = pool[pool.length - 1];
      pool.pop();
    }
    return out;
  }
}
