/**
 * Gossip's counters: totals, per message type and per error code, and the
 * shape of per-peer counters.
 *
 * @module
 */
import { MESSAGE_TYPE_NAMES, type MessageType } from "../protocol/mod.ts";

/** Counters of a gossip protocol instance. */
export interface GossipStats {
  /** Messages this node published. */
  published: number;
  /** First-seen messages received and handed to handlers. */
  delivered: number;
  /** Copies of already-seen messages received. */
  duplicates: number;
  /** Envelopes refused as invalid (each cost the sender trust). */
  invalid: number;
  /** Envelopes dropped by the per-peer rate limit. */
  rateLimited: number;
  /** Messages dropped by the per-origin rate limit. */
  originLimited: number;
  /**
   * First copies dropped because `messageCacheSize` others were already waiting for their signature
   * check (an overloaded node; a later copy or an announcement brings them again).
   */
  droppedUnderCheck: number;
  /** Envelopes sent while forwarding (eager and deferred). */
  forwarded: number;
  /** GOSSIP_MESSAGEs with ids (`have`) sent: lazy announcements and repair digests. */
  digestsSent: number;
  /** Ids announced to peers in those digests. */
  announced: number;
  /** Message ids asked for with `want`. */
  requested: number;
  /** Messages sent in answer to `want`. */
  served: number;
  /**
   * Asks for kept messages not answered: named twice in one `want`, asked again within the interval of
   * their answer, beyond `maxRetransmissions`, or over the peer's per-interval budget (messages or bytes).
   */
  wantsDropped: number;
  /** Announced ids looked at (within the per-peer caps `maxAnnouncementsPerInterval`, `maxAnnouncedIdsPerInterval`). */
  announcedIdsExamined: number;
  /** Announcements whose ids were ignored, all or some, over those caps. */
  announcementsDropped: number;
  /** Asks whose promised message did not come in time (see `promiseTimeoutMs`). */
  promisesBroken: number;
  /** Peers demoted for their delivery deficit (see `deliveryDeficitPercent`): no longer counted as pushing here. */
  deficitDemotions: number;
  /** PRUNEs sent: peers moved from full messages to ids after a duplicate. */
  prunes: number;
  /** Per-origin PRUNEs sent: a peer asked to send only ids of one origin's messages (see `originPrune`). */
  originPrunes: number;
  /** Grafts: this node asked a peer that was not pushing to it for a message (it pushes from then on). */
  grafts: number;
  /**
   * How late messages reach this node now, in ms beyond the quickest each origin's messages came in the
   * last 10 minutes: the median, over origins heard from in the last 30 s, of each origin's smoothed
   * lateness. Near 0 while the network and this node keep up; it grows with queues anywhere on the paths,
   * this node's own unread backlog (and signature checks waiting for a helper thread) included.
   */
  latenessMs: number;
  /**
   * How much lateness varies: the same median of each origin's smoothed mean deviation, ms. Before its first
   * ask, a missing message waits the median of each origin's lateness plus four deviations longer (at most
   * MAX_LATENESS_MS), as TCP's retransmission timeout adds four deviations to the mean.
   */
  latenessDeviationMs: number;
}

/** Per-peer counters, for operators and the trust model. */
export interface GossipPeerStats {
  /** Envelopes received from the peer. */
  received: number;
  /** Copies of already-seen messages it sent. */
  duplicates: number;
  /** Messages it was first to bring (first-seen and valid). */
  firsts: number;
  /** When it last brought a message first (ms; -Infinity when never): a recent parent in some origin's tree, if trees are on. */
  lastFirstAt: number;
  /** Invalid envelopes it sent. */
  invalid: number;
  /** Envelopes it sent over its rate limit. */
  rateLimited: number;
  /** Whether this node pushes new messages to it in full (an eager link) rather than announcing their ids. */
  eager: boolean;
  /** Whether it pushes new messages to this node in full, as far as this node knows. */
  pushing: boolean;
}

/** Counts of one message type. */
export interface MessageTypeCounts {
  /** Envelopes received (within the rate limit). */
  received: number;
  /** First-seen, valid messages handed to handlers. */
  delivered: number;
  /** Envelopes sent on to peers (eager, deferred or on request). */
  forwarded: number;
  /** Copies of already-seen messages. */
  duplicate: number;
  /** Envelopes refused as invalid. */
  invalid: number;
}

/** The counters gossip keeps itself; lateness is the estimator's, added when the stats are read. */
export type GossipCounts = Omit<GossipStats, "latenessMs" | "latenessDeviationMs">;

/** Totals, counts per message type name and invalid envelopes per error code. */
export class GossipCounters {
  /** The totals, incremented in place by the protocol. */
  readonly totals: GossipCounts = {
    published: 0,
    delivered: 0,
    duplicates: 0,
    invalid: 0,
    rateLimited: 0,
    originLimited: 0,
    droppedUnderCheck: 0,
    forwarded: 0,
    digestsSent: 0,
    announced: 0,
    requested: 0,
    served: 0,
    wantsDropped: 0,
    announcedIdsExamined: 0,
    announcementsDropped: 0,
    promisesBroken: 0,
    deficitDemotions: 0,
    prunes: 0,
    originPrunes: 0,
    grafts: 0,
  };
  readonly #byType = new Map<string, MessageTypeCounts>();
  readonly #invalidByCode = new Map<string, number>();

  /** Counts one envelope of `type` under `field`; an unknown type is named `TYPE_<n>`. */
  count(type: number, field: keyof MessageTypeCounts): void {
    const name = MESSAGE_TYPE_NAMES[type as MessageType] ?? `TYPE_${type}`;
    let counts = this.#byType.get(name);
    if (!counts) {
      counts = { received: 0, delivered: 0, forwarded: 0, duplicate: 0, invalid: 0 };
      this.#byType.set(name, counts);
    }
    counts[field]++;
  }

  /** Counts an invalid envelope of `type` refused with `code` (in the total, by code and by type). */
  countInvalid(type: number, code: string): void {
    this.totals.invalid++;
    this.#invalidByCode.set(code, (this.#invalidByCode.get(code) ?? 0) + 1);
    this.count(type, "invalid");
  }

  /** Copies of the counts by type name and by error code. */
  byKind(): { byType: Record<string, MessageTypeCounts>; invalidByCode: Record<string, number> } {
    return {
      byType: Object.fromEntries([...this.#byType].map(([type, counts]) => [type, { ...counts }])),
      invalidByCode: Object.fromEntries(this.#invalidByCode),
    };
  }
}
