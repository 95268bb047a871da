/**
 * Payload schemas: each message type's payload is a MessagePack array of
 * positional fields, checked here field by field on the way in and out, so
 * a payload a node sends is validated exactly as a receiver would.
 *
 * @module
 */
import { Encoder } from "@msgpack/msgpack";
import { parseHostPort } from "../address.ts";
import { ProtocolError } from "../errors.ts";
import { MAX_DIGEST_IDS, MAX_PEER_LIST, MAX_REQUEST_ID, MAX_TOPIC_BYTES, MAX_TOPICS_PER_PEER } from "./limits.ts";
import {
  MAX_DHT_CONTACTS,
  MAX_PROTOCOL_NAME_BYTES,
  MESSAGE_TYPE_NAMES,
  MessageType,
  type PayloadByType,
} from "./types.ts";

type Field =
  | { name: string; kind: "uint"; max: number }
  | { name: string; kind: "bytes"; length: number }
  | { name: string; kind: "blob" }
  | { name: string; kind: "text"; maxBytes: number }
  | { name: string; kind: "bool" }
  // A boolean that may be left off the end of a record: absent reads as false, and false is never written,
  // so a field added this way leaves older encodings valid and unchanged.
  | { name: string; kind: "flag" }
  // A string that may be left off the end of a record, as a flag: absent reads as "", and "" is never written.
  | { name: string; kind: "opttext"; maxBytes: number }
  // Topic names: at most `max` distinct strings of 1..MAX_TOPIC_BYTES bytes.
  | { name: string; kind: "topics"; max: number }
  | { name: string; kind: "fraction" }
  | { name: string; kind: "address"; optional: boolean }
  | { name: string; kind: "list"; max: number; of: readonly Field[] }
  | { name: string; kind: "ids"; max: number }
  // A REQUEST protocol name (isProtocolName).
  | { name: string; kind: "protocol" };

const PEER_RECORD: readonly Field[] = [
  { name: "nodeId", kind: "bytes", length: 32 },
  { name: "address", kind: "address", optional: false },
  { name: "lastSeen", kind: "uint", max: Number.MAX_SAFE_INTEGER },
];
const TRUST_RECORD: readonly Field[] = [
  { name: "nodeId", kind: "bytes", length: 32 },
  { name: "trust", kind: "fraction" },
];
const HANDSHAKE_FIELDS: readonly Field[] = [
  { name: "networkId", kind: "text", maxBytes: 64 },
  { name: "nonce", kind: "bytes", length: 32 },
  { name: "ephemeralKey", kind: "bytes", length: 32 },
  { name: "listenAddress", kind: "address", optional: true },
  { name: "agent", kind: "text", maxBytes: 64 },
];
const APPLICATION_FIELDS: readonly Field[] = [
  { name: "topic", kind: "text", maxBytes: MAX_TOPIC_BYTES },
  { name: "data", kind: "blob" },
];
const LIMIT_FIELDS: readonly Field[] = [{ name: "limit", kind: "uint", max: MAX_PEER_LIST }];
const DHT_RECORD: readonly Field[] = [
  { name: "publicKey", kind: "bytes", length: 32 },
  { name: "name", kind: "text", maxBytes: 64 },
  { name: "value", kind: "blob" },
  { name: "seq", kind: "uint", max: Number.MAX_SAFE_INTEGER },
  { name: "expiresAt", kind: "uint", max: Number.MAX_SAFE_INTEGER },
  { name: "signature", kind: "bytes", length: 64 },
];
const DHT_PROVIDER: readonly Field[] = [
  { name: "nodeId", kind: "bytes", length: 32 },
  { name: "address", kind: "address", optional: false },
  { name: "expiresAt", kind: "uint", max: Number.MAX_SAFE_INTEGER },
];

/** Payload schema of each type: the positional fields of its MessagePack array. */
const SCHEMAS: Readonly<Record<MessageType, readonly Field[]>> = {
  [MessageType.HANDSHAKE]: HANDSHAKE_FIELDS,
  [MessageType.HANDSHAKE_ACK]: [
    ...HANDSHAKE_FIELDS,
    { name: "handshakeId", kind: "bytes", length: 32 },
    { name: "peers", kind: "list", max: MAX_PEER_LIST, of: PEER_RECORD },
  ],
  [MessageType.DISCONNECT]: [{ name: "reason", kind: "uint", max: 65535 }, {
    name: "detail",
    kind: "text",
    maxBytes: 256,
  }],
  [MessageType.PEER_DISCOVERY]: [...LIMIT_FIELDS, { name: "topic", kind: "opttext", maxBytes: MAX_TOPIC_BYTES }],
  [MessageType.PEER_ANNOUNCEMENT]: [{ name: "peers", kind: "list", max: MAX_PEER_LIST, of: PEER_RECORD }],
  [MessageType.HEARTBEAT]: [{ name: "seq", kind: "uint", max: Number.MAX_SAFE_INTEGER }, {
    name: "reply",
    kind: "bool",
  }],
  [MessageType.GOSSIP_MESSAGE]: [
    { name: "have", kind: "ids", max: MAX_DIGEST_IDS },
    { name: "want", kind: "ids", max: MAX_DIGEST_IDS },
    { name: "prune", kind: "flag" },
    { name: "topic", kind: "opttext", maxBytes: MAX_TOPIC_BYTES },
  ],
  [MessageType.CUSTOM_DATA]: APPLICATION_FIELDS,
  [MessageType.TRUST_UPDATE]: [{ name: "subject", kind: "bytes", length: 32 }, { name: "trust", kind: "fraction" }],
  [MessageType.TRUSTED_PEERS_REQUEST]: LIMIT_FIELDS,
  [MessageType.TRUSTED_PEERS_RESPONSE]: [{ name: "peers", kind: "list", max: MAX_PEER_LIST, of: TRUST_RECORD }],
  [MessageType.HANDSHAKE_CONFIRM]: [{ name: "ackId", kind: "bytes", length: 32 }],
  [MessageType.DIRECT_MESSAGE]: [{ name: "data", kind: "blob" }],
  [MessageType.REQUEST]: [
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "protocol", kind: "protocol" },
    { name: "data", kind: "blob" },
  ],
  [MessageType.RESPONSE]: [
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "status", kind: "uint", max: 255 },
    { name: "data", kind: "blob" },
    { name: "detail", kind: "text", maxBytes: 256 },
  ],
  [MessageType.DHT_REQUEST]: [
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "op", kind: "uint", max: 255 },
    { name: "key", kind: "bytes", length: 32 },
    { name: "records", kind: "list", max: 1, of: DHT_RECORD },
  ],
  [MessageType.DHT_RESPONSE]: [
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "status", kind: "uint", max: 255 },
    { name: "nodes", kind: "list", max: MAX_DHT_CONTACTS, of: PEER_RECORD },
    { name: "providers", kind: "list", max: MAX_DHT_CONTACTS, of: DHT_PROVIDER },
    { name: "records", kind: "list", max: 1, of: DHT_RECORD },
  ],
  [MessageType.TOPIC_SUBSCRIPTIONS]: [
    { name: "full", kind: "bool" },
    { name: "all", kind: "bool" },
    { name: "join", kind: "topics", max: MAX_TOPICS_PER_PEER },
    { name: "leave", kind: "topics", max: MAX_TOPICS_PER_PEER },
  ],
  [MessageType.OBSERVED_ADDRESS]: [{ name: "address", kind: "address", optional: false }],
  [MessageType.DIAL_BACK_REQUEST]: [
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "address", kind: "address", optional: false },
  ],
  [MessageType.DIAL_BACK_RESPONSE]: [
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "status", kind: "uint", max: 255 },
    { name: "detail", kind: "text", maxBytes: 256 },
  ],
};

const PROTOCOL_NAME = /^[A-Za-z0-9._/-]+$/;

/** Whether `name` is a valid REQUEST protocol name: 1..64 bytes of `[A-Za-z0-9._/-]`. */
export function isProtocolName(name: string): boolean {
  return name.length >= 1 && name.length <= MAX_PROTOCOL_NAME_BYTES && PROTOCOL_NAME.test(name);
}

function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** A BAD_FIELD error naming the field at `path`. */
export function badField(path: string, why: string): ProtocolError {
  return new ProtocolError("BAD_FIELD", `${path}: ${why}`);
}

/** Checks one decoded value against its field spec; returns the typed value. */
function readField(field: Field, value: unknown, path: string): unknown {
  switch (field.kind) {
    case "uint":
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > field.max) {
        throw badField(path, `expected an integer in 0..${field.max}`);
      }
      return value;
    case "bytes":
      if (!(value instanceof Uint8Array) || value.length !== field.length) {
        throw badField(path, `expected ${field.length} bytes`);
      }
      return value;
    case "blob":
      if (!(value instanceof Uint8Array)) throw badField(path, "expected bytes");
      return value;
    case "text":
      if (typeof value !== "string" || utf8Length(value) > field.maxBytes) {
        throw badField(path, `expected a string of at most ${field.maxBytes} bytes`);
      }
      return value;
    case "bool":
    case "flag":
      if (typeof value !== "boolean") throw badField(path, "expected a boolean");
      return value;
    case "opttext":
      if (typeof value !== "string" || utf8Length(value) > field.maxBytes) {
        throw badField(path, `expected a string of at most ${field.maxBytes} bytes`);
      }
      return value;
    case "topics": {
      if (!Array.isArray(value) || value.length > field.max) {
        throw badField(path, `expected a list of at most ${field.max} topics`);
      }
      const names = new Set<string>();
      for (const name of value) {
        if (typeof name !== "string" || name === "" || utf8Length(name) > MAX_TOPIC_BYTES) {
          throw badField(path, `expected topics of 1 to ${MAX_TOPIC_BYTES} bytes`);
        }
        if (names.has(name)) throw badField(path, "a topic is named twice");
        names.add(name);
      }
      return value;
    }
    case "fraction":
      if (typeof value !== "number" || !(value >= 0 && value <= 1)) throw badField(path, "expected a number in [0, 1]");
      return value;
    case "address":
      if (typeof value !== "string") throw badField(path, "expected an address string");
      if (value === "" && field.optional) return value;
      if (parseHostPort(value) === undefined) throw badField(path, "expected host:port");
      return value;
    case "protocol":
      if (typeof value !== "string" || !isProtocolName(value)) {
        throw badField(path, `expected a protocol name of 1 to ${MAX_PROTOCOL_NAME_BYTES} bytes of [A-Za-z0-9._/-]`);
      }
      return value;
    case "ids": {
      if (!Array.isArray(value) || value.length > field.max) {
        throw badField(path, `expected a list of at most ${field.max} ids`);
      }
      for (const id of value) {
        if (!(id instanceof Uint8Array) || id.length !== 32) throw badField(path, "expected 32-byte ids");
      }
      return value;
    }
    case "list": {
      if (!Array.isArray(value) || value.length > field.max) {
        throw badField(path, `expected a list of at most ${field.max} entries`);
      }
      return value.map((item, i) => readRecord(field.of, item, `${path}[${i}]`));
    }
  }
}

/** Whether a field may be left off the end of a record (a flag or an optional string). */
function isOptional(field: Field): boolean {
  return field.kind === "flag" || field.kind === "opttext";
}

/** What an optional field reads as when absent, and what is not written at the end of a record. */
function absentValue(field: Field): unknown {
  return field.kind === "opttext" ? "" : false;
}

/** Fields a record must carry: all but the trailing optional ones. */
function requiredFields(fields: readonly Field[]): number {
  let n = fields.length;
  while (n > 0 && isOptional(fields[n - 1])) n--;
  return n;
}

function readRecord(fields: readonly Field[], value: unknown, path: string): Record<string, unknown> {
  const required = requiredFields(fields);
  if (!Array.isArray(value) || value.length < required || value.length > fields.length) {
    throw badField(
      path,
      required === fields.length
        ? `expected an array of ${fields.length} fields`
        : `expected an array of ${required} to ${fields.length} fields`,
    );
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    out[fields[i].name] = i < value.length
      ? readField(fields[i], value[i], `${path}.${fields[i].name}`)
      : absentValue(fields[i]);
  }
  return out;
}

function writeRecord(fields: readonly Field[], value: Record<string, unknown>, path: string): unknown[] {
  const out = fields.map((field) => {
    const v = value[field.name];
    if (isOptional(field)) return v ?? absentValue(field);
    if (field.kind === "list") {
      if (!Array.isArray(v)) throw badField(`${path}.${field.name}`, "expected a list");
      return v.map((item, i) => writeRecord(field.of, item as Record<string, unknown>, `${path}.${field.name}[${i}]`));
    }
    return v;
  });
  let length = out.length;
  while (length > requiredFields(fields) && out[length - 1] === absentValue(fields[length - 1])) length--;
  return out.slice(0, length);
}

/** Whether `type` is a message type code this implementation knows (one with a schema). */
export function isMessageType(type: number): type is MessageType {
  return SCHEMAS[type as MessageType] !== undefined;
}

/**
 * Checks a decoded payload of `type` against the type's schema; returns it as an object by field name.
 *
 * @throws {ProtocolError} BAD_FIELD when it does not fit the schema
 */
export function readPayload(type: MessageType, value: unknown): Record<string, unknown> {
  return readRecord(SCHEMAS[type], value, MESSAGE_TYPE_NAMES[type]);
}

const encoder = new Encoder();

/** Encodes a payload for `type` by its schema. @throws {ProtocolError} when it does not fit the schema. */
export function encodePayload<T extends MessageType>(type: T, payload: PayloadByType[T]): Uint8Array {
  const schema = SCHEMAS[type];
  if (schema === undefined) throw new ProtocolError("UNKNOWN_TYPE", `unknown message type ${type}`);
  const positional = writeRecord(schema, payload as unknown as Record<string, unknown>, MESSAGE_TYPE_NAMES[type]);
  // Validate what we send exactly as a receiver would.
  readRecord(schema, positional, MESSAGE_TYPE_NAMES[type]);
  return encoder.encode(positional);
}
