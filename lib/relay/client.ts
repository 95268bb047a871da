/**
 * A node's side of relaying when it uses relays: it reserves at `target()` connected peers that
 * speak `relay/1` and accept, renews each reservation at half its life, and announces a relayed address;
 * it dials relayed addresses (a RELAY_CONNECT over the relay's link, a leg with the preamble, kith's
 * handshake end to end over it); and it answers the circuits relays announce to it. A relay that grants a
 * circuit and then fails to splice it, or drops a spliced one before its limits, is charged `RELAY_FAILED`.
 *
 * @module
 */
import { dialHostPort, formatHostPort, formatRelayedAddress, parseRelayedAddress } from "../address.ts";
import { fromHex, toHex } from "../bytes.ts";
import type { Clock, TimerId } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
import type { ActivePeer } from "../peers/mod.ts";
import { type Message, MessageType, type PayloadByType, RelayStatus } from "../protocol/mod.ts";
import type { RandomSource } from "../random.ts";
import { BoundedMap } from "../ratelimit.ts";
import { CIRCUIT_READY, circuitPreamble } from "../transport/circuit.ts";
import { type ByteConn, closeQuietly, withTimeout } from "../transport/connection.ts";
import type { OpenOverOptions } from "../transport/tcp.ts";
import { type Connection, CONNECTION_LOST, type DialOptions, TransportError } from "../transport/types.ts";
import { announces, RELAY_CAPABILITY } from "../version.ts";
import type { RelayConfig } from "./config.ts";

/** How often reservations are checked (made, renewed, replaced), ms. */
const RESERVE_CHECK_MS = 5_000;
/** How long a relay that refused a reservation is not asked again, ms. */
const REFUSED_RETRY_MS = 60_000;
/** Incoming circuits set up at once (each a socket and a handshake). */
const MAX_INCOMING_SETUPS = 8;
/** Relayed dials in flight at once. */
const MAX_OUTGOING_SETUPS = 8;

/** What the client needs of the transport: sockets within the dial policy, handshakes over them, dials. */
export interface CircuitTransport {
  /** A bare socket to `host:port`. */
  openSocket(address: string): Promise<ByteConn>;
  /** Kith's handshake over a connected socket. */
  openOver(conn: ByteConn, options: OpenOverOptions): Promise<Connection>;
  /** A direct dial (to reach a relay not connected yet). */
  dial(address: string, options?: DialOptions): Promise<Connection>;
}

/** What the client needs from its node. */
export interface RelayClientOptions {
  /** Settings. */
  config: Readonly<RelayConfig>;
  /** Time and timers. */
  clock: Clock;
  /** For request ids. */
  random: RandomSource;
  /** The transport circuits run over. */
  transport: CircuitTransport;
  /** The active peers. */
  activePeers: () => ActivePeer[];
  /** The active peer `nodeId`, if any. */
  activePeer: (nodeId: string) => ActivePeer | undefined;
  /** Sends a link message to an active peer. */
  send: <T extends MessageType>(peer: ActivePeer, type: T, payload: PayloadByType[T]) => void;
  /** Charges a relay's failure or a peer's bad answer. */
  penalise: (nodeId: string, code: string) => void;
  /** Where failures are logged. */
  log: LogSink;
  /**
   * How many relays to hold reservations at now (read at each check, so a changed reachability verdict takes
   * effect; default `config.reserveRelays`). Above it, reservations are let go (the relay's expire on their own).
   */
  target?: () => number;
  /** Called with each link made over a circuit (for hole punching). */
  onRelayedLink?: (connection: Connection, circuit: CircuitInfo) => void;
}

/** What a relayed link's end knows of its circuit. */
export interface CircuitInfo {
  /** The relay's node id. */
  relayNodeId: string;
  /** Whether this end asked for it (it runs the handshake as initiator). */
  initiator: boolean;
  /** This end's own address as the relay saw it (`host:port`), or `""`. */
  observedAddress: string;
  /**
   * The other end's address as the relay saw it (its RELAY_CIRCUIT `PEER_ADDRESS`), or `""` (a relay that
   * sends none): hole punching dials only this host.
   */
  peerObservedAddress: string;
  /** The circuit's byte limit. */
  maxBytes: number;
  /** The circuit's duration limit, ms. */
  maxDurationMs: number;
  /** When the link over it opened, ms. */
  openedAt: number;
}

/** A reservation this node holds. */
export interface HeldReservation {
  /** The relay's node id. */
  relayNodeId: string;
  /** The relay's listening address. */
  relayAddress: string;
  /** When it ends, ms. */
  expiresAt: number;
  /** This node's address as the relay sees it. */
  observedAddress: string;
}

/** Counters of the client. */
export interface RelayClientStats {
  /** Reservations held now. */
  reservations: number;
  /** Relayed links made as initiator. */
  dialed: number;
  /** Relayed links made as responder. */
  answered: number;
  /** Relayed dials that failed. */
  dialFailures: number;
  /** Times a relay was charged for a failed or dropped circuit. */
  relayFailures: number;
}

/** A node's use of relays. */
export class RelayClient {
  /** Counters. */
  readonly stats: RelayClientStats = { reservations: 0, dialed: 0, answered: 0, dialFailures: 0, relayFailures: 0 };
  readonly #options: RelayClientOptions;
  readonly #held = new Map<string, HeldReservation>();
  /** Reservation requests in flight: request id -> relay id. */
  readonly #asking = new Map<number, string>();
  readonly #refusedAt = new Map<string, number>();
  readonly #circuitWaits = new Map<number, (payload: PayloadByType[typeof MessageType.RELAY_CIRCUIT]) => void>();
  /** Where relays said they see the other ends of circuits coming: `relay id + " " + peer id` -> address. */
  readonly #peerAddresses = new BoundedMap<string, string>(64);
  readonly #tasks = new Set<Promise<unknown>>();
  #incoming = 0;
  #outgoing = 0;
  #timer: TimerId | undefined;
  #stopped = false;

  /** A client under `options`. */
  constructor(options: RelayClientOptions) {
    this.#options = options;
  }

  /** Starts checking reservations: making, renewing or letting go of them as {@link RelayClientOptions.target} says. */
  start(): void {
    this.#schedule(0);
  }

  #target(): number {
    return this.#options.target?.() ?? this.#options.config.reserveRelays;
  }

  /** The wanted number of reservations may have changed (a new reachability verdict): check now. */
  targetChanged(): void {
    if (!this.#stopped && this.#timer !== undefined) this.#maintain();
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#maintain();
      this.#schedule(RESERVE_CHECK_MS);
    }, ms);
  }

  /** The reservations held now. */
  reservations(): HeldReservation[] {
    const now = this.#options.clock.now();
    return [...this.#held.values()].filter((r) => r.expiresAt > now);
  }

  /** The relayed addresses this node can be reached at now (one per reservation). */
  relayedAddresses(): string[] {
    return this.reservations().map((r) => formatRelayedAddress(r.relayAddress, r.relayNodeId));
  }

  /** Asks for, renews or replaces reservations, up to the target; lets go of those above it. */
  #maintain(): void {
    const { config, clock, activePeers } = this.#options;
    const now = clock.now();
    const target = this.#target();
    for (const [id, held] of this.#held) if (held.expiresAt <= now || !this.#options.activePeer(id)) this.#drop(id);
    for (const id of [...this.#held.keys()].slice(target)) this.#drop(id);
    if (target === 0) this.#asking.clear(); // late grants are then ignored as unsolicited
    const asked = new Set(this.#asking.values());
    for (const held of this.#held.values()) {
      // Renew at half its life: a late answer still lands before it ends.
      if (held.expiresAt - now < config.reservationTtlMs / 2 && !asked.has(held.relayNodeId)) {
        this.#ask(held.relayNodeId);
      }
    }
    let wanted = target - this.#held.size - [...asked].filter((id) => !this.#held.has(id)).length;
    for (const peer of activePeers()) {
      if (wanted <= 0) break;
      if (this.#held.has(peer.nodeId) || asked.has(peer.nodeId)) continue;
      if (!announces(peer.connection.agent, RELAY_CAPABILITY) || peer.connection.linkKind === "relayed") continue;
      if (!dialHostPort(peer.connection.listenAddress) || parseRelayedAddress(peer.connection.listenAddress)) continue;
      if (now - (this.#refusedAt.get(peer.nodeId) ?? -Infinity) < REFUSED_RETRY_MS) continue;
      this.#ask(peer.nodeId);
      wanted--;
    }
  }

  #ask(relayNodeId: string): void {
    const peer = this.#options.activePeer(relayNodeId);
    if (!peer) return;
    const requestId = this.#requestId();
    if (this.#asking.size >= 4 * Math.max(1, this.#target())) return;
    this.#asking.set(requestId, relayNodeId);
    this.#options.send(peer, MessageType.RELAY_RESERVE, { requestId });
  }

  /** What relay `relayNodeId` said it sees `peer` at (once), or `""`. */
  #takePeerAddress(relayNodeId: string, peer: string): string {
    const key = `${relayNodeId} ${peer}`;
    const address = this.#peerAddresses.get(key) ?? "";
    this.#peerAddresses.delete(key);
    return address;
  }

  /** A request id, never 0 (the id of the relay's PEER_ADDRESS messages). */
  #requestId(): number {
    return 1 + Math.floor(this.#options.random() * 0xffff_fffe);
  }

  #drop(relayNodeId: string): void {
    if (this.#held.delete(relayNodeId)) this.stats.reservations = this.#held.size;
  }

  /** A peer's link closed: a reservation at it ends. */
  peerDisconnected(nodeId: string): void {
    this.#drop(nodeId);
    for (const [id, relay] of this.#asking) if (relay === nodeId) this.#asking.delete(id);
  }

  /** A peer connected: a reservation may be made at it. */
  peerConnected(): void {
    if (this.#target() > this.#held.size && !this.#stopped) this.#maintain();
  }

  /** Handles a verified RELAY_RESERVATION or RELAY_CIRCUIT from `peer`. */
  receive(peer: ActivePeer, message: Message): void {
    if (message.type === MessageType.RELAY_RESERVATION) this.#reserved(peer, message.payload);
    else if (message.type === MessageType.RELAY_CIRCUIT) this.#circuit(peer, message.payload);
  }

  #reserved(peer: ActivePeer, answer: PayloadByType[typeof MessageType.RELAY_RESERVATION]): void {
    const relay = this.#asking.get(answer.requestId);
    if (relay !== peer.nodeId) return; // not asked, or asked of another: ignored (unsolicited answers cost nothing to drop)
    this.#asking.delete(answer.requestId);
    if (answer.status !== RelayStatus.OK) {
      this.#refusedAt.set(peer.nodeId, this.#options.clock.now());
      this.#drop(peer.nodeId);
      return;
    }
    const address = dialHostPort(peer.connection.listenAddress);
    if (!address) return;
    this.#held.set(peer.nodeId, {
      relayNodeId: peer.nodeId,
      relayAddress: formatHostPort(address.host, address.port),
      expiresAt: Math.min(answer.expiresAt, this.#options.clock.now() + this.#options.config.reservationTtlMs * 2),
      observedAddress: answer.observedAddress,
    });
    this.stats.reservations = this.#held.size;
  }

  #circuit(peer: ActivePeer, circuit: PayloadByType[typeof MessageType.RELAY_CIRCUIT]): void {
    if (circuit.status === RelayStatus.PEER_ADDRESS) {
      // Kept per relay: what one peer says of a circuit's far end matters only for circuits through it.
      if (circuit.requestId === 0 && circuit.token.length === 0 && circuit.observedAddress !== "") {
        this.#peerAddresses.set(`${peer.nodeId} ${toHex(circuit.peer)}`, circuit.observedAddress);
      }
      return;
    }
    if (circuit.role === 0) {
      this.#circuitWaits.get(circuit.requestId)?.(circuit);
      return;
    }
    // Reached: only through a relay this node holds a reservation at, and a bounded number at once.
    if (!this.#held.has(peer.nodeId) || circuit.status !== RelayStatus.OK || circuit.token.length === 0) return;
    if (this.#incoming >= MAX_INCOMING_SETUPS || this.#stopped) return;
    this.#incoming++;
    const relayAddress = this.#held.get(peer.nodeId)!.relayAddress;
    const task = this.#openLeg(peer.nodeId, relayAddress, circuit, {
      role: "responder",
      remoteAddress: formatRelayedAddress(relayAddress, peer.nodeId),
      linkKind: "relayed",
      expectedNodeId: toHex(circuit.peer),
      slotIp: dialHostPort(relayAddress)!.host,
    }).then((connection) => {
      this.stats.answered++;
      return connection;
    }).catch((error) => {
      this.#options.log("debug", "incoming relayed link failed", errorFields(error));
    }).finally(() => this.#incoming--);
    this.#track(task);
  }

  /** Opens a leg to the relay, presents the circuit's token, waits for the splice, runs the handshake. */
  async #openLeg(
    relayNodeId: string,
    relayAddress: string,
    circuit: PayloadByType[typeof MessageType.RELAY_CIRCUIT],
    open: OpenOverOptions,
  ): Promise<Connection> {
    const { transport, clock, config } = this.#options;
    const conn = await transport.openSocket(relayAddress);
    try {
      await conn.write(circuitPreamble(circuit.token));
      const answer = new Uint8Array(1);
      const n = await withTimeout(
        clock,
        conn.read(answer),
        config.circuitSetupMs,
        () => new TransportError("RELAY_FAILED", "the relay did not splice the circuit in time"),
      );
      if (n !== 1 || answer[0] !== CIRCUIT_READY) {
        throw new TransportError("RELAY_FAILED", "the relay refused the circuit's leg");
      }
    } catch (error) {
      closeQuietly(conn);
      this.#relayFailed(relayNodeId);
      throw error;
    }
    const connection = await transport.openOver(conn, open);
    const info: CircuitInfo = {
      relayNodeId,
      initiator: open.role === "initiator",
      observedAddress: circuit.observedAddress,
      peerObservedAddress: this.#takePeerAddress(relayNodeId, toHex(circuit.peer)),
      maxBytes: circuit.maxBytes,
      maxDurationMs: circuit.maxDurationMs,
      openedAt: clock.now(),
    };
    this.#watch(connection, info);
    try {
      this.#options.onRelayedLink?.(connection, info);
    } catch (error) {
      this.#options.log("error", "onRelayedLink handler failed", errorFields(error));
    }
    return connection;
  }

  /** Charges the relay when a spliced link drops without a DISCONNECT well before the circuit's limits. */
  #watch(connection: Connection, info: CircuitInfo): void {
    // Not tracked: it settles when the link closes, which stopping the client does not wait for.
    connection.closed.then((closed) => {
      if (closed.reason !== CONNECTION_LOST || closed.by !== "remote" || this.#stopped) return;
      const bytes = connection.stats.bytesIn + connection.stats.bytesOut;
      const age = this.#options.clock.now() - info.openedAt;
      // Near a limit, the relay closing it is the relay keeping its word.
      if (bytes < info.maxBytes * 0.9 && age < info.maxDurationMs * 0.9) this.#relayFailed(info.relayNodeId);
    });
  }

  #relayFailed(relayNodeId: string): void {
    this.stats.relayFailures++;
    this.#options.penalise(relayNodeId, "RELAY_FAILED");
  }

  /**
   * Dials `address`, a relayed address, to the node `options.expectedNodeId` (required: a circuit is asked
   * for a node, not an address): over an active link to the relay (dialed first when there is none).
   *
   * @throws {TransportError} `CONNECT_FAILED` when the relay is unreachable or refuses, `RELAY_FAILED` when
   *   it grants and fails, or a handshake error
   */
  async dial(address: string, options: DialOptions): Promise<Connection> {
    const parsed = parseRelayedAddress(address);
    const target = options.expectedNodeId;
    if (!parsed || target === undefined || fromHex(target)?.length !== 32) {
      throw new TransportError("CONNECT_FAILED", `a relayed dial needs a relayed address and the node id to reach`);
    }
    if (this.#outgoing >= MAX_OUTGOING_SETUPS || this.#stopped) {
      throw new TransportError("CONNECT_FAILED", "too many relayed dials in flight");
    }
    this.#outgoing++;
    try {
      return await this.#dialThrough(
        parsed.relayNodeId,
        formatHostPort(parsed.relay.host, parsed.relay.port),
        target,
        address,
        options.transient === true,
      );
    } catch (error) {
      this.stats.dialFailures++;
      throw error;
    } finally {
      this.#outgoing--;
    }
  }

  async #dialThrough(
    relayNodeId: string,
    relayAddress: string,
    target: string,
    address: string,
    transient: boolean,
  ): Promise<Connection> {
    const { clock, config, transport } = this.#options;
    let relay = this.#options.activePeer(relayNodeId);
    if (!relay) {
      await transport.dial(relayAddress, { expectedNodeId: relayNodeId });
      relay = await this.#activeSoon(relayNodeId);
    }
    if (!relay) throw new TransportError("CONNECT_FAILED", `relay ${relayNodeId.slice(0, 16)} is not an active peer`);
    const requestId = this.#requestId();
    const answered = new Promise<PayloadByType[typeof MessageType.RELAY_CIRCUIT]>((resolve) =>
      this.#circuitWaits.set(requestId, resolve)
    );
    let circuit;
    try {
      this.#options.send(relay, MessageType.RELAY_CONNECT, { requestId, target: fromHex(target)! });
      circuit = await withTimeout(
        clock,
        answered,
        config.circuitSetupMs,
        () => new TransportError("CONNECT_FAILED", "the relay did not answer RELAY_CONNECT"),
      );
    } finally {
      this.#circuitWaits.delete(requestId);
    }
    if (circuit.status !== RelayStatus.OK || circuit.token.length === 0 || toHex(circuit.peer) !== target) {
      throw new TransportError("CONNECT_FAILED", `the relay refused the circuit (status ${circuit.status})`);
    }
    const connection = await this.#openLeg(relayNodeId, relayAddress, circuit, {
      role: "initiator",
      remoteAddress: address,
      linkKind: "relayed",
      expectedNodeId: target,
      transient,
    });
    this.stats.dialed++;
    return connection;
  }

  /** The peer `nodeId` once the peer manager has made it active (within a second), or undefined. */
  async #activeSoon(nodeId: string): Promise<ActivePeer | undefined> {
    for (let i = 0; i < 20 && !this.#stopped; i++) {
      const peer = this.#options.activePeer(nodeId);
      if (peer) return peer;
      await new Promise<void>((resolve) => this.#options.clock.setTimeout(resolve, 50));
    }
    return this.#options.activePeer(nodeId);
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    task.catch(() => {}).finally(() => this.#tasks.delete(task));
  }

  /** Stops reserving; resolves once setups in flight have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }
}
