/**
 * The link side of direct traffic (DIRECT_MESSAGE, REQUEST, RESPONSE): which peers may be sent it (active,
 * announcing {@link DIRECT_CAPABILITY}), signing and sending it at TTL 0 over the peer's encrypted link, the
 * per-peer rate each way, and the checks on every incoming envelope before anything reads it: from the
 * link's own peer (never forwarded), TTL 0, signed, within the peer's rate and the size limit, then the
 * codec's full verification. A peer's violation costs it trust, by code.
 *
 * @module
 */
import { bytesEqual, fromHex } from "../bytes.ts";
import type { Clock } from "../clock.ts";
import { ProtocolError } from "../errors.ts";
import type { Identity } from "../identity.ts";
import { errorFields, type LogSink } from "../log.ts";
import type { ActivePeer } from "../peers/types.ts";
import {
  createMessage,
  type Envelope,
  type Message,
  MESSAGE_TYPE_NAMES,
  type MessageCodec,
  MessageType,
  type PayloadByType,
} from "../protocol/mod.ts";
import { TokenBucket } from "../ratelimit.ts";
import type { TrustModel } from "../trust.ts";
import { DIRECT_CAPABILITY } from "../version.ts";
import type { DirectConfig } from "./config.ts";
import { DirectError } from "./errors.ts";

/** The message types of direct traffic: routed to the direct channel, never to gossip. */
export const DIRECT_TYPES: ReadonlySet<number> = new Set<number>([
  MessageType.DIRECT_MESSAGE,
  MessageType.REQUEST,
  MessageType.RESPONSE,
]);

/** Whether a handshake agent announces {@link DIRECT_CAPABILITY} (a space-separated token after the name). */
export function supportsDirect(agent: string): boolean {
  return agent.split(" ").includes(DIRECT_CAPABILITY);
}

/**
 * A peer over its rate loses trust at most this often, ms, as in gossip: TCP hands over in one go what a
 * stalled link held up, so an honest sender that kept to the rate can arrive over it by as many messages
 * as the stall lasted; one burst costs one penalty, not one per envelope.
 */
const RATE_PENALTY_INTERVAL_MS = 1_000;

/** Room for the payload's own MessagePack framing around the data, bytes. */
const PAYLOAD_OVERHEAD = 512;

/** Counters of direct traffic. */
export interface DirectStats {
  /** DIRECT_MESSAGEs, REQUESTs and RESPONSEs sent. */
  sent: number;
  /** ... received and accepted. */
  received: number;
  /** ... received and refused, with a trust penalty for the peer. */
  invalid: number;
  /** ... received over the peer's rate (dropped; penalised `RATE_LIMITED` at most once a second). */
  rateLimited: number;
  /**
   * DIRECT_MESSAGEs received over this node's `maxDirectMessageBytes`: dropped unverified and unpenalised, since
   * a peer configured with a larger limit cannot know this one's.
   */
  oversized: number;
}

/** What {@link DirectLink} works with. */
export interface DirectLinkOptions {
  /** Signs what is sent. */
  identity: Identity;
  /** Verifies what arrives. */
  codec: MessageCodec;
  /** The node's clock. */
  clock: Clock;
  /** Charged with a peer's violations. */
  trust: Pick<TrustModel, "recordInvalid">;
  /** The active peers. */
  activePeer: (nodeId: string) => ActivePeer | undefined;
  /** The settings in force. */
  config: Readonly<DirectConfig>;
  /** For failures of this node's own code. */
  log: LogSink;
}

/** Sending and checking direct traffic on one node's links. */
export class DirectLink {
  /** Counters. */
  readonly stats: DirectStats = { sent: 0, received: 0, invalid: 0, rateLimited: 0, oversized: 0 };
  readonly #options: DirectLinkOptions;
  readonly #inbound = new Map<string, TokenBucket>();
  /** When each peer was last penalised for its rate, ms. */
  readonly #ratePenaltyAt = new Map<string, number>();
  readonly #outbound = new Map<string, TokenBucket>();

  /** Creates the link side over `options`. */
  constructor(options: DirectLinkOptions) {
    this.#options = options;
  }

  /**
   * The active peer `nodeId`, if direct traffic may go to it.
   *
   * @throws {DirectError} `NOT_A_PEER` or `PEER_UNSUPPORTED`
   */
  peer(nodeId: string): ActivePeer {
    const peer = this.#options.activePeer(nodeId);
    if (peer === undefined) {
      throw new DirectError(
        "NOT_A_PEER",
        `${nodeId.slice(0, 16)} is not a connected peer (reaching other nodes through the DHT is not built yet)`,
      );
    }
    if (!supportsDirect(peer.connection.agent)) {
      throw new DirectError(
        "PEER_UNSUPPORTED",
        `${nodeId.slice(0, 16)} runs "${peer.connection.agent}", which does not announce ${DIRECT_CAPABILITY}`,
      );
    }
    return peer;
  }

  /**
   * Takes one of this node's sending tokens for `peer` (the same rate the peer holds this node to).
   *
   * @throws {DirectError} `RATE_LIMITED`
   */
  takeSendToken(peer: ActivePeer): void {
    if (!this.#bucket(this.#outbound, peer.nodeId).take(this.#options.clock.now())) {
      throw new DirectError(
        "RATE_LIMITED",
        `already sent ${
          peer.nodeId.slice(0, 16)
        } the ${this.#options.config.messagesPerSecond} direct messages and requests a second its rate allows`,
      );
    }
  }

  /**
   * Signs and sends a message of direct traffic to `peer`, TTL 0.
   *
   * @throws {DirectError} `QUEUE_FULL` when the link's send queue is full
   */
  send<T extends MessageType>(peer: ActivePeer, type: T, payload: PayloadByType[T]): void {
    const { identity, clock } = this.#options;
    const message = createMessage(identity, type, payload, { ttl: 0, timestamp: clock.now() });
    if (!peer.connection.send(message)) {
      throw new DirectError("QUEUE_FULL", `the link to ${peer.nodeId.slice(0, 16)} has a full send queue`);
    }
    this.stats.sent++;
  }

  /**
   * Checks an envelope of direct traffic from `peer` and verifies it; returns the message, or `undefined`
   * when it was refused (the peer penalised by the error's code). `rated` false skips the rate (a RESPONSE
   * to a request this node has in flight: this node asked for it).
   */
  accept(peer: ActivePeer, envelope: Envelope, rated = true): Message | undefined {
    const { codec, clock, trust, config } = this.#options;
    const name = MESSAGE_TYPE_NAMES[envelope.type];
    try {
      // Cheap checks first: nothing refused here costs a signature check.
      if (!bytesEqual(envelope.origin, fromHex(peer.nodeId)!)) {
        throw new ProtocolError("BAD_FIELD", `${name} from another origin: direct traffic is never forwarded`);
      }
      if (envelope.ttl !== 0) throw new ProtocolError("BAD_FIELD", `${name} with TTL ${envelope.ttl}, not 0`);
      if (envelope.signature.length === 0) throw new ProtocolError("UNSIGNED", `${name} must be signed`);
      const now = clock.now();
      if (rated && !this.#bucket(this.#inbound, peer.nodeId).take(now)) {
        this.stats.rateLimited++;
        if (now - (this.#ratePenaltyAt.get(peer.nodeId) ?? -Infinity) >= RATE_PENALTY_INTERVAL_MS) {
          this.#ratePenaltyAt.set(peer.nodeId, now);
          trust.recordInvalid(peer.nodeId, "RATE_LIMITED");
        }
        return undefined;
      }
      const limit = envelope.type === MessageType.DIRECT_MESSAGE
        ? config.maxDirectMessageBytes
        : envelope.type === MessageType.REQUEST
        ? config.maxRequestBytes
        : config.maxResponseBytes;
      // A REQUEST over the limit is answered TOO_LARGE (its sender cannot know this node's limit), and a
      // RESPONSE this node asked for (unrated) fails its request TOO_LARGE, unpenalised for the same reason,
      // as long as the envelope fits the codec; others over it are refused here.
      const exempt = envelope.type === MessageType.REQUEST || (envelope.type === MessageType.RESPONSE && !rated);
      // A DIRECT_MESSAGE over this node's limit is dropped and counted: its sender may have a larger limit and
      // has no way to learn this one's, so it is not a violation (the rate above bounds what it costs).
      const oversized = (length: number) => {
        this.stats.oversized++;
        this.#options.log("debug", "direct message over maxDirectMessageBytes dropped", { peer: peer.nodeId, length });
        return undefined;
      };
      if (envelope.type === MessageType.DIRECT_MESSAGE && envelope.payloadBytes.length > limit + PAYLOAD_OVERHEAD) {
        return oversized(envelope.payloadBytes.length);
      }
      if (!exempt && envelope.payloadBytes.length > limit + PAYLOAD_OVERHEAD) {
        throw new ProtocolError("PAYLOAD_TOO_LARGE", `${name} of ${envelope.payloadBytes.length} bytes over ${limit}`);
      }
      const message = codec.verify(envelope, clock.now());
      if (message.type === MessageType.DIRECT_MESSAGE && message.payload.data.length > limit) {
        return oversized(message.payload.data.length);
      }
      this.stats.received++;
      return message;
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.stats.invalid++;
        trust.recordInvalid(peer.nodeId, error.code);
      } else this.#options.log("error", "direct message check failed", { peer: peer.nodeId, ...errorFields(error) });
      return undefined;
    }
  }

  /** Forgets a peer's rate state (it disconnected). */
  forget(nodeId: string): void {
    this.#inbound.delete(nodeId);
    this.#outbound.delete(nodeId);
    this.#ratePenaltyAt.delete(nodeId);
  }

  #bucket(buckets: Map<string, TokenBucket>, nodeId: string): TokenBucket {
    let bucket = buckets.get(nodeId);
    if (bucket === undefined) {
      const { config, clock } = this.#options;
      bucket = new TokenBucket(config.messagesPerSecond, config.messageBurst, clock.now());
      buckets.set(nodeId, bucket);
    }
    return bucket;
  }
}
