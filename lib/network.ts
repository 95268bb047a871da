/**
 * The network transport: TCP connections authenticated and encrypted by the
 * kith handshake, with hard limits on everything a remote party can make a
 * node hold.
 *
 * A connection opens with three messages (docs/protocol.md, "Connections"):
 *
 * ```
 * initiator -> responder   HANDSHAKE        signed; network id, nonce, ephemeral X25519 key
 * responder -> initiator   HANDSHAKE_ACK    signed; its own nonce and key, the HANDSHAKE's id, initial peers
 * initiator -> responder   HANDSHAKE_CONFIRM signed and sealed; the ACK's id
 * ```
 *
 * Each side thereby signs a transcript containing the other's fresh nonce,
 * so a recorded handshake cannot be replayed, and both ephemeral keys, so a
 * relay cannot substitute its own. Session keys come from the X25519 secret
 * through HKDF (lib/session.ts); after the ACK every frame is a sealed record
 * carrying one or more envelopes.
 *
 * The transport sits behind the {@link Transport} interface so an in-memory
 * transport can replace TCP in simulations.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "./address.ts";
import { toHex } from "./bytes.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import { ConfigError, KithError, ProtocolError } from "./errors.ts";
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from "./framing.ts";
import type { Identity } from "./identity.ts";
import {
  createMessage,
  DisconnectReason,
  type Envelope,
  MAX_PEER_LIST,
  type Message,
  MessageCodec,
  MessageType,
  type PeerRecord,
} from "./protocol.ts";
import {
  deriveSessionKeys,
  type EphemeralKeyPair,
  generateEphemeralKeyPair,
  RECORD_TAG_BYTES,
  RecordOpener,
  RecordSealer,
} from "./session.ts";
import { BoundedMap } from "./ratelimit.ts";
import { AGENT } from "./version.ts";

/** Transport settings. Every field documents its default and trade-off. */
export interface TransportConfig {
  /** Network id: nodes with different ids refuse each other. Default `"kith-main"`. At most 64 bytes. */
  networkId: string;
  /** Address to listen on. Default `"0.0.0.0"`; `"::"` for IPv6, `"127.0.0.1"` for loopback only. */
  listenHost: string;
  /** Port to listen on. Default 7400; 0 picks a free port. */
  listenPort: number;
  /**
   * The `host:port` announced to peers. Default `""`: the listen address when it is a specific address,
   * nothing when it is a wildcard (peers then use the address they see).
   */
  advertisedAddress: string;
  /** Most inbound connections, handshaking ones included (the design's connection semaphore). Default 64. */
  maxInbound: number;
  /** Most outbound connections, handshaking ones included. Default 32. */
  maxOutbound: number;
  /**
   * Most inbound connections from one IP address. Default 8. One host cannot fill the inbound slots. On
   * loopback every local client has the same address: raise it for devnets.
   */
  maxConnectionsPerIp: number;
  /** A handshake not finished within this is dropped, ms. Default 5,000. Bounds slow and silent clients. */
  handshakeTimeoutMs: number;
  /** Largest envelope, bytes. Default 1 MiB. */
  maxFrameBytes: number;
  /**
   * Largest frame before the peer is authenticated, bytes. Default 64 KiB (a full HANDSHAKE_ACK is about
   * 20 KiB), so an unauthenticated client cannot make a node buffer large frames.
   */
  maxHandshakeFrameBytes: number;
  /**
   * Bytes a connection may have queued for sending; past this the peer is a stalled reader and is
   * disconnected (SLOW_READER). Default 8 MiB. Bounds the sender's memory per peer.
   */
  maxSendQueueBytes: number;
  /** A write blocked this long means the peer stopped reading: disconnect, ms. Default 10,000. */
  writeTimeoutMs: number;
  /**
   * Most plaintext bytes coalesced into one sealed record, bytes. Default and maximum 64 KiB (the
   * protocol's limit). Larger records cost fewer seals and syscalls; smaller ones cut latency for the
   * frames behind a large one.
   */
  maxRecordBytes: number;
  /** How long closing waits for the DISCONNECT and queued frames to be written, ms. Default 1,000. */
  closeTimeoutMs: number;
}

/** The default {@link TransportConfig}. */
export const DEFAULT_TRANSPORT_CONFIG: Readonly<TransportConfig> = Object.freeze({
  networkId: "kith-main",
  listenHost: "0.0.0.0",
  listenPort: 7400,
  advertisedAddress: "",
  maxInbound: 64,
  maxOutbound: 32,
  maxConnectionsPerIp: 8,
  handshakeTimeoutMs: 5_000,
  maxFrameBytes: 1024 * 1024,
  maxHandshakeFrameBytes: 64 * 1024,
  maxSendQueueBytes: 8 * 1024 * 1024,
  writeTimeoutMs: 10_000,
  maxRecordBytes: 64 * 1024,
  closeTimeoutMs: 1_000,
});

/**
 * The full transport config from defaults and `overrides`.
 *
 * @throws {ConfigError} naming the first invalid key
 */
export function resolveTransportConfig(overrides: Partial<TransportConfig> = {}): TransportConfig {
  const config = { ...DEFAULT_TRANSPORT_CONFIG, ...overrides };
  const fail = (key: keyof TransportConfig, rule: string) => {
    throw new ConfigError(`transport.${key}`, `transport.${key} ${rule}, got ${JSON.stringify(config[key])}`);
  };
  if (
    typeof config.networkId !== "string" || config.networkId.length === 0 ||
    new TextEncoder().encode(config.networkId).length > 64
  ) {
    fail("networkId", "must be a string of 1 to 64 bytes");
  }
  if (typeof config.listenHost !== "string" || (parseHostPort(formatHostPort(config.listenHost, 1)) === undefined)) {
    fail("listenHost", "must be an IP address or host name");
  }
  if (!Number.isInteger(config.listenPort) || config.listenPort < 0 || config.listenPort > 65535) {
    fail("listenPort", "must be an integer in 0..65535");
  }
  if (config.advertisedAddress !== "" && parseHostPort(config.advertisedAddress) === undefined) {
    fail("advertisedAddress", "must be empty or host:port");
  }
  const positive: (keyof TransportConfig)[] = [
    "maxInbound",
    "maxOutbound",
    "maxConnectionsPerIp",
    "handshakeTimeoutMs",
    "maxSendQueueBytes",
    "writeTimeoutMs",
    "maxRecordBytes",
    "closeTimeoutMs",
  ];
  for (const key of positive) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || (value as number) < 1) fail(key, "must be a positive integer");
  }
  if (config.maxRecordBytes > MAX_RECORD_PLAINTEXT) fail("maxRecordBytes", `must be at most ${MAX_RECORD_PLAINTEXT}`);
  if (
    !Number.isInteger(config.maxFrameBytes) || config.maxFrameBytes < 1024 || config.maxFrameBytes > 16 * 1024 * 1024
  ) {
    fail("maxFrameBytes", "must be an integer in 1024..16777216");
  }
  if (
    !Number.isInteger(config.maxHandshakeFrameBytes) || config.maxHandshakeFrameBytes < 1024 ||
    config.maxHandshakeFrameBytes > config.maxFrameBytes
  ) {
    fail("maxHandshakeFrameBytes", "must be an integer from 1024 up to maxFrameBytes");
  }
  return config;
}

/**
 * Most plaintext bytes of envelopes coalesced into one record (a single
 * larger envelope travels alone). Fixed by the protocol, so peers agree.
 */
export const MAX_RECORD_PLAINTEXT = 64 * 1024;

/** `CloseInfo.reason` when the link dropped without a DISCONNECT. Never sent on the wire. */
export const CONNECTION_LOST = 0;

/** Why and by whom a connection was closed. */
export interface CloseInfo {
  /** A {@link DisconnectReason} code, or {@link CONNECTION_LOST}. */
  reason: number;
  /** Human-readable detail. */
  detail: string;
  /** `"local"` when this node closed it, `"remote"` when the peer did (or the link dropped). */
  by: "local" | "remote";
}

/** Counters of one connection. */
export interface ConnectionStats {
  /** Bytes read from the socket. */
  bytesIn: number;
  /** Bytes written to the socket. */
  bytesOut: number;
  /** Envelopes received. */
  envelopesIn: number;
  /** Envelopes sent. */
  envelopesOut: number;
}

/** An authenticated, encrypted link to one peer. */
export interface Connection {
  /** The peer's node id (hex), proven by its handshake signature. */
  readonly remoteNodeId: string;
  /** The peer's Ed25519 public key. */
  readonly remotePublicKey: Uint8Array;
  /** Who opened it. */
  readonly direction: "inbound" | "outbound";
  /** The socket's remote address, `host:port`. */
  readonly remoteAddress: string;
  /** The listening address the peer announced (`""` when none). */
  readonly listenAddress: string;
  /** The peer's software name and version. */
  readonly agent: string;
  /** The peer list the responder sent in HANDSHAKE_ACK (empty on inbound connections). */
  readonly initialPeers: readonly PeerRecord[];
  /** When the handshake finished, ms since the epoch. */
  readonly openedAt: number;
  /** Bytes queued for sending and not yet written. */
  readonly bufferedBytes: number;
  /** Whether the connection can still send and receive. */
  readonly isOpen: boolean;
  /** Traffic counters. */
  readonly stats: Readonly<ConnectionStats>;
  /** Called with each envelope received (structure and id checked; signature not yet). */
  onEnvelope: ((envelope: Envelope) => void) | undefined;
  /** Called once when the connection closes. */
  onClose: ((info: CloseInfo) => void) | undefined;
  /**
   * Queues an envelope. Returns false when the connection is closed, or when the queue is over its bound
   * (the connection is then closed as a stalled reader): check {@link Connection.bufferedBytes} to pace.
   *
   * @throws {RangeError} when the envelope is larger than the protocol limits allow
   */
  send(envelope: Envelope): boolean;
  /** {@link Connection.send} for an envelope already encoded (forwarding without re-encoding). */
  sendEncoded(envelope: Uint8Array): boolean;
  /** Sends DISCONNECT with `reason` (default SHUTDOWN), waits briefly for queued frames, closes. */
  close(reason?: number, detail?: string): Promise<void>;
  /** Settles when the connection has closed. */
  readonly closed: Promise<CloseInfo>;
}

/** Options of {@link Transport.dial}. */
export interface DialOptions {
  /** The node id expected at that address; the handshake fails if another node answers. */
  expectedNodeId?: string;
}

/** Counters of a transport. */
export interface TransportStats {
  /** Inbound connections now (handshaking included). */
  inbound: number;
  /** Outbound connections now (handshaking included). */
  outbound: number;
  /** Most inbound connections held at once. */
  peakInbound: number;
  /** Inbound connections refused at accept (limits). */
  refused: number;
  /** Handshakes completed, both directions. */
  handshakesCompleted: number;
  /** Handshakes that failed, both directions. */
  handshakesFailed: number;
  /** Bytes read from all sockets. */
  bytesIn: number;
  /** Bytes written to all sockets. */
  bytesOut: number;
  /**
   * Sealed records written on established connections. Each is one socket write and one wake-up of the
   * reader, whatever number of envelopes it carries: their count, more than the bytes, is what messages
   * cost in CPU on a lightly loaded node.
   */
  recordsOut: number;
}

/** What the rest of a node needs from a transport (TCP here; in-memory in simulations). */
export interface Transport {
  /** This node's id. */
  readonly nodeId: string;
  /** Called with each new connection, both directions, once its handshake has finished. */
  onConnection: ((connection: Connection) => void) | undefined;
  /** Called when a connected peer sends an envelope that fails to parse (for trust penalties). */
  onProtocolError: ((connection: Connection, error: ProtocolError) => void) | undefined;
  /** Counters: connections, handshakes, bytes and records. */
  readonly stats: Readonly<TransportStats>;
  /** The `host:port` peers should dial to reach this node; `""` while none is known. */
  readonly advertisedAddress: string;
  /** Starts accepting connections; resolves with the bound `host:port`. */
  listen(): Promise<string>;
  /** Connects to `address` and completes the handshake. @throws {TransportError} */
  dial(address: string, options?: DialOptions): Promise<Connection>;
  /** The open connection to `nodeId`, if any. */
  connection(nodeId: string): Connection | undefined;
  /** All open connections. */
  connections(): Connection[];
  /** Disconnects everyone with SHUTDOWN, stops listening, and waits until every socket and timer is gone. */
  close(): Promise<void>;
}

/** Invalid envelopes a peer may send in one second before the link is closed. */
const MAX_BAD_ENVELOPES_PER_SECOND = 100;

const REASON_CODES: Record<number, string> = Object.fromEntries(
  Object.entries(DisconnectReason).map(([name, code]) => [code, name]),
);

/** A connection could not be made or was refused; `code` says why. */
export class TransportError extends KithError {
  /** The DISCONNECT reason the peer gave, when it gave one. */
  readonly reason: number | undefined;

  /**
   * Creates a transport error.
   *
   * @param code `CONNECT_FAILED`, `HANDSHAKE_FAILED`, `WRONG_PEER`, `CLOSED`, or a DisconnectReason name
   * @param message one line
   */
  constructor(code: string, message: string, reason?: number, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "TransportError";
    this.reason = reason;
  }
}

function reasonName(reason: number): string {
  return REASON_CODES[reason] ?? `REASON_${reason}`;
}

/** Resolves with `promise`, or rejects after `ms` (the timer is always cleared). */
function withTimeout<T>(clock: Clock, promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: TimerId | undefined;
  return new Promise<T>((resolve, reject) => {
    timer = clock.setTimeout(() => reject(onTimeout()), ms);
    promise.then(resolve, reject);
  }).finally(() => clock.clearTimeout(timer!));
}

function closeQuietly(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** A socket read as a stream of frames. */
class FramedSocket {
  readonly conn: Deno.TcpConn;
  readonly decoder: FrameDecoder;
  readonly #frames: Uint8Array[] = [];
  #head = 0;
  // 4 KiB per connection: a node with 1,000 peers holds 4 MB of read buffers. Messages arrive in records of
  // about 400 bytes at 100 messages/s; a 64 KiB record takes sixteen reads, a small cost next to its AEAD
  // (measured: 64 KiB envelopes at the same rate within noise of 8 and 16 KiB buffers).
  readonly #buffer = new Uint8Array(4 * 1024);
  readonly #totals: { bytesIn: number; bytesOut: number };
  bytesIn = 0;
  /**
   * Frames may be views of the read buffer rather than copies: only for a reader that is done with each
   * frame before it asks for the next (the next read reuses the buffer). The established link's read
   * loop is: it opens each record at once, and opening copies.
   */
  viewFrames = false;

  constructor(conn: Deno.TcpConn, maxFrameBytes: number, totals: { bytesIn: number; bytesOut: number }) {
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

let scratch = new Uint8Array(4096);

/**
 * A buffer for assembling one record's plaintext, shared by every connection: sealing copies it at once
 * (synchronously), so it is free again before any other pump runs. One off-heap buffer fewer per record.
 */
function plaintextScratch(size: number): Uint8Array {
  if (scratch.length < size) scratch = new Uint8Array(Math.max(size, scratch.length * 2));
  return scratch.subarray(0, size);
}

interface EstablishedLink {
  socket: FramedSocket;
  sealer: RecordSealer;
  opener: RecordOpener;
  inner: FrameDecoder;
  remote: Message<typeof MessageType.HANDSHAKE> | Message<typeof MessageType.HANDSHAKE_ACK>;
  direction: "inbound" | "outbound";
  remoteAddress: string;
  pipelined: Uint8Array[];
}

class TcpConnection implements Connection {
  readonly remoteNodeId: string;
  readonly remotePublicKey: Uint8Array;
  readonly direction: "inbound" | "outbound";
  readonly remoteAddress: string;
  readonly listenAddress: string;
  readonly agent: string;
  readonly initialPeers: readonly PeerRecord[];
  readonly openedAt: number;
  readonly stats: ConnectionStats = { bytesIn: 0, bytesOut: 0, envelopesIn: 0, envelopesOut: 0 };
  onEnvelope: ((envelope: Envelope) => void) | undefined;
  onClose: ((info: CloseInfo) => void) | undefined;
  readonly closed: Promise<CloseInfo>;
  readonly #transport: TcpTransport;
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

  constructor(transport: TcpTransport, link: EstablishedLink, openedAt: number) {
    this.#transport = transport;
    this.#link = link;
    const remote = link.remote;
    this.remoteNodeId = toHex(remote.origin);
    this.remotePublicKey = remote.publicKey;
    this.direction = link.direction;
    this.remoteAddress = link.remoteAddress;
    this.listenAddress = remote.payload.listenAddress;
    this.agent = remote.payload.agent;
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
    this.#transport.track(this.#readLoop());
  }

  send(envelope: Envelope): boolean {
    const limit = this.#transport.codec.limits.maxPayloadBytes;
    if (envelope.payloadBytes.length > limit) {
      throw new RangeError(`payload of ${envelope.payloadBytes.length} bytes exceeds the protocol limit of ${limit}`);
    }
    return this.sendEncoded(this.#transport.codec.encode(envelope));
  }

  sendEncoded(envelope: Uint8Array): boolean {
    if (!this.isOpen) return false;
    const config = this.#transport.config;
    if (envelope.length > config.maxFrameBytes) {
      throw new RangeError(`envelope of ${envelope.length} bytes exceeds maxFrameBytes ${config.maxFrameBytes}`);
    }
    if (this.#queuedBytes + envelope.length + FRAME_HEADER_BYTES > config.maxSendQueueBytes) {
      this.#transport.track(this.close(DisconnectReason.SLOW_READER, "send queue full"));
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
      this.#transport.track(this.#pump);
    }
  }

  async #runPump(): Promise<void> {
    const { socket, sealer } = this.#link;
    const config = this.#transport.config;
    const clock = this.#transport.clock;
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
        } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#queueHead);
          this.#queueHead = 0;
        }
        const record = sealer.sealFrame(plaintext);
        await socket.write(record, clock);
        this.#queuedBytes -= size;
        this.stats.bytesOut += record.length;
        this.#transport.recordWritten();
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

  /** Closes the socket when its current write has been blocked longer than `limitMs` (internal). */
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
      this.#enqueue(this.#transport.disconnectEnvelope(reason, detail));
    } catch (error) {
      console.error(`kith: could not build DISCONNECT: ${error}`);
    }
    const pump = this.#pump;
    if (pump) {
      await withTimeout(
        this.#transport.clock,
        pump,
        this.#transport.config.closeTimeoutMs,
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
    this.#transport.connectionClosed(this, info);
    this.#resolveClosed(info);
    try {
      this.onClose?.(info);
    } catch (error) {
      console.error(`kith: onClose handler failed: ${error}`);
    }
  }

  async #readLoop(): Promise<void> {
    const { socket, opener, inner } = this.#link;
    try {
      for (;;) {
        const record = await socket.next();
        this.stats.bytesIn = socket.bytesIn;
        if (record === null || this.#terminated) break;
        if (this.#closeStarted) continue; // drain until the socket closes, deliver nothing
        const plaintext = opener.open(record);
        for (const bytes of inner.push(plaintext)) {
          this.#receive(bytes);
          if (!this.isOpen) break;
        }
      }
    } catch (error) {
      if (error instanceof ProtocolError && !this.#terminated) {
        // The stream itself is broken (bad record or framing): nothing after it can be trusted.
        this.#transport.reportProtocolError(this, error);
        await this.close(DisconnectReason.PROTOCOL_ERROR, error.message);
        return;
      }
    }
    this.#terminate({ reason: CONNECTION_LOST, detail: "connection closed by peer", by: "remote" });
  }

  /** Reports a bad envelope; a burst of them closes the link (garbage is cheap to send, not to parse). */
  #badEnvelope(error: ProtocolError): void {
    const now = this.#transport.clock.now();
    if (now - this.#badWindowStart >= 1_000) {
      this.#badWindowStart = now;
      this.#badInWindow = 0;
    }
    this.#transport.reportProtocolError(this, error);
    if (++this.#badInWindow > MAX_BAD_ENVELOPES_PER_SECOND && this.isOpen) {
      this.#transport.track(this.close(DisconnectReason.PROTOCOL_ERROR, "too many invalid envelopes"));
    }
  }

  #receive(bytes: Uint8Array): void {
    this.stats.envelopesIn++;
    let envelope: Envelope;
    try {
      envelope = this.#transport.codec.parse(bytes);
    } catch (error) {
      if (error instanceof ProtocolError) this.#badEnvelope(error);
      return;
    }
    if (envelope.type === MessageType.DISCONNECT) {
      try {
        const message = this.#transport.codec.verify(envelope, this.#transport.clock.now());
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
      this.#transport.reportProtocolError(
        this,
        new ProtocolError("BAD_FIELD", "handshake message on an open connection"),
      );
      return;
    }
    try {
      this.onEnvelope?.(envelope);
    } catch (error) {
      console.error(`kith: onEnvelope handler failed: ${error}`);
    }
  }
}

/** Options of {@link TcpTransport}. */
export interface TcpTransportOptions {
  /** This node's identity. */
  identity: Identity;
  /** Overrides of {@link DEFAULT_TRANSPORT_CONFIG}. */
  config?: Partial<TransportConfig>;
  /** Time source and timers. Default: the system clock. */
  clock?: Clock;
  /** Codec for envelopes; default: one with the protocol's default limits. */
  codec?: MessageCodec;
  /** Supplies the peer list sent in HANDSHAKE_ACK to `remoteNodeId` (at most 64 are sent). */
  initialPeers?: (remoteNodeId: string) => PeerRecord[];
}

interface PendingHandshake {
  conn: Deno.TcpConn;
  direction: "inbound" | "outbound";
  ip: string;
}

/**
 * The TCP {@link Transport}.
 *
 * @example
 * ```ts
 * import { Identity } from "./identity.ts";
 * import { TcpTransport } from "./network.ts";
 * const a = new TcpTransport({ identity: Identity.generate(), config: { listenHost: "127.0.0.1", listenPort: 0 } });
 * const b = new TcpTransport({ identity: Identity.generate(), config: { listenHost: "127.0.0.1", listenPort: 0 } });
 * const address = await a.listen();
 * const connection = await b.dial(address);
 * console.log(connection.remoteNodeId === a.nodeId); // true
 * await b.close();
 * await a.close();
 * ```
 */
export class TcpTransport implements Transport {
  /** The configuration in force. */
  readonly config: Readonly<TransportConfig>;
  /** This node's identity. */
  readonly identity: Identity;
  /** This node's id. */
  readonly nodeId: string;
  /** The time source. */
  readonly clock: Clock;
  /** The envelope codec. */
  readonly codec: MessageCodec;
  onConnection: ((connection: Connection) => void) | undefined;
  onProtocolError: ((connection: Connection, error: ProtocolError) => void) | undefined;
  readonly #initialPeers: (remoteNodeId: string) => PeerRecord[];
  #listener: Deno.TcpListener | undefined;
  #boundAddress = "";
  #closing = false;
  readonly #open = new Map<string, TcpConnection>();
  readonly #all = new Set<TcpConnection>();
  readonly #pending = new Set<PendingHandshake>();
  readonly #inboundByIp = new Map<string, number>();
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #dialing = new Map<string, Promise<Connection>>();
  #sweepTimer: TimerId | undefined;
  // Ids of recent HANDSHAKEs: a replayed one is refused before any key agreement or signing.
  readonly #recentHellos = new BoundedMap<string, true>(10_000);
  #refusing = 0;
  readonly #stats: TransportStats = {
    inbound: 0,
    outbound: 0,
    peakInbound: 0,
    refused: 0,
    handshakesCompleted: 0,
    handshakesFailed: 0,
    bytesIn: 0,
    bytesOut: 0,
    recordsOut: 0,
  };

  /**
   * Creates a transport; nothing is opened until {@link TcpTransport.listen} or {@link TcpTransport.dial}.
   *
   * @throws {ConfigError} when a config value is invalid
   */
  constructor(options: TcpTransportOptions) {
    this.config = Object.freeze(resolveTransportConfig(options.config));
    this.identity = options.identity;
    this.nodeId = options.identity.nodeId;
    this.clock = options.clock ?? systemClock;
    this.codec = options.codec ?? new MessageCodec();
    this.#initialPeers = options.initialPeers ?? (() => []);
  }

  /** Counters: connections now and at peak, refusals, handshakes. */
  get stats(): Readonly<TransportStats> {
    return { ...this.#stats };
  }

  /** The bound `host:port`, once listening. */
  get listenAddress(): string {
    return this.#boundAddress;
  }

  /** The address announced to peers (see {@link TransportConfig.advertisedAddress}). */
  get advertisedAddress(): string {
    if (this.config.advertisedAddress) return this.config.advertisedAddress;
    const host = this.config.listenHost;
    if (!this.#boundAddress || host === "0.0.0.0" || host === "::") return "";
    return this.#boundAddress;
  }

  /** Keeps `promise` until it settles, so {@link TcpTransport.close} can wait for it (internal). */
  track<T>(promise: Promise<T>): Promise<T> {
    return this.#track(promise);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#tasks.add(promise);
    promise.finally(() => this.#tasks.delete(promise)).catch(() => {});
    return promise;
  }

  listen(): Promise<string> {
    try {
      return Promise.resolve(this.#listenNow());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #listenNow(): string {
    if (this.#closing) throw new TransportError("CLOSED", "transport is closed");
    if (this.#listener) return this.#boundAddress;
    try {
      this.#listener = Deno.listen({
        hostname: this.config.listenHost,
        port: this.config.listenPort,
        transport: "tcp",
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TransportError(
        "LISTEN_FAILED",
        `cannot listen on ${formatHostPort(this.config.listenHost, this.config.listenPort)}: ${reason}`,
        undefined,
        { cause: error },
      );
    }
    const addr = this.#listener.addr as Deno.NetAddr;
    this.#boundAddress = formatHostPort(addr.hostname, addr.port);
    this.#track(this.#acceptLoop(this.#listener));
    return this.#boundAddress;
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
          return; // the listener was closed
        }
        // A transient failure (out of file descriptors, a client that reset
        // early): pause briefly and keep accepting.
        console.error(`kith: accept failed, retrying: ${error instanceof Error ? error.message : error}`);
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 100));
        continue;
      }
      this.#admit(conn);
    }
  }

  #admit(conn: Deno.TcpConn): void {
    const ip = (conn.remoteAddr as Deno.NetAddr).hostname;
    if (this.#closing) {
      closeQuietly(conn);
      return;
    }
    const fromIp = this.#inboundByIp.get(ip) ?? 0;
    if (this.#stats.inbound >= this.config.maxInbound || fromIp >= this.config.maxConnectionsPerIp) {
      this.#stats.refused++;
      // Tell the client why when it is cheap; under a flood, just close.
      if (this.#refusing < 32) {
        this.#refusing++;
        this.#track(
          this.#refuse(new FramedSocket(conn, 1024, this.#stats), DisconnectReason.TOO_MANY_CONNECTIONS, "no free slot")
            .finally(() => this.#refusing--),
        );
      } else closeQuietly(conn);
      return;
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // Not fatal.
    }
    const pending: PendingHandshake = { conn, direction: "inbound", ip };
    this.#countInbound(ip, +1);
    this.#pending.add(pending);
    this.#track(this.#acceptHandshake(pending));
  }

  #countInbound(ip: string, delta: number): void {
    this.#stats.inbound += delta;
    this.#stats.peakInbound = Math.max(this.#stats.peakInbound, this.#stats.inbound);
    const n = (this.#inboundByIp.get(ip) ?? 0) + delta;
    if (n <= 0) this.#inboundByIp.delete(ip);
    else this.#inboundByIp.set(ip, n);
  }

  /**
   * An encoded DISCONNECT with `reason` clamped to 0..65535 and `detail` cut
   * to 200 UTF-8 bytes, so it always fits the schema (internal).
   */
  disconnectEnvelope(reason: number, detail: string): Uint8Array {
    const code = Number.isInteger(reason) && reason >= 0 && reason <= 65535 ? reason : DisconnectReason.PROTOCOL_ERROR;
    let text = detail;
    while (new TextEncoder().encode(text).length > 200) text = text.slice(0, -1);
    return this.codec.encode(
      createMessage(this.identity, MessageType.DISCONNECT, { reason: code, detail: text }, {
        ttl: 0,
        timestamp: this.clock.now(),
      }),
    );
  }

  /** Sends a DISCONNECT (sealed when keys exist) as best it can, then closes. */
  async #refuse(socket: FramedSocket, reason: number, detail: string, sealer?: RecordSealer): Promise<void> {
    try {
      let frame = encodeFrame(this.disconnectEnvelope(reason, detail));
      if (sealer) frame = sealer.sealFrame(frame);
      await socket.write(frame, this.clock, Math.min(this.config.closeTimeoutMs, 500));
    } catch {
      // The client is gone or not reading: closing is all that is left.
    } finally {
      closeQuietly(socket.conn);
    }
  }

  #deadline(
    socket: FramedSocket,
    state: { sealer?: RecordSealer; timedOut: boolean },
    ms: number = this.config.handshakeTimeoutMs,
  ): TimerId {
    return this.clock.setTimeout(() => {
      state.timedOut = true;
      this.#track(
        this.#refuse(socket, DisconnectReason.HANDSHAKE_TIMEOUT, "handshake not finished in time", state.sealer),
      );
    }, Math.max(0, ms));
  }

  async #acceptHandshake(pending: PendingHandshake): Promise<void> {
    const socket = new FramedSocket(pending.conn, this.config.maxHandshakeFrameBytes, this.#stats);
    const state: { sealer?: RecordSealer; timedOut: boolean } = { timedOut: false };
    const deadline = this.#deadline(socket, state);
    let established: TcpConnection | undefined;
    try {
      const first = await socket.next();
      if (first === null || state.timedOut) throw new TransportError("HANDSHAKE_FAILED", "closed during handshake");
      let hello: Message;
      try {
        hello = this.codec.decode(first, this.clock.now());
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        const reason = error.code === "UNSUPPORTED_VERSION"
          ? DisconnectReason.UNSUPPORTED_VERSION
          : DisconnectReason.PROTOCOL_ERROR;
        await this.#refuse(socket, reason, error.message);
        throw error;
      }
      if (hello.type !== MessageType.HANDSHAKE) {
        await this.#refuse(socket, DisconnectReason.PROTOCOL_ERROR, "expected HANDSHAKE");
        throw new TransportError("HANDSHAKE_FAILED", "expected HANDSHAKE");
      }
      const refusal = this.#checkHello(hello.payload.networkId, toHex(hello.origin));
      if (refusal) {
        await this.#refuse(socket, refusal[0], refusal[1]);
        throw new TransportError(reasonName(refusal[0]), refusal[1]);
      }
      const helloKey = toHex(hello.id);
      if (this.#recentHellos.has(helloKey)) {
        closeQuietly(pending.conn); // a replay: not worth a signature
        throw new TransportError("HANDSHAKE_FAILED", "replayed HANDSHAKE");
      }
      this.#recentHellos.set(helloKey, true);
      const ephemeral = generateEphemeralKeyPair();
      const remoteId = toHex(hello.origin);
      const ack = createMessage(this.identity, MessageType.HANDSHAKE_ACK, {
        networkId: this.config.networkId,
        nonce: crypto.getRandomValues(new Uint8Array(32)),
        ephemeralKey: ephemeral.publicKey,
        listenAddress: this.advertisedAddress,
        agent: AGENT,
        handshakeId: hello.id,
        peers: this.#initialPeers(remoteId).slice(0, MAX_PEER_LIST),
      }, { ttl: 0, timestamp: this.clock.now() });
      const keys = deriveSessionKeys(ephemeral, hello.payload.ephemeralKey, ack.id, false);
      if (keys === undefined) {
        await this.#refuse(socket, DisconnectReason.PROTOCOL_ERROR, "unusable ephemeral key");
        throw new TransportError("HANDSHAKE_FAILED", "unusable ephemeral key");
      }
      const sealer = new RecordSealer(keys.sendKey), opener = new RecordOpener(keys.receiveKey);
      await socket.write(encodeFrame(this.codec.encode(ack)), this.clock, this.config.writeTimeoutMs);
      state.sealer = sealer;
      socket.decoder.setMaxFrameBytes(this.#maxRecordFrame());
      const record = await socket.next();
      if (record === null || state.timedOut) throw new TransportError("HANDSHAKE_FAILED", "closed during handshake");
      const inner = new FrameDecoder(this.config.maxFrameBytes);
      let frames: Uint8Array[];
      let confirm: Message;
      try {
        frames = inner.push(opener.open(record));
        if (frames.length === 0) throw new ProtocolError("BAD_FIELD", "empty first record");
        confirm = this.codec.decode(frames[0], this.clock.now());
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        await this.#refuse(socket, DisconnectReason.PROTOCOL_ERROR, error.message, sealer);
        throw error;
      }
      if (
        confirm.type !== MessageType.HANDSHAKE_CONFIRM || toHex(confirm.origin) !== remoteId ||
        toHex(confirm.payload.ackId) !== toHex(ack.id)
      ) {
        await this.#refuse(socket, DisconnectReason.PROTOCOL_ERROR, "HANDSHAKE_CONFIRM does not match", sealer);
        throw new TransportError("HANDSHAKE_FAILED", "bad HANDSHAKE_CONFIRM");
      }
      if (state.timedOut) throw new TransportError("HANDSHAKE_TIMEOUT", "handshake timed out");
      this.clock.clearTimeout(deadline);
      socket.bytesIn; // counted from here on by the connection
      established = new TcpConnection(this, {
        socket,
        sealer,
        opener,
        inner,
        remote: hello,
        direction: "inbound",
        remoteAddress: formatHostPort(pending.ip, (pending.conn.remoteAddr as Deno.NetAddr).port),
        pipelined: frames.slice(1),
      }, this.clock.now());
    } catch {
      this.#stats.handshakesFailed++;
      closeQuietly(pending.conn);
    } finally {
      this.clock.clearTimeout(deadline);
      this.#pending.delete(pending);
      if (!established) this.#countInbound(pending.ip, -1);
    }
    if (established) this.#register(established, pending.ip);
  }

  #checkHello(networkId: string, remoteId: string): [number, string] | undefined {
    if (networkId !== this.config.networkId) {
      return [DisconnectReason.WRONG_NETWORK, `this node is on network ${JSON.stringify(this.config.networkId)}`];
    }
    if (remoteId === this.nodeId) return [DisconnectReason.SELF_CONNECTION, "connection to self"];
    if (this.#closing) return [DisconnectReason.SHUTDOWN, "shutting down"];
    return undefined;
  }

  /** Largest sealed record accepted: 64 KiB of coalesced envelopes, or one envelope alone, plus the tag. */
  #maxRecordFrame(): number {
    return Math.max(MAX_RECORD_PLAINTEXT, this.config.maxFrameBytes + FRAME_HEADER_BYTES) + RECORD_TAG_BYTES;
  }

  async dial(address: string, options: DialOptions = {}): Promise<Connection> {
    if (this.#closing) throw new TransportError("CLOSED", "transport is closed");
    const target = parseHostPort(address);
    if (!target) throw new TransportError("CONNECT_FAILED", `not a host:port address: ${JSON.stringify(address)}`);
    if (options.expectedNodeId !== undefined) {
      const existing = this.#open.get(options.expectedNodeId);
      if (existing?.isOpen) return existing;
    }
    // One dial at a time per target: concurrent dials to the same node could
    // complete their handshakes in a different order at each end.
    const key = options.expectedNodeId ?? address;
    const inFlight = this.#dialing.get(key) ?? this.#dialing.get(address);
    if (inFlight) return await inFlight;
    const attempt = this.#dialOnce(address, target.host, target.port, options);
    this.#dialing.set(key, attempt);
    if (key !== address) this.#dialing.set(address, attempt);
    try {
      return await attempt;
    } finally {
      this.#dialing.delete(key);
      this.#dialing.delete(address);
    }
  }

  async #dialOnce(address: string, host: string, port: number, options: DialOptions): Promise<Connection> {
    if (this.#stats.outbound >= this.config.maxOutbound) {
      throw new TransportError("TOO_MANY_CONNECTIONS", `outbound limit of ${this.config.maxOutbound} reached`);
    }
    this.#stats.outbound++;
    let established: TcpConnection | undefined;
    try {
      const attempt = this.#dialHandshake(host, port, address, options);
      established = await this.#track(attempt);
    } finally {
      if (!established) this.#stats.outbound--;
    }
    return this.#register(established, "");
  }

  async #dialHandshake(host: string, port: number, address: string, options: DialOptions): Promise<TcpConnection> {
    const startedAt = this.clock.now();
    const connecting = Deno.connect({ hostname: host, port, transport: "tcp" });
    let conn: Deno.TcpConn;
    try {
      conn = await withTimeout(
        this.clock,
        connecting,
        this.config.handshakeTimeoutMs,
        () => new TransportError("CONNECT_FAILED", `connecting to ${address} timed out`),
      );
    } catch (error) {
      connecting.then(closeQuietly, () => {}); // a late connection must not leak
      this.#stats.handshakesFailed++;
      if (error instanceof TransportError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new TransportError("CONNECT_FAILED", `cannot connect to ${address}: ${reason}`, undefined, {
        cause: error,
      });
    }
    if (this.#closing) {
      closeQuietly(conn);
      throw new TransportError("CLOSED", "transport closed while connecting");
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // Not fatal.
    }
    const pending: PendingHandshake = { conn, direction: "outbound", ip: host };
    this.#pending.add(pending);
    const socket = new FramedSocket(conn, this.config.maxHandshakeFrameBytes, this.#stats);
    const state: { sealer?: RecordSealer; timedOut: boolean } = { timedOut: false };
    // One deadline covers connecting and the handshake together.
    const deadline = this.#deadline(socket, state, this.config.handshakeTimeoutMs - (this.clock.now() - startedAt));
    try {
      const ephemeral: EphemeralKeyPair = generateEphemeralKeyPair();
      const hello = createMessage(this.identity, MessageType.HANDSHAKE, {
        networkId: this.config.networkId,
        nonce: crypto.getRandomValues(new Uint8Array(32)),
        ephemeralKey: ephemeral.publicKey,
        listenAddress: this.advertisedAddress,
        agent: AGENT,
      }, { ttl: 0, timestamp: this.clock.now() });
      await socket.write(encodeFrame(this.codec.encode(hello)), this.clock, this.config.writeTimeoutMs);
      const reply = await socket.next();
      if (reply === null) {
        throw new TransportError(
          state.timedOut ? "HANDSHAKE_TIMEOUT" : "HANDSHAKE_FAILED",
          `${address} closed the connection during the handshake`,
        );
      }
      let ack: Message;
      try {
        ack = this.codec.decode(reply, this.clock.now());
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        await this.#refuse(socket, DisconnectReason.PROTOCOL_ERROR, error.message);
        throw new TransportError(
          "HANDSHAKE_FAILED",
          `${address} sent an invalid handshake: ${error.message}`,
          undefined,
          { cause: error },
        );
      }
      if (ack.type === MessageType.DISCONNECT) {
        throw new TransportError(
          reasonName(ack.payload.reason),
          `${address} refused the connection: ${reasonName(ack.payload.reason)}${
            ack.payload.detail ? ` (${ack.payload.detail})` : ""
          }`,
          ack.payload.reason,
        );
      }
      const fail = async (reason: number, code: string, detail: string): Promise<never> => {
        await this.#refuse(socket, reason, detail);
        throw new TransportError(code, `${address}: ${detail}`, reason);
      };
      if (ack.type !== MessageType.HANDSHAKE_ACK) {
        return await fail(DisconnectReason.PROTOCOL_ERROR, "HANDSHAKE_FAILED", "expected HANDSHAKE_ACK");
      }
      if (toHex(ack.payload.handshakeId) !== toHex(hello.id)) {
        return await fail(
          DisconnectReason.PROTOCOL_ERROR,
          "HANDSHAKE_FAILED",
          "HANDSHAKE_ACK answers another handshake",
        );
      }
      const remoteId = toHex(ack.origin);
      const refusal = this.#checkHello(ack.payload.networkId, remoteId);
      if (refusal) return await fail(refusal[0], reasonName(refusal[0]), refusal[1]);
      if (options.expectedNodeId !== undefined && options.expectedNodeId !== remoteId) {
        return await fail(
          DisconnectReason.PROTOCOL_ERROR,
          "WRONG_PEER",
          `expected node ${options.expectedNodeId}, found ${remoteId}`,
        );
      }
      const keys = deriveSessionKeys(ephemeral, ack.payload.ephemeralKey, ack.id, true);
      if (keys === undefined) {
        return await fail(DisconnectReason.PROTOCOL_ERROR, "HANDSHAKE_FAILED", "unusable ephemeral key");
      }
      const sealer = new RecordSealer(keys.sendKey), opener = new RecordOpener(keys.receiveKey);
      state.sealer = sealer;
      const confirm = createMessage(this.identity, MessageType.HANDSHAKE_CONFIRM, { ackId: ack.id }, {
        ttl: 0,
        timestamp: this.clock.now(),
      });
      await socket.write(
        sealer.sealFrame(encodeFrame(this.codec.encode(confirm))),
        this.clock,
        this.config.writeTimeoutMs,
      );
      if (state.timedOut) throw new TransportError("HANDSHAKE_TIMEOUT", `handshake with ${address} timed out`);
      this.clock.clearTimeout(deadline);
      socket.decoder.setMaxFrameBytes(this.#maxRecordFrame());
      return new TcpConnection(this, {
        socket,
        sealer,
        opener,
        inner: new FrameDecoder(this.config.maxFrameBytes),
        remote: ack,
        direction: "outbound",
        remoteAddress: address,
        pipelined: [],
      }, this.clock.now());
    } catch (error) {
      this.#stats.handshakesFailed++;
      closeQuietly(conn);
      if (error instanceof TransportError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new TransportError(
        state.timedOut ? "HANDSHAKE_TIMEOUT" : "HANDSHAKE_FAILED",
        `handshake with ${address} failed: ${reason}`,
        undefined,
        { cause: error },
      );
    } finally {
      this.clock.clearTimeout(deadline);
      this.#pending.delete(pending);
    }
  }

  /**
   * Registers an authenticated connection, resolving duplicates the same way
   * at both ends: between connections opened in opposite directions, the one
   * opened by the node with the lower id stays; between two opened in the
   * same direction, the newer stays (the older is likely dead).
   */
  /** Once a second while connections exist: closes those whose write has been blocked past writeTimeoutMs. */
  #sweepWrites(): void {
    if (this.#sweepTimer !== undefined || this.#closing) return;
    this.#sweepTimer = this.clock.setTimeout(() => {
      this.#sweepTimer = undefined;
      const now = this.clock.now();
      for (const connection of this.#all) connection.closeIfWriteStalled(now, this.config.writeTimeoutMs);
      if (this.#all.size > 0) this.#sweepWrites();
    }, Math.min(1_000, this.config.writeTimeoutMs));
  }

  #register(connection: TcpConnection, _ip: string): TcpConnection {
    this.#stats.handshakesCompleted++;
    this.#all.add(connection);
    this.#sweepWrites();
    const existing = this.#open.get(connection.remoteNodeId);
    let winner = connection;
    if (existing && existing.isOpen) {
      const initiator = (c: TcpConnection) => c.direction === "outbound" ? this.nodeId : c.remoteNodeId;
      const keepExisting = existing.direction !== connection.direction && initiator(existing) < initiator(connection);
      winner = keepExisting ? existing : connection;
      const loser = keepExisting ? connection : existing;
      if (loser === connection) {
        connection.start();
        this.#track(connection.close(DisconnectReason.DUPLICATE_CONNECTION, "kept the other connection"));
        return winner;
      }
      this.#open.set(connection.remoteNodeId, connection);
      this.#track(loser.close(DisconnectReason.DUPLICATE_CONNECTION, "kept the other connection"));
    } else {
      this.#open.set(connection.remoteNodeId, connection);
    }
    if (this.#closing) {
      connection.start();
      this.#track(connection.close(DisconnectReason.SHUTDOWN, "shutting down"));
      return connection;
    }
    try {
      this.onConnection?.(connection);
    } catch (error) {
      console.error(`kith: onConnection handler failed: ${error}`);
    }
    connection.start();
    return winner;
  }

  /** Called by one of this transport's connections for each sealed record it writes (internal). */
  recordWritten(): void {
    this.#stats.recordsOut++;
  }

  /** Called by one of this transport's connections when it has closed (internal). */
  connectionClosed(closed: Connection, _info: CloseInfo): void {
    const connection = closed as TcpConnection;
    if (!this.#all.delete(connection)) return;
    if (this.#open.get(connection.remoteNodeId) === connection) this.#open.delete(connection.remoteNodeId);
    if (connection.direction === "inbound") {
      this.#countInbound(parseHostPort(connection.remoteAddress)?.host ?? "", -1);
    } else {
      this.#stats.outbound--;
    }
  }

  /** Called by a connection with an envelope that failed to parse. */
  reportProtocolError(connection: Connection, error: ProtocolError): void {
    try {
      this.onProtocolError?.(connection, error);
    } catch (handlerError) {
      console.error(`kith: onProtocolError handler failed: ${handlerError}`);
    }
  }

  connection(nodeId: string): Connection | undefined {
    const c = this.#open.get(nodeId);
    return c?.isOpen ? c : undefined;
  }

  connections(): Connection[] {
    return [...this.#open.values()].filter((c) => c.isOpen);
  }

  async close(): Promise<void> {
    if (this.#closing) {
      await Promise.allSettled([...this.#tasks]);
      return;
    }
    this.#closing = true;
    if (this.#sweepTimer !== undefined) this.clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    for (const pending of this.#pending) closeQuietly(pending.conn);
    await Promise.allSettled([...this.#all].map((c) => c.close(DisconnectReason.SHUTDOWN, "shutting down")));
    // Handshakes and refusals still in flight end as their sockets close.
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }
}
