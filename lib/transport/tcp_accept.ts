/**
 * The accept path of the TCP transport: the accept loop, admission of each
 * socket (connection rates, connection and per-IP limits, with a DISCONNECT
 * to a refused client when that is cheap), and the responder's side of the
 * handshake (the messages themselves are built and checked in `handshake.ts`).
 *
 * @module
 */
import { formatHostPort } from "../address.ts";
import { toHex } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import { errorFields } from "../log.ts";
import { DisconnectReason, type PeerRecord } from "../protocol/mod.ts";
import { BoundedMap } from "../ratelimit.ts";
import type { InboundSlots } from "./admission.ts";
import { CIRCUIT_MAGIC, type CircuitLeg } from "./circuit.ts";
import { type ByteConn, closeQuietly, FramedSocket, isConnectionError, TcpConnection } from "./connection.ts";
import { buildAck, checkConfirm, checkHello, freshHandshakeValues, HandshakeFailure } from "./handshake.ts";
import {
  type DeadlineState,
  handshakeDeadline,
  maxRecordFrame,
  type PendingHandshake,
  refuse,
  reject,
  type TcpContext,
} from "./tcp_context.ts";
import { type Connection, type LinkKind, TransportError } from "./types.ts";
import { RELAY_TOKEN_BYTES } from "../protocol/mod.ts";
import { announces, DIAL_BACK_TOKEN } from "../version.ts";

/** How an inbound handshake's socket came: accepted here, or handed over already connected. */
interface InboundOrigin {
  /** The link's remote address (default: the socket's peer address). */
  remoteAddress?: string;
  /** How its bytes travel. */
  linkKind: LinkKind;
  /** Whether its first bytes may be a relay circuit's preamble (only on sockets this listener accepted). */
  preamble: boolean;
}

/** Largest frame read from a client that is refused at accept (it gets a DISCONNECT, not a handshake). */
const REFUSAL_MAX_FRAME_BYTES = 1024;
/** Ids of recent HANDSHAKEs remembered to refuse replays. */
const RECENT_HELLOS = 10_000;
/** Pause after a transient accept failure (such as running out of file descriptors), ms. */
const ACCEPT_RETRY_MS = 100;

/** Accepts sockets from a listener, admits them and runs the responder's handshake on each. */
export class TcpAcceptor {
  readonly #context: TcpContext;
  readonly #inbound: InboundSlots;
  readonly #initialPeers: (remoteNodeId: string) => PeerRecord[];
  // Ids of recent HANDSHAKEs whose signature was checked: a replayed one is refused before any signature
  // check, key agreement or signing.
  readonly #recentHellos = new BoundedMap<string, true>(RECENT_HELLOS);
  /**
   * Takes the sockets that open with a relay circuit's preamble (set by a node that relays); without it, such
   * a socket is refused as any bad handshake.
   */
  circuitLeg: ((leg: CircuitLeg) => void) | undefined;

  /** An acceptor for the transport behind `context`, counting inbound sockets in `inbound`. */
  constructor(
    context: TcpContext,
    inbound: InboundSlots,
    initialPeers: (remoteNodeId: string) => PeerRecord[],
  ) {
    this.#context = context;
    this.#inbound = inbound;
    this.#initialPeers = initialPeers;
  }

  /** Accepts until `listener` closes; a transient failure pauses briefly and accepting goes on. */
  async acceptLoop(listener: Deno.TcpListener): Promise<void> {
    const context = this.#context;
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (context.closing() || error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
          return; // the listener was closed
        }
        // A transient failure (out of file descriptors, a client that reset
        // early): pause briefly and keep accepting.
        context.log("warn", "accept failed, retrying", errorFields(error));
        await new Promise<void>((resolve) => context.clock.setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      this.#admit(conn);
    }
  }

  /**
   * Runs the responder's handshake over `conn`, a socket already connected to the peer (a relay's circuit, a
   * hole-punched socket), in an inbound slot counted against `slotIp`. Resolves with the registered
   * connection; `conn` is closed on failure.
   */
  async acceptOver(conn: ByteConn, remoteAddress: string, slotIp: string, linkKind: LinkKind): Promise<Connection> {
    const context = this.#context;
    if (context.closing()) {
      closeQuietly(conn);
      throw new TransportError("CLOSED", "transport is closed");
    }
    const admission = this.#inbound.admits(slotIp, context.clock.now());
    if (admission !== "admitted") {
      closeQuietly(conn);
      throw new TransportError("TOO_MANY_CONNECTIONS", `inbound ${admission === "rate" ? "rate" : "limit"} reached`);
    }
    const pending: PendingHandshake = { conn, direction: "inbound", ip: slotIp };
    this.#inbound.count(slotIp, +1);
    context.pending.add(pending);
    const established = await context.track(
      this.#acceptHandshake(pending, { remoteAddress, linkKind, preamble: false }),
    );
    if (!established) throw new TransportError("HANDSHAKE_FAILED", `handshake over ${remoteAddress} failed`);
    return established;
  }

  #admit(conn: Deno.TcpConn): void {
    const context = this.#context;
    const ip = (conn.remoteAddr as Deno.NetAddr).hostname;
    if (context.closing()) {
      closeQuietly(conn);
      return;
    }
    const admission = this.#inbound.admits(ip, context.clock.now());
    if (admission === "rate") {
      // Over a new-connection rate: close before reading or signing anything.
      closeQuietly(conn);
      return;
    }
    if (admission === "full") {
      // Tell the client why when it is cheap; under a flood, just close.
      const explained = this.#inbound.explainRefusal(() =>
        refuse(
          context,
          new FramedSocket(conn, REFUSAL_MAX_FRAME_BYTES, context.stats),
          DisconnectReason.TOO_MANY_CONNECTIONS,
          "no free slot",
        )
      );
      if (explained) context.track(explained);
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
    context.pending.add(pending);
    context.track(this.#acceptHandshake(pending, { linkKind: "direct", preamble: true }));
  }

  /** The responder's side of the handshake on an admitted socket. Never rejects: network input cannot crash it. */
  async #acceptHandshake(pending: PendingHandshake, origin: InboundOrigin): Promise<TcpConnection | undefined> {
    const context = this.#context;
    const { clock, config, stats } = context;
    const socket = new FramedSocket(pending.conn, config.maxHandshakeFrameBytes, stats);
    const state: DeadlineState = { timedOut: false };
    const deadline = handshakeDeadline(context, socket, state);
    const handshake = context.handshakeContext();
    let established: TcpConnection | undefined;
    let handedOver = false;
    try {
      if (origin.preamble && this.circuitLeg) {
        const token = await socket.readPreamble(CIRCUIT_MAGIC, RELAY_TOKEN_BYTES);
        if (token === null || state.timedOut) throw new TransportError("HANDSHAKE_FAILED", "closed during handshake");
        if (token !== undefined) {
          // A relay circuit's leg, not a handshake: the relay's own limits apply to it from here on.
          clock.clearTimeout(deadline);
          handedOver = true;
          this.circuitLeg({ conn: pending.conn, token, ip: pending.ip });
          return undefined;
        }
      }
      const first = await socket.next();
      if (first === null || state.timedOut) throw new TransportError("HANDSHAKE_FAILED", "closed during handshake");
      const hello = checkHello(handshake, first, clock.now(), {
        closing: context.closing(),
        seen: (id) => {
          const replayed = this.#recentHellos.has(id);
          if (replayed) stats.handshakesReplayed++;
          return replayed;
        },
        verifying: (id) => {
          this.#recentHellos.set(id, true);
          stats.handshakeVerifications++;
        },
      });
      if (hello instanceof HandshakeFailure) throw await reject(context, socket, hello);
      const ack = buildAck(
        handshake,
        hello,
        freshHandshakeValues(),
        this.#initialPeers(toHex(hello.origin)),
        clock.now(),
      );
      if (ack instanceof HandshakeFailure) throw await reject(context, socket, ack);
      await socket.write(ack.frame, clock, config.writeTimeoutMs);
      state.sealer = ack.sealer;
      socket.decoder.setMaxFrameBytes(maxRecordFrame(config));
      const record = await socket.next();
      if (record === null || state.timedOut) throw new TransportError("HANDSHAKE_FAILED", "closed during handshake");
      const confirm = checkConfirm(
        handshake,
        record,
        clock.now(),
        hello,
        ack.message,
        ack.opener,
        config.maxFrameBytes,
      );
      if (confirm instanceof HandshakeFailure) throw await reject(context, socket, confirm, ack.sealer);
      if (state.timedOut) throw new TransportError("HANDSHAKE_TIMEOUT", "handshake timed out");
      clock.clearTimeout(deadline);
      if (origin.linkKind === "direct" && announces(hello.payload.agent, DIAL_BACK_TOKEN)) {
        // A reachability probe: the handshake proved the prober reached this node; no link is kept. (Only on
        // a socket accepted here: over a relay's circuit the address reached would be the relay's.)
        closeQuietly(pending.conn);
        stats.dialBacksAccepted++;
        context.dialedBack(
          toHex(hello.origin),
          formatHostPort(pending.ip, ((pending.conn as Deno.TcpConn).remoteAddr as Deno.NetAddr).port),
        );
        return undefined;
      }
      established = new TcpConnection(context.owner, {
        socket,
        sealer: ack.sealer,
        opener: ack.opener,
        inner: confirm.inner,
        remote: hello,
        direction: "inbound",
        remoteAddress: origin.remoteAddress ??
          formatHostPort(pending.ip, ((pending.conn as Deno.TcpConn).remoteAddr as Deno.NetAddr).port),
        pipelined: confirm.pipelined,
        linkKind: origin.linkKind,
        slotIp: pending.ip,
      }, clock.now());
    } catch (error) {
      closeQuietly(pending.conn);
      if (error instanceof TransportError || error instanceof ProtocolError || isConnectionError(error)) {
        stats.handshakesFailed++;
      } else {
        // Not the peer's doing: a bug in kith. Logged, not counted as a failed handshake, and not rethrown
        // (the accept path must survive it).
        context.log("error", "bug in an inbound handshake", {
          ...errorFields(error),
          stack: error instanceof Error ? error.stack : undefined,
        });
      }
    } finally {
      clock.clearTimeout(deadline);
      context.pending.delete(pending);
      if (!established) this.#inbound.count(pending.ip, -1);
    }
    if (handedOver || !established) return undefined;
    return context.register(established);
  }
}
