/**
 * The transport's contract with the rest of a node: the {@link Transport}
 * and {@link Connection} interfaces (TCP in `tcp.ts`, in memory in
 * `lib/sim/network.ts`), their counters, and {@link TransportError}.
 *
 * @module
 */
import { KithError, type ProtocolError } from "../errors.ts";
import { DisconnectReason, type Envelope, type PeerRecord } from "../protocol/mod.ts";

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

/**
 * How a link's bytes travel: over a socket straight to the peer, through a relay's circuit (the handshake runs
 * end to end, so the relay carries ciphertext only), or over a socket opened by hole punching.
 */
export type LinkKind = "direct" | "relayed" | "hole-punched";

/** An authenticated, encrypted link to one peer. */
export interface Connection {
  /**
   * How this link reaches the peer (see {@link LinkKind}); `"direct"` unless the code that made the link
   * says otherwise (relays and hole punching set theirs).
   */
  linkKind: LinkKind;
  /** The peer's node id (hex), proven by its handshake signature. */
  readonly remoteNodeId: string;
  /**
   * Whether this is a transient link (docs/protocol.md, "DHT"): dialed with {@link DialOptions.transient}
   * here, or, inbound, by a dialer whose HANDSHAKE carried the transient token. Both ends agree on it, and of
   * two links between the same nodes a transient one never displaces the other.
   */
  readonly transient: boolean;
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
  /**
   * A transient link (a DHT query's): its HANDSHAKE carries the transient agent, an open peer link to the node
   * is returned instead of a new one. Without it, an open transient link to the node is not returned: a new
   * link is made, which displaces it at both ends.
   */
  transient?: boolean;
}

/** Counters of a transport. */
export interface TransportStats {
  /** Inbound connections now (handshaking included). */
  inbound: number;
  /** Outbound connections now (handshaking included). */
  outbound: number;
  /** Most inbound connections held at once. */
  peakInbound: number;
  /** Inbound connections refused at accept (limits), rate-limited ones included. */
  refused: number;
  /** Inbound connections refused at accept by the new-connection rate limits (per IP, per subnet, global). */
  rateLimited: number;
  /** HANDSHAKEs refused as replays of a recent one (closed unanswered, no signature checked). */
  handshakesReplayed: number;
  /** HANDSHAKE signatures verified as responder: at most one per HANDSHAKE id, only past the cheap checks. */
  handshakeVerifications: number;
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
  /** Dials refused by the dial policy (`DIAL_REFUSED`) before any socket was opened. */
  dialsRefused: number;
  /** Dial-back handshakes this node's listener completed (and closed). */
  dialBacksAccepted: number;
  /** Dial-backs this node made for others (attempts, whatever their outcome). */
  dialBacksMade: number;
}

/** Transport counters at zero, for a new transport. */
export function emptyTransportStats(): TransportStats {
  return {
    inbound: 0,
    outbound: 0,
    peakInbound: 0,
    refused: 0,
    rateLimited: 0,
    handshakesReplayed: 0,
    handshakeVerifications: 0,
    handshakesCompleted: 0,
    handshakesFailed: 0,
    bytesIn: 0,
    bytesOut: 0,
    recordsOut: 0,
    dialsRefused: 0,
    dialBacksAccepted: 0,
    dialBacksMade: 0,
  };
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
  /**
   * Sets the address advertised from now on, unless the configuration forces one: a `host:port`, `""` for
   * none (a node that found itself unreachable), or `undefined` for the default rule (a specific bound address).
   */
  advertise(address: string | undefined): void;
  /**
   * Called when a dial-back handshake (docs/protocol.md, "Observed addresses and reachability") from
   * `nodeId` has completed at this node's listener; the transport closes that connection at once.
   */
  onDialBack: ((nodeId: string, remoteAddress: string) => void) | undefined;
  /**
   * A dial-back: connects to `address`, runs the whole handshake as initiator with the dial-back agent,
   * requiring `expectedNodeId` to answer, then closes. Never registers a link; resolves once the handshake
   * completed. @throws {TransportError} when the address is refused or the handshake fails
   */
  dialBack(address: string, expectedNodeId: string): Promise<void>;
  /** Starts accepting connections; resolves with the bound `host:port`. */
  listen(): Promise<string>;
  /** Connects to `address` and completes the handshake. @throws {TransportError} */
  dial(address: string, options?: DialOptions): Promise<Connection>;
  /**
   * Whether the dial policy lets this transport dial `address` (`host:port`); {@link Transport.dial}
   * refuses any other with `DIAL_REFUSED`. A permitted host name may still be refused once resolved.
   */
  permitsDial(address: string): boolean;
  /** The open connection to `nodeId`, if any. */
  connection(nodeId: string): Connection | undefined;
  /** All open connections. */
  connections(): Connection[];
  /** Disconnects everyone with SHUTDOWN, stops listening, and waits until every socket and timer is gone. */
  close(): Promise<void>;
}

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
   * @param code `CONNECT_FAILED`, `DIAL_REFUSED` (the dial policy refuses the address), `HANDSHAKE_FAILED`,
   *   `WRONG_PEER`, `CLOSED`, or a DisconnectReason name
   * @param message one line
   */
  constructor(code: string, message: string, reason?: number, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "TransportError";
    this.reason = reason;
  }
}

/**
 * The name of DISCONNECT reason `reason`: `"CONNECTION_LOST"` for {@link CONNECTION_LOST} (closed without
 * one), `REASON_<n>` for a code this version does not know.
 */
export function reasonName(reason: number): string {
  if (reason === CONNECTION_LOST) return "CONNECTION_LOST";
  return REASON_CODES[reason] ?? `REASON_${reason}`;
}
