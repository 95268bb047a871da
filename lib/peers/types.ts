/**
 * The peer layer's shared shapes: what a peer's state is called, how it is
 * reported, and the state the manager keeps per active peer and per address.
 *
 * @module
 */
import type { NetworkGroup } from "../netgroup.ts";
import type { Connection } from "../transport/types.ts";

/** Where a peer stands. */
export type PeerState = "known" | "connecting" | "active";

/** A peer as reported by `PeerManager.peers()`. */
export interface PeerInfo {
  /** Node id (hex). */
  nodeId: string;
  /** Listening address `host:port` (`""` when unknown). */
  address: string;
  /** Current state. */
  state: PeerState;
  /** Direction of the connection, when active. */
  direction?: "inbound" | "outbound";
  /** Current trust. */
  trust: number;
  /** Current reputation. */
  reputation: number;
  /** When last heard from (active) or last seen (known), ms since the epoch. */
  lastSeen: number;
  /** Consecutive failed dials. */
  failures: number;
  /** Last measured heartbeat round trip, ms. */
  rttMs?: number;
  /** Envelopes received from it on its current connection (filled in by the node from gossip's counters). */
  messages?: number;
  /**
   * Node ids (hex) in the latest peer list this active peer sent (its handshake's initial list or its last
   * announcement), at most `MAX_PEER_LIST`: what it says its own neighbours are. Claimed, not verified.
   */
  announced?: readonly string[];
}

/** An active peer, as gossip sees it. */
export interface ActivePeer {
  /** Node id (hex). */
  readonly nodeId: string;
  /** Its connection. */
  readonly connection: Connection;
  /** Its host and subnet, for diversity decisions. */
  readonly group: NetworkGroup;
  /** When it became active, ms since the epoch. */
  readonly since: number;
}

/** What the manager keeps per active peer (internal to the layer: gossip sees only {@link ActivePeer}). */
export interface ActiveState extends ActivePeer {
  /** Set when a newer link to the same node took this one's place (no disconnect event then). */
  replaced: boolean;
  /** When anything was last heard from it, ms since the epoch. */
  lastHeard: number;
  /** When this node last sent it a HEARTBEAT. */
  lastPingAt: number;
  /** Sequence number of the last HEARTBEAT sent, to match its reply. */
  pingSeq: number;
  /** When the unanswered HEARTBEAT was sent; 0 when none is outstanding. */
  pingSentAt: number;
  /** Last measured round trip, ms. */
  rttMs: number | undefined;
  /** When its PEER_DISCOVERY was last answered (answers are rate-limited). */
  lastDiscoveryAnswered: number;
  /** When it was last sent a PEER_DISCOVERY. */
  lastDiscoveryAsked: number;
  /** When its HEARTBEAT was last answered (answers are rate-limited). */
  lastHeartbeatAnswered: number;
  /** Node ids from its latest peer list (replaced, never appended, so it stays within MAX_PEER_LIST). */
  announced: readonly string[];
}

/** An address-book entry (internal to the layer). */
export interface KnownPeer {
  /** Node id (hex). */
  nodeId: string;
  /** Its listening address `host:port`. */
  address: string;
  /** When last seen, ms since the epoch (hearsay never moves it past the local clock). */
  lastSeen: number;
  /** Consecutive failed dials. */
  failures: number;
  /** Not dialed again before this time (backoff). */
  nextDialAt: number;
  /** Whether a handshake ever completed: a verified address is never overwritten by hearsay. */
  everConnected: boolean;
}

/** A configured bootstrap address and its retry state (internal to the layer). */
export interface BootstrapEntry {
  /** The configured `host:port`. */
  address: string;
  /** The node id last seen there, once connected. */
  nodeId: string | undefined;
  /** Consecutive failed dials. */
  failures: number;
  /** Not dialed again before this time (backoff). */
  nextDialAt: number;
}

/** Counters of a peer manager. */
export interface PeerStats {
  /** Dials attempted. */
  dials: number;
  /** Dials that failed. */
  dialFailures: number;
  /** Connections refused or closed by the slot, IP and subnet bounds. */
  refusedByLimits: number;
  /** Peers evicted for a better one. */
  evictions: number;
  /** Peers disconnected for silence. */
  timeouts: number;
  /** Peers disconnected for low trust. */
  lowTrustDisconnects: number;
  /** Addresses forgotten after too many failures. */
  forgotten: number;
  /**
   * Distinct announced or stored addresses the dial policy refused (never dialed, never stored); each is
   * counted once while among the last 1,000 refused.
   */
  refusedByPolicy: number;
}
