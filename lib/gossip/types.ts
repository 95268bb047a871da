/**
 * The gossip layer's interfaces to what surrounds it: the peers it talks
 * to, the senders and handlers of messages, and the options it is made with;
 * and the per-link counts a GossipLink (links.ts) is made of, kept here, below
 * links.ts and the modules that keep them (announce_limits.ts, deficit.ts), so
 * that neither imports the other.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Identity } from "../identity.ts";
import type { LogSink } from "../log.ts";
import type { Connection } from "../transport/types.ts";
import type { Message, MessageCodec } from "../protocol/mod.ts";
import type { RandomSource } from "../random.ts";
import type { Storage } from "../storage/types.ts";
import type { TrustModel } from "../trust.ts";
import type { SignatureVerifier } from "../verifier.ts";
import type { GossipConfig } from "./config.ts";

/** The peers gossip talks to: the peer manager in a node, an in-memory set in a simulation. */
export interface GossipPeers {
  /** Peers with an open connection. */
  activePeers(): readonly { readonly nodeId: string; readonly connection: Connection }[];
}

/** A peer as gossip sees the sender of a message. */
export interface GossipSender {
  /** Node id (hex). */
  readonly nodeId: string;
}

/** Called with each verified, first-seen message of a type. */
export type MessageHandler = (message: Message, from: GossipSender) => void;

/** Options of {@link GossipProtocol}. */
export interface GossipOptions {
  /** This node's identity (signs published messages and digests). */
  identity: Identity;
  /** The peers to gossip with. */
  peers: GossipPeers;
  /** The trust model: credited and penalised by what peers send. */
  trust: TrustModel;
  /** Backs the dedup cache (messages_seen). */
  storage: Storage;
  /** Overrides of the default gossip config (DEFAULT_GOSSIP_CONFIG). */
  config?: Partial<GossipConfig>;
  /** Time and timers. Default: the system clock. */
  clock?: Clock;
  /** Randomness for peer selection. Default: `Math.random`. */
  random?: RandomSource;
  /** Codec for verifying envelopes. Default: the protocol's default limits. */
  codec?: MessageCodec;
  /**
   * Checks signatures: at once on this thread by default; a {@link ParallelVerifier} moves them to a
   * helper thread under load (its answers come later). The caller owns it and closes it.
   */
  verifier?: SignatureVerifier;
  /** Where failures of handlers and rounds are logged. Default {@link defaultLogSink}. */
  log?: LogSink;
  /**
   * The topic this layer is the overlay of (lib/topics/): its digests name it, so the receiver hands them to
   * its overlay of the same topic. Default `""`, the network-wide overlay.
   */
  topic?: string;
}

/** The per-interval counts of one link's announcements (fields of its GossipLink; announce_limits.ts keeps them). */
export interface AnnouncementCounts {
  /** Announcements (GOSSIP_MESSAGEs with ids) taken from it this interval. */
  announcementsThisInterval: number;
  /** Ids of its announcements looked at this interval. */
  announcedIdsThisInterval: number;
  /** Ids of its per-origin PRUNEs taken this interval. */
  prunedIdsThisInterval: number;
  /** Ids this node asked it for this interval (for promises: see promises.ts). */
  askedThisInterval: number;
}

/** The per-link state of the deficit (fields of its GossipLink; deficit.ts keeps them). */
export interface DeficitCounts {
  /** When this node last began counting on the peer to push (`pushing` set), ms. */
  pushingSince: number;
  /** Copies it pushed this window (see deficit.ts). */
  pushedThisWindow: number;
  /** Messages it withheld this window (see deficit.ts). */
  withheldThisWindow: number;
  /** When the current window began, ms. */
  windowStart: number;
  /** Until when it is demoted for its deficit: not made eager by this node, nor asked at once, ms. */
  demotedUntil: number;
}
