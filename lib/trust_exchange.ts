/**
 * Transitive trust between neighbours: now and then a node asks one random
 * active peer for its most trusted peers (TRUSTED_PEERS_REQUEST, link-level,
 * TTL 0) and records the answer as that peer's recommendations; it answers
 * such requests itself at most once a minute per peer. An answer counts only
 * when this node asked that peer and has not had its answer yet, within
 * {@link ANSWER_TIMEOUT_MS}: an unsolicited TRUSTED_PEERS_RESPONSE changes
 * nothing, so a peer cannot push recommendations at will. A TRUST_UPDATE is
 * a recommendation nobody asked for, so it is counted as unsolicited and
 * changes nothing either (the reference node never sends one). The trust
 * model decides what a recommendation is worth (see lib/trust.ts: only to
 * the subject's recommended component, never to its earned trust).
 *
 * @module
 */
import { fromHex, toHex } from "./bytes.ts";
import type { Clock, TimerId } from "./clock.ts";
import type { GossipProtocol, GossipSender } from "./gossip/mod.ts";
import type { Identity } from "./identity.ts";
import { createMessage, MAX_PEER_LIST, type Message, MessageType } from "./protocol/mod.ts";
import type { RandomSource } from "./random.ts";
import type { Connection } from "./transport/types.ts";
import type { TrustModel } from "./trust.ts";

/** Peers asked for in each TRUSTED_PEERS_REQUEST. */
const REQUEST_LIMIT = 16;
/** Shortest time between two answers to one peer, ms: asking more often buys it nothing. */
const ANSWER_INTERVAL_MS = 60_000;
/** How long an asked peer's answer is awaited, ms; a later one is unsolicited. */
export const ANSWER_TIMEOUT_MS = 30_000;

/** The active peers, as the exchange needs them. */
export interface ExchangePeers {
  /** Peers with an open connection. */
  activePeers(): readonly { readonly nodeId: string; readonly connection: Connection }[];
  /** The active peer with this id. */
  activePeer(nodeId: string): { readonly connection: Connection } | undefined;
}

/** What {@link TrustExchange} works with. */
export interface TrustExchangeOptions {
  /** This node's identity (signs requests and answers). */
  identity: Identity;
  /** The active peers. */
  peers: ExchangePeers;
  /** Where recommendations are recorded and whose trust is reported. */
  trust: TrustModel;
  /** Time and timers. */
  clock: Clock;
  /** Picks the peer to ask. */
  random: RandomSource;
  /** How often to ask, ms. */
  intervalMs: number;
  /** Peers whose last answer time is remembered (the oldest is forgotten past it). */
  maxAnswered: number;
}

/** Asks for, answers and records neighbours' trust recommendations. */
export class TrustExchange {
  readonly #options: TrustExchangeOptions;
  readonly #answered = new Map<string, number>();
  /** The peer asked last and when: the only answer that counts. One request is out at a time. */
  #asked: { nodeId: string; at: number } | undefined;
  #unsolicited = 0;
  #timer: TimerId | undefined;
  #running = false;

  /** Creates the exchange; {@link TrustExchange.start} begins asking. */
  constructor(options: TrustExchangeOptions) {
    this.#options = options;
  }

  /**
   * Recommendations refused because this node had not asked their sender for them: TRUSTED_PEERS_RESPONSEs
   * it did not ask for (or had its answer to already), and every TRUST_UPDATE.
   */
  get unsolicitedAnswers(): number {
    return this.#unsolicited;
  }

  /** Registers the handlers of TRUST_UPDATE, TRUSTED_PEERS_REQUEST and TRUSTED_PEERS_RESPONSE. */
  register(gossip: GossipProtocol): void {
    gossip.registerHandler(MessageType.TRUST_UPDATE, (message, from) => this.#onUpdate(message, from));
    gossip.registerHandler(MessageType.TRUSTED_PEERS_REQUEST, (message, from) => this.#onRequest(message, from));
    gossip.registerHandler(MessageType.TRUSTED_PEERS_RESPONSE, (message, from) => this.#onResponse(message, from));
  }

  /** Asks one random active peer every interval. */
  start(): void {
    this.#running = true;
    this.#schedule();
  }

  /** Stops asking. Idempotent. */
  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    const { clock, intervalMs } = this.#options;
    this.#timer = clock.setTimeout(() => {
      if (!this.#running) return;
      const active = this.#options.peers.activePeers();
      if (active.length > 0) {
        const peer = active[Math.floor(this.#options.random() * active.length)];
        this.#asked = { nodeId: peer.nodeId, at: clock.now() };
        peer.connection.send(
          createMessage(this.#options.identity, MessageType.TRUSTED_PEERS_REQUEST, { limit: REQUEST_LIMIT }, {
            ttl: 0,
            timestamp: clock.now(),
          }),
        );
      }
      this.#schedule();
    }, intervalMs);
  }

  /** A TRUST_UPDATE is pushed, never asked for: counted, and recorded nowhere. */
  #onUpdate(message: Message, _from: GossipSender): void {
    if (message.type !== MessageType.TRUST_UPDATE) return;
    this.#unsolicited++;
  }

  #onRequest(message: Message, from: GossipSender): void {
    if (message.type !== MessageType.TRUSTED_PEERS_REQUEST || toHex(message.origin) !== from.nodeId) return;
    const { clock, peers, trust } = this.#options;
    const now = clock.now();
    if (now - (this.#answered.get(from.nodeId) ?? -Infinity) < ANSWER_INTERVAL_MS) return;
    this.#answered.set(from.nodeId, now);
    if (this.#answered.size > this.#options.maxAnswered) this.#answered.delete(this.#answered.keys().next().value!);
    const peer = peers.activePeer(from.nodeId);
    if (!peer) return;
    const ranked = peers.activePeers()
      .filter((p) => p.nodeId !== from.nodeId)
      .map((p) => ({ nodeId: p.nodeId, trust: trust.trust(p.nodeId) }))
      .sort((a, b) => b.trust - a.trust)
      .slice(0, Math.min(message.payload.limit, MAX_PEER_LIST));
    peer.connection.send(createMessage(this.#options.identity, MessageType.TRUSTED_PEERS_RESPONSE, {
      peers: ranked.map((r) => ({ nodeId: fromHex(r.nodeId)!, trust: r.trust })),
    }, { ttl: 0, timestamp: now }));
  }

  #onResponse(message: Message, from: GossipSender): void {
    if (message.type !== MessageType.TRUSTED_PEERS_RESPONSE || toHex(message.origin) !== from.nodeId) return;
    const asked = this.#asked;
    if (asked?.nodeId !== from.nodeId || this.#options.clock.now() - asked.at > ANSWER_TIMEOUT_MS) {
      this.#unsolicited++;
      return;
    }
    this.#asked = undefined; // one answer per request
    for (const record of message.payload.peers) {
      this.#options.trust.recordRecommendation(from.nodeId, toHex(record.nodeId), record.trust);
    }
  }
}
