/**
 * The TCP {@link Transport}: the listener and admission (connection rates,
 * connection and per-IP limits), both roles of the handshake over a socket (the messages
 * themselves are built and checked in `handshake.ts`), dials with one
 * attempt at a time per target, the choice between duplicate connections,
 * and shutdown.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "../address.ts";
import { checkRecordCipher } from "../aead.ts";
import { toHex } from "../bytes.ts";
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import { ProtocolError } from "../errors.ts";
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from "../framing.ts";
import type { Identity } from "../identity.ts";
import { defaultLogSink, errorFields, type LogSink } from "../log.ts";
import { DisconnectReason, MessageCodec, type PeerRecord } from "../protocol/mod.ts";
import { BoundedMap } from "../ratelimit.ts";
import { AGENT } from "../version.ts";
import { InboundSlots } from "./admission.ts";
import { DialGate, type ResolveHost } from "./dial_gate.ts";
import { resolveTransportConfig, type TransportConfig } from "./config.ts";
import {
  closeQuietly,
  type ConnectionOwner,
  FramedSocket,
  isConnectionError,
  TcpConnection,
  withTimeout,
} from "./connection.ts";
import {
  buildAck,
  buildConfirm,
  buildDisconnect,
  buildHello,
  checkAck,
  checkConfirm,
  checkHello,
  freshHandshakeValues,
  type HandshakeContext,
  HandshakeFailure,
  initiatorError,
} from "./handshake.ts";
import { MAX_RECORD_PLAINTEXT, RECORD_TAG_BYTES, type RecordSealer } from "./session.ts";
import {
  type Connection,
  type DialOptions,
  emptyTransportStats,
  type Transport,
  TransportError,
  type TransportStats,
} from "./types.ts";

/** Largest frame read from a client that is refused at accept (it gets a DISCONNECT, not a handshake). */
const REFUSAL_MAX_FRAME_BYTES = 1024;
/** Longest a refusal's DISCONNECT may take to write, ms (also bounded by closeTimeoutMs). */
const REFUSAL_WRITE_TIMEOUT_MS = 500;
/** Ids of recent HANDSHAKEs remembered to refuse replays. */
const RECENT_HELLOS = 10_000;
/** Pause after a transient accept failure (such as running out of file descriptors), ms. */
const ACCEPT_RETRY_MS = 100;
/** Longest interval between sweeps for blocked writes, ms (shorter when writeTimeoutMs is). */
const WRITE_SWEEP_INTERVAL_MS = 1_000;

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
  /** Where failures of handlers and of accepting are logged. Default {@link defaultLogSink}. */
  log?: LogSink;
  /**
   * Resolves the host names the dial policy permits (bootstrap names); each address is checked against
   * the policy and the first permitted one is dialed. Default: the system resolver (`getaddrinfo`).
   */
  resolve?: ResolveHost;
}

interface PendingHandshake {
  conn: Deno.TcpConn;
  direction: "inbound" | "outbound";
  ip: string;
}

/** What a handshake's deadline needs: the sealer once keys exist (to seal the DISCONNECT), and whether it fired. */
interface DeadlineState {
  sealer?: RecordSealer;
  timedOut: boolean;
}

/**
 * The TCP {@link Transport}.
 *
 * @example
 * ```ts
 * import { Identity } from "../identity.ts";
 * import { TcpTransport } from "./tcp.ts";
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
  onConnection: ((connection: Connection) => void) | undefined;
  onProtocolError: ((connection: Connection, error: ProtocolError) => void) | undefined;
  readonly #clock: Clock;
  readonly #codec: MessageCodec;
  readonly #owner: ConnectionOwner;
  readonly #log: LogSink;
  readonly #inbound: InboundSlots;
  readonly #initialPeers: (remoteNodeId: string) => PeerRecord[];
  #listener: Deno.TcpListener | undefined;
  #boundAddress = "";
  #closing = false;
  readonly #open = new Map<string, TcpConnection>();
  readonly #all = new Set<TcpConnection>();
  readonly #pending = new Set<PendingHandshake>();
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #dialing = new Map<string, Promise<Connection>>();
  #sweepTimer: TimerId | undefined;
  // Ids of recent HANDSHAKEs whose signature was checked: a replayed one is refused before any signature
  // check, key agreement or signing.
  readonly #recentHellos = new BoundedMap<string, true>(RECENT_HELLOS);
  readonly #stats: TransportStats = emptyTransportStats();
  readonly #dialGate: DialGate;

  /**
   * Creates a transport; nothing is opened until {@link TcpTransport.listen} or {@link TcpTransport.dial}.
   *
   * @throws {ConfigError} when a config value is invalid
   */
  constructor(options: TcpTransportOptions) {
    // Both record-cipher paths give their known answers, or no connection is made with them (once per process).
    checkRecordCipher();
    this.config = Object.freeze(resolveTransportConfig(options.config));
    this.identity = options.identity;
    this.nodeId = options.identity.nodeId;
    this.#clock = options.clock ?? systemClock;
    this.#codec = options.codec ?? new MessageCodec();
    this.#initialPeers = options.initialPeers ?? (() => []);
    this.#log = options.log ?? defaultLogSink;
    this.#inbound = new InboundSlots(this.config, this.#stats);
    this.#dialGate = new DialGate(this.config.dialPolicy, this.#stats, this.#log, options.resolve);
    this.#owner = {
      config: this.config,
      clock: this.#clock,
      codec: this.#codec,
      track: (task) => void this.#track(task),
      disconnectEnvelope: (reason, detail) => this.#disconnectEnvelope(reason, detail),
      recordWritten: () => void this.#stats.recordsOut++,
      closed: (connection) => this.#connectionClosed(connection),
      protocolError: (connection, error) => this.#reportProtocolError(connection, error),
      log: this.#log,
    };
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

  /** Keeps `promise` until it settles, so {@link TcpTransport.close} can wait for it. */
  #track<T>(promise: Promise<T>): Promise<T> {
    this.#tasks.add(promise);
    promise.finally(() => this.#tasks.delete(promise)).catch(() => {});
    return promise;
  }

  /** What this node's handshake messages carry; the advertised address is read at each handshake. */
  #handshakeContext(): HandshakeContext {
    return {
      identity: this.identity,
      networkId: this.config.networkId,
      listenAddress: this.advertisedAddress,
      agent: AGENT,
      codec: this.#codec,
    };
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
        this.#log("warn", "accept failed, retrying", errorFields(error));
        await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, ACCEPT_RETRY_MS));
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
    const admission = this.#inbound.admits(ip, this.#clock.now());
    if (admission === "rate") {
      // Over a new-connection rate: close before reading or signing anything.
      closeQuietly(conn);
      return;
    }
    if (admission === "full") {
      // Tell the client why when it is cheap; under a flood, just close.
      const explained = this.#inbound.explainRefusal(() =>
        this.#refuse(
          new FramedSocket(conn, REFUSAL_MAX_FRAME_BYTES, this.#stats),
          DisconnectReason.TOO_MANY_CONNECTIONS,
          "no free slot",
        )
      );
      if (explained) this.#track(explained);
      else closeQuietly(conn);
      return;
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // Not fatal.
    }
    const pending: PendingHandshake = { conn, direction: "inbound", ip };
    this.#inbound.count(ip, +1);
    this.#pending.add(pending);
    this.#track(this.#acceptHandshake(pending));
  }

  /** An encoded DISCONNECT from this node, stamped now. */
  #disconnectEnvelope(reason: number, detail: string): Uint8Array {
    return buildDisconnect(this.identity, this.#codec, reason, detail, this.#clock.now());
  }

  /** Sends a DISCONNECT (sealed when keys exist) as best it can, then closes. */
  async #refuse(socket: FramedSocket, reason: number, detail: string, sealer?: RecordSealer): Promise<void> {
    try {
      let frame = encodeFrame(this.#disconnectEnvelope(reason, detail));
      if (sealer) frame = sealer.sealFrame(frame);
      await socket.write(frame, this.#clock, Math.min(this.config.closeTimeoutMs, REFUSAL_WRITE_TIMEOUT_MS));
    } catch {
      // The client is gone or not reading: closing is all that is left.
    } finally {
      closeQuietly(socket.conn);
    }
  }

  /** Answers a failed check as it asks (a DISCONNECT, or silence for a replay) and returns it to throw. */
  async #reject(socket: FramedSocket, failure: HandshakeFailure, sealer?: RecordSealer): Promise<HandshakeFailure> {
    if (failure.reply === undefined) closeQuietly(socket.conn);
    else await this.#refuse(socket, failure.reply, failure.detail, sealer);
    return failure;
  }

  /** Refuses the handshake on `socket` with HANDSHAKE_TIMEOUT after `ms`. */
  #deadline(socket: FramedSocket, state: DeadlineState, ms: number = this.config.handshakeTimeoutMs): TimerId {
    return this.#clock.setTimeout(() => {
      state.timedOut = true;
      this.#track(
        this.#refuse(socket, DisconnectReason.HANDSHAKE_TIMEOUT, "handshake not finished in time", state.sealer),
      );
    }, Math.max(0, ms));
  }

  /** The responder's side of the handshake on an admitted socket. Never rejects: network input cannot crash it. */
  async #acceptHandshake(pending: PendingHandshake): Promise<void> {
    const socket = new FramedSocket(pending.conn, this.config.maxHandshakeFrameBytes, this.#stats);
    const state: DeadlineState = { timedOut: false };
    const deadline = this.#deadline(socket, state);
    const context = this.#handshakeContext();
    let established: TcpConnection | undefined;
    try {
      const first = await socket.next();
      if (first === null || state.timedOut) throw new TransportError("HANDSHAKE_FAILED", "closed during handshake");
      const hello = checkHello(context, first, this.#clock.now(), {
        closing: this.#closing,
        seen: (id) => {
          const replayed = this.#recentHellos.has(id);
          if (replayed) this.#stats.handshakesReplayed++;
          return replayed;
        },
        verifying: (id) => {
          this.#recentHellos.set(id, true);
          this.#stats.handshakeVerifications++;
        },
      });
      if (hello instanceof HandshakeFailure) throw await this.#reject(socket, hello);
      const ack = buildAck(
        context,
        hello,
        freshHandshakeValues(),
        this.#initialPeers(toHex(hello.origin)),
        this.#clock.now(),
      );
      if (ack instanceof HandshakeFailure) throw await this.#reject(socket, ack);
      await socket.write(ack.frame, this.#clock, this.config.writeTimeoutMs);
      state.sealer = ack.sealer;
      socket.decoder.setMaxFrameBytes(this.#maxRecordFrame());
      const record = await socket.next();
      if (record === null || state.timedOut) throw new TransportError("HANDSHAKE_FAILED", "closed during handshake");
      const confirm = checkConfirm(
        context,
        record,
        this.#clock.now(),
        hello,
        ack.message,
        ack.opener,
        this.config.maxFrameBytes,
      );
      if (confirm instanceof HandshakeFailure) throw await this.#reject(socket, confirm, ack.sealer);
      if (state.timedOut) throw new TransportError("HANDSHAKE_TIMEOUT", "handshake timed out");
      this.#clock.clearTimeout(deadline);
      established = new TcpConnection(this.#owner, {
        socket,
        sealer: ack.sealer,
        opener: ack.opener,
        inner: confirm.inner,
        remote: hello,
        direction: "inbound",
        remoteAddress: formatHostPort(pending.ip, (pending.conn.remoteAddr as Deno.NetAddr).port),
        pipelined: confirm.pipelined,
      }, this.#clock.now());
    } catch (error) {
      closeQuietly(pending.conn);
      if (error instanceof TransportError || error instanceof ProtocolError || isConnectionError(error)) {
        this.#stats.handshakesFailed++;
      } else {
        // Not the peer's doing: a bug in kith. Logged, not counted as a failed handshake, and not rethrown
        // (the accept path must survive it).
        this.#log("error", "bug in an inbound handshake", {
          ...errorFields(error),
          stack: error instanceof Error ? error.stack : undefined,
        });
      }
    } finally {
      this.#clock.clearTimeout(deadline);
      this.#pending.delete(pending);
      if (!established) this.#inbound.count(pending.ip, -1);
    }
    if (established) this.#register(established);
  }

  /** Largest sealed record accepted: 64 KiB of coalesced envelopes, or one envelope alone, plus the tag. */
  #maxRecordFrame(): number {
    return Math.max(MAX_RECORD_PLAINTEXT, this.config.maxFrameBytes + FRAME_HEADER_BYTES) + RECORD_TAG_BYTES;
  }

  permitsDial(address: string): boolean {
    return this.#dialGate.permits(address);
  }

  async dial(address: string, options: DialOptions = {}): Promise<Connection> {
    if (this.#closing) throw new TransportError("CLOSED", "transport is closed");
    const target = parseHostPort(address);
    if (!target) throw new TransportError("CONNECT_FAILED", `not a host:port address: ${JSON.stringify(address)}`);
    // The last line of defence: whatever asked for this dial, nothing outside the policy is connected to.
    this.#dialGate.check(address);
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

  /** Opens the socket, to an address the policy permits (a configured host name is resolved, then checked). */
  async #connect(host: string, port: number, address: string): Promise<Deno.TcpConn> {
    const ip = await this.#dialGate.target(host, address, parseHostPort(address)?.family === "dns");
    return await Deno.connect({ hostname: ip, port, transport: "tcp" });
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
    return this.#register(established);
  }

  async #dialHandshake(host: string, port: number, address: string, options: DialOptions): Promise<TcpConnection> {
    const startedAt = this.#clock.now();
    const connecting = this.#connect(host, port, address);
    let conn: Deno.TcpConn;
    try {
      conn = await withTimeout(
        this.#clock,
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
    const state: DeadlineState = { timedOut: false };
    // One deadline covers connecting and the handshake together.
    const deadline = this.#deadline(socket, state, this.config.handshakeTimeoutMs - (this.#clock.now() - startedAt));
    const context = this.#handshakeContext();
    try {
      const fresh = freshHandshakeValues();
      const hello = buildHello(context, fresh, this.#clock.now());
      await socket.write(hello.frame, this.#clock, this.config.writeTimeoutMs);
      const reply = await socket.next();
      if (reply === null) {
        throw new TransportError(
          state.timedOut ? "HANDSHAKE_TIMEOUT" : "HANDSHAKE_FAILED",
          `${address} closed the connection during the handshake`,
        );
      }
      const ack = checkAck(context, reply, this.#clock.now(), hello.message, {
        closing: this.#closing,
        expectedNodeId: options.expectedNodeId,
      });
      if (ack instanceof HandshakeFailure) throw initiatorError(address, await this.#reject(socket, ack));
      const confirm = buildConfirm(context, fresh.ephemeral, ack, this.#clock.now());
      if (confirm instanceof HandshakeFailure) throw initiatorError(address, await this.#reject(socket, confirm));
      state.sealer = confirm.sealer;
      await socket.write(confirm.frame, this.#clock, this.config.writeTimeoutMs);
      if (state.timedOut) throw new TransportError("HANDSHAKE_TIMEOUT", `handshake with ${address} timed out`);
      this.#clock.clearTimeout(deadline);
      socket.decoder.setMaxFrameBytes(this.#maxRecordFrame());
      return new TcpConnection(this.#owner, {
        socket,
        sealer: confirm.sealer,
        opener: confirm.opener,
        inner: new FrameDecoder(this.config.maxFrameBytes),
        remote: ack,
        direction: "outbound",
        remoteAddress: address,
        pipelined: [],
      }, this.#clock.now());
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
      this.#clock.clearTimeout(deadline);
      this.#pending.delete(pending);
    }
  }

  /** Once a second while connections exist: closes those whose write has been blocked past writeTimeoutMs. */
  #sweepWrites(): void {
    if (this.#sweepTimer !== undefined || this.#closing) return;
    this.#sweepTimer = this.#clock.setTimeout(() => {
      this.#sweepTimer = undefined;
      const now = this.#clock.now();
      for (const connection of this.#all) connection.closeIfWriteStalled(now, this.config.writeTimeoutMs);
      if (this.#all.size > 0) this.#sweepWrites();
    }, Math.min(WRITE_SWEEP_INTERVAL_MS, this.config.writeTimeoutMs));
  }

  /**
   * Registers an authenticated connection, resolving duplicates the same way
   * at both ends: between connections opened in opposite directions, the one
   * opened by the node with the lower id stays; between two opened in the
   * same direction, the newer stays (the older is likely dead).
   */
  #register(connection: TcpConnection): TcpConnection {
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
      this.#log("error", "onConnection handler failed", errorFields(error));
    }
    connection.start();
    return winner;
  }

  /** Forgets a connection that has closed and frees its slot. */
  #connectionClosed(connection: TcpConnection): void {
    if (!this.#all.delete(connection)) return;
    if (this.#open.get(connection.remoteNodeId) === connection) this.#open.delete(connection.remoteNodeId);
    if (connection.direction === "inbound") {
      this.#inbound.count(parseHostPort(connection.remoteAddress)?.host ?? "", -1);
    } else {
      this.#stats.outbound--;
    }
  }

  /** Passes a peer's protocol error to {@link TcpTransport.onProtocolError}, which must not break the link. */
  #reportProtocolError(connection: Connection, error: ProtocolError): void {
    try {
      this.onProtocolError?.(connection, error);
    } catch (handlerError) {
      this.#log("error", "onProtocolError handler failed", errorFields(handlerError));
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
    if (this.#sweepTimer !== undefined) this.#clock.clearTimeout(this.#sweepTimer);
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
