/**
 * Transient links: short outbound connections a node opens to ask one question of a node it is not connected
 * to (a DHT query to a contact from its routing table or from a lookup's answers). Each is dialed through the
 * transport as any link (dial policy, handshake, the expected node id checked) with the transient agent in its
 * HANDSHAKE (`DialOptions.transient`), but it never becomes a peer: the peer manager hands it here before
 * admission ({@link TransientLinks.claims}), so it takes no peer slot, carries no gossip or topic traffic, is
 * never an anchor, and is closed once idle for `idleMs` or when its user says it is done
 * ({@link TransientLinks.closeIdle}). A peer link between the same two nodes displaces it at both ends.
 *
 * Bounded: at most `maxLinks` open or being dialed at once. A dial beyond closes the least recently used link
 * with nothing in flight, or waits for one (at most `4 * maxLinks` waiting; beyond, it fails at once and the
 * caller asks someone else). The node at the other end holds it outside its peer slots, under bounds of its own
 * (lib/peers/transient_inbound.ts).
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import type { Clock, TimerId } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
import { DisconnectReason, type Envelope } from "../protocol/mod.ts";
import type { Connection, Transport } from "../transport/types.ts";
import type { TrustModel } from "../trust.ts";

/** Settings of {@link TransientLinks}. */
export interface TransientLinksConfig {
  /** Most transient links open or being dialed at once. */
  maxLinks: number;
  /** A link with nothing in flight for this long is closed, ms. */
  idleMs: number;
}

/** What {@link TransientLinks} works with. */
export interface TransientLinksOptions {
  /** The transport links are dialed through. */
  transport: Transport;
  /** Whose `canDial` decides whether a node may be dialed at all. */
  trust: Pick<TrustModel, "canDial">;
  /** Time and timers. */
  clock: Clock;
  /** Where handler failures are logged. */
  log: LogSink;
  /** The settings. */
  config: TransientLinksConfig;
  /**
   * Whether the peer manager has or is making a link to `nodeId`: no transient link is dialed then (the
   * query waits for the peer link, which would displace a transient one anyway).
   */
  peerLinked: (nodeId: string) => boolean;
  /** Whether a freshly opened link is one to keep (its agent speaks what it was dialed for); else it is closed. */
  accept: (connection: Connection) => boolean;
  /** Each envelope a transient link receives. */
  onEnvelope: (connection: Connection, envelope: Envelope) => void;
  /** A transient link closed. */
  onClose: (nodeId: string) => void;
}

/** Counters of {@link TransientLinks}. */
export interface TransientLinksStats {
  /** Dials started. */
  dials: number;
  /** Dials that failed or reached a node that does not speak what was asked. */
  dialFailures: number;
  /** Dials refused at once: `maxLinks` busy and as many waiting as the bound allows (or `maxLinks` 0). */
  refusedByLimit: number;
  /** Dials that waited for a busy link to finish before they could start. */
  waited: number;
  /** Links closed for idleness or because their user was done. */
  closedIdle: number;
}

interface Link {
  connection: Connection;
  inFlight: number;
  lastUsed: number;
}

/** The node's transient links, by node id. */
export class TransientLinks {
  /** Counters. */
  readonly stats: TransientLinksStats = {
    dials: 0,
    dialFailures: 0,
    refusedByLimit: 0,
    waited: 0,
    closedIdle: 0,
  };
  readonly #options: TransientLinksOptions;
  readonly #links = new Map<string, Link>();
  readonly #dialing = new Map<string, Promise<Connection | undefined>>();
  readonly #waiting: (() => void)[] = [];
  #sweep: TimerId | undefined;
  #stopped = false;

  /** Takes the node's transport and settings; nothing is dialed until {@link TransientLinks.open}. */
  constructor(options: TransientLinksOptions) {
    this.#options = options;
  }

  /** Links open now. */
  get size(): number {
    return this.#links.size;
  }

  /** The node ids of the open links. */
  nodeIds(): string[] {
    return [...this.#links.keys()];
  }

  /**
   * Whether `connection` is one of this module's dials (outbound and transient: only this module dials with
   * `transient`, and the handshake marked it so at both ends): the peer manager then leaves it alone. Called
   * by the manager for each new connection, before admission; a claimed link is taken over at once (its
   * handlers set before any envelope can arrive), or closed when the node at the other end does not speak
   * what it was dialed for. A peer link to the same node, whenever it comes up, displaces it at both ends.
   */
  claims(connection: Connection): boolean {
    const nodeId = connection.remoteNodeId;
    if (connection.direction !== "outbound" || !connection.transient) return false;
    const { accept, onEnvelope, onClose, log, clock } = this.#options;
    if (this.#stopped || !accept(connection)) {
      void connection.close(DisconnectReason.SHUTDOWN, "transient link not needed");
      return true;
    }
    const link: Link = { connection, inFlight: 0, lastUsed: clock.now() };
    this.#links.set(nodeId, link);
    connection.onEnvelope = (envelope) => {
      link.lastUsed = clock.now();
      try {
        onEnvelope(connection, envelope);
      } catch (error) {
        log("error", "transient link handler failed", errorFields(error));
      }
    };
    connection.onClose = () => {
      if (this.#links.get(nodeId) === link) this.#links.delete(nodeId);
      onClose(nodeId);
      this.#wake();
    };
    this.#schedule();
    return true;
  }

  /** The open link to `nodeId`, if any. */
  link(nodeId: string): Connection | undefined {
    const link = this.#links.get(nodeId);
    return link?.connection.isOpen ? link.connection : undefined;
  }

  /**
   * The link to `nodeId` at `address`: the open one, or a new dial. Resolves with `undefined` when the node
   * may not be dialed, the limit is reached, the dial fails or the node does not speak what was asked.
   */
  open(nodeId: string, address: string): Promise<Connection | undefined> {
    const open = this.link(nodeId);
    if (open) return Promise.resolve(open);
    const pending = this.#dialing.get(nodeId);
    if (pending) return pending;
    const { transport, trust, config, peerLinked } = this.#options;
    if (
      this.#stopped || !parseHostPort(address) || !trust.canDial(nodeId) || !transport.permitsDial(address) ||
      peerLinked(nodeId)
    ) {
      return Promise.resolve(undefined);
    }
    if (this.#links.size + this.#dialing.size >= config.maxLinks && !this.#makeRoom()) {
      // All taken by links with requests in flight: wait for one to finish (the caller's timeout bounds it).
      if (this.#waiting.length >= 4 * config.maxLinks || config.maxLinks === 0) {
        this.stats.refusedByLimit++;
        return Promise.resolve(undefined);
      }
      this.stats.waited++;
      return new Promise<void>((wake) => this.#waiting.push(wake)).then(() => this.open(nodeId, address));
    }
    this.stats.dials++;
    const attempt = this.#dial(nodeId, address);
    this.#dialing.set(nodeId, attempt);
    attempt.finally(() => {
      this.#dialing.delete(nodeId);
      this.#wake();
    });
    return attempt;
  }

  /** Closes the least recently used link with nothing in flight, if any, for a new one; whether it did. */
  #makeRoom(): boolean {
    let idle: [string, Link] | undefined;
    for (const entry of this.#links) {
      if (entry[1].inFlight === 0 && (!idle || entry[1].lastUsed < idle[1].lastUsed)) idle = entry;
    }
    if (!idle) return false;
    this.#close(idle[0], idle[1], "transient link replaced");
    return true;
  }

  /** A link's request ended or a link closed: the first waiter tries again. */
  #wake(): void {
    this.#waiting.shift()?.();
  }

  /** A request went out on `nodeId`'s link: it is not idle until {@link TransientLinks.done}. */
  busy(nodeId: string): void {
    const link = this.#links.get(nodeId);
    if (!link) return;
    link.inFlight++;
    link.lastUsed = this.#options.clock.now();
  }

  /** A request on `nodeId`'s link ended (answered or timed out). */
  done(nodeId: string): void {
    const link = this.#links.get(nodeId);
    if (!link) return;
    link.inFlight = Math.max(0, link.inFlight - 1);
    link.lastUsed = this.#options.clock.now();
    if (link.inFlight === 0) this.#wake();
  }

  /** Closes every link with nothing in flight (its user, a lookup, ended). */
  closeIdle(): void {
    for (const [nodeId, link] of [...this.#links]) {
      if (link.inFlight === 0) this.#close(nodeId, link, "transient link done");
    }
  }

  /**
   * Closes every link and refuses new dials. Dials in flight are not waited for: the link one brings is closed
   * as it comes up (`claims`), and the transport's own close ends the rest.
   */
  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#sweep !== undefined) this.#options.clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
    for (const [nodeId, link] of [...this.#links]) this.#close(nodeId, link, "shutting down");
    for (const wake of this.#waiting.splice(0)) wake();
    return Promise.resolve();
  }

  async #dial(nodeId: string, address: string): Promise<Connection | undefined> {
    try {
      await this.#options.transport.dial(address, { expectedNodeId: nodeId, transient: true });
    } catch {
      this.stats.dialFailures++;
      return undefined;
    }
    // Taken over in claims() as the handshake finished, unless its agent was refused or the transport kept
    // another link to the node (a peer link, which a transient one never displaces).
    const link = this.link(nodeId);
    if (!link) this.stats.dialFailures++;
    return link;
  }

  #close(nodeId: string, link: Link, why: string): void {
    if (this.#links.get(nodeId) === link) this.#links.delete(nodeId);
    this.stats.closedIdle++;
    void link.connection.close(DisconnectReason.SHUTDOWN, why);
  }

  /** The idle sweep, running while links are open. */
  #schedule(): void {
    if (this.#sweep !== undefined || this.#stopped) return;
    const { clock, config } = this.#options;
    this.#sweep = clock.setTimeout(() => {
      this.#sweep = undefined;
      const now = clock.now();
      for (const [nodeId, link] of [...this.#links]) {
        if (link.inFlight === 0 && now - link.lastUsed >= config.idleMs) {
          this.#close(nodeId, link, "transient link idle");
        }
      }
      if (this.#links.size > 0) this.#schedule();
    }, Math.max(1, Math.ceil(config.idleMs / 2)));
  }
}
