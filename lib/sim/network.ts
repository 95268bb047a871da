/**
 * An in-memory network for simulations: transports and connections that
 * implement the same interfaces as TCP, delivering envelopes after a
 * per-link latency on a {@link VirtualClock}. Nodes in a simulation run the
 * real PeerManager, GossipProtocol and TrustManager over it.
 *
 * What is modelled: per-link latency (drawn once per link from a seeded
 * uniform distribution), random loss, FIFO order per link, per-link
 * bandwidth and per-node processing time (both optional, in
 * {@link LinkModel}), bytes on the wire (envelope + 4-byte frame + 16-byte
 * AEAD tag per envelope), the socket address an inbound connection comes
 * from (the dialer's listen address, or a shared source host as on loopback
 * TCP), and the peer list a responder offers in the handshake when given
 * one. What is not: handshake cryptography (connections are authenticated by
 * construction), record coalescing (one record per envelope), TCP
 * retransmission.
 *
 * @module
 */
import { DialGuard, type DialPolicy, resolveDialPolicy } from "../dial_policy.ts";
import type { Identity } from "../identity.ts";
import { AGENT, TRANSIENT_AGENT } from "../version.ts";
import {
  type CloseInfo,
  type Connection,
  CONNECTION_LOST,
  type ConnectionStats,
  type DialOptions,
  emptyTransportStats,
  type LinkKind,
  type Transport,
  TransportError,
  type TransportStats,
} from "../transport/types.ts";
import {
  DisconnectReason,
  type Envelope,
  MAX_PEER_LIST,
  MessageCodec,
  MessageType,
  type PeerRecord,
} from "../protocol/mod.ts";
import type { RandomSource } from "../random.ts";
import { ProtocolError } from "../errors.ts";
import type { VirtualClock } from "./clock.ts";

/** How links behave. */
export interface LinkModel {
  /** Lowest one-way latency, ms. Default 10. */
  minLatencyMs: number;
  /** Highest one-way latency, ms. Default 80. */
  maxLatencyMs: number;
  /** Probability that an envelope is lost. Default 0. */
  loss: number;
  /** Bandwidth of each link in each direction, bytes/s; 0 for unlimited. Default 0. */
  bandwidthBytesPerSecond: number;
  /** Time a node spends on each envelope it receives, ms (envelopes queue behind each other). Default 0. */
  processingMs: number;
}

/** The default {@link LinkModel}. */
export const DEFAULT_LINK_MODEL: Readonly<LinkModel> = Object.freeze({
  minLatencyMs: 10,
  maxLatencyMs: 80,
  loss: 0,
  bandwidthBytesPerSecond: 0,
  processingMs: 0,
});

/** Options of {@link SimNetwork.transport}. */
export interface SimTransportOptions {
  /**
   * The host the connections it dials come from, with an ephemeral port, while it announces its listen
   * address (as TCP clients on loopback all come from 127.0.0.1). Default: its listen address itself.
   */
  sourceHost?: string;
  /** The peer list it sends a node that dials it (TCP's HANDSHAKE_ACK list). Default: none. */
  initialPeers?: (remoteNodeId: string) => PeerRecord[];
  /**
   * Which addresses it may dial, as TCP's `dialPolicy`. Default: the loopback preset (simulated addresses
   * are loopback ones). A loopback-only policy narrowed by `deny` ranges is allowed; a wider one is refused,
   * so a simulation can never model dialing outside loopback.
   */
  dialPolicy?: DialPolicy;
  /**
   * Whether dials to it get through (default true). False models a node behind a NAT or a firewall: it dials
   * out, but nothing reaches its listen address unasked, dial-backs included.
   */
  acceptsInbound?: boolean;
}

/** The loopback preset's ranges, the only ones a simulated node may be allowed to dial. */
const LOOPBACK_ALLOW: readonly string[] = resolveDialPolicy({ preset: "loopback" }).allow;

/** Bytes counted per envelope on top of its encoding: the frame prefix and the AEAD tag. */
const WIRE_OVERHEAD = 4 + 16;

/** The shared medium: addresses, link latencies, byte counters. */
export class SimNetwork {
  /** The virtual clock every node of the simulation shares. */
  readonly clock: VirtualClock;
  /** How links behave. */
  readonly model: Readonly<LinkModel>;
  /** The codec that decodes what links deliver. */
  readonly codec: MessageCodec;
  readonly #random: RandomSource;
  readonly #byAddress = new Map<string, SimTransport>();
  readonly #latency = new Map<string, number>();
  /** Bytes put on links, all nodes. */
  bytesSent = 0;
  /** Envelopes lost to the loss model. */
  envelopesLost = 0;
  /**
   * Where set, links between two addresses are cut (partitions). Envelopes sent across are held and
   * delivered when {@link SimNetwork.heal} is called, as TCP would retransmit them once the path is back
   * (partitions shorter than the peer timeout).
   */
  blocked: ((a: string, b: string) => boolean) | undefined;
  /**
   * Where set, called with each dial as it starts (dialer's address, address dialed), so tests can see
   * when a node tries to connect, including to addresses where nothing answers.
   */
  onDial: ((from: string, to: string) => void) | undefined;
  /**
   * Where set, called with each envelope a node receives, once parsed and before the node sees it
   * (receiver's address, sender's address, the envelope, its size on the wire), so a simulation can count
   * what reaches whom: the topic workload counts the messages that reach nodes outside their topic.
   */
  onReceive: ((to: string, from: string, envelope: Envelope, wireBytes: number) => void) | undefined;
  readonly #held: (() => void)[] = [];
  #nextSourcePort = 49_152;
  // When each directed link finishes sending what it has queued, and when each node finishes processing, ms.
  readonly #linkBusyUntil = new Map<string, number>();
  readonly #nodeBusyUntil = new Map<string, number>();

  /** When an envelope of `size` bytes sent now from `from` to `to` has left the sender, under the bandwidth model. */
  sentAt(from: string, to: string, size: number): number {
    const now = this.clock.now();
    if (this.model.bandwidthBytesPerSecond <= 0) return now;
    const key = `${from}>${to}`;
    const done = Math.max(now, this.#linkBusyUntil.get(key) ?? 0) + (size * 1000) / this.model.bandwidthBytesPerSecond;
    this.#linkBusyUntil.set(key, done);
    return done;
  }

  /** When `node` has processed an envelope that arrives at `arrival`, under the processing model. */
  processedAt(node: string, arrival: number): number {
    if (this.model.processingMs <= 0) return arrival;
    const done = Math.max(arrival, this.#nodeBusyUntil.get(node) ?? 0) + this.model.processingMs;
    this.#nodeBusyUntil.set(node, done);
    return done;
  }

  /** Holds a delivery until the partition heals (internal). */
  hold(deliver: () => void): void {
    this.#held.push(deliver);
  }

  /** Ends a partition: held envelopes are delivered, in the order sent. */
  heal(): void {
    this.blocked = undefined;
    for (const deliver of this.#held.splice(0)) deliver();
  }

  /**
   * Creates an empty network.
   *
   * @param clock the virtual clock all nodes share
   * @param random the seeded source of latencies and losses
   */
  constructor(
    clock: VirtualClock,
    random: RandomSource,
    model: Partial<LinkModel> = {},
    codec: MessageCodec = new MessageCodec(),
  ) {
    this.clock = clock;
    this.#random = random;
    this.model = { ...DEFAULT_LINK_MODEL, ...model };
    this.codec = codec;
  }

  /** A transport for a node listening at `address`. */
  transport(identity: Identity, address: string, options: SimTransportOptions = {}): SimTransport {
    const transport = new SimTransport(this, identity, address, options);
    this.#byAddress.set(address, transport);
    return transport;
  }

  /** Removes `transport`'s address (it went down), unless a newer transport (a restart) holds it now. */
  forget(transport: SimTransport): void {
    if (this.#byAddress.get(transport.address) === transport) this.#byAddress.delete(transport.address);
  }

  /** The transport at `address`, if up. */
  at(address: string): SimTransport | undefined {
    return this.#byAddress.get(address);
  }

  /** The socket address a connection dialed from `host` appears to come from (internal). */
  sourceAddress(host: string): string {
    return `${host}:${this.#nextSourcePort++}`;
  }

  /** One-way latency between two addresses, fixed per link once drawn. */
  latency(a: string, b: string): number {
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    let value = this.#latency.get(key);
    if (value === undefined) {
      const { minLatencyMs: min, maxLatencyMs: max } = this.model;
      value = min + this.#random() * (max - min);
      this.#latency.set(key, value);
    }
    return value;
  }

  /** Whether the next envelope is lost. */
  lose(): boolean {
    if (this.model.loss <= 0) return false;
    const lost = this.#random() < this.model.loss;
    if (lost) this.envelopesLost++;
    return lost;
  }
}

class SimConnection implements Connection {
  readonly remoteNodeId: string;
  readonly remotePublicKey: Uint8Array;
  readonly direction: "inbound" | "outbound";
  readonly remoteAddress: string;
  /** The remote's listen address: the far end of the link, for latency, partitions and processing. */
  readonly linkAddress: string;
  readonly listenAddress: string;
  readonly agent: string;
  readonly initialPeers: readonly PeerRecord[];
  readonly openedAt: number;
  linkKind: LinkKind = "direct";
  readonly transient: boolean;
  readonly bufferedBytes = 0;
  readonly stats: ConnectionStats = { bytesIn: 0, bytesOut: 0, envelopesIn: 0, envelopesOut: 0 };
  onEnvelope: ((envelope: Envelope) => void) | undefined;
  onClose: ((info: CloseInfo) => void) | undefined;
  readonly closed: Promise<CloseInfo>;
  peer!: SimConnection;
  #open = true;
  #resolve!: (info: CloseInfo) => void;
  readonly #owner: SimTransport;
  readonly #localAddress: string;

  constructor(
    owner: SimTransport,
    remote: SimTransport,
    direction: "inbound" | "outbound",
    remoteAddress = remote.address,
    initialPeers: readonly PeerRecord[] = [],
    transient = false,
  ) {
    this.#owner = owner;
    this.#localAddress = owner.address;
    this.remoteNodeId = remote.nodeId;
    this.remotePublicKey = remote.identity.publicKey;
    // A transient link's dialer sends the transient agent (lib/version.ts), as over TCP.
    this.transient = transient;
    this.agent = transient && direction === "inbound" ? TRANSIENT_AGENT : remote.agent;
    this.direction = direction;
    this.remoteAddress = remoteAddress;
    this.linkAddress = remote.address;
    this.initialPeers = initialPeers;
    this.listenAddress = remote.advertisedAddress;
    this.openedAt = owner.network.clock.now();
    this.closed = new Promise((resolve) => this.#resolve = resolve);
  }

  get isOpen(): boolean {
    return this.#open;
  }

  send(envelope: Envelope): boolean {
    return this.sendEncoded(this.#owner.network.codec.encode(envelope));
  }

  sendEncoded(bytes: Uint8Array): boolean {
    if (!this.#open) return false;
    const network = this.#owner.network;
    const size = bytes.length + WIRE_OVERHEAD;
    network.bytesSent += size;
    this.stats.bytesOut += size;
    this.#owner.counters.bytesOut += size;
    this.#owner.counters.recordsOut++;
    this.stats.envelopesOut++;
    if (network.lose()) return true;
    const peer = this.peer;
    const deliver = () => {
      const arrival = network.sentAt(this.#localAddress, this.linkAddress, size) +
        network.latency(this.#localAddress, this.linkAddress);
      const ready = network.processedAt(this.linkAddress, arrival);
      network.clock.setTimeout(() => peer.#receive(bytes), ready - network.clock.now());
    };
    if (network.blocked?.(this.#localAddress, this.linkAddress)) network.hold(deliver);
    else deliver();
    return true;
  }

  #receive(bytes: Uint8Array): void {
    if (!this.#open) return;
    this.stats.bytesIn += bytes.length + WIRE_OVERHEAD;
    this.#owner.counters.bytesIn += bytes.length + WIRE_OVERHEAD;
    this.stats.envelopesIn++;
    let envelope: Envelope;
    try {
      envelope = this.#owner.network.codec.parse(bytes);
    } catch (error) {
      if (error instanceof ProtocolError) this.#owner.onProtocolError?.(this, error);
      return;
    }
    this.#owner.network.onReceive?.(this.#localAddress, this.linkAddress, envelope, bytes.length + WIRE_OVERHEAD);
    if (envelope.type === MessageType.DISCONNECT) {
      this.terminate({ reason: DisconnectReason.SHUTDOWN, detail: "", by: "remote" });
      return;
    }
    this.onEnvelope?.(envelope);
  }

  close(reason: number = DisconnectReason.SHUTDOWN, detail = ""): Promise<void> {
    if (!this.#open) return this.closed.then(() => {});
    const peer = this.peer;
    const network = this.#owner.network;
    network.clock.setTimeout(
      () => peer.terminate({ reason, detail, by: "remote" }),
      network.latency(this.#localAddress, this.linkAddress),
    );
    this.terminate({ reason, detail, by: "local" });
    return Promise.resolve();
  }

  terminate(info: CloseInfo): void {
    if (!this.#open) return;
    this.#open = false;
    this.#owner.closedConnection(this);
    this.#resolve(info);
    this.onClose?.(info);
  }
}

/** A node's transport on a {@link SimNetwork}. */
export class SimTransport implements Transport {
  /** The network it is on. */
  readonly network: SimNetwork;
  /** The node's identity. */
  readonly identity: Identity;
  /** The node's id. */
  readonly nodeId: string;
  /** Its address on the network. */
  readonly address: string;
  /** The host its dialed connections come from, if not its listen address (see {@link SimTransportOptions}). */
  readonly sourceHost: string | undefined;
  /**
   * The agent it announces to the nodes it connects with: the reference node's, with its capabilities,
   * unless a test sets another (an older kith, without `direct/1`) before it connects.
   */
  agent: string = AGENT;
  /** Whether dials to it get through (see {@link SimTransportOptions.acceptsInbound}). */
  readonly acceptsInbound: boolean;
  readonly #initialPeers: (remoteNodeId: string) => PeerRecord[];
  readonly #dialGuard: DialGuard;
  onConnection: ((connection: Connection) => void) | undefined;
  onProtocolError: ((connection: Connection, error: ProtocolError) => void) | undefined;
  onDialBack: ((nodeId: string, remoteAddress: string) => void) | undefined;
  #advertised: string | undefined;
  readonly #open = new Map<string, SimConnection>();
  #closed = false;
  /** Running totals behind {@link SimTransport.stats} (updated by its connections). */
  readonly counters: TransportStats = emptyTransportStats();

  /** A transport for `identity` at `address`; {@link SimNetwork.transport} makes and registers one. */
  constructor(network: SimNetwork, identity: Identity, address: string, options: SimTransportOptions = {}) {
    this.network = network;
    this.identity = identity;
    this.nodeId = identity.nodeId;
    this.address = address;
    this.sourceHost = options.sourceHost;
    this.acceptsInbound = options.acceptsInbound ?? true;
    this.#initialPeers = options.initialPeers ?? (() => []);
    const policy = options.dialPolicy ?? resolveDialPolicy({ preset: "loopback" });
    if (policy.preset !== "loopback" || policy.allow.some((range) => !LOOPBACK_ALLOW.includes(range))) {
      throw new RangeError(`a simulated node dials loopback only, got the ${policy.preset} policy`);
    }
    this.#dialGuard = new DialGuard(policy);
  }

  /** Whether its dial policy permits `address`, as TCP's. */
  permitsDial(address: string): boolean {
    return this.#dialGuard.permits(address);
  }

  /** Counters, as TCP's: connections now by direction, handshakes (every link counts one), bytes, records. */
  get stats(): Readonly<TransportStats> {
    let inbound = 0;
    for (const connection of this.#open.values()) if (connection.direction === "inbound") inbound++;
    const counters = this.counters;
    counters.peakInbound = Math.max(counters.peakInbound, inbound);
    return { ...counters, inbound, outbound: this.#open.size - inbound };
  }

  /** Its address on the simulated network, unless {@link SimTransport.advertise} said otherwise. */
  get advertisedAddress(): string {
    return this.#advertised ?? this.address;
  }

  advertise(address: string | undefined): void {
    this.#advertised = address;
  }

  /** The dial policy's refusal of `address`, counted, or undefined when it may be dialed. */
  #refusedByPolicy(address: string): TransportError | undefined {
    const refusal = this.#dialGuard.check(address);
    if (refusal === undefined) return undefined;
    this.counters.dialsRefused++;
    return new TransportError("DIAL_REFUSED", `${address} is refused by the dial policy: ${refusal}`);
  }

  /** A dial-back after one round trip: fails where a dial would, else reports to the remote's onDialBack. */
  dialBack(address: string, expectedNodeId: string): Promise<void> {
    const refused = this.#refusedByPolicy(address);
    if (refused) return Promise.reject(refused);
    this.counters.dialBacksMade++;
    const remote = this.network.at(address);
    const rtt = 2 * this.network.latency(this.address, address);
    return new Promise((resolve, reject) => {
      this.network.clock.setTimeout(() => {
        if (this.#closed) return reject(new TransportError("CLOSED", "transport closed"));
        if (!remote || remote.#closed || !remote.acceptsInbound || this.network.blocked?.(this.address, address)) {
          return reject(new TransportError("CONNECT_FAILED", `nothing answers at ${address}`));
        }
        if (remote.nodeId !== expectedNodeId) {
          return reject(new TransportError("WRONG_PEER", `expected ${expectedNodeId}`));
        }
        remote.counters.dialBacksAccepted++;
        const from = this.sourceHost === undefined ? this.address : this.network.sourceAddress(this.sourceHost);
        remote.onDialBack?.(this.nodeId, from);
        resolve();
      }, rtt);
    });
  }

  listen(): Promise<string> {
    return Promise.resolve(this.address);
  }

  /** Connects after one round trip; the remote sees the connection half a round trip earlier. */
  dial(address: string, options: DialOptions = {}): Promise<Connection> {
    const refused = this.#refusedByPolicy(address);
    if (refused) return Promise.reject(refused);
    this.network.onDial?.(this.address, address);
    const remote = this.network.at(address);
    const rtt = 2 * this.network.latency(this.address, address);
    return new Promise((resolve, reject) => {
      this.network.clock.setTimeout(() => {
        if (this.#closed) return reject(new TransportError("CLOSED", "transport closed"));
        if (!remote || remote.#closed || !remote.acceptsInbound || this.network.blocked?.(this.address, address)) {
          return reject(new TransportError("CONNECT_FAILED", `nothing answers at ${address}`));
        }
        if (remote.nodeId === this.nodeId) return reject(new TransportError("SELF_CONNECTION", "connection to self"));
        if (options.expectedNodeId !== undefined && options.expectedNodeId !== remote.nodeId) {
          return reject(new TransportError("WRONG_PEER", `expected ${options.expectedNodeId}`));
        }
        // An open link serves, unless it is transient and a peer link is asked for (TCP's rule, tcp_dial.ts).
        const transient = options.transient === true;
        const existing = this.#open.get(remote.nodeId);
        if (existing?.isOpen && (!existing.transient || transient)) return resolve(existing);
        resolve(this.#openLink(remote, transient));
      }, rtt);
    });
  }

  /**
   * Replaces this node's open link to `nodeId` by a new one it dials, at once, as TCP's duplicate rule does
   * when a node reconnects while its old link is still open (the newer of two links opened the same way
   * stays) or both ends dial at once: both ends take the new link, then the old one closes at both ends with
   * DUPLICATE_CONNECTION, and what was still in flight on it is lost. For tests of what a replaced link
   * loses; returns the new link, or undefined when no link to `nodeId` is open or its node is gone.
   */
  replaceLink(nodeId: string): Connection | undefined {
    const existing = this.#open.get(nodeId);
    const remote = existing && this.network.at(existing.linkAddress);
    if (!existing?.isOpen || remote?.nodeId !== nodeId || this.#closed) return undefined;
    return this.#openLink(remote, existing.transient);
  }

  /** Opens a link to `remote` (this node dials), hands it to both ends, and closes the one it displaces. */
  #openLink(remote: SimTransport, transient: boolean): SimConnection {
    const existing = this.#open.get(remote.nodeId);
    const offered = remote.#initialPeers(this.nodeId).slice(0, MAX_PEER_LIST);
    const local = new SimConnection(this, remote, "outbound", remote.address, offered, transient);
    const from = this.sourceHost === undefined ? this.address : this.network.sourceAddress(this.sourceHost);
    const far = new SimConnection(remote, this, "inbound", from, [], transient);
    local.peer = far;
    far.peer = local;
    this.#open.set(remote.nodeId, local);
    remote.#open.set(this.nodeId, far);
    this.counters.handshakesCompleted++;
    remote.counters.handshakesCompleted++;
    remote.onConnection?.(far);
    this.onConnection?.(local);
    // The new link displaces the old one at both ends, after it was handed over (as TCP's close).
    const duplicate = { reason: DisconnectReason.DUPLICATE_CONNECTION, detail: "kept the other connection" };
    if (existing?.isOpen) {
      existing.terminate({ ...duplicate, by: "local" });
      existing.peer.terminate({ ...duplicate, by: "local" });
    }
    return local;
  }

  connection(nodeId: string): Connection | undefined {
    return this.#open.get(nodeId);
  }

  connections(): Connection[] {
    return [...this.#open.values()];
  }

  /** Called by a connection when it has closed (internal). */
  closedConnection(connection: Connection): void {
    if (this.#open.get(connection.remoteNodeId) === connection) this.#open.delete(connection.remoteNodeId);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.network.forget(this);
    for (const connection of [...this.#open.values()]) {
      void connection.close(DisconnectReason.SHUTDOWN, "node down");
    }
    return Promise.resolve();
  }

  /** Drops every link at once, as a crash would: peers notice only by silence (or their own sends). */
  crash(): void {
    this.#closed = true;
    this.network.forget(this);
    for (const connection of [...this.#open.values()]) {
      connection.terminate({ reason: CONNECTION_LOST, detail: "crashed", by: "local" });
      this.network.clock.setTimeout(
        () => connection.peer.terminate({ reason: CONNECTION_LOST, detail: "peer crashed", by: "remote" }),
        this.network.latency(this.address, connection.linkAddress),
      );
    }
  }
}
