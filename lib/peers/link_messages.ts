/**
 * The link-level messages the peer manager answers itself (HEARTBEAT, PEER_DISCOVERY, PEER_ANNOUNCEMENT): their
 * cheap checks before any verification, their answers, and this node's own queries with the answers each peer
 * then owes it. The rules are the pure functions of `liveness.ts` and `discovery.ts`; topic queries are
 * `topic_queries.ts`'s. The manager (`manager.ts`) routes these types here and every other one up.
 *
 * Only a peer's protocol violations ({@link ProtocolError}) cost it trust; a failure of kith's own code while
 * handling a peer's message is logged.
 *
 * @module
 */
import { bytesEqual, fromHex } from "../bytes.ts";
import type { Clock } from "../clock.ts";
import { ProtocolError } from "../errors.ts";
import type { Identity } from "../identity.ts";
import { errorFields, type LogSink } from "../log.ts";
import {
  createLinkMessage,
  type Envelope,
  type Message,
  type MessageCodec,
  MessageType,
  type PayloadByType,
  type PeerRecord,
} from "../protocol/mod.ts";
import { type RandomSource, shuffleInPlace } from "../random.ts";
import type { AddressBook } from "./book.ts";
import type { PeersConfig } from "./config.ts";
import { announceable, type AnswerCache, discoveryTargets, recordsFor, takeDiscoveryAnswer } from "./discovery.ts";
import type { AddressIntake } from "./intake.ts";
import { notePong, takeHeartbeatAnswer } from "./liveness.ts";
import type { TopicExchange } from "./topic_queries.ts";
import type { ActiveState, PeerStats } from "./types.ts";

/** What {@link LinkMessages} works with: the peer manager's components and its view of the active peers. */
export interface LinkMessagesContext {
  /** This node's identity (signs link messages). */
  readonly identity: Identity;
  /** The configuration in force. */
  readonly config: Readonly<PeersConfig>;
  /** Time source. */
  readonly clock: Clock;
  /** Randomness for the order of announced records and of whom discovery asks. */
  readonly random: RandomSource;
  /** Codec verifying link messages. */
  readonly codec: MessageCodec;
  /** The address book announcements go into and answers come from. */
  readonly book: AddressBook;
  /** The bound on what peers' announcements may add to the book. */
  readonly intake: AddressIntake;
  /** The cache of answers to PEER_DISCOVERY. */
  readonly answers: AnswerCache;
  /** Topic queries: their answers, and the records an answer to one carried. */
  readonly topicExchange: TopicExchange;
  /** The peer manager's counters (announcements dropped, topic answers). */
  readonly stats: PeerStats;
  /** The active peers by node id (read only here). */
  readonly active: ReadonlyMap<string, ActiveState>;
  /** Whether the dial policy permits an announced address. */
  permitsDial(address: string): boolean;
  /** Charges a peer's protocol violation (and disconnects it below the threshold). */
  penalise(nodeId: string, code: string): void;
  /** Where failures of kith's own code are logged. */
  readonly log: LogSink;
}

/** The peer manager's link messages: checked, answered, and sent. */
export class LinkMessages {
  readonly #ctx: LinkMessagesContext;
  #lastDiscovery = 0;

  /** Takes the manager's components. */
  constructor(context: LinkMessagesContext) {
    this.#ctx = context;
  }

  /** Takes a HEARTBEAT, PEER_DISCOVERY or PEER_ANNOUNCEMENT from `peer`, which `arrived` (ms) just now. */
  receive(peer: ActiveState, envelope: Envelope, arrived: number): void {
    const { config, clock, codec, intake, stats, book, topicExchange } = this.#ctx;
    let message: Message;
    try {
      if (!bytesEqual(envelope.origin, fromHex(peer.nodeId)!)) {
        throw new ProtocolError("BAD_FIELD", "link message from another origin");
      }
      // Cheap checks next: what would be dropped anyway is not verified (nor decoded).
      if (envelope.type === MessageType.PEER_ANNOUNCEMENT && !intake.wants(peer.nodeId, arrived)) {
        stats.announcementsDropped++;
        return;
      }
      // Which of the two allowances a query draws on is known once decoded: drop only when neither has room.
      const interval = config.discoveryMinIntervalMs;
      if (
        envelope.type === MessageType.PEER_DISCOVERY && arrived - peer.lastDiscoveryAnswered < interval &&
        arrived - peer.lastTopicDiscoveryAnswered < interval
      ) return;
      message = codec.verify(envelope, clock.now(), { linkPeer: peer.nodeId });
    } catch (error) {
      // Only the peer's own violations cost it trust; anything else is a bug here, not the peer's doing.
      if (error instanceof ProtocolError) this.#ctx.penalise(peer.nodeId, error.code);
      else this.#ctx.log("error", "link message check failed", { peer: peer.nodeId, ...errorFields(error) });
      return;
    }
    const now = clock.now();
    switch (message.type) {
      case MessageType.HEARTBEAT:
        if (message.payload.reply) notePong(peer, message.payload.seq, now);
        else if (takeHeartbeatAnswer(peer, now)) {
          this.send(peer, MessageType.HEARTBEAT, { seq: message.payload.seq, reply: true });
        }
        break;
      case MessageType.PEER_DISCOVERY: {
        const limit = Math.min(message.payload.limit, config.announcementSize);
        const topic = message.payload.topic ?? "";
        if (topic === "" && takeDiscoveryAnswer(peer, now, config)) {
          const peers = recordsFor(peer.connection.agent, this.answer(peer.nodeId, limit));
          this.send(peer, MessageType.PEER_ANNOUNCEMENT, { peers });
        } else if (topic !== "") {
          const peers = topicExchange.answer(peer, topic, limit);
          if (peers) {
            stats.topicAnswers++;
            this.send(peer, MessageType.PEER_ANNOUNCEMENT, { peers: recordsFor(peer.connection.agent, peers) });
          }
        }
        break;
      }
      case MessageType.PEER_ANNOUNCEMENT: {
        const records = message.payload.peers;
        const take = intake.take(peer.nodeId, records.length, now);
        const dialable = this.dialable(records);
        peer.announced = book.learn(dialable, peer.nodeId, peer.group.subnet, take);
        // Answers come in the order asked: this one answers the oldest query still open.
        const answering = peer.pendingAnswers.shift()?.topic;
        if (answering) topicExchange.answered(peer, answering, dialable, take);
        break;
      }
    }
  }

  /**
   * The announced records whose addresses the dial policy permits: the others are hearsay pointing where
   * this node must not connect, so they never enter the book (nor take its room from dialable ones).
   */
  dialable(records: readonly PeerRecord[]): PeerRecord[] {
    return records.filter((record) => this.#ctx.permitsDial(record.address));
  }

  /** Sends `peer` a link message of `type`. */
  send<T extends MessageType>(peer: ActiveState, type: T, payload: PayloadByType[T]): void {
    peer.connection.send(this.message(type, payload));
  }

  /** A link message of `type` from this node, stamped now. */
  message<T extends MessageType>(type: T, payload: PayloadByType[T]): Message<T> {
    return createLinkMessage(this.#ctx.identity, type, payload, { timestamp: this.#ctx.clock.now() });
  }

  /** Sends `peer` a PEER_DISCOVERY and notes the request, so its answer is taken (once, up to the limit). */
  ask(peer: ActiveState, now: number): void {
    peer.lastDiscoveryAsked = now;
    this.expectAnswer(peer, "", now);
    this.send(peer, MessageType.PEER_DISCOVERY, { limit: this.#ctx.config.announcementSize });
  }

  /** Notes that `peer` owes an answer to a query about `topic` (`""`: an ordinary one), taken as solicited. */
  expectAnswer(peer: ActiveState, topic: string, now: number): void {
    const { config, intake } = this.#ctx;
    // A query unanswered for a peer timeout is no longer expected (as the intake forgets it).
    const open = peer.pendingAnswers.filter((query) => now - query.at <= config.peerTimeoutMs);
    open.push({ topic, at: now });
    peer.pendingAnswers = open.slice(-2);
    intake.asked(peer.nodeId, config.announcementSize, now);
  }

  /** The (cached) answer to a request for peers from `requester`, at most `limit` records. */
  answer(requester: string, limit: number): PeerRecord[] {
    return this.#ctx.answers.answer(requester, limit, this.#ctx.clock.now(), (max) => this.#announceable("", max));
  }

  /** Asks the peers {@link discoveryTargets} names for theirs, when discovery is due. */
  discover(): void {
    const { clock, active, config } = this.#ctx;
    const now = clock.now();
    const targets = discoveryTargets(
      active.values(),
      active.size,
      now,
      this.#lastDiscovery,
      config,
      (items) => this.#shuffled(items),
    );
    if (targets === undefined) return;
    this.#lastDiscovery = now;
    for (const peer of targets) this.ask(peer, now);
  }

  #announceable(requester: string, limit: number): PeerRecord[] {
    const { clock, active, book, config } = this.#ctx;
    return announceable(
      requester,
      limit,
      clock.now(),
      active.values(),
      book.values(),
      (nodeId) => book.get(nodeId)?.address ?? "",
      config,
      (items) => this.#shuffled(items),
    );
  }

  #shuffled<T>(items: T[]): T[] {
    return shuffleInPlace(items, this.#ctx.random);
  }
}
