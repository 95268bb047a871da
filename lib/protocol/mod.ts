/**
 * The wire protocol: message types, their payload schemas, and the signed
 * envelope that carries them. docs/protocol.md is the specification; this
 * module is its reference implementation.
 *
 * An envelope is a MessagePack array of seven elements:
 *
 * ```
 * [version, type, publicKey, timestamp, ttl, payload, signature]
 * ```
 *
 * `payload` is the MessagePack encoding of the type's payload schema (a
 * positional array), carried as a byte string so that the signed bytes are
 * exactly the bytes on the wire. The origin (node id) is the SHA-256 of the
 * public key, and the message id the SHA-256 of everything but the TTL and
 * the signature; neither is sent, the receiver computes both. The origin
 * signs the id; each hop decrements the TTL without touching the signature.
 *
 * Decoding is strict and bounded: every refusal is a {@link ProtocolError}
 * with a code, and no length read from the wire allocates more than the
 * configured limits.
 *
 * The layer's files, lowest first: `limits.ts` (wire bounds and
 * {@link ProtocolLimits}), `payloads.ts` and `service_payloads.ts` (the
 * payload types), `types.ts` (type codes, the payload of each, envelope
 * types), `schema.ts` (payload schemas and their checks), `message.ts`
 * (ids, {@link createMessage}, {@link createLinkMessage}), `codec.ts`
 * ({@link MessageCodec}).
 *
 * @example A signed message through the codec
 * ```ts
 * import { Identity } from "../identity.ts";
 * import { createMessage, MessageCodec, MessageType } from "./mod.ts";
 *
 * const me = Identity.generate();
 * const message = createMessage(me, MessageType.CUSTOM_DATA, { topic: "chat", data: new Uint8Array([1, 2]) });
 * const codec = new MessageCodec();
 * const received = codec.decode(codec.encode(message), Date.now());
 * if (received.type === MessageType.CUSTOM_DATA) console.log(received.payload.topic); // "chat"
 * ```
 *
 * @module
 */
export {
  DEFAULT_PROTOCOL_LIMITS,
  MAX_DIGEST_IDS,
  MAX_PEER_LIST,
  MAX_PREDECESSORS,
  MAX_REQUEST_ID,
  MAX_TOPIC_BYTES,
  MAX_TOPICS_PER_PEER,
  MAX_WIRE_TTL,
  type ProtocolLimits,
} from "./limits.ts";
export {
  type ApplicationPayload,
  type CatchupBodiesPayload,
  type CatchupFetchPayload,
  type CatchupRangeFields,
  type CatchupReconcilePayload,
  type DhtProviderFields,
  type DhtRecordFields,
  type DhtRequestPayload,
  type DhtResponsePayload,
  type DialBackRequestPayload,
  type DialBackResponsePayload,
  DialBackStatus,
  type DirectMessagePayload,
  type DisconnectPayload,
  DisconnectReason,
  type Envelope,
  type GossipDigestPayload,
  type HandshakeAckPayload,
  type HandshakeConfirmPayload,
  type HandshakePayload,
  type HeartbeatPayload,
  type HolePunchPayload,
  LINK_AUTHENTICATED_TYPES,
  MAX_CATCHUP_BODIES,
  MAX_CATCHUP_BODY_BYTES,
  MAX_CATCHUP_FETCH_IDS,
  MAX_CATCHUP_MESSAGE_IDS,
  MAX_CATCHUP_RANGE_IDS,
  MAX_CATCHUP_RANGES,
  MAX_DHT_CONTACTS,
  MAX_PROTOCOL_NAME_BYTES,
  MAX_PUNCH_ADDRESSES,
  type Message,
  MESSAGE_TYPE_NAMES,
  MessageType,
  type ObservedAddressPayload,
  type PayloadByType,
  type PeerAnnouncementPayload,
  type PeerDiscoveryPayload,
  type PeerListRequestPayload,
  type PeerRecord,
  PROTOCOL_VERSION,
  RELAY_TOKEN_BYTES,
  type RelayCircuitPayload,
  type RelayConnectPayload,
  type RelayReservationPayload,
  type RelayReservePayload,
  RelayStatus,
  type RequestPayload,
  type ResponsePayload,
  ResponseStatus,
  type TopicSubscriptionsPayload,
  type TrustedPeersResponsePayload,
  type TrustRecord,
  type TrustUpdatePayload,
} from "./types.ts";
export { encodePayload, isProtocolName } from "./schema.ts";
export { computeMessageId, createLinkMessage, createMessage, type CreateMessageOptions, originHex } from "./message.ts";
export { type LogVerifyOptions, MessageCodec, type VerifyOptions } from "./codec.ts";
