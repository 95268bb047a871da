/**
 * Outbound connections: what the peer manager dials each maintenance round and
 * what becomes of each dial. Anchors first after a restart, bootstrap entries
 * while below `minPeers`, then a sample of the address book (tried and new
 * alike, subnet diversity first); one feeler at a time (test-before-evict or a
 * new address); backoff and forgetting after failures; the dial policy's
 * refusals counted once per address; and the few topic links (`topicSlots`),
 * dialed on the topic finder's request beyond the outbound target. The rules are the pure functions of
 * `dialer.ts`; this module holds the state they run on (dials in flight,
 * feelers, anchors still to dial, bootstrap entries).
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import type { Clock } from "../clock.ts";
import type { LogSink } from "../log.ts";
import { type NetworkGroup, networkGroup } from "../netgroup.ts";
import { DisconnectReason } from "../protocol/mod.ts";
import { type RandomSource, shuffleInPlace } from "../random.ts";
import { BoundedMap } from "../ratelimit.ts";
import type { Storage } from "../storage/types.ts";
import type { CloseInfo, Connection, Transport } from "../transport/types.ts";
import { TransportError } from "../transport/types.ts";
import type { TrustModel } from "../trust.ts";
import { directionCounts, groupCounts, overGroupBounds } from "./admission.ts";
import { type Anchor, loadAnchors, saveAnchors } from "./anchors.ts";
import type { AddressBook } from "./book.ts";
import type { PeersConfig } from "./config.ts";
import { backoffMs, dialBudget, isDialable, pickDialTargets } from "./dialer.ts";
import type { ActiveState, BootstrapEntry, KnownPeer, PeerStats } from "./types.ts";

/** Refused addresses remembered so that each is logged and counted once. */
const REFUSED_ADDRESSES_REMEMBERED = 1_000;

/** What {@link OutboundDials} works with: the peer manager's components and its view of the active peers. */
export interface OutboundContext {
  /** The configuration in force. */
  readonly config: Readonly<PeersConfig>;
  /** The transport dials go through (and whose dial policy is asked). */
  readonly transport: Transport;
  /** Whose `canDial` and reputation steer the choice. */
  readonly trust: TrustModel;
  /** The address book dialed from; feelers and dial outcomes update it. */
  readonly book: AddressBook;
  /** Where anchors are saved. */
  readonly storage: Storage;
  /** Time source. */
  readonly clock: Clock;
  /** Randomness for sampling, jitter and feeler targets. */
  readonly random: RandomSource;
  /** The peer manager's counters (dials, failures, feelers, anchor dials, policy refusals, forgotten). */
  readonly stats: PeerStats;
  /** Where policy refusals (debug) and failed bootstrap dials (warn) are logged. */
  readonly log: LogSink;
  /** The active peers by node id (read only here). */
  readonly active: ReadonlyMap<string, ActiveState>;
}

/** The peer manager's outbound side: dials, feelers, anchors and bootstrap entries, and their state. */
export class OutboundDials {
  readonly #ctx: OutboundContext;
  readonly #bootstrap: BootstrapEntry[];
  #anchors: Anchor[] = []; // saved anchors still to dial after a restart
  readonly #feelers = new Set<string>(); // node ids being dialed as feelers
  #nextFeelerAt = 0;
  readonly #connecting = new Set<string>(); // node ids or bootstrap addresses
  readonly #dials = new Set<Promise<void>>();
  // Addresses the dial policy refused, so each is logged and counted once (while remembered).
  readonly #refusedAddresses = new BoundedMap<string, true>(REFUSED_ADDRESSES_REMEMBERED);
  // Peers that answered this node's dials and closed for lack of room, and how many times in a row.
  readonly #refusals = new BoundedMap<string, number>(REFUSED_ADDRESSES_REMEMBERED);
  // Node ids dialed into a topic slot, being dialed or linked (at most topicSlots), with the address dialed.
  readonly #topicLinks = new Map<string, string>();

  /** Takes the manager's components; nothing is dialed until {@link OutboundDials.round}. */
  constructor(context: OutboundContext) {
    this.#ctx = context;
    this.#bootstrap = context.config.bootstrap.map((address) => ({
      address,
      nodeId: undefined,
      failures: 0,
      nextDialAt: 0,
    }));
  }

  /** Loads the saved anchors (dialed first) and schedules the first feeler. */
  start(): void {
    this.#anchors = loadAnchors(this.#ctx.storage, this.#ctx.config.anchors);
    this.#nextFeelerAt = this.#ctx.clock.now() + this.#ctx.config.feelerIntervalMs;
  }

  /** Waits until no dial is in flight. */
  async settle(): Promise<void> {
    while (this.#dials.size > 0) await Promise.allSettled([...this.#dials]);
  }

  /** Whether `key` (a node id or a bootstrap address) is being dialed. */
  isConnecting(key: string): boolean {
    return this.#connecting.has(key);
  }

  /** Whether `nodeId` is active or being dialed: not a dial target now. */
  busy(nodeId: string): boolean {
    return this.#ctx.active.has(nodeId) || this.#connecting.has(nodeId);
  }

  /** Whether this outbound connection is a feeler's, to be closed once it has made its address tried. */
  isFeeler(connection: Connection): boolean {
    return connection.direction === "outbound" && this.#feelers.has(connection.remoteNodeId);
  }

  /**
   * A connection came up: bootstrap entries at its address learn the peer's id. Their failures are forgotten
   * when the link closes without a refusal ({@link OutboundDials.noteClosed}), not now: a full bootstrap node
   * answers and then closes.
   */
  noteConnected(connection: Connection): void {
    for (const entry of this.#bootstrap) {
      if (entry.address === connection.remoteAddress) entry.nodeId = connection.remoteNodeId;
    }
  }

  /**
   * An outbound connection closed. If the peer closed it for lack of room (TOO_MANY_CONNECTIONS), its bootstrap
   * entry and its address-book entry back off, doubling with each refusal in a row: the dial itself succeeded,
   * and a full node would otherwise be dialed again every round. The book entry's dial failures are left alone
   * (the peer is there, only full: it is not forgotten for it). A link closed otherwise clears both counts.
   */
  noteClosed(connection: Connection, info: CloseInfo): void {
    const refused = info.by === "remote" && info.reason === DisconnectReason.TOO_MANY_CONNECTIONS;
    const { config, clock, random, book } = this.#ctx;
    const now = clock.now();
    for (const entry of this.#bootstrap) {
      if (entry.address !== connection.remoteAddress) continue;
      if (!refused) {
        entry.failures = 0; // it held a link: the next dial is not a retry
        continue;
      }
      entry.failures++;
      entry.nextDialAt = now + backoffMs(entry.failures, config, random);
    }
    const nodeId = connection.remoteNodeId;
    if (!refused) {
      this.#refusals.delete(nodeId);
      return;
    }
    // Counted apart from dial failures, which a successful dial clears and which forget an address.
    const refusals = (this.#refusals.get(nodeId) ?? 0) + 1;
    this.#refusals.set(nodeId, refusals);
    const known = book.get(nodeId);
    if (known) known.nextDialAt = Math.max(known.nextDialAt, now + backoffMs(refusals, config, random));
  }

  /** Whether the transport's dial policy permits `address`; a refusal is counted and logged once per address. */
  permitsDial(address: string): boolean {
    if (typeof address !== "string") return false;
    if (this.#ctx.transport.permitsDial(address)) return true;
    if (!this.#refusedAddresses.has(address)) {
      this.#refusedAddresses.set(address, true);
      this.#ctx.stats.refusedByPolicy++;
      this.#ctx.log("debug", "address refused by the dial policy", { address });
    }
    return false;
  }

  /**
   * Dials `nodeId` at `address` into a topic slot, if one is free and the dial is one this node would make
   * of any outbound peer: not busy, out of backoff, trusted enough, permitted by the dial policy, within the
   * per-IP and per-subnet bounds (counting dials in flight). Returns whether the dial started.
   */
  dialTopicPeer(nodeId: string, address: string): boolean {
    const { config, trust, book, clock, active, stats } = this.#ctx;
    if (this.#topicLinks.size >= config.topicSlots || this.busy(nodeId) || !trust.canDial(nodeId)) return false;
    const host = parseHostPort(address)?.host;
    if (host === undefined || !this.permitsDial(address)) return false;
    const known = book.get(nodeId);
    if (known && known.nextDialAt > clock.now()) return false;
    const group = networkGroup(host);
    const counts = groupCounts(active.values(), group);
    for (const pending of this.#pendingGroups()) {
      if (pending.host === group.host) counts.host++;
      if (pending.subnet === group.subnet) counts.subnet++;
    }
    if (overGroupBounds(counts, config)) return false;
    this.#topicLinks.set(nodeId, address);
    stats.topicDials++;
    this.#dial(address, nodeId, undefined, true);
    return true;
  }

  /** The topic links now up (node ids), each with when it became active. */
  topicLinks(): { nodeId: string; since: number }[] {
    const out: { nodeId: string; since: number }[] = [];
    for (const nodeId of this.#topicLinks.keys()) {
      const peer = this.#ctx.active.get(nodeId);
      if (peer) out.push({ nodeId, since: peer.since });
    }
    return out;
  }

  /** Whether `nodeId`'s link holds a topic slot. */
  isTopicLink(nodeId: string): boolean {
    return this.#topicLinks.has(nodeId);
  }

  /** The topic slot of `nodeId` is free again (its link closed, or is being closed). */
  freeTopicSlot(nodeId: string): void {
    this.#topicLinks.delete(nodeId);
  }

  /** Saves the current outbound peers (feelers and topic links aside), longest connected first, as the anchors. */
  saveAnchors(): void {
    const { config, storage } = this.#ctx;
    if (config.anchors === 0) return;
    // Topic links were dialed on another peer's word: they are not this node's own choice.
    const outbound = [...this.#ctx.active.values()]
      .filter((p) =>
        p.connection.direction === "outbound" && !this.#topicLinks.has(p.nodeId) &&
        parseHostPort(p.connection.remoteAddress)
      )
      .sort((a, b) => a.since - b.since)
      .map((p) => ({ nodeId: p.nodeId, address: p.connection.remoteAddress }));
    saveAnchors(storage, outbound, config.anchors);
  }

  /** One maintenance round's dials: anchors, else bootstrap entries and a sample of the address book. */
  round(): void {
    const { config, trust, clock, stats, active } = this.#ctx;
    // Topic links and their dials are beyond the outbound target: they neither fill it nor wait for it.
    const topicUp = this.topicLinks().length;
    const outbound = directionCounts(active.values()).outbound - topicUp;
    const inFlight = this.#dials.size - this.#feelers.size - Math.max(0, this.#topicLinks.size - topicUp);
    let budget = dialBudget(config, active.size, outbound, inFlight);
    if (budget <= 0) return;
    const now = clock.now();
    const busy = (nodeId: string) => this.busy(nodeId);
    // Anchors first after a restart: the peers this node itself chose last time, alone in their round, before
    // anything it was told.
    if (this.#anchors.length > 0) {
      for (const anchor of this.#anchors.splice(0, budget)) {
        if (busy(anchor.nodeId) || !trust.canDial(anchor.nodeId)) continue;
        stats.anchorDials++;
        this.#dial(anchor.address, anchor.nodeId);
      }
      return;
    }
    // Bootstrap nodes next while below min_peers: they are the way back into the network.
    if (active.size < config.minPeers) {
      for (const entry of this.#bootstrap) {
        if (budget <= 0) break;
        if (entry.nodeId && busy(entry.nodeId)) continue;
        if (this.#connecting.has(entry.address) || entry.nextDialAt > now) continue;
        budget--;
        this.#dial(entry.address, entry.nodeId, entry);
      }
    }
    if (budget <= 0) return;
    const pending = this.#pendingGroups();
    const candidates = this.#sampleCandidates(now, busy, Math.max(8, 4 * budget))
      .filter((known) => isDialable(known, now, busy, config, trust) && this.permitsDial(known.address));
    for (const known of pickDialTargets(candidates, active.values(), pending, budget, config, trust)) {
      this.#dial(known.address, known.nodeId);
    }
  }

  /** The network groups of the dials in flight whose address is known (book entries and topic dials). */
  #pendingGroups(): NetworkGroup[] {
    const groups: NetworkGroup[] = [];
    for (const key of this.#connecting) {
      const host = parseHostPort(this.#ctx.book.get(key)?.address ?? this.#topicLinks.get(key) ?? "")?.host;
      if (host !== undefined) groups.push(networkGroup(host));
    }
    return groups;
  }

  /**
   * Up to `count` entries that may be dialed now, half tried and half new where both have enough (as
   * addrman selects), shuffled. Sampling first bounds the trust lookups per round, however full the book.
   */
  #sampleCandidates(now: number, busy: (nodeId: string) => boolean, count: number): KnownPeer[] {
    const tried: KnownPeer[] = [], fresh: KnownPeer[] = [];
    for (const known of this.#ctx.book.values()) {
      if (busy(known.nodeId) || known.nextDialAt > now || now - known.lastSeen > this.#ctx.config.addressMaxAgeMs) {
        continue;
      }
      (known.tried ? tried : fresh).push(known);
    }
    shuffleInPlace(tried, this.#ctx.random);
    shuffleInPlace(fresh, this.#ctx.random);
    const out: KnownPeer[] = [];
    for (let i = 0; out.length < count && (i < tried.length || i < fresh.length); i++) {
      if (i < tried.length) out.push(tried[i]);
      if (i < fresh.length && out.length < count) out.push(fresh[i]);
    }
    return out;
  }

  /**
   * Every `feelerIntervalMs`, one short outbound dial: to a tried entry a newcomer collided with (test-before-
   * evict), else to a random new entry; if it answers, it becomes tried and the connection is closed at once.
   */
  feel(): void {
    const { config, trust, book, clock, random, stats, active } = this.#ctx;
    const now = clock.now();
    if (now < this.#nextFeelerAt || this.#feelers.size > 0) return;
    this.#nextFeelerAt = now + Math.round(config.feelerIntervalMs * (0.5 + random()));
    let target = book.collisionToTest();
    if (target && this.busy(target.nodeId)) {
      // Connected or being dialed right now: as good as an answer.
      book.resolveCollision(target.nodeId, active.has(target.nodeId));
      target = undefined;
    }
    if (!target) {
      target = shuffleInPlace(
        [...book.values()].filter((k) => !k.tried && !this.busy(k.nodeId) && k.nextDialAt <= now),
        random,
      ).find((k) => trust.canDial(k.nodeId));
    }
    if (!target) return;
    stats.feelers++;
    this.#feelers.add(target.nodeId);
    this.#dial(target.address, target.nodeId);
  }

  /**
   * A feeler reached its peer: the address becomes tried (a collision is decided for it), and the link closes
   * unless `close` is false (it took a peer link's place, see `PeerManager`).
   */
  feelerAnswered(connection: Connection, close = true): void {
    const { book, clock, active } = this.#ctx;
    const nodeId = connection.remoteNodeId;
    const now = clock.now();
    const known = book.get(nodeId);
    if (known?.tried) {
      book.markTried(nodeId, connection.remoteAddress, now);
      book.resolveCollision(nodeId, true);
    } else {
      const occupant = book.markTried(nodeId, connection.remoteAddress, now);
      if (occupant && active.has(occupant.nodeId)) book.resolveCollision(occupant.nodeId, true);
    }
    if (close) void connection.close(DisconnectReason.SHUTDOWN, "feeler connection");
  }

  #dial(address: string, nodeId: string | undefined, bootstrap?: BootstrapEntry, topic = false): void {
    const key = nodeId ?? address;
    this.#connecting.add(key);
    if (bootstrap) this.#connecting.add(address);
    this.#ctx.stats.dials++;
    const attempt = (async () => {
      try {
        await this.#ctx.transport.dial(address, nodeId ? { expectedNodeId: nodeId } : {});
      } catch (error) {
        this.#ctx.stats.dialFailures++;
        this.#dialFailed(nodeId, bootstrap, error);
      } finally {
        this.#connecting.delete(key);
        if (bootstrap) this.#connecting.delete(address);
        if (nodeId) this.#feelers.delete(nodeId);
        // A topic dial that did not end in a link (failed, or refused by admission) frees its slot.
        if (topic && nodeId && !this.#ctx.active.has(nodeId)) this.#topicLinks.delete(nodeId);
      }
    })();
    this.#dials.add(attempt);
    attempt.finally(() => this.#dials.delete(attempt));
  }

  #dialFailed(nodeId: string | undefined, bootstrap: BootstrapEntry | undefined, error: unknown): void {
    const { config, book, clock, random, stats } = this.#ctx;
    const now = clock.now();
    const wrongPeer = error instanceof TransportError && error.code === "WRONG_PEER";
    if (bootstrap) {
      bootstrap.failures++;
      const retryInMs = backoffMs(bootstrap.failures, config, random);
      bootstrap.nextDialAt = now + retryInMs;
      if (wrongPeer) bootstrap.nodeId = undefined; // the bootstrap node was re-keyed: learn its new id
      // A bootstrap node is how a new node joins at all: its failures are worth a warning, each one.
      this.#ctx.log("warn", "bootstrap dial failed", {
        address: bootstrap.address,
        error: error instanceof Error ? error.message : String(error),
        failures: bootstrap.failures,
        retryInMs,
        nextRetry: new Date(bootstrap.nextDialAt).toISOString(),
      });
    }
    if (!nodeId) return;
    const known = book.get(nodeId);
    if (!known) return;
    if (this.#feelers.has(nodeId) && known.tried) book.resolveCollision(nodeId, false);
    known.failures++;
    known.nextDialAt = now + backoffMs(known.failures, config, random);
    if (wrongPeer || known.failures >= config.maxDialFailures) {
      book.forget(nodeId);
      stats.forgotten++;
      return;
    }
    book.persist(known);
  }
}
