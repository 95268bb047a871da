/**
 * The kith handshake as pure functions shared by both roles: each message is
 * built from its inputs (identity, network id, the ephemeral key pair, the
 * nonce, the timestamp) and each received one is checked, returning the
 * result or a {@link HandshakeFailure}. No sockets, clock or randomness of
 * their own: the TCP transport feeds them fresh values, a test vector fixed
 * ones (docs/protocol.md, "Connections" and "Test vectors").
 *
 * ```
 * initiator                                     responder
 * buildHello        -- HANDSHAKE -->            checkHello
 * checkAck          <-- HANDSHAKE_ACK --        buildAck (derives the keys)
 * buildConfirm      -- HANDSHAKE_CONFIRM -->    checkConfirm
 * (derives the keys; sealed record 0)
 * ```
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import { encodeFrame, FrameDecoder } from "../framing.ts";
import type { Identity } from "../identity.ts";
import {
  createMessage,
  DisconnectReason,
  type Envelope,
  MAX_PEER_LIST,
  type Message,
  type MessageCodec,
  MessageType,
  type PeerRecord,
} from "../protocol/mod.ts";
import {
  deriveSessionKeys,
  type EphemeralKeyPair,
  generateEphemeralKeyPair,
  RecordOpener,
  RecordSealer,
  type SessionKeys,
} from "./session.ts";
import { reasonName, TransportError } from "./types.ts";

/** Bytes of the fresh nonce in HANDSHAKE and HANDSHAKE_ACK. */
export const HANDSHAKE_NONCE_BYTES = 32;
/** Most UTF-8 bytes of a DISCONNECT's detail (the schema's bound). */
const MAX_DISCONNECT_DETAIL_BYTES = 200;
/** Largest DISCONNECT reason code (a u16 in the schema). */
const MAX_REASON_CODE = 0xffff;

/** A HANDSHAKE message. */
export type Hello = Message<typeof MessageType.HANDSHAKE>;
/** A HANDSHAKE_ACK message. */
export type Ack = Message<typeof MessageType.HANDSHAKE_ACK>;
/** A HANDSHAKE_CONFIRM message. */
export type Confirm = Message<typeof MessageType.HANDSHAKE_CONFIRM>;

/** What one end puts into its handshake messages and requires of the other's. */
export interface HandshakeContext {
  /** This node's identity; signs its messages. */
  identity: Identity;
  /** The network id sent, and required of the peer. */
  networkId: string;
  /** The listening address announced (`""` for none). */
  listenAddress: string;
  /** The software name and version announced. */
  agent: string;
  /** Encodes and verifies the envelopes. */
  codec: MessageCodec;
}

/** The fresh values of one side's opening message (HANDSHAKE or HANDSHAKE_ACK). */
export interface HandshakeFreshness {
  /** The ephemeral X25519 key pair of this handshake. */
  ephemeral: EphemeralKeyPair;
  /** {@link HANDSHAKE_NONCE_BYTES} random bytes. */
  nonce: Uint8Array;
}

/** Fresh values from the system's randomness: what every real handshake uses. */
export function freshHandshakeValues(): HandshakeFreshness {
  return {
    ephemeral: generateEphemeralKeyPair(),
    nonce: crypto.getRandomValues(new Uint8Array(HANDSHAKE_NONCE_BYTES)),
  };
}

/**
 * A received handshake message is refused. `kind` says what went wrong: `invalid` (it did not decode or
 * verify), `refused` (the peer answered with DISCONNECT) or `mismatch` (a well-formed message this end
 * does not accept).
 */
export class HandshakeFailure extends TransportError {
  /** The DISCONNECT reason to answer with, or `undefined` to close without an answer. */
  readonly reply: number | undefined;
  /** The detail: sent in that DISCONNECT. */
  readonly detail: string;
  /** What went wrong. */
  readonly kind: "invalid" | "refused" | "mismatch";

  /**
   * Creates a failure.
   *
   * @param code the TransportError code
   * @param detail the DISCONNECT detail (and, unless `message` is given, the message)
   * @param reply the DISCONNECT reason to answer with
   * @param options `kind`, `message`, the peer's `reason` and the `cause`
   */
  constructor(
    code: string,
    detail: string,
    reply: number | undefined,
    options: { kind: HandshakeFailure["kind"]; message?: string; reason?: number; cause?: unknown },
  ) {
    super(code, options.message ?? detail, options.reason, { cause: options.cause });
    this.name = "HandshakeFailure";
    this.reply = reply;
    this.detail = detail;
    this.kind = options.kind;
  }
}

/** The wire bytes of a message, framed. */
function framed(context: HandshakeContext, message: Message): Uint8Array {
  return encodeFrame(context.codec.encode(message));
}

/** Decodes a handshake frame; a ProtocolError becomes an `invalid` failure answered with `reply(error)`. */
function decode(
  context: HandshakeContext,
  frame: Uint8Array,
  now: number,
  reply: (error: ProtocolError) => number,
): Message | HandshakeFailure {
  try {
    return context.codec.decode(frame, now);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return new HandshakeFailure("HANDSHAKE_FAILED", error.message, reply(error), { kind: "invalid", cause: error });
  }
}

/** The checks both roles make of the peer's opening message: same network, not itself, not shutting down. */
function checkPeer(
  context: HandshakeContext,
  networkId: string,
  remoteId: string,
  closing: boolean,
): HandshakeFailure | undefined {
  let refusal: [number, string] | undefined;
  if (networkId !== context.networkId) {
    refusal = [DisconnectReason.WRONG_NETWORK, `this node is on network ${JSON.stringify(context.networkId)}`];
  } else if (remoteId === context.identity.nodeId) refusal = [DisconnectReason.SELF_CONNECTION, "connection to self"];
  else if (closing) refusal = [DisconnectReason.SHUTDOWN, "shutting down"];
  if (refusal === undefined) return undefined;
  const [reason, detail] = refusal;
  return new HandshakeFailure(reasonName(reason), detail, reason, { kind: "mismatch", reason });
}

/**
 * An encoded DISCONNECT with `reason` clamped to the schema's u16 (an out-of-range one becomes
 * PROTOCOL_ERROR) and `detail` cut to its 200 UTF-8 bytes, so it always encodes.
 */
export function buildDisconnect(
  identity: Identity,
  codec: MessageCodec,
  reason: number,
  detail: string,
  timestamp: number,
): Uint8Array {
  const code = Number.isInteger(reason) && reason >= 0 && reason <= MAX_REASON_CODE
    ? reason
    : DisconnectReason.PROTOCOL_ERROR;
  let text = detail;
  while (new TextEncoder().encode(text).length > MAX_DISCONNECT_DETAIL_BYTES) text = text.slice(0, -1);
  return codec.encode(
    createMessage(identity, MessageType.DISCONNECT, { reason: code, detail: text }, { ttl: 0, timestamp }),
  );
}

/** The initiator's HANDSHAKE, as a message and as the frame to write. */
export function buildHello(
  context: HandshakeContext,
  fresh: HandshakeFreshness,
  timestamp: number,
): { message: Hello; frame: Uint8Array } {
  const message = createMessage(context.identity, MessageType.HANDSHAKE, {
    networkId: context.networkId,
    nonce: fresh.nonce,
    ephemeralKey: fresh.ephemeral.publicKey,
    listenAddress: context.listenAddress,
    agent: context.agent,
  }, { ttl: 0, timestamp });
  return { message, frame: framed(context, message) };
}

/**
 * The responder's check of the first frame, cheapest first so that a refusal costs no signature check:
 * it parses as an envelope (structure, version, sizes, known type), is a HANDSHAKE, its id was not `seen`
 * in a recent HANDSHAKE (a replay is closed without an answer), it passes the envelope checks but the
 * signature (timestamp window, origin, payload schema and bounds, public key), is for this network, not
 * from this node, and this node is not `closing`. Only then is `verifying` called with the id (the caller
 * records it, so no id costs a second verification) and the signature checked.
 */
export function checkHello(
  context: HandshakeContext,
  frame: Uint8Array,
  now: number,
  state: { closing: boolean; seen: (helloId: string) => boolean; verifying?: (helloId: string) => void },
): Hello | HandshakeFailure {
  const invalid = (error: unknown) => {
    if (!(error instanceof ProtocolError)) throw error;
    const reply = error.code === "UNSUPPORTED_VERSION"
      ? DisconnectReason.UNSUPPORTED_VERSION
      : DisconnectReason.PROTOCOL_ERROR;
    return new HandshakeFailure("HANDSHAKE_FAILED", error.message, reply, { kind: "invalid", cause: error });
  };
  let envelope: Envelope;
  try {
    envelope = context.codec.parse(frame);
  } catch (error) {
    return invalid(error);
  }
  if (envelope.type !== MessageType.HANDSHAKE) {
    return new HandshakeFailure("HANDSHAKE_FAILED", "expected HANDSHAKE", DisconnectReason.PROTOCOL_ERROR, {
      kind: "mismatch",
    });
  }
  const id = toHex(envelope.id);
  if (state.seen(id)) {
    return new HandshakeFailure("HANDSHAKE_FAILED", "replayed HANDSHAKE", undefined, { kind: "mismatch" });
  }
  let hello: Hello;
  try {
    hello = context.codec.verifyAllButSignature(envelope, now) as Hello;
  } catch (error) {
    return invalid(error);
  }
  const refusal = checkPeer(context, hello.payload.networkId, toHex(hello.origin), state.closing);
  if (refusal) return refusal;
  state.verifying?.(id);
  try {
    context.codec.verify(envelope, now);
  } catch (error) {
    return invalid(error);
  }
  return hello;
}

/** The keys of a session and the sealer and opener that use them, both counters at 0. */
export interface HandshakeKeys {
  /** The two directions' keys. */
  keys: SessionKeys;
  /** Seals the records this end sends. */
  sealer: RecordSealer;
  /** Opens the records this end receives. */
  opener: RecordOpener;
}

function sessionOf(keys: SessionKeys): HandshakeKeys {
  return { keys, sealer: new RecordSealer(keys.sendKey), opener: new RecordOpener(keys.receiveKey) };
}

const UNUSABLE_KEY = "unusable ephemeral key";

/**
 * The responder's HANDSHAKE_ACK to `hello` (with the first {@link MAX_PEER_LIST} of `peers`) and the
 * session keys, salted with the ACK's id. Fails when the initiator's ephemeral key is unusable.
 */
export function buildAck(
  context: HandshakeContext,
  hello: Hello,
  fresh: HandshakeFreshness,
  peers: PeerRecord[],
  timestamp: number,
): ({ message: Ack; frame: Uint8Array } & HandshakeKeys) | HandshakeFailure {
  const message = createMessage(context.identity, MessageType.HANDSHAKE_ACK, {
    networkId: context.networkId,
    nonce: fresh.nonce,
    ephemeralKey: fresh.ephemeral.publicKey,
    listenAddress: context.listenAddress,
    agent: context.agent,
    handshakeId: hello.id,
    peers: peers.slice(0, MAX_PEER_LIST),
  }, { ttl: 0, timestamp });
  const keys = deriveSessionKeys(fresh.ephemeral, hello.payload.ephemeralKey, message.id, false);
  if (keys === undefined) {
    return new HandshakeFailure("HANDSHAKE_FAILED", UNUSABLE_KEY, DisconnectReason.PROTOCOL_ERROR, {
      kind: "mismatch",
    });
  }
  return { message, frame: framed(context, message), ...sessionOf(keys) };
}

/**
 * The initiator's check of the reply to `hello`: it decodes and verifies, or is a DISCONNECT (a `refused`
 * failure with the peer's reason); is a HANDSHAKE_ACK answering `hello`; is for this network, not from this
 * node, this node is not `closing`; and comes from `expectedNodeId` when one is given (`WRONG_PEER`).
 */
export function checkAck(
  context: HandshakeContext,
  frame: Uint8Array,
  now: number,
  hello: Hello,
  state: { closing: boolean; expectedNodeId?: string },
): Ack | HandshakeFailure {
  const ack = decode(context, frame, now, () => DisconnectReason.PROTOCOL_ERROR);
  if (ack instanceof HandshakeFailure) return ack;
  if (ack.type === MessageType.DISCONNECT) {
    const { reason, detail } = ack.payload;
    return new HandshakeFailure(reasonName(reason), detail, undefined, {
      kind: "refused",
      message: `refused the connection: ${reasonName(reason)}${detail ? ` (${detail})` : ""}`,
      reason,
    });
  }
  const mismatch = (detail: string, code = "HANDSHAKE_FAILED") =>
    new HandshakeFailure(code, detail, DisconnectReason.PROTOCOL_ERROR, {
      kind: "mismatch",
      reason: DisconnectReason.PROTOCOL_ERROR,
    });
  if (ack.type !== MessageType.HANDSHAKE_ACK) return mismatch("expected HANDSHAKE_ACK");
  if (toHex(ack.payload.handshakeId) !== toHex(hello.id)) return mismatch("HANDSHAKE_ACK answers another handshake");
  const remoteId = toHex(ack.origin);
  const refusal = checkPeer(context, ack.payload.networkId, remoteId, state.closing);
  if (refusal) return refusal;
  if (state.expectedNodeId !== undefined && state.expectedNodeId !== remoteId) {
    return mismatch(`expected node ${state.expectedNodeId}, found ${remoteId}`, "WRONG_PEER");
  }
  return ack;
}

/** The error a dial to `address` rejects with when the responder's answer failed a check. */
export function initiatorError(address: string, failure: HandshakeFailure): TransportError {
  if (failure.kind === "invalid") {
    return new TransportError(
      "HANDSHAKE_FAILED",
      `${address} sent an invalid handshake: ${failure.detail}`,
      undefined,
      { cause: failure.cause },
    );
  }
  if (failure.kind === "refused") {
    return new TransportError(failure.code, `${address} ${failure.message}`, failure.reason);
  }
  return new TransportError(failure.code, `${address}: ${failure.detail}`, failure.reason);
}

/**
 * The initiator's session keys from its `ephemeral` key pair and `ack`, and its HANDSHAKE_CONFIRM sealed as
 * record 0 (the returned sealer has counted it). Fails when the responder's ephemeral key is unusable.
 */
export function buildConfirm(
  context: HandshakeContext,
  ephemeral: EphemeralKeyPair,
  ack: Ack,
  timestamp: number,
): ({ message: Confirm; frame: Uint8Array } & HandshakeKeys) | HandshakeFailure {
  const keys = deriveSessionKeys(ephemeral, ack.payload.ephemeralKey, ack.id, true);
  if (keys === undefined) {
    return new HandshakeFailure("HANDSHAKE_FAILED", UNUSABLE_KEY, DisconnectReason.PROTOCOL_ERROR, {
      kind: "mismatch",
      reason: DisconnectReason.PROTOCOL_ERROR,
    });
  }
  const session = sessionOf(keys);
  const message = createMessage(context.identity, MessageType.HANDSHAKE_CONFIRM, { ackId: ack.id }, {
    ttl: 0,
    timestamp,
  });
  return { message, frame: session.sealer.sealFrame(framed(context, message)), ...session };
}

/**
 * The responder's check of the first sealed record: it opens with `opener` (counter 0), holds at least one
 * envelope of at most `maxFrameBytes`, and the first is a HANDSHAKE_CONFIRM from the HANDSHAKE's origin
 * confirming `ack`. Envelopes after it are the first application traffic (`pipelined`); `inner` is the
 * record-plaintext decoder the connection continues with.
 */
export function checkConfirm(
  context: HandshakeContext,
  record: Uint8Array,
  now: number,
  hello: Hello,
  ack: Ack,
  opener: RecordOpener,
  maxFrameBytes: number,
): { message: Confirm; pipelined: Uint8Array[]; inner: FrameDecoder } | HandshakeFailure {
  const inner = new FrameDecoder(maxFrameBytes);
  let frames: Uint8Array[];
  let confirm: Message;
  try {
    frames = inner.push(opener.open(record));
    if (frames.length === 0) throw new ProtocolError("BAD_FIELD", "empty first record");
    confirm = context.codec.decode(frames[0], now);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return new HandshakeFailure("HANDSHAKE_FAILED", error.message, DisconnectReason.PROTOCOL_ERROR, {
      kind: "invalid",
      cause: error,
    });
  }
  if (
    confirm.type !== MessageType.HANDSHAKE_CONFIRM || toHex(confirm.origin) !== toHex(hello.origin) ||
    toHex(confirm.payload.ackId) !== toHex(ack.id)
  ) {
    return new HandshakeFailure(
      "HANDSHAKE_FAILED",
      "HANDSHAKE_CONFIRM does not match",
      DisconnectReason.PROTOCOL_ERROR,
      {
        kind: "mismatch",
        message: "bad HANDSHAKE_CONFIRM",
      },
    );
  }
  return { message: confirm, pipelined: frames.slice(1), inner };
}
