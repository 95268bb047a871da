/**
 * One established TCP link: {@link FramedSocket} reads and writes frames on
 * the socket, {@link TcpConnection} coalesces queued envelopes into sealed
 * records (the pump) and opens the records it reads (the read loop).
 *
 * A connection knows its transport only through a {@link ConnectionOwner}, a
 * small object of callbacks, so none of that traffic is public API.
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import type { Clock, TimerId } from "../clock.ts";
import { ProtocolError } from "../errors.ts";
import { FRAME_HEADER_BYTES, FrameDecoder } from "../framing.ts";
import { errorFields, type LogSink } from "../log.ts";
import {
  DisconnectReason,
  type Envelope,
  type Message,
  type MessageCodec,
  MessageType,
  type PeerRecord,
} from "../protocol/mod.ts";
import { announces, TRANSIENT_TOKEN } from "../version.ts";
import type { TransportConfig } from "./config.ts";
import type { RecordOpener, RecordSealer } from "./session.ts";
import {
  type CloseInfo,
  type Connection,
  CONNECTION_LOST,
  type ConnectionStats,
  type LinkKind,
  TransportError,
} from "./types.ts";

/** Invalid envelopes a peer may send in one window before the link is closed. */
const MAX_BAD_ENVELOPES_PER_WINDOW = 100;
/** The window over which invalid envelopes are counted, ms. */
const BAD_ENVELOPE_WINDOW_MS = 1_000;
/**
 * Bytes of each connection's read buffer. Small, because a node holds one per peer; a large record takes
 * several reads, a small cost next to opening it.
 */
const READ_BUFFER_BYTES = 4 * 1024;
/** Initial size of the shared plaintext buffer; it doubles as larger records need it. */
const INITIAL_SCRATCH_BYTES = 4 * 1024;
/** Sent envelopes kept at the head of a send queue before it is compacted (when they are also half of it). */
const QUEUE_COMPACT_AFTER = 1024;

/** Resolves with `promise`, or rejects after `ms` (the timer is always cleared). */
export function withTimeout<T>(clock: Clock, promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: TimerId | undefined;
  return new Promise<T>((resolve, reject) => {
    timer = clock.setTimeout(() => reject(onTimeout()), ms);
    promise.then(resolve, reject);
  }).finally(() => clock.clearTimeout(timer!));
}

/**
 * What the transport needs of a socket: a Deno TCP connection, or another byte stream shaped as one (a
 * hole-punched socket opened through node:net, which can choose its local port; see lib/relay/punch_socket.ts).
 */
export type ByteConn = Pick<Deno.TcpConn, "read" | "write" | "close" | "setNoDelay">;

/** Closes `conn`, ignoring that it may be closed already. */
export function closeQuietly(conn: ByteConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/**
 * Whether `error` is one a socket raises because of the network or the peer (reset, closed, broken pipe),
 * as opposed to a bug in kith.
 */
export function isConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.NotConnected || error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted || error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.TimedOut;
}

/** A socket read as a stream of frames, counting the bytes both ways. */
export class FramedSocket {
  readonly conn: ByteConn;
  readonly decoder: FrameDecoder;
  readonly #frames: Uint8Array[] = [];
  #head = 0;
  readonly #buffer = new Uint8Array(READ_BUFFER_BYTES);
  readonly #totals: { bytesIn: number; bytesOut: number };
  /** Bytes read from this socket, handshake included. */
  bytesIn = 0;
  /**
   * Frames may be views of the read buffer rather than copies: only for a reader that is done with each
   * frame before it asks for the next (the next read reuses the buffer). The established link's read
   * loop is: it opens each record at once, and opening copies.
   */
  viewFrames = false;

  /** Wraps `conn`; frames above `maxFrameBytes` are refused; byte counts are also added to `totals`. */
  constructor(conn: ByteConn, maxFrameBytes: number, totals: { bytesIn: number; bytesOut: number }) {
    this.#totals = totals;
    this.conn = conn;
    this.decoder = new FrameDecoder(maxFrameBytes);
  }

  /** The next frame; `null` at end of stream. @throws {ProtocolError} on bad framing */
  async next(): Promise<Uint8Array | null> {
    while (this.#head >= this.#frames.length) {
      this.#frames.length = 0;
      this.#head = 0;
      let n: number | null;
      try {
        n = await this.conn.read(this.#buffer);
      } catch {
        return null; // closed locally, or reset
      }
      if (n === null) return null;
      this.bytesIn += n;
      this.#totals.bytesIn += n;
      for (const frame of this.decoder.push(this.#buffer.subarray(0, n), this.viewFrames)) this.#frames.push(frame);
    }
    return this.#frames[this.#head++];
  }

  /**
   * The next frame of the last read, or `undefined` when the next one needs a read: a reader takes every frame
   * one read brought in the same turn, without a wait (and a yield to other tasks) per frame.
   */
  buffered(): Uint8Array | undefined {
    return this.#head < this.#frames.length ? this.#frames[this.#head++] : undefined;
  }

  /**
   * Reads the stream's first bytes. When they begin with `magic`, returns the `extra` bytes that follow it
   * (a relay circuit's preamble; a sender must send nothing more until answered, and anything more is
   * refused); otherwise they are framed as usual and `undefined` is returned. `null` at end of stream.
   * No kith frame can begin with `magic` (its first four bytes, read as a frame length, are over any limit).
   */
  async readPreamble(magic: Uint8Array, extra: number): Promise<Uint8Array | undefined | null> {
    const wanted = magic.length + extra;
    const head = new Uint8Array(wanted);
    let have = 0;
    for (;;) {
      let n: number | null;
      try {
        n = await this.conn.read(this.#buffer.subarray(0, wanted - have));
      } catch {
        return null;
      }
      if (n === null) return null;
      this.bytesIn += n;
      this.#totals.bytesIn += n;
      head.set(this.#buffer.subarray(0, n), have);
      have += n;
      const compared = Math.min(have, magic.length);
      let matches = true;
      for (let i = 0; i < compared; i++) if (head[i] !== magic[i]) matches = false;
      if (!matches) {
        for (const frame of this.decoder.push(head.subarray(0, have))) this.#frames.push(frame);
        return undefined;
      }
      if (have === wanted) return head.slice(magic.length);
    }
  }

  /** When the write in progress started (ms), or undefined; watched by the transport's sweep. */
  writingSince: number | undefined;
  /** Set when the sweep closed the socket because a write stayed blocked. */
  writeTimedOut = false;

  /**
   * Writes all of `bytes`. With `timeoutMs`, a timer closes the socket if the
   * write blocks that long (handshake paths); without it, the transport's
   * once-a-second sweep does (the message path: no timer per write).
   */
  async write(bytes: Uint8Array, clock: Clock, timeoutMs?: number): Promise<void> {
    let timedOut = false;
    const timer = timeoutMs === undefined ? undefined : clock.setTimeout(() => {
      timedOut = true;
      closeQuietly(this.conn);
    }, timeoutMs);
    this.writingSince = clock.now();
    try {
      let offset = 0;
      while (offset < bytes.length) {
        const written = await this.conn.write(bytes.subarray(offset));
        offset += written;
        this.#totals.bytesOut += written;
      }
    } catch (error) {
      throw timedOut || this.writeTimedOut ? new TransportError("WRITE_TIMEOUT", "write blocked too long") : error;
    } finally {
      this.writingSince = undefined;
      if (timer !== undefined) clock.clearTimeout(timer);
    }
  }
}

let scratch = new Uint8Array(INITIAL_SCRATCH_BYTES);

/**
 * A buffer for assembling one record's plaintext, shared by every connection: sealing copies it at once
 * (synchronously), so it is free again before any other pump runs. One off-heap buffer fewer per record.
 */
function plaintextScratch(size: number): Uint8Array {
  if (scratch.length < size) scratch = new Uint8Array(Math.max(size, scratch.length * 2));
  return scratch.subarray(0, size);
}

/** What a finished handshake hands to its connection. */
export interface EstablishedLink {
  socket: FramedSocket;
  sealer: RecordSealer;
  opener: RecordOpener;
  inner: FrameDecoder;
  remote: Message<typeof MessageType.HANDSHAKE> | Message<typeof MessageType.HANDSHAKE_ACK>;
  direction: "inbound" | "outbound";
  remoteAddress: string;
  pipelined: Uint8Array[];
  /** How the bytes travel: straight, through a relay's circuit, or over a hole-punched socket. */
  linkKind?: LinkKind;
  /** The IP whose inbound slot this link holds (inbound only; default: the host of `remoteAddress`). */
  slotIp?: string;
  /** Outbound only: dialed as a transient link (inbound links read it from the peer's HANDSHAKE agent). */
  transient?: boolean;
}

/** What a connection needs from the transport that owns it; passed to its constructor. */
export interface ConnectionOwner {
  /** The transport's configuration. */
  readonly config: Readonly<TransportConfig>;
  /** The time source. */
  readonly clock: Clock;
  /** The envelope codec. */
  readonly codec: MessageCodec;
  /** Keeps `task` until it settles, so closing the transport can wait for it. */
  track(task: Promise<unknown>): void;
  /** An encoded DISCONNECT from this node, fitted to the schema. */
  disconnectEnvelope(reason: number, detail: string): Uint8Array;
  /** Called for each sealed record written. */
  recordWritten(): void;
  /** Called once when `connection` has closed. */
  closed(connection: TcpConnection, info: CloseInfo): void;
  /** Called when the peer sent bytes that failed to parse. */
  protocolError(connection: Connection, error: ProtocolError): void;
  /** Where failures of handlers are logged. */
  readonly log: LogSink;
}

/** A {@link Connection} over TCP, made by the transport once a handshake has finished. */
export class TcpConnection implements Connection {
  readonly remoteNodeId: string;
  readonly remotePublicKey: Uint8Array;
  readonly direction: "inbound" | "outbound";
  readonly remoteAddress: string;
  readonly listenAddress: string;
  readonly agent: string;
  readonly initialPeers: readonly PeerRecord[];
  readonly openedAt: number;
  readonly linkKind: LinkKind;
  readonly transient: boolean;
  /** The IP whose inbound slot this link holds, `undefined` for outbound links. */
  readonly slotIp: string | undefined;
  readonly stats: ConnectionStats = { bytesIn: 0, bytesOut: 0, envelopesIn: 0, envelopesOut: 0 };
  onEnvelope: ((envelope: Envelope) => void) | undefined;
  onClose: ((info: CloseInfo) => void) | undefined;
  readonly closed: Promise<CloseInfo>;
  readonly #owner: ConnectionOwner;
  readonly #link: EstablishedLink;
  readonly #queue: Uint8Array[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #pump: Promise<void> | undefined;
  #closeStarted = false;
  #terminated = false;
  #badWindowStart = -Infinity;
  #badInWindow = 0;
  #resolveClosed!: (info: CloseInfo) => void;

  /** A connection over `link`, reporting to `owner`; not started until {@link TcpConnection.start}. */
  constructor(owner: ConnectionOwner, link: EstablishedLink, openedAt: number) {
    this.#owner = owner;
    this.#link = link;
    const remote = link.remote;
    this.remoteNodeId = toHex(remote.origin);
    this.remotePublicKey = remote.publicKey;
    this.direction = link.direction;
    this.remoteAddress = link.remoteAddress;
    this.linkKind = link.linkKind ?? "direct";
    this.slotIp = link.direction === "inbound" ? link.slotIp : undefined;
    this.listenAddress = remote.payload.listenAddress;
    this.agent = remote.payload.agent;
    this.transient = link.direction === "inbound" ? announces(this.agent, TRANSIENT_TOKEN) : link.transient === true;
    this.initialPeers = remote.type === MessageType.HANDSHAKE_ACK ? remote.payload.peers : [];
    this.openedAt = openedAt;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  get bufferedBytes(): number {
    return this.#queuedBytes;
  }

  get isOpen(): boolean {
    return !this.#terminated && !this.#closeStarted;
  }

  /** Starts reading; delivers envelopes that came in the handshake's last record. */
  start(): void {
    for (const bytes of this.#link.pipelined) this.#receive(bytes);
    this.#link.pipelined = [];
    this.#link.socket.viewFrames = true;
    this.#owner.track(this.#readLoop());
  }

  send(envelope: Envelope): boolean {
    const limit = this.#owner.codec.limits.maxPayloadBytes;
    if (envelope.payloadBytes.length > limit) {
      throw new RangeError(`payload of ${envelope.payloadBytes.length} bytes exceeds the protocol limit of ${limit}`);
    }
    return this.sendEncoded(this.#owner.codec.encode(envelope));
  }

  sendEncoded(envelope: Uint8Array): boolean {
    if (!this.isOpen) return false;
    const config = this.#owner.config;
    if (envelope.length > config.maxFrameBytes) {
      throw new RangeError(`envelope of ${envelope.length} bytes exceeds maxFrameBytes ${config.maxFrameBytes}`);
    }
    if (this.#queuedBytes + envelope.length + FRAME_HEADER_BYTES > config.maxSendQueueBytes) {
      this.#owner.track(this.close(DisconnectReason.SLOW_READER, "send queue full"));
      return false;
    }
    this.#enqueue(envelope);
    return true;
  }

  #enqueue(envelope: Uint8Array): void {
    this.#queue.push(envelope);
    this.#queuedBytes += envelope.length + FRAME_HEADER_BYTES;
    this.stats.envelopesOut++;
    if (this.#pump === undefined) {
      // Start on a microtask, so envelopes queued in the same turn share one record.
      this.#pump = Promise.resolve().then(() => this.#runPump());
      this.#owner.track(this.#pump);
    }
  }

  async #runPump(): Promise<void> {
    const { socket, sealer } = this.#link;
    const config = this.#owner.config;
    const clock = this.#owner.clock;
    try {
      while (this.#queueHead < this.#queue.length && !this.#terminated) {
        // Coalesce queued envelopes into one record, up to maxRecordBytes (at least one).
        let size = 0, end = this.#queueHead;
        while (
          end < this.#queue.length &&
          (end === this.#queueHead || size + this.#queue[end].length + FRAME_HEADER_BYTES <= config.maxRecordBytes)
        ) {
          size += this.#queue[end].length + FRAME_HEADER_BYTES;
          end++;
        }
        const plaintext = plaintextScratch(size);
        const view = new DataView(plaintext.buffer, plaintext.byteOffset, size);
        let offset = 0;
        for (let i = this.#queueHead; i < end; i++) {
          const envelope = this.#queue[i];
          view.setUint32(offset, envelope.length);
          plaintext.set(envelope, offset + FRAME_HEADER_BYTES);
          offset += envelope.length + FRAME_HEADER_BYTES;
        }
        this.#queueHead = end;
        if (end === this.#queue.length) {
          // Drained: let go of the sent envelopes now (their buffers and views), not at the next compaction.
          this.#queue.length = 0;
          this.#queueHead = 0;
        } else if (this.#queueHead > QUEUE_COMPACT_AFTER && this.#queueHead * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#queueHead);
          this.#queueHead = 0;
        }
        const record = sealer.sealFrame(plaintext);
        await socket.write(record, clock);
        this.#queuedBytes -= size;
        this.stats.bytesOut += record.length;
        this.#owner.recordWritten();
      }
    } catch (error) {
      const slow = error instanceof TransportError && error.code === "WRITE_TIMEOUT";
      this.#terminate({
        reason: slow ? DisconnectReason.SLOW_READER : CONNECTION_LOST,
        detail: slow ? "write timed out" : "write failed",
        by: slow ? "local" : "remote",
      });
    } finally {
      this.#pump = undefined;
    }
  }

  /** Closes the socket when its current write has been blocked longer than `limitMs` (the transport's sweep). */
  closeIfWriteStalled(now: number, limitMs: number): void {
    const since = this.#link.socket.writingSince;
    if (since !== undefined && now - since >= limitMs) {
      this.#link.socket.writeTimedOut = true;
      this.#terminate({ reason: DisconnectReason.SLOW_READER, detail: "write timed out", by: "local" });
    }
  }

  async close(reason: number = DisconnectReason.SHUTDOWN, detail = ""): Promise<void> {
    if (this.#closeStarted || this.#terminated) {
      await this.closed;
      return;
    }
    this.#closeStarted = true;
    try {
      this.#enqueue(this.#owner.disconnectEnvelope(reason, detail));
    } catch (error) {
      this.#owner.log("error", "could not build DISCONNECT", errorFields(error));
    }
    const pump = this.#pump;
    if (pump) {
      await withTimeout(
        this.#owner.clock,
        pump,
        this.#owner.config.closeTimeoutMs,
        () => new Error("close timeout"),
      )
        .catch(() => {});
    }
    this.#terminate({ reason, detail, by: "local" });
  }

  #terminate(info: CloseInfo): void {
    if (this.#terminated) return;
    this.#terminated = true;
    closeQuietly(this.#link.socket.conn);
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#owner.closed(this, info);
    this.#resolveClosed(info);
    try {
      this.onClose?.(info);
    } catch (error) {
      this.#owner.log("error", "onClose handler failed", errorFields(error));
    }
  }

  async #readLoop(): Promise<void> {
    const { socket, opener, inner } = this.#link;
    try {
      for (;;) {
        const first = await socket.next();
        this.stats.bytesIn = socket.bytesIn;
        if (first === null || this.#terminated) break;
        // Every record of one read in one turn: the copies they make for other peers are queued before any
        // send queue's pump runs (a microtask), so they share records and system calls there.
        for (let record: Uint8Array | undefined = first; record !== undefined; record = socket.buffered()) {
          if (this.#terminated) break;
          if (this.#closeStarted) continue; // drain until the socket closes, deliver nothing
          const plaintext = opener.open(record);
          for (const bytes of inner.push(plaintext)) {
            this.#receive(bytes);
            if (!this.isOpen) break;
          }
        }
      }
    } catch (error) {
      if (error instanceof ProtocolError && !this.#terminated) {
        // The stream itself is broken (bad record or framing): nothing after it can be trusted.
        this.#owner.protocolError(this, error);
        await this.close(DisconnectReason.PROTOCOL_ERROR, error.message);
        return;
      }
    }
    this.#terminate({ reason: CONNECTION_LOST, detail: "connection closed by peer", by: "remote" });
  }

  /** Reports a bad envelope; a burst of them closes the link (garbage is cheap to send, not to parse). */
  #badEnvelope(error: ProtocolError): void {
    const now = this.#owner.clock.now();
    if (now - this.#badWindowStart >= BAD_ENVELOPE_WINDOW_MS) {
      this.#badWindowStart = now;
      this.#badInWindow = 0;
    }
    this.#owner.protocolError(this, error);
    if (++this.#badInWindow > MAX_BAD_ENVELOPES_PER_WINDOW && this.isOpen) {
      this.#owner.track(this.close(DisconnectReason.PROTOCOL_ERROR, "too many invalid envelopes"));
    }
  }

  #receive(bytes: Uint8Array): void {
    this.stats.envelopesIn++;
    let envelope: Envelope;
    try {
      envelope = this.#owner.codec.parse(bytes);
    } catch (error) {
      if (error instanceof ProtocolError) this.#badEnvelope(error);
      return;
    }
    if (envelope.type === MessageType.DISCONNECT) {
      try {
        const message = this.#owner.codec.verify(envelope, this.#owner.clock.now());
        if (message.type === MessageType.DISCONNECT && toHex(message.origin) === this.remoteNodeId) {
          this.#terminate({ reason: message.payload.reason, detail: message.payload.detail, by: "remote" });
          return;
        }
      } catch (error) {
        if (error instanceof ProtocolError) this.#badEnvelope(error);
        return;
      }
    }
    if (
      envelope.type === MessageType.HANDSHAKE || envelope.type === MessageType.HANDSHAKE_ACK ||
      envelope.type === MessageType.HANDSHAKE_CONFIRM || envelope.type === MessageType.DISCONNECT
    ) {
      this.#owner.protocolError(
        this,
        new ProtocolError("BAD_FIELD", "handshake message on an open connection"),
      );
      return;
    }
    try {
      this.onEnvelope?.(envelope);
    } catch (error) {
      this.#owner.log("error", "onEnvelope handler failed", errorFields(error));
    }
  }
}
