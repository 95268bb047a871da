/**
 * Payload schemas: each message type's payload is a MessagePack array of
 * positional fields, checked here field by field on the way in and out, so
 * a payload a node sends is validated exactly as a receiver would.
 *
 * @module
 */
import { Encoder } from "@msgpack/msgpack";
import { dialHostPort, parseHostPort } from "../address.ts";
import { bytesKey } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import {
  MAX_DIGEST_IDS,
  MAX_PEER_LIST,
  MAX_PREDECESSORS,
  MAX_REQUEST_ID,
  MAX_TOPIC_BYTES,
  MAX_TOPICS_PER_PEER,
} from "./limits.ts";
import {
  MAX_CATCHUP_BODIES,
  MAX_CATCHUP_BODY_BYTES,
  MAX_CATCHUP_FETCH_IDS,
  MAX_CATCHUP_MESSAGE_IDS,
  MAX_CATCHUP_RANGE_IDS,
  MAX_CATCHUP_RANGES,
  MAX_DHT_CONTACTS,
  MAX_PROTOCOL_NAME_BYTES,
  MAX_PUNCH_ADDRESSES,
  MESSAGE_TYPE_NAMES,
  MessageType,
  type PayloadByType,
  RELAY_TOKEN_BYTES,
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
  // Message ids that may be left off the end of a record, as a flag: absent reads as [], and [] is never
  // written; at most `max` distinct ids of 32 bytes.
  | { name: string; kind: "optids"; max: number }
  // Topic names: at most `max` distinct strings of 1..MAX_TOPIC_BYTES bytes.
  | { name: string; kind: "topics"; max: number }
  | { name: string; kind: "fraction" }
  // host:port; with `relayed`, also a relayed address (lib/address.ts parseRelayedAddress), held as strictly.
  | { name: string; kind: "address"; optional: boolean; relayed?: boolean }
  | { name: string; kind: "list"; max: number; of: readonly Field[] }
  | { name: string; kind: "ids"; max: number }
  // A relay circuit token: RELAY_TOKEN_BYTES bytes, or none (a refusal).
  | { name: string; kind: "token" }
  // At most `max` distinct host:port addresses (never relayed: they are dialed directly).
  | { name: string; kind: "addresses"; max: number }
  // A REQUEST protocol name (isProtocolName).
  | { name: string; kind: "protocol" }
  // One topic name, 1..MAX_TOPIC_BYTES bytes (never the network-wide "").
  | { name: string; kind: "topic" }
  // The ranges of a CATCHUP_RECONCILE (readRanges).
  | { name: string; kind: "ranges" }
  // Encoded envelopes: at most `max`, at most `maxBytes` in all, none empty.
  | { name: string; kind: "blobs"; max: number; maxBytes: number }
  // Ids as "ids", and no id twice.
  | { name: string; kind: "distinctids"; min: number; max: number };

const PEER_RECORD: readonly Field[] = [
  { name: "nodeId", kind: "bytes", length: 32 },
  { name: "address", kind: "address", optional: false, relayed: true },
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
  { name: "listenAddress", kind: "address", optional: true, relayed: true },
  { name: "agent", kind: "text", maxBytes: 64 },
];
const APPLICATION_FIELDS: readonly Field[] = [
  { name: "topic", kind: "text", maxBytes: MAX_TOPIC_BYTES },
  { name: "data", kind: "blob" },
  // The origin's latest messages in the topic when it published (causal order, lib/catchup/delivery.ts).
  { name: "after", kind: "optids", max: MAX_PREDECESSORS },
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
  { name: "address", kind: "address", optional: false, relayed: true },
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
  [MessageType.CATCHUP_RECONCILE]: [
    { name: "topic", kind: "topic" },
    { name: "session", kind: "uint", max: MAX_REQUEST_ID },
    { name: "reply", kind: "bool" },
    { name: "since", kind: "uint", max: Number.MAX_SAFE_INTEGER },
    { name: "ranges", kind: "ranges" },
    { name: "have", kind: "distinctids", min: 0, max: MAX_CATCHUP_MESSAGE_IDS },
  ],
  [MessageType.CATCHUP_FETCH]: [
    { name: "topic", kind: "topic" },
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "ids", kind: "distinctids", min: 1, max: MAX_CATCHUP_FETCH_IDS },
  ],
  [MessageType.CATCHUP_BODIES]: [
    { name: "topic", kind: "topic" },
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "bodies", kind: "blobs", max: MAX_CATCHUP_BODIES, maxBytes: MAX_CATCHUP_BODY_BYTES },
    { name: "missing", kind: "distinctids", min: 0, max: MAX_CATCHUP_FETCH_IDS },
  ],
  [MessageType.RELAY_RESERVE]: [{ name: "requestId", kind: "uint", max: MAX_REQUEST_ID }],
  [MessageType.RELAY_RESERVATION]: [
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "status", kind: "uint", max: 255 },
    { name: "expiresAt", kind: "uint", max: Number.MAX_SAFE_INTEGER },
    { name: "observedAddress", kind: "address", optional: true },
  ],
  [MessageType.RELAY_CONNECT]: [
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "target", kind: "bytes", length: 32 },
  ],
  [MessageType.RELAY_CIRCUIT]: [
    { name: "requestId", kind: "uint", max: MAX_REQUEST_ID },
    { name: "status", kind: "uint", max: 255 },
    { name: "role", kind: "uint", max: 1 },
    { name: "peer", kind: "bytes", length: 32 },
    { name: "token", kind: "token" },
    { name: "observedAddress", kind: "address", optional: true },
    { name: "maxBytes", kind: "uint", max: Number.MAX_SAFE_INTEGER },
    { name: "maxDurationMs", kind: "uint", max: Number.MAX_SAFE_INTEGER },
  ],
  [MessageType.HOLE_PUNCH]: [
    { name: "kind", kind: "uint", max: 2 },
    { name: "attempt", kind: "uint", max: MAX_REQUEST_ID },
    { name: "addresses", kind: "addresses", max: MAX_PUNCH_ADDRESSES },
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
      if ((field.relayed ? dialHostPort(value) : parseHostPort(value)) === undefined) {
        throw badField(path, field.relayed ? "expected host:port or a relayed address" : "expected host:port");
      }
      return value;
    case "token":
      if (!(value instanceof Uint8Array) || (value.length !== 0 && value.length !== RELAY_TOKEN_BYTES)) {
        throw badField(path, `expected ${RELAY_TOKEN_BYTES} bytes or none`);
      }
      return value;
    case "addresses": {
      if (!Array.isArray(value) || value.length > field.max) {
        throw badField(path, `expected a list of at most ${field.max} addresses`);
      }
      if (value.some((a) => typeof a !== "string" || parseHostPort(a) === undefined)) {
        throw badField(path, "expected host:port addresses");
      }
      if (new Set(value).size !== value.length) throw badField(path, "an address is named twice");
      return value;
    }
    case "protocol":
      if (typeof value !== "string" || !isProtocolName(value)) {
        throw badField(path, `expected a protocol name of 1 to ${MAX_PROTOCOL_NAME_BYTES} bytes of [A-Za-z0-9._/-]`);
      }
      return value;
    case "optids": {
      if (!Array.isArray(value) || value.length > field.max) {
        throw badField(path, `expected a list of at most ${field.max} ids`);
      }
      const seen = new Set<string>();
      for (const id of value) {
        if (!(id instanceof Uint8Array) || id.length !== 32) throw badField(path, "expected 32-byte ids");
        const key = bytesKey(id);
        if (seen.has(key)) throw badField(path, "an id is named twice");
        seen.add(key);
      }
      return value;
    }
    case "ids": {
      if (!Array.isArray(value) || value.length > field.max) {
        throw badField(path, `expected a list of at most ${field.max} ids`);
      }
      for (const id of value) {
        if (!(id instanceof Uint8Array) || id.length !== 32) throw badField(path, "expected 32-byte ids");
      }
      return value;
    }
    case "topic":
      if (typeof value !== "string" || value === "" || utf8Length(value) > MAX_TOPIC_BYTES) {
        throw badField(path, `expected a topic of 1 to ${MAX_TOPIC_BYTES} bytes`);
      }
      return value;
    case "ranges":
      return readRanges(value, path);
    case "blobs": {
      if (!Array.isArray(value) || value.length > field.max) {
        throw badField(path, `expected a list of at most ${field.max} byte strings`);
      }
      let total = 0;
      for (const blob of value) {
        if (!(blob instanceof Uint8Array) || blob.length === 0) throw badField(path, "expected non-empty bytes");
        total += blob.length;
      }
      if (total > field.maxBytes) throw badField(path, `expected at most ${field.maxBytes} bytes in all`);
      return value;
    }
    case "distinctids": {
      if (!Array.isArray(value) || value.length < field.min || value.length > field.max) {
        throw badField(path, `expected a list of ${field.min} to ${field.max} ids`);
      }
      const keys = new Set<string>();
      for (const id of value) {
        if (!(id instanceof Uint8Array) || id.length !== 32) throw badField(path, "expected 32-byte ids");
        const key = String.fromCharCode(...id);
        if (keys.has(key)) throw badField(path, "an id is named twice");
        keys.add(key);
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

/**
 * The ranges of a CATCHUP_RECONCILE: at most {@link MAX_CATCHUP_RANGES} arrays `[timestamp, id]` (skip),
 * `[timestamp, id, fingerprint]` or `[timestamp, id, [ids]]`; `timestamp` 0 is the end of the order and only the
 * last range may have it; a bound's id is at most 32 bytes (a prefix); a fingerprint is 16 bytes; a range lists at most
 * {@link MAX_CATCHUP_RANGE_IDS} ids and the message at most {@link MAX_CATCHUP_MESSAGE_IDS}. Checked before any
 * of it is used, so a hostile message costs its size and no more.
 */
function readRanges(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value) || value.length > MAX_CATCHUP_RANGES) {
    throw badField(path, `expected a list of at most ${MAX_CATCHUP_RANGES} ranges`);
  }
  let ids = 0;
  return value.map((range, i) => {
    const at = `${path}[${i}]`;
    if (!Array.isArray(range) || range.length < 2 || range.length > 3) {
      throw badField(at, "expected an array of 2 or 3 fields");
    }
    const [timestamp, id, data] = range;
    if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw badField(`${at}.timestamp`, "expected a non-negative integer");
    }
    if (timestamp === 0 && i !== value.length - 1) {
      throw badField(`${at}.timestamp`, "only the last range may end at the end");
    }
    if (!(id instanceof Uint8Array) || id.length > 32) throw badField(`${at}.id`, "expected at most 32 bytes");
    if (range.length === 2) return { timestamp, id, mode: 0, value: new Uint8Array(0) };
    if (data instanceof Uint8Array) {
      if (data.length !== 16) throw badField(`${at}.fingerprint`, "expected 16 bytes");
      return { timestamp, id, mode: 1, value: data };
    }
    if (!Array.isArray(data) || data.length > MAX_CATCHUP_RANGE_IDS) {
      throw badField(`${at}.ids`, `expected a fingerprint or a list of at most ${MAX_CATCHUP_RANGE_IDS} ids`);
    }
    ids += data.length;
    if (ids > MAX_CATCHUP_MESSAGE_IDS) throw badField(path, `expected at most ${MAX_CATCHUP_MESSAGE_IDS} ids in all`);
    for (const item of data) {
      if (!(item instanceof Uint8Array) || item.length !== 32) throw badField(`${at}.ids`, "expected 32-byte ids");
    }
    return { timestamp, id, mode: 2, value: data };
  });
}

/** A CATCHUP_RECONCILE range as written: the positional form {@link readRanges} reads. */
function writeRange(range: Record<string, unknown>): unknown[] {
  const head = [range.timestamp, range.id];
  return range.mode === 0 ? head : [...head, range.value];
}

/** Whether a field may be left off the end of a record (a flag, an optional string or optional ids). */
function isOptional(field: Field): boolean {
  return field.kind === "flag" || field.kind === "opttext" || field.kind === "optids";
}

/** What an optional field reads as when absent (a fresh value each time: callers may keep it). */
function absentValue(field: Field): unknown {
  return field.kind === "opttext" ? "" : field.kind === "optids" ? [] : false;
}

/** Whether `value` of an optional field is its absent value, which is not written at the end of a record. */
function isAbsent(field: Field, value: unknown): boolean {
  if (field.kind === "optids") return Array.isArray(value) && value.length === 0;
  return value === absentValue(field);
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
    if (field.kind === "ranges") {
      if (!Array.isArray(v)) throw badField(`${path}.${field.name}`, "expected a list");
      return v.map((range) => writeRange(range as Record<string, unknown>));
    }
    if (field.kind === "list") {
      if (!Array.isArray(v)) throw badField(`${path}.${field.name}`, "expected a list");
      return v.map((item, i) => writeRecord(field.of, item as Record<string, unknown>, `${path}.${field.name}[${i}]`));
    }
    return v;
  });
  let length = out.length;
  while (length > requiredFields(fields) && isAbsent(fields[length - 1], out[length - 1])) length--;
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
