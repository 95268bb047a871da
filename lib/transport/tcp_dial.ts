/**
 * The dial path of the TCP transport: dials to addresses the dial policy
 * permits, one attempt at a time per target, within the outbound limit, and
 * the initiator's side of the handshake (the messages themselves are built
 * and checked in `handshake.ts`).
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { FrameDecoder } from "../framing.ts";
import { type ByteConn, closeQuietly, FramedSocket, TcpConnection, withTimeout } from "./connection.ts";
import type { DialGate } from "./dial_gate.ts";
import {
  buildConfirm,
  buildHello,
  checkAck,
  freshHandshakeValues,
  HandshakeFailure,
  initiatorError,
} from "./handshake.ts";
import {
  type DeadlineState,
  handshakeDeadline,
  maxRecordFrame,
  type PendingHandshake,
  reject,
  type TcpContext,
} from "./tcp_context.ts";
import { type Connection, type DialOptions, type LinkKind, TransportError } from "./types.ts";
import { DIAL_BACK_AGENT, TRANSIENT_AGENT } from "../version.ts";

/** Dials peers for the transport behind a {@link TcpContext}. */
export class TcpDialer {
  readonly #context: TcpContext;
  readonly #dialGate: DialGate;
  readonly #open: (nodeId: string) => TcpConnection | undefined;
  readonly #dialing = new Map<string, Promise<Connection>>();

  /** A dialer checking each address with `dialGate`; `open` finds an established connection to a node. */
  constructor(context: TcpContext, dialGate: DialGate, open: (nodeId: string) => TcpConnection | undefined) {
    this.#context = context;
    this.#dialGate = dialGate;
    this.#open = open;
  }

  /** Connects to `address` and completes the handshake (see `Transport.dial`). */
  async dial(address: string, options: DialOptions = {}): Promise<Connection> {
    if (this.#context.closing()) throw new TransportError("CLOSED", "transport is closed");
    const target = parseHostPort(address);
    if (!target) throw new TransportError("CONNECT_FAILED", `not a host:port address: ${JSON.stringify(address)}`);
    // The last line of defence: whatever asked for this dial, nothing outside the policy is connected to.
    this.#dialGate.check(address);
    if (options.expectedNodeId !== undefined) {
      // An open link serves, unless it is transient and a peer link is asked for: that one is made anew
      // and displaces the transient one at both ends (the transport's duplicate rule).
      const existing = this.#open(options.expectedNodeId);
      if (existing?.isOpen && (!existing.transient || options.transient)) return existing;
    }
    // One dial at a time per target and kind: concurrent dials to the same node could complete their
    // handshakes in a different order at each end (a peer dial and a transient one may run together: the
    // peer link is kept whichever ends first).
    const kind = options.transient ? "transient " : "";
    const key = kind + (options.expectedNodeId ?? address);
    const inFlight = this.#dialing.get(key) ?? this.#dialing.get(kind + address);
    if (inFlight) return await inFlight;
    const attempt = this.#dialOnce(address, target.host, target.port, options);
    this.#dialing.set(key, attempt);
    if (key !== kind + address) this.#dialing.set(kind + address, attempt);
    try {
      return await attempt;
    } finally {
      this.#dialing.delete(key);
      this.#dialing.delete(kind + address);
    }
  }

  /**
   * A dial-back (see `Transport.dialBack`): the whole handshake as initiator with the dial-back agent,
   * expecting `expectedNodeId`, then the socket is closed; no link is registered, and neither the outbound
   * limit nor the one-dial-per-target rule applies (the caller bounds dial-backs itself).
   */
  async dialBack(address: string, expectedNodeId: string): Promise<void> {
    if (this.#context.closing()) throw new TransportError("CLOSED", "transport is closed");
    const target = parseHostPort(address);
    if (!target) throw new TransportError("CONNECT_FAILED", `not a host:port address: ${JSON.stringify(address)}`);
    this.#dialGate.check(address);
    this.#context.stats.dialBacksMade++;
    await this.#context.track(this.#dialHandshake(target.host, target.port, address, { expectedNodeId }, true));
  }

  /**
   * A bare socket to `address` (`host:port`, within the dial policy), opened within the handshake timeout:
   * for a relay circuit's leg, which speaks a preamble before any handshake.
   */
  async socket(address: string): Promise<Deno.TcpConn> {
    if (this.#context.closing()) throw new TransportError("CLOSED", "transport is closed");
    const target = parseHostPort(address);
    if (!target) throw new TransportError("CONNECT_FAILED", `not a host:port address: ${JSON.stringify(address)}`);
    this.#dialGate.check(address);
    const connecting = this.#connect(target.host, target.port, address);
    try {
      const conn = await withTimeout(
        this.#context.clock,
        connecting,
        this.#context.config.handshakeTimeoutMs,
        () => new TransportError("CONNECT_FAILED", `connecting to ${address} timed out`),
      );
      try {
        conn.setNoDelay(true);
      } catch {
        // Not fatal.
      }
      return conn;
    } catch (error) {
      connecting.then(closeQuietly, () => {});
      if (error instanceof TransportError) throw error;
      throw new TransportError("CONNECT_FAILED", `cannot connect to ${address}: ${(error as Error).message}`);
    }
  }

  /** Opens the socket, to an address the policy permits (a configured host name is resolved, then checked). */
  async #connect(host: string, port: number, address: string): Promise<Deno.TcpConn> {
    const ip = await this.#dialGate.target(host, address, parseHostPort(address)?.family === "dns");
    return await Deno.connect({ hostname: ip, port, transport: "tcp" });
  }

  async #dialOnce(address: string, host: string, port: number, options: DialOptions): Promise<Connection> {
    return await this.#outboundSlot(async () => (await this.#dialHandshake(host, port, address, options, false))!);
  }

  /** Runs `attempt` in an outbound slot (within maxOutbound) and registers the connection it makes. */
  async #outboundSlot(attempt: () => Promise<TcpConnection>): Promise<Connection> {
    const { config, stats } = this.#context;
    if (stats.outbound >= config.maxOutbound) {
      throw new TransportError("TOO_MANY_CONNECTIONS", `outbound limit of ${config.maxOutbound} reached`);
    }
    stats.outbound++;
    let established: TcpConnection | undefined;
    try {
      established = await this.#context.track(attempt());
    } finally {
      if (!established) stats.outbound--;
    }
    return this.#context.register(established);
  }

  /**
   * Runs the initiator's handshake over `conn`, a socket already connected to the peer by other means (a
   * relay's circuit, a hole-punched socket), naming the link `address`; the connection is registered as any
   * dialed one. `conn` is closed on failure.
   */
  async dialOver(
    conn: ByteConn,
    address: string,
    options: DialOptions & { linkKind: LinkKind },
  ): Promise<Connection> {
    if (this.#context.closing()) {
      closeQuietly(conn);
      throw new TransportError("CLOSED", "transport is closed");
    }
    try {
      return await this.#outboundSlot(async () =>
        (await this.#initiatorHandshake(conn, address, options, this.#context.clock.now(), options.linkKind))!
      );
    } catch (error) {
      closeQuietly(conn);
      throw error;
    }
  }

  /** Connects, then the initiator's handshake; for a dial-back (`probe`), the socket is closed once it completed. */
  async #dialHandshake(
    host: string,
    port: number,
    address: string,
    options: DialOptions,
    probe: boolean,
  ): Promise<TcpConnection | undefined> {
    const context = this.#context;
    const { clock, config, stats } = context;
    const startedAt = clock.now();
    const connecting = this.#connect(host, port, address);
    let conn: ByteConn;
    try {
      conn = await withTimeout(
        clock,
        connecting,
        config.handshakeTimeoutMs,
        () => new TransportError("CONNECT_FAILED", `connecting to ${address} timed out`),
      );
    } catch (error) {
      connecting.then(closeQuietly, () => {}); // a late connection must not leak
      stats.handshakesFailed++;
      if (error instanceof TransportError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new TransportError("CONNECT_FAILED", `cannot connect to ${address}: ${reason}`, undefined, {
        cause: error,
      });
    }
    if (context.closing()) {
      closeQuietly(conn);
      throw new TransportError("CLOSED", "transport closed while connecting");
    }
    return await this.#initiatorHandshake(conn, address, options, startedAt, "direct", host, probe);
  }

  /** The initiator's side of the handshake on a connected socket; deadline counted from `startedAt`. */
  async #initiatorHandshake(
    conn: ByteConn,
    address: string,
    options: DialOptions,
    startedAt: number,
    linkKind: LinkKind,
    host: string = address,
    probe = false,
  ): Promise<TcpConnection | undefined> {
    const context = this.#context;
    const { clock, config, stats } = context;
    try {
      conn.setNoDelay(true);
    } catch {
      // Not fatal.
    }
    const pending: PendingHandshake = { conn, direction: "outbound", ip: host };
    context.pending.add(pending);
    const socket = new FramedSocket(conn, config.maxHandshakeFrameBytes, stats);
    const state: DeadlineState = { timedOut: false };
    // One deadline covers connecting and the handshake together.
    const deadline = handshakeDeadline(context, socket, state, config.handshakeTimeoutMs - (clock.now() - startedAt));
    const agent = probe ? DIAL_BACK_AGENT : options.transient ? TRANSIENT_AGENT : undefined;
    const handshake = agent ? { ...context.handshakeContext(), agent } : context.handshakeContext();
    try {
      const fresh = freshHandshakeValues();
      const hello = buildHello(handshake, fresh, clock.now());
      await socket.write(hello.frame, clock, config.writeTimeoutMs);
      const reply = await socket.next();
      if (reply === null) {
        throw new TransportError(
          state.timedOut ? "HANDSHAKE_TIMEOUT" : "HANDSHAKE_FAILED",
          `${address} closed the connection during the handshake`,
        );
      }
      const ack = checkAck(handshake, reply, clock.now(), hello.message, {
        closing: context.closing(),
        expectedNodeId: options.expectedNodeId,
      });
      if (ack instanceof HandshakeFailure) throw initiatorError(address, await reject(context, socket, ack));
      const confirm = buildConfirm(handshake, fresh.ephemeral, ack, clock.now());
      if (confirm instanceof HandshakeFailure) throw initiatorError(address, await reject(context, socket, confirm));
      state.sealer = confirm.sealer;
      await socket.write(confirm.frame, clock, config.writeTimeoutMs);
      if (state.timedOut) throw new TransportError("HANDSHAKE_TIMEOUT", `handshake with ${address} timed out`);
      clock.clearTimeout(deadline);
      if (probe) {
        // The answer proved the expected node holds the address; the responder closes its end too.
        closeQuietly(conn);
        return undefined;
      }
      socket.decoder.setMaxFrameBytes(maxRecordFrame(config));
      return new TcpConnection(context.owner, {
        socket,
        sealer: confirm.sealer,
        opener: confirm.opener,
        inner: new FrameDecoder(config.maxFrameBytes),
        remote: ack,
        direction: "outbound",
        remoteAddress: address,
        pipelined: [],
        linkKind,
        transient: options.transient === true,
      }, clock.now());
    } catch (error) {
      stats.handshakesFailed++;
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
      clock.clearTimeout(deadline);
      context.pending.delete(pending);
    }
  }
}
