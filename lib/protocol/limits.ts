/**
 * The protocol's bounds: the fixed wire limits every node shares (list
 * lengths, topic size, TTL range) and the configurable {@link ProtocolLimits}
 * a codec decodes under.
 *
 * @module
 */

/** Longest peer list in any message. */
export const MAX_PEER_LIST = 64;
/** Longest topic, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 255;
/** Most topics one peer is counted in, and most names in one list of a TOPIC_SUBSCRIPTIONS message. */
export const MAX_TOPICS_PER_PEER = 64;
/** Most message ids in one list of a GOSSIP_MESSAGE digest. */
export const MAX_DIGEST_IDS = 256;

/**
 * Most predecessor ids a CUSTOM_DATA names (`after`, the origin's latest messages in the topic when it
 * published): enough for the concurrent branches a topic's writers make in one gossip round, small enough that
 * checking them costs little (docs/design.md, "Causal order").
 */
export const MAX_PREDECESSORS = 8;

/** Largest REQUEST/RESPONSE correlation id. */
export const MAX_REQUEST_ID = 2 ** 32 - 1;

/** Largest TTL the wire format carries. */
export const MAX_WIRE_TTL = 255;

/** Limits applied when decoding. Every field is a bound an attacker cannot exceed. */
export interface ProtocolLimits {
  /** Largest encoded payload accepted, in bytes. Default 256 KiB; must fit the frame size. */
  maxPayloadBytes: number;
  /** Received TTLs above this are clamped to it. Default 16. */
  maxTtl: number;
  /** Oldest acceptable timestamp, ms before now. Default 5 minutes; the dedup window must cover it. */
  maxMessageAgeMs: number;
  /** Furthest acceptable timestamp, ms after now (clock skew). Default 30 seconds. */
  maxClockSkewMs: number;
}

/** The default {@link ProtocolLimits}. */
export const DEFAULT_PROTOCOL_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxPayloadBytes: 256 * 1024,
  maxTtl: 16,
  maxMessageAgeMs: 5 * 60_000,
  maxClockSkewMs: 30_000,
});
