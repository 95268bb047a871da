/**
 * What the accept path (`tcp_accept.ts`) and the dial path (`tcp_dial.ts`) of
 * the TCP transport (`tcp.ts`) share: the {@link TcpContext} the transport gives
 * them, and the refusals and the handshake deadline both roles use.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { encodeFrame, FRAME_HEADER_BYTES } from "../framing.ts";
import type { Identity } from "../identity.ts";
import type { LogSink } from "../log.ts";
import { DisconnectReason, type MessageCodec } from "../protocol/mod.ts";
import type { TransportConfig } from "./config.ts";
import {
  type ByteConn,
  closeQuietly,
  type ConnectionOwner,
  type FramedSocket,
  type TcpConnection,
} from "./connection.ts";
import type { HandshakeContext, HandshakeFailure } from "./handshake.ts";
import { MAX_RECORD_PLAINTEXT, RECORD_TAG_BYTES, type RecordSealer } from "./session.ts";
import type { TransportStats } from "./types.ts";

/** Longest a refusal's DISCONNECT may take to write, ms (also bounded by closeTimeoutMs). */
const REFUSAL_WRITE_TIMEOUT_MS = 500;

/** A socket whose handshake is under way (closed at shutdown). */
export interface PendingHandshake {
  /** The socket. */
  conn: ByteConn;
  /** Who opened it. */
  direction: "inbound" | "outbound";
  /** The remote IP (the dialed host for outbound). */
  ip: string;
}

/** What a handshake's deadline needs: the sealer once keys exist (to seal the DISCONNECT), and whether it fired. */
export interface DeadlineState {
  /** Seals the DISCONNECT once session keys exist. */
  sealer?: RecordSealer;
  /** Whether the deadline has fired. */
  timedOut: boolean;
}

/** The parts of the TCP transport its accept and dial paths use. */
export interface TcpContext {
  /** The configuration in force. */
  readonly config: Readonly<TransportConfig>;
  /** This node's identity. */
  readonly identity: Identity;
  /** Time source and timers. */
  readonly clock: Clock;
  /** Codec for envelopes. */
  readonly codec: MessageCodec;
  /** The transport's counters, updated in place. */
  readonly stats: TransportStats;
  /** Where failures are logged. */
  readonly log: LogSink;
  /** What established connections know of their transport. */
  readonly owner: ConnectionOwner;
  /** Sockets whose handshake is under way. */
  readonly pending: Set<PendingHandshake>;
  /** Whether the transport is shutting down (read at each use). */
  closing(): boolean;
  /** Keeps `promise` until it settles, so closing can wait for it. */
  track<T>(promise: Promise<T>): Promise<T>;
  /** What this node's handshake messages carry, read at each handshake. */
  handshakeContext(): HandshakeContext;
  /** An encoded DISCONNECT from this node, stamped now. */
  disconnectEnvelope(reason: number, detail: string): Uint8Array;
  /** Registers an authenticated connection, resolving duplicates; returns the one kept. */
  register(connection: TcpConnection): TcpConnection;
  /** A dial-back handshake from `nodeId` completed at the listener (the socket is closed by the caller). */
  dialedBack(nodeId: string, remoteAddress: string): void;
}

/** Sends a DISCONNECT (sealed when keys exist) as best it can, then closes. */
export async function refuse(
  context: TcpContext,
  socket: FramedSocket,
  reason: number,
  detail: string,
  sealer?: RecordSealer,
): Promise<void> {
  try {
    let frame = encodeFrame(context.disconnectEnvelope(reason, detail));
    if (sealer) frame = sealer.sealFrame(frame);
    await socket.write(frame, context.clock, Math.min(context.config.closeTimeoutMs, REFUSAL_WRITE_TIMEOUT_MS));
  } catch {
    // The client is gone or not reading: closing is all that is left.
  } finally {
    closeQuietly(socket.conn);
  }
}

/** Answers a failed check as it asks (a DISCONNECT, or silence for a replay) and returns it to throw. */
export async function reject(
  context: TcpContext,
  socket: FramedSocket,
  failure: HandshakeFailure,
  sealer?: RecordSealer,
): Promise<HandshakeFailure> {
  if (failure.reply === undefined) closeQuietly(socket.conn);
  else await refuse(context, socket, failure.reply, failure.detail, sealer);
  return failure;
}

/** Refuses the handshake on `socket` with HANDSHAKE_TIMEOUT after `ms`. */
export function handshakeDeadline(
  context: TcpContext,
  socket: FramedSocket,
  state: DeadlineState,
  ms: number = context.config.handshakeTimeoutMs,
): TimerId {
  return context.clock.setTimeout(() => {
    state.timedOut = true;
    context.track(
      refuse(context, socket, DisconnectReason.HANDSHAKE_TIMEOUT, "handshake not finished in time", state.sealer),
    );
  }, Math.max(0, ms));
}

/** Largest sealed record accepted: 64 KiB of coalesced envelopes, or one envelope alone, plus the tag. */
export function maxRecordFrame(config: Readonly<TransportConfig>): number {
  return Math.max(MAX_RECORD_PLAINTEXT, config.maxFrameBytes + FRAME_HEADER_BYTES) + RECORD_TAG_BYTES;
}
