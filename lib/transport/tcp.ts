/**
 * The TCP {@link Transport}: the listener, the table of established
 * connections with the choice between duplicates, the sweep for blocked
 * writes, and shutdown. The accept path (admission and the responder's
 * handshake) is in `tcp_accept.ts`, the dial path (one attempt at a time per
 * target, the initiator's handshake) in `tcp_dial.ts`, what both share in
 * `tcp_context.ts`.
 *
 * @module
 */
import { formatHostPort, parseHostPort, parseRelayedAddress } from "../address.ts";
import { checkRecordCipher } from "../aead.ts";
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import type { ProtocolError } from "../errors.ts";
import type { Identity } from "../identity.ts";
import { defaultLogSink, errorFields, type LogSink } from "../log.ts";
import { DisconnectReason, MessageCodec, type PeerRecord } from "../protocol/mod.ts";
import { AGENT } from "../version.ts";
import { InboundSlots } from "./admission.ts";
import { DialGate, type ResolveHost } from "./dial_gate.ts";
import { resolveTransportConfig, type TransportConfig } from "./config.ts";
import type { CircuitLeg } from "./circuit.ts";
import { type ByteConn, closeQuietly, type ConnectionOwner, type TcpConnection } from "./connection.ts";
import { buildDisconnect, type HandshakeContext } from "./handshake.ts";
import { TcpAcceptor } from "./tcp_accept.ts";
import type { PendingHandshake, TcpContext } from "./tcp_context.ts";
import { TcpDialer } from "./tcp_dial.ts";
import {
  type Connection,
  type DialOptions,
  emptyTransportStats,
  type LinkKind,
  type Transport,
  TransportError,
  type TransportStats,
} from "./types.ts";

/** Options of {@link TcpTransport.openOver}. */
export interface OpenOverOptions {
  /** Which side of the handshake this node takes. */
  role: "initiator" | "responder";
  /** What the link is called (its `remoteAddress`): a relayed address, or the punched peer's `host:port`. */
  remoteAddress: string;
  /** How the bytes travel. */
  linkKind: LinkKind;
  /** The node that must answer; the link is refused if another does. */
  expectedNodeId?: string;
  /** For the responder: the IP its inbound slot counts against. */
  slotIp?: string;
  /** For the initiator: a transient link (see `DialOptions.transient`). */
  transient?: boolean;
}

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
  /** The agent its handshakes announce (name, version, capabilities). Default {@link AGENT}. */
  agent?: string;
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
  onDialBack: ((nodeId: string, remoteAddress: string) => void) | undefined;
  readonly #clock: Clock;
  // Set by advertise(): the address the reachability check decided on ("" for none), else undefined.
  #advertised: string | undefined;
  readonly #codec: MessageCodec;
  readonly #owner: ConnectionOwner;
  readonly #log: LogSink;
  readonly #agent: string;
  readonly #inbound: InboundSlots;
  #listener: Deno.TcpListener | undefined;
  #boundAddress = "";
  #closing = false;
  readonly #open = new Map<string, TcpConnection>();
  readonly #all = new Set<TcpConnection>();
  readonly #pending = new Set<PendingHandshake>();
  readonly #tasks = new Set<Promise<unknown>>();
  #sweepTimer: TimerId | undefined;
  readonly #stats: TransportStats = emptyTransportStats();
  readonly #dialGate: DialGate;
  readonly #acceptor: TcpAcceptor;
  readonly #dialer: TcpDialer;

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
    this.#log = options.log ?? defaultLogSink;
    this.#agent = options.agent ?? AGENT;
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
    const context: TcpContext = {
      config: this.config,
      identity: this.identity,
      clock: this.#clock,
      codec: this.#codec,
      stats: this.#stats,
      log: this.#log,
      owner: this.#owner,
      pending: this.#pending,
      closing: () => this.#closing,
      track: (task) => this.#track(task),
      handshakeContext: () => this.#handshakeContext(),
      disconnectEnvelope: (reason, detail) => this.#disconnectEnvelope(reason, detail),
      register: (connection) => this.#register(connection),
      dialedBack: (nodeId, remoteAddress) => {
        try {
          this.onDialBack?.(nodeId, remoteAddress);
        } catch (error) {
          this.#log("error", "onDialBack handler failed", errorFields(error));
        }
      },
    };
    this.#acceptor = new TcpAcceptor(context, this.#inbound, options.initialPeers ?? (() => []));
    this.#dialer = new TcpDialer(context, this.#dialGate, (nodeId) => this.#open.get(nodeId));
  }

  /** Counters: connections now and at peak, refusals, handshakes. */
  get stats(): Readonly<TransportStats> {
    return { ...this.#stats };
  }

  /** The bound `host:port`, once listening. */
  get listenAddress(): string {
    return this.#boundAddress;
  }

  /**
   * A relayed address to announce while this node has no address of its own to offer (lib/relay/client.ts
   * sets it on a node that reserves at relays).
   */
  relayedAdvertisement: (() => string | undefined) | undefined;

  /**
   * The address announced to peers (see {@link TransportConfig.advertisedAddress}); on a node that reserves at
   * relays, its relayed address while it holds a reservation.
   */
  get advertisedAddress(): string {
    if (this.config.advertisedAddress) return this.config.advertisedAddress;
    const relayed = this.relayedAdvertisement?.();
    if (relayed) return relayed;
    if (this.#advertised !== undefined) return this.#advertised;
    const host = this.config.listenHost;
    if (!this.#boundAddress || host === "0.0.0.0" || host === "::") return "";
    return this.#boundAddress;
  }

  advertise(address: string | undefined): void {
    this.#advertised = address;
  }

  dialBack(address: string, expectedNodeId: string): Promise<void> {
    return this.#dialer.dialBack(address, expectedNodeId);
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
      agent: this.#agent,
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
    this.#track(this.#acceptor.acceptLoop(this.#listener));
    return this.#boundAddress;
  }

  /** An encoded DISCONNECT from this node, stamped now. */
  #disconnectEnvelope(reason: number, detail: string): Uint8Array {
    return buildDisconnect(this.identity, this.#codec, reason, detail, this.#clock.now());
  }

  permitsDial(address: string): boolean {
    // A relayed address is dialed by opening sockets to its relay: the policy judges the relay's address.
    const relayed = parseRelayedAddress(address);
    if (relayed) {
      return this.relayedDial !== undefined &&
        this.#dialGate.permits(formatHostPort(relayed.relay.host, relayed.relay.port));
    }
    return this.#dialGate.permits(address);
  }

  dial(address: string, options: DialOptions = {}): Promise<Connection> {
    if (this.relayedDial && parseRelayedAddress(address)) return this.relayedDial(address, options);
    return this.#dialer.dial(address, options);
  }

  /**
   * Dials relayed addresses (lib/relay/client.ts sets it; without it they are refused as not `host:port`):
   * asks the relay for a circuit over an authenticated link, then {@link TcpTransport.openOver} on it.
   */
  relayedDial: ((address: string, options: DialOptions) => Promise<Connection>) | undefined;

  /** A bare socket to `address` within the dial policy (a circuit leg's; see `circuit.ts`). @throws {TransportError} */
  openSocket(address: string): Promise<Deno.TcpConn> {
    return this.#dialer.socket(address);
  }

  /** Takes the sockets that open with a circuit preamble (set by a node that relays; see `circuit.ts`). */
  set circuitLeg(handler: ((leg: CircuitLeg) => void) | undefined) {
    this.#acceptor.circuitLeg = handler;
  }

  /** The handler of circuit legs in force, if any. */
  get circuitLeg(): ((leg: CircuitLeg) => void) | undefined {
    return this.#acceptor.circuitLeg;
  }

  /**
   * Runs kith's handshake over `conn`, a byte stream already connected to the peer by other means (a relay's
   * spliced circuit, a hole-punched socket): as the initiator (`role` "initiator", in an outbound slot) or as
   * the responder (in an inbound slot counted against `slotIp`). The link is named `remoteAddress` and
   * registered like any other, duplicates resolved by the same rule. `conn` is closed on failure.
   *
   * @throws {TransportError} when the handshake fails or no slot is free
   */
  openOver(conn: ByteConn, options: OpenOverOptions): Promise<Connection> {
    if (options.role === "initiator") {
      return this.#dialer.dialOver(conn, options.remoteAddress, {
        expectedNodeId: options.expectedNodeId,
        linkKind: options.linkKind,
        transient: options.transient,
      });
    }
    return this.#acceptor.acceptOver(conn, options.remoteAddress, options.slotIp ?? "", options.linkKind).then(
      (connection) => {
        if (options.expectedNodeId !== undefined && connection.remoteNodeId !== options.expectedNodeId) {
          this.#track(connection.close(DisconnectReason.PROTOCOL_ERROR, "not the node the circuit was for"));
          throw new TransportError("WRONG_PEER", `${options.remoteAddress} is not the node expected`);
        }
        return connection;
      },
    );
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
   * at both ends: a peer link stays over a transient one (both ends know which
   * is which, from the dialer's HANDSHAKE); else, between connections opened
   * in opposite directions, the one opened by the node with the lower id
   * stays; between two opened in the same direction, the newer stays (the
   * older is likely dead).
   */
  #register(connection: TcpConnection): TcpConnection {
    this.#stats.handshakesCompleted++;
    this.#all.add(connection);
    this.#sweepWrites();
    const existing = this.#open.get(connection.remoteNodeId);
    let winner = connection;
    if (existing && existing.isOpen) {
      const initiator = (c: TcpConnection) => c.direction === "outbound" ? this.nodeId : c.remoteNodeId;
      const keepExisting = existing.transient !== connection.transient
        ? connection.transient
        : existing.direction !== connection.direction && initiator(existing) < initiator(connection);
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
      this.#inbound.count(connection.slotIp ?? parseHostPort(connection.remoteAddress)?.host ?? "", -1);
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
