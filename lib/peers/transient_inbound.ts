/**
 * Inbound transient links: the links other nodes dial to this one only to ask DHT questions, marked by their
 * dialer's HANDSHAKE (the transient agent, lib/version.ts; docs/protocol.md, "DHT"). They are kept outside the
 * peer slots: no slot, no eviction of a peer, no gossip or topic traffic, never in the address book as tried,
 * only DHT messages over them. Still bounded, apart from the peers: at most `maxLinks` at once, and per IP and
 * per /24 (/48) subnet bounds of their own (`maxPeersPerIp`, `maxPeersPerSubnet`; a node's settings
 * `dhtInboundTransientLinks`, `dhtInboundTransientPerIp`, `dhtInboundTransientPerSubnet`) counted among these
 * links alone; a link over a bound, or from a node below the trust threshold, is closed at once. A link that has
 * carried nothing either way for `idleMs` is closed (its dialer closes it sooner when it is done).
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
import type { NetworkGroup } from "../netgroup.ts";
import { DisconnectReason, type Envelope } from "../protocol/mod.ts";
import type { Connection } from "../transport/types.ts";
import type { TrustModel } from "../trust.ts";
import { groupOf, overGroupBounds } from "./admission.ts";

/** Settings of {@link InboundTransientLinks}. */
export interface InboundTransientConfig {
  /** Most inbound transient links held at once. */
  maxLinks: number;
  /** Most of them from one IP address. */
  maxPeersPerIp: number;
  /** Most of them from one /24 (IPv4) or /48 (IPv6) subnet. */
  maxPeersPerSubnet: number;
  /** A link that carried nothing either way for this long is closed, ms. */
  idleMs: number;
}

/** What {@link InboundTransientLinks} works with. */
export interface InboundTransientOptions {
  /** Time and timers. */
  clock: Clock;
  /** Where handler failures are logged. */
  log: LogSink;
  /** Whose `shouldDisconnect` refuses a node below the trust threshold. */
  trust: Pick<TrustModel, "shouldDisconnect">;
  /** The settings. */
  config: InboundTransientConfig;
  /** Each envelope an inbound transient link receives. */
  onEnvelope: (connection: Connection, envelope: Envelope) => void;
  /** An inbound transient link closed. */
  onClose: (nodeId: string) => void;
}

/** Counters of {@link InboundTransientLinks}. */
export interface InboundTransientStats {
  /** Links taken. */
  accepted: number;
  /** Links closed at once: over `maxLinks`, the per-IP or per-subnet bound, or from a node below the trust threshold. */
  refused: number;
  /** Links closed for idleness. */
  closedIdle: number;
}

interface Held {
  connection: Connection;
  group: NetworkGroup;
  lastUsed: number;
}

/** The inbound transient links this node holds, by node id. */
export class InboundTransientLinks {
  /** Counters. */
  readonly stats: InboundTransientStats = { accepted: 0, refused: 0, closedIdle: 0 };
  readonly #options: InboundTransientOptions;
  readonly #links = new Map<string, Held>();
  #sweep: TimerId | undefined;
  #stopped = false;

  /** Takes the settings; links come through {@link InboundTransientLinks.admit}. */
  constructor(options: InboundTransientOptions) {
    this.#options = options;
  }

  /** The bounds in force. */
  get config(): Readonly<InboundTransientConfig> {
    return this.#options.config;
  }

  /** Links held now. */
  get size(): number {
    return this.#links.size;
  }

  /** The open inbound transient link from `nodeId`, if any. */
  link(nodeId: string): Connection | undefined {
    const held = this.#links.get(nodeId);
    return held?.connection.isOpen ? held.connection : undefined;
  }

  /** `nodeId`'s link carried something (this node's own request or answer over it): not idle. */
  used(nodeId: string): void {
    const held = this.#links.get(nodeId);
    if (held) held.lastUsed = this.#options.clock.now();
  }

  /**
   * Takes `connection`, an inbound transient link, or closes it when over a bound (see the module doc). Its
   * handlers are set at once, before any envelope can arrive.
   */
  admit(connection: Connection): void {
    const { config, trust, clock, onEnvelope, onClose, log } = this.#options;
    const nodeId = connection.remoteNodeId;
    const group = groupOf(connection);
    const replacing = this.#links.get(nodeId);
    let host = 0, subnet = 0;
    for (const [id, held] of this.#links) {
      if (id === nodeId) continue;
      if (held.group.host === group.host) host++;
      if (held.group.subnet === group.subnet) subnet++;
    }
    const refusal = this.#stopped
      ? "shutting down"
      : trust.shouldDisconnect(nodeId)
      ? "trust below threshold"
      : !replacing && this.#links.size >= config.maxLinks
      ? "no free transient link"
      : overGroupBounds({ host, subnet }, config)
      ? "too many transient links from that address or subnet"
      : undefined;
    if (refusal !== undefined) {
      this.stats.refused++;
      const reason = refusal === "trust below threshold"
        ? DisconnectReason.LOW_TRUST
        : refusal === "shutting down"
        ? DisconnectReason.SHUTDOWN
        : DisconnectReason.TOO_MANY_CONNECTIONS;
      void connection.close(reason, refusal);
      return;
    }
    this.stats.accepted++;
    const held: Held = { connection, group, lastUsed: clock.now() };
    this.#links.set(nodeId, held);
    connection.onEnvelope = (envelope) => {
      held.lastUsed = clock.now();
      try {
        onEnvelope(connection, envelope);
      } catch (error) {
        log("error", "inbound transient link handler failed", errorFields(error));
      }
    };
    connection.onClose = () => {
      if (this.#links.get(nodeId) === held) this.#links.delete(nodeId);
      onClose(nodeId);
    };
    this.#schedule();
  }

  /** Closes `nodeId`'s link (its node fell below the trust threshold). */
  drop(nodeId: string, reason: number, why: string): void {
    const held = this.#links.get(nodeId);
    if (!held) return;
    this.#links.delete(nodeId);
    void held.connection.close(reason, why);
  }

  /** Closes every link and takes no more. */
  stop(): void {
    this.#stopped = true;
    if (this.#sweep !== undefined) this.#options.clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
    for (const nodeId of [...this.#links.keys()]) this.drop(nodeId, DisconnectReason.SHUTDOWN, "shutting down");
  }

  /** The idle sweep, running while links are held. */
  #schedule(): void {
    if (this.#sweep !== undefined || this.#stopped) return;
    const { clock, config } = this.#options;
    this.#sweep = clock.setTimeout(() => {
      this.#sweep = undefined;
      const now = clock.now();
      for (const [nodeId, held] of [...this.#links]) {
        if (now - held.lastUsed >= config.idleMs) {
          this.stats.closedIdle++;
          this.drop(nodeId, DisconnectReason.SHUTDOWN, "transient link idle");
        }
      }
      if (this.#links.size > 0) this.#schedule();
    }, Math.max(1, Math.ceil(config.idleMs / 2)));
  }
}
