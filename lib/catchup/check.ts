/**
 * The checks a fetched body passes before it is used, cheapest first: it parses, it is one of the ids asked of
 * that peer, it is an application message of the topic fetched, its size is within the topic's largest
 * message, its timestamp is within this node's window and not in the future; only then its signature, by the
 * codec's path for logged messages ({@link MessageCodec.verifyFromLog}), which takes messages older than live
 * gossip's freshness rule but checks everything else.
 *
 * @module
 */
import { bytesKey } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import { MAX_TOPIC_BYTES, type Message, type MessageCodec, MessageType } from "../protocol/mod.ts";
import { CatchupError } from "./config.ts";

/** Bytes of a CUSTOM_DATA payload beyond its data: the array, the topic and the byte string's headers. */
const PAYLOAD_OVERHEAD = MAX_TOPIC_BYTES + 16;

/** What a body is checked against. */
export interface BodyExpectation {
  /** Keys (bytesKey) of the ids asked of the peer in this fetch. */
  asked: ReadonlySet<string>;
  /** The topic fetched. */
  topic: string;
  /** The topic's largest application payload, bytes. */
  maxMessageBytes: number;
  /** The start of this node's window for the topic, ms since the epoch. */
  notBefore: number;
  /** The receiver's clock. */
  now: number;
}

/**
 * A fetched body, checked (see the module docs).
 *
 * @throws {ProtocolError} as the codec's parse and verifyFromLog do
 * @throws {CatchupError} `CATCHUP_UNSOLICITED`, `WRONG_TOPIC`, `BAD_FIELD`, `PAYLOAD_TOO_LARGE`, `OUTSIDE_WINDOW`
 */
export function checkBody(codec: MessageCodec, bytes: Uint8Array, expect: BodyExpectation): Message {
  const envelope = codec.parse(bytes);
  if (!expect.asked.has(bytesKey(envelope.id))) {
    throw new CatchupError("CATCHUP_UNSOLICITED", "a body that was not asked for");
  }
  if (envelope.type !== MessageType.CUSTOM_DATA) {
    throw new CatchupError("BAD_FIELD", "a body that is no application message");
  }
  const topic = codec.peekTopic(envelope);
  if (topic !== expect.topic) throw new CatchupError("WRONG_TOPIC", "a body of another topic than the one fetched");
  if (envelope.payloadBytes.length > expect.maxMessageBytes + PAYLOAD_OVERHEAD) {
    throw new CatchupError("PAYLOAD_TOO_LARGE", `a body over topic "${topic}"'s largest message`);
  }
  if (envelope.timestamp < expect.notBefore) {
    throw new CatchupError("OUTSIDE_WINDOW", "a body older than this node keeps of its topic");
  }
  if (envelope.timestamp > expect.now + codec.limits.maxClockSkewMs) {
    throw new ProtocolError("FUTURE_TIMESTAMP", `a body ${envelope.timestamp - expect.now} ms in the future`);
  }
  const message = codec.verifyFromLog(envelope, expect.now, { notBefore: expect.notBefore });
  if (message.type === MessageType.CUSTOM_DATA && message.payload.data.length > expect.maxMessageBytes) {
    throw new CatchupError("PAYLOAD_TOO_LARGE", `a body over topic "${topic}"'s largest message`);
  }
  return message;
}
