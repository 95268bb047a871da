/**
 * The peer layer's shared shapes: what a peer's state is called, how it is
 * reported, and the state the manager keeps per active peer and per address.
 *
 * @module
 */
import type { NetworkGroup } from "../netgroup.ts";
import type { Connection, LinkKind } from "../transport/types.ts";

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
  /** How the connection reaches it, when active: `direct`, `relayed` or `hole-punched`. */
  linkKind?: LinkKind;
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
  /** Whether its address is "tried": this node's own outbound connection to it succeeded. */
  tried?: boolean;
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
  /** Lowest measured round trip on this connection, ms (an eviction criterion: it cannot be lowered from afar). */
  minRttMs: number | undefined;
  /** When its PEER_DISCOVERY was last answered (answers are rate-limited). */
  lastDiscoveryAnswered: number;
  /** When it was last sent a PEER_DISCOVERY. */
  lastDiscoveryAsked: number;
  /** When its PEER_DISCOVERY naming a topic was last answered (rate-limited apart, at the same interval). */
  lastTopicDiscoveryAnswered: number;
  /** When it was last sent a PEER_DISCOVERY naming a topic. */
  lastTopicDiscoveryAsked: number;
  /**
   * The topics of this node's PEER_DISCOVERYs to it still unanswered, oldest first (`""`: an ordinary one): a
   * peer answers in order, so its next PEER_ANNOUNCEMENT answers the first. At most 2.
   */
  pendingAnswers: { topic: string; at: number }[];
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
  /**
   * Whether this node's own outbound connection to `address` succeeded (the "tried" table); else the entry
   * is hearsay ("new"): announced, or claimed by an inbound peer. A tried address is never overwritten by hearsay.
   */
  tried: boolean;
  /** The network group of the peer that told this node of it (`""` when learned first-hand). */
  source: string;
  /** When this node's last outbound connection to it succeeded, ms since the epoch (0: never). */
  lastSuccess: number;
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
  /** Feeler connections started (short outbound dials that move a new address to tried, or test a tried one). */
  feelers: number;
  /** Saved anchors dialed after a restart. */
  anchorDials: number;
  /** Dials started for topic peers (into the `topicSlots`). */
  topicDials: number;
  /** PEER_DISCOVERYs naming a topic answered (each within the same per-peer interval as ordinary ones). */
  topicAnswers: number;
  /** PEER_ANNOUNCEMENTs dropped unread: the peer had no address budget left and no request was outstanding. */
  announcementsDropped: number;
  /**
   * Distinct announced or stored addresses the dial policy refused (never dialed, never stored); each is
   * counted once while among the last 1,000 refused.
   */
  refusedByPolicy: number;
}

/** The address book's occupancy and counters (`PeerManager.addressBook()`). */
export interface AddressBookInfo {
  /** Entries held, in both tables. */
  size: number;
  /** Entries in the tried table (reached by this node's own outbound connections). */
  tried: number;
  /** Slots in both tables: the most entries the book (and its stored table) can hold. */
  capacity: number;
  /** The book's counters. */
  book: {
    /** Entries dropped for a newcomer in their slot, or displaced from the tried table and lost. */
    evicted: number;
    /** Hearsay refused because its slots held entries worth keeping. */
    refused: number;
    /** Tried-slot collisions decided for the occupant (it answered its test). */
    collisionsKept: number;
    /** Tried-slot collisions decided for the newcomer (the occupant did not answer). */
    collisionsReplaced: number;
  };
  /** What the address intake took and dropped, in records. */
  intake: {
    /** Taken as answers to this node's requests. */
    solicited: number;
    /** Taken unsolicited, within a peer's rate. */
    unsolicited: number;
    /** Dropped: over a peer's rate, or past what an answer was asked for. */
    dropped: number;
  };
}
