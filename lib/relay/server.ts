/**
 * The relay's side: answers RELAY_RESERVE and RELAY_CONNECT from peers over their authenticated links,
 * tells a reserved node of each circuit for it, takes the legs its listener recognises by their preamble,
 * and splices each pair of legs within the circuit's limits (`book.ts` decides, `splice.ts` carries).
 *
 * @module
 */
import { dialHostPort, formatHostPort } from "../address.ts";
import { fromHex, toHex } from "../bytes.ts";
import type { Clock, TimerId } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
import type { ActivePeer } from "../peers/mod.ts";
import { type Message, MessageType, type PayloadByType, RelayStatus } from "../protocol/mod.ts";
import { CIRCUIT_READY, CIRCUIT_REFUSED, type CircuitLeg } from "../transport/circuit.ts";
import { type ByteConn, closeQuietly } from "../transport/connection.ts";
import { type Circuit, RelayBook } from "./book.ts";
import type { RelayConfig } from "./config.ts";
import { splice } from "./splice.ts";
import type { RandomSource } from "../random.ts";

/** Longest the relay waits to write its one-byte answer to a leg, ms. */
const ANSWER_WRITE_TIMEOUT_MS = 2_000;

/** What the relay needs from its node. */
export interface RelayServerOptions {
  /** Settings (limits). */
  config: Readonly<RelayConfig>;
  /** Time and timers. */
  clock: Clock;
  /** Randomness for tokens (a cryptographic source in a running node). */
  random: RandomSource;
  /** The active peer `nodeId`, if any (a reserved node must be one, to be told of circuits). */
  activePeer: (nodeId: string) => ActivePeer | undefined;
  /** Sends a link message to an active peer. */
  send: <T extends MessageType>(peer: ActivePeer, type: T, payload: PayloadByType[T]) => void;
  /** Charges a peer's abuse (over its request rate). */
  penalise: (nodeId: string, code: string) => void;
  /** Where failures are logged. */
  log: LogSink;
}

/** The relay's side of relaying. */
export class RelayServer {
  /** Reservations, circuits, limits and their counters. */
  readonly book: RelayBook;
  readonly #options: RelayServerOptions;
  readonly #legs = new Map<number, { initiator?: ByteConn; responder?: ByteConn }>();
  readonly #tasks = new Set<Promise<unknown>>();
  #sweep: TimerId | undefined;
  #stopped = false;

  /** A relay serving under `options.config`'s limits. */
  constructor(options: RelayServerOptions) {
    this.#options = options;
    this.book = new RelayBook(options.config, options.random);
  }

  /** Handles a verified RELAY_RESERVE or RELAY_CONNECT from `peer`. */
  receive(peer: ActivePeer, message: Message): void {
    if (message.type === MessageType.RELAY_RESERVE) this.#reserve(peer, message.payload.requestId);
    else if (message.type === MessageType.RELAY_CONNECT) {
      this.#connect(peer, message.payload.requestId, toHex(message.payload.target));
    }
  }

  /** A peer's link closed: its reservation ends (its circuits run on until they end). */
  peerDisconnected(nodeId: string): void {
    this.book.release(nodeId);
  }

  #ipOf(peer: ActivePeer): string {
    return dialHostPort(peer.connection.remoteAddress)?.host ?? peer.connection.remoteAddress;
  }

  #observed(peer: ActivePeer): string {
    // Only a direct link's socket address is the peer's own; a relayed one names the relay.
    const at = dialHostPort(peer.connection.remoteAddress);
    return peer.connection.linkKind !== "relayed" && at ? formatHostPort(at.host, at.port) : "";
  }

  #reserve(peer: ActivePeer, requestId: number): void {
    const { config, clock, send, penalise } = this.#options;
    if (!config.relayService || this.#stopped || peer.connection.linkKind === "relayed") {
      send(peer, MessageType.RELAY_RESERVATION, {
        requestId,
        status: RelayStatus.NOT_RELAYING,
        expiresAt: 0,
        observedAddress: "",
      });
      return;
    }
    const decision = this.book.reserve(peer.nodeId, this.#ipOf(peer), clock.now());
    if (decision.status === RelayStatus.RATE_LIMITED) penalise(peer.nodeId, "RATE_LIMITED");
    send(peer, MessageType.RELAY_RESERVATION, {
      requestId,
      status: decision.status,
      expiresAt: "value" in decision ? decision.value.expiresAt : 0,
      observedAddress: this.#observed(peer),
    });
  }

  #connect(peer: ActivePeer, requestId: number, target: string): void {
    const { config, clock, send, penalise, activePeer } = this.#options;
    const refuse = (status: number) =>
      send(peer, MessageType.RELAY_CIRCUIT, {
        requestId,
        status,
        role: 0,
        peer: fromHex(target)!,
        token: new Uint8Array(0),
        observedAddress: "",
        maxBytes: 0,
        maxDurationMs: 0,
      });
    if (!config.relayService || this.#stopped) return refuse(RelayStatus.NOT_RELAYING);
    const reached = activePeer(target);
    if (!reached) this.book.release(target); // no link to tell it over: its reservation is void
    const decision = this.book.connect(peer.nodeId, this.#ipOf(peer), target, clock.now());
    if (decision.status === RelayStatus.RATE_LIMITED) penalise(peer.nodeId, "RATE_LIMITED");
    if (!("value" in decision) || !reached) return refuse(decision.status);
    const circuit = decision.value;
    const limits = { maxBytes: config.circuitMaxBytes, maxDurationMs: config.circuitMaxDurationMs };
    // Each end first learns where this relay sees the other: the only host its hole punching will dial.
    const tell = (to: ActivePeer, role: number, about: ActivePeer) => {
      const observedAddress = this.#observed(about);
      if (observedAddress === "") return; // a relayed link: nothing observed, nothing to punch to
      send(to, MessageType.RELAY_CIRCUIT, {
        requestId: 0,
        status: RelayStatus.PEER_ADDRESS,
        role,
        peer: fromHex(about.nodeId)!,
        token: new Uint8Array(0),
        observedAddress,
        maxBytes: 0,
        maxDurationMs: 0,
      });
    };
    tell(reached, 1, peer);
    tell(peer, 0, reached);
    send(reached, MessageType.RELAY_CIRCUIT, {
      requestId: 0,
      status: RelayStatus.OK,
      role: 1,
      peer: fromHex(peer.nodeId)!,
      token: fromHex(circuit.responderToken)!,
      observedAddress: this.#observed(reached),
      ...limits,
    });
    send(peer, MessageType.RELAY_CIRCUIT, {
      requestId,
      status: RelayStatus.OK,
      role: 0,
      peer: fromHex(target)!,
      token: fromHex(circuit.initiatorToken)!,
      observedAddress: this.#observed(peer),
      ...limits,
    });
    this.#legs.set(circuit.id, {});
    this.#scheduleSweep();
  }

  /** Takes a socket the listener recognised as a circuit leg. */
  takeLeg(leg: CircuitLeg): void {
    const { clock } = this.#options;
    const claimed = this.#stopped ? undefined : this.book.claim(toHex(leg.token), clock.now());
    const legs = claimed && this.#legs.get(claimed.circuit.id);
    if (!claimed || !legs) {
      this.#track(this.#answer(leg.conn, CIRCUIT_REFUSED).finally(() => closeQuietly(leg.conn)));
      return;
    }
    legs[claimed.side] = leg.conn;
    if (legs.initiator && legs.responder) this.#track(this.#run(claimed.circuit, legs.initiator, legs.responder));
  }

  async #answer(conn: ByteConn, byte: number): Promise<boolean> {
    const { clock } = this.#options;
    const timer = clock.setTimeout(() => closeQuietly(conn), ANSWER_WRITE_TIMEOUT_MS);
    try {
      await conn.write(new Uint8Array([byte]));
      return true;
    } catch {
      return false;
    } finally {
      clock.clearTimeout(timer);
    }
  }

  async #run(circuit: Circuit, initiator: ByteConn, responder: ByteConn): Promise<void> {
    const { config, clock, log } = this.#options;
    this.book.spliced(circuit);
    try {
      const ready = await Promise.all([this.#answer(initiator, CIRCUIT_READY), this.#answer(responder, CIRCUIT_READY)]);
      const why = ready.every(Boolean)
        ? await splice(
          initiator,
          responder,
          { maxBytes: config.circuitMaxBytes, maxDurationMs: config.circuitMaxDurationMs },
          clock,
          (n) => this.book.carried(n),
        )
        : "closed";
      this.book.end(circuit, why);
    } catch (error) {
      log("error", "relay circuit failed", errorFields(error));
      this.book.end(circuit, "closed");
    } finally {
      closeQuietly(initiator);
      closeQuietly(responder);
      this.#legs.delete(circuit.id);
    }
  }

  /** Ends circuits whose legs did not both arrive within the setup time. */
  #scheduleSweep(): void {
    if (this.#sweep !== undefined || this.#stopped) return;
    const { clock, config } = this.#options;
    this.#sweep = clock.setTimeout(() => {
      this.#sweep = undefined;
      for (const circuit of this.book.stale(clock.now())) {
        const legs = this.#legs.get(circuit.id);
        if (legs?.initiator) closeQuietly(legs.initiator);
        if (legs?.responder) closeQuietly(legs.responder);
        this.#legs.delete(circuit.id);
        this.book.end(circuit, "setup-timeout");
      }
      if (this.book.circuits().some((c) => !c.spliced)) this.#scheduleSweep();
    }, config.circuitSetupMs);
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    task.catch(() => {}).finally(() => this.#tasks.delete(task));
  }

  /** Closes every leg and circuit; resolves once their tasks have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#sweep !== undefined) this.#options.clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
    for (const legs of this.#legs.values()) {
      if (legs.initiator) closeQuietly(legs.initiator);
      if (legs.responder) closeQuietly(legs.responder);
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }
}
