/**
 * The DHT's network in a node: how {@link NodeDht} (lib/node_dht.ts) reaches other nodes. A query goes over an
 * active peer's link when the peer announces `dht/1`, else over a transient link: this node's own
 * (lib/peers/transient.ts), or one the contact holds to this node (lib/peers/transient_inbound.ts), or one
 * dialed for it. Answers are matched to requests by id per node ({@link DhtRequests}), each request with its
 * own timeout; when the link a request went over closes and another link to the node is open (a peer link
 * that displaced a transient one), the request is sent again over it. Peers' requests are answered here too.
 *
 * @module
 */
import { parseHostPort } from "./address.ts";
import type { Clock, TimerId } from "./clock.ts";
import type { NetworkConfig } from "./config.ts";
import {
  DhtRequests,
  type DhtResponse,
  DhtStatus,
  type LookupContact,
  requestFrom,
  requestPayload,
  responsePayload,
} from "./dht/mod.ts";
import type { DhtRequest } from "./dht/service.ts";
import { ProtocolError } from "./errors.ts";
import type { Identity } from "./identity.ts";
import { errorFields, type LogSink } from "./log.ts";
import { networkGroup } from "./netgroup.ts";
import { dialableAddressOf } from "./peers/admission.ts";
import type { PeerManager } from "./peers/mod.ts";
import { TransientLinks } from "./peers/transient.ts";
import { InboundTransientLinks } from "./peers/transient_inbound.ts";
import { createLinkMessage, DisconnectReason, type Envelope, type MessageCodec, MessageType } from "./protocol/mod.ts";
import type { Connection, Transport } from "./transport/mod.ts";
import type { TrustManager } from "./trust.ts";
import { announces, DHT_CAPABILITY } from "./version.ts";

/** How often a query waiting for the peer manager's dial to its contact looks again, ms. */
const DIAL_POLL_MS = 20;

/** What {@link DhtLinks} works with. */
export interface DhtLinksParts {
  /** The node's identity (signs link messages). */
  identity: Identity;
  /** Time and timers. */
  clock: Clock;
  /** Where failures are logged. */
  log: LogSink;
  /** The node's codec (checks peers' DHT messages). */
  codec: MessageCodec;
  /** The configuration in force. */
  config: Readonly<NetworkConfig>;
  /** The peer manager: connected peers, penalties, and the claim on transient links. */
  peers: PeerManager;
  /** The transport transient links are dialed through. */
  transport: Transport;
  /** Trust: who may be dialed, and who is below the threshold. */
  trust: TrustManager;
  /** Answers a peer's request (the DHT service's `handle`). */
  handle: (from: { nodeId: string; address: string; subnet: string }, request: DhtRequest) => DhtResponse;
}

/** The links a node's DHT queries and answers go over. */
export class DhtLinks {
  /** This node's transient links to contacts it is not connected to. */
  readonly transient: TransientLinks;
  /** Other nodes' transient links to this one. */
  readonly inbound: InboundTransientLinks;
  readonly #parts: DhtLinksParts;
  readonly #requests = new DhtRequests();
  /** Each request in flight, by node and id: what it asked and the link it went over (to send it again). */
  readonly #sent = new Map<string, Map<number, { request: DhtRequest; via: Connection }>>();
  readonly #timers = new Set<TimerId>();
  #stopped = false;

  /** Makes the links' bookkeeping; {@link DhtLinks.claim} takes transient connections once the node runs. */
  constructor(parts: DhtLinksParts) {
    this.#parts = parts;
    const { config, clock, log, trust, peers } = parts;
    this.transient = new TransientLinks({
      transport: parts.transport,
      trust,
      clock,
      log,
      config: { maxLinks: config.dhtTransientLinks, idleMs: config.dhtTransientIdleMs },
      peerLinked: (nodeId) => peers.activePeer(nodeId) !== undefined || peers.isDialing(nodeId),
      accept: (connection) => announces(connection.agent, DHT_CAPABILITY),
      onEnvelope: (connection, envelope) => this.receive(connection, envelope),
      onClose: (nodeId) => this.linkClosed(nodeId),
    });
    this.inbound = new InboundTransientLinks({
      clock,
      log,
      trust,
      config: {
        // Other nodes' DHT questions, outside the peer slots (dhtInboundTransient*: lib/config/dht.ts).
        maxLinks: config.dhtInboundTransientLinks,
        maxPeersPerIp: config.dhtInboundTransientPerIp,
        maxPeersPerSubnet: config.dhtInboundTransientPerSubnet,
        idleMs: config.dhtTransientIdleMs,
      },
      onEnvelope: (connection, envelope) => this.#receiveInbound(connection, envelope),
      onClose: (nodeId) => this.linkClosed(nodeId),
    });
  }

  /**
   * For the peer manager's `claimConnection`: whether `connection` is a transient link, this node's own
   * (taken by {@link TransientLinks.claims}) or another node's to this one (held, or refused over a bound).
   */
  claim(connection: Connection): boolean {
    if (!connection.transient || connection.direction === "outbound") return this.transient.claims(connection);
    this.inbound.admit(connection);
    return true;
  }

  /** Stops the timers and closes every transient link. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) this.#parts.clock.clearTimeout(timer);
    this.#timers.clear();
    this.inbound.stop();
    await this.transient.stop();
  }

  /** A DHT_REQUEST or DHT_RESPONSE from `connection`'s peer (an active peer's link or a transient link). */
  receive(connection: Connection, envelope: Envelope): void {
    const { peers, codec, clock, identity } = this.#parts;
    const nodeId = connection.remoteNodeId;
    if (envelope.type !== MessageType.DHT_REQUEST && envelope.type !== MessageType.DHT_RESPONSE) return;
    // A peer that did not announce dht/1 sends what it said it does not speak.
    if (!announces(connection.agent, DHT_CAPABILITY)) {
      peers.penalise(nodeId, "UNKNOWN_TYPE");
      return;
    }
    let message;
    try {
      message = codec.verify(envelope, clock.now(), { linkPeer: nodeId });
    } catch (error) {
      if (error instanceof ProtocolError) peers.penalise(nodeId, error.code);
      else this.#parts.log("error", "DHT message check failed", { peer: nodeId, ...errorFields(error) });
      return;
    }
    if (message.type === MessageType.DHT_RESPONSE) {
      // An answer to nothing in flight is most often a late one, after its timeout: dropped, at no cost.
      this.#requests.answered(nodeId, message.payload as never);
      return;
    }
    if (message.type !== MessageType.DHT_REQUEST) return;
    const payload = message.payload;
    const request = requestFrom(payload);
    const address = dialableAddressOf(connection);
    const host = parseHostPort(connection.remoteAddress)?.host ?? "";
    const response: DhtResponse = request
      ? this.#parts.handle({
        nodeId,
        address: address !== "" && this.#parts.transport.permitsDial(address) ? address : "",
        subnet: networkGroup(host).subnet,
      }, request)
      : { status: DhtStatus.BAD_REQUEST, nodes: [], providers: [] };
    connection.send(
      createLinkMessage(identity, MessageType.DHT_RESPONSE, responsePayload(payload.requestId, response), {
        timestamp: clock.now(),
      }),
    );
  }

  /**
   * A link to `nodeId` closed, or a newer peer link replaced its old one. When another link to it is open (a
   * peer link that displaced a transient one, at either end's dial, or the newer peer link), the requests that
   * went over a closed link or a replaced peer link are sent again over it, with their ids: the answer to the
   * first may have been lost with its link. Otherwise they fail now.
   */
  linkClosed(nodeId: string): void {
    const next = this.#linkTo(nodeId);
    const sent = this.#sent.get(nodeId);
    if (!next) {
      this.#requests.peerGone(nodeId);
      return;
    }
    const { identity, clock } = this.#parts;
    for (const [id, entry] of sent ?? []) {
      if (entry.via.isOpen && (entry.via.transient || entry.via === next)) continue;
      entry.via = next;
      next.send(
        createLinkMessage(identity, MessageType.DHT_REQUEST, requestPayload(id, entry.request), {
          timestamp: clock.now(),
        }),
      );
    }
  }

  /** The open link to `nodeId` DHT queries may go over: an active `dht/1` peer's, or a transient one. */
  #linkTo(nodeId: string): Connection | undefined {
    const peer = this.#parts.peers.activePeer(nodeId)?.connection;
    if (peer?.isOpen && announces(peer.agent, DHT_CAPABILITY)) return peer;
    return this.transient.link(nodeId) ?? this.inbound.link(nodeId);
  }

  /**
   * An envelope over another node's transient link to this one: DHT messages only (its dialer marked it so);
   * any other type costs it `UNKNOWN_TYPE`, and a node below the trust threshold loses the link.
   */
  #receiveInbound(connection: Connection, envelope: Envelope): void {
    const nodeId = connection.remoteNodeId;
    if (envelope.type === MessageType.DHT_REQUEST || envelope.type === MessageType.DHT_RESPONSE) {
      this.receive(connection, envelope);
    } else this.#parts.peers.penalise(nodeId, "UNKNOWN_TYPE");
    if (this.#parts.trust.shouldDisconnect(nodeId)) {
      this.inbound.drop(nodeId, DisconnectReason.LOW_TRUST, "trust below threshold");
    }
  }

  /** Sends one query to `contact` over its link (a connected peer's, or a transient one); `done` once. */
  query(contact: LookupContact, request: DhtRequest, done: (response: DhtResponse | undefined) => void): void {
    const { peers, clock } = this.#parts;
    if (this.#stopped || contact.nodeId === this.#parts.identity.nodeId) return done(undefined);
    const active = peers.activePeer(contact.nodeId);
    if (active) {
      // A peer that does not announce dht/1 is never sent a DHT message: it would count it against this node.
      if (!announces(active.connection.agent, DHT_CAPABILITY)) return done(undefined);
      return this.#send(active.connection, false, request, done);
    }
    const link = this.transient.link(contact.nodeId);
    if (link) return this.#send(link, true, request, done);
    // The contact holds a transient link to this node: it carries this node's questions too.
    const inbound = this.inbound.link(contact.nodeId);
    if (inbound) {
      this.inbound.used(contact.nodeId);
      return this.#send(inbound, false, request, done);
    }
    // The peer manager is dialing it: its link, once up, carries the query (two links would race).
    if (peers.isDialing(contact.nodeId)) return this.#afterDial(contact, request, done, clock.now());
    this.transient.open(contact.nodeId, contact.address).then((connection) => {
      if (connection) return this.#send(connection, true, request, done);
      // The peer manager's own link may have come up meanwhile (it took the connection): ask over it.
      const peer = peers.activePeer(contact.nodeId);
      if (peer && announces(peer.connection.agent, DHT_CAPABILITY)) this.#send(peer.connection, false, request, done);
      else done(undefined);
    }, () => done(undefined));
  }

  /** Waits (on the clock, within the query's timeout) for the peer manager's dial to `contact`, then asks. */
  #afterDial(
    contact: LookupContact,
    request: DhtRequest,
    done: (response: DhtResponse | undefined) => void,
    since: number,
  ): void {
    const { clock, peers, config } = this.#parts;
    const timer = clock.setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#stopped) return done(undefined);
      if (peers.isDialing(contact.nodeId) && clock.now() - since < config.dhtQueryTimeoutMs) {
        return this.#afterDial(contact, request, done, since);
      }
      this.query(contact, request, done);
    }, DIAL_POLL_MS);
    this.#timers.add(timer);
  }

  #send(
    connection: Connection,
    transient: boolean,
    request: DhtRequest,
    done: (response: DhtResponse | undefined) => void,
  ): void {
    const { clock, identity, config } = this.#parts;
    const nodeId = connection.remoteNodeId;
    let settled = false;
    const pending: { timer?: TimerId } = {};
    const settle = (response: DhtResponse | undefined) => {
      if (settled) return;
      settled = true;
      if (pending.timer !== undefined) clock.clearTimeout(pending.timer);
      if (id !== undefined) {
        const sent = this.#sent.get(nodeId);
        sent?.delete(id);
        if (sent?.size === 0) this.#sent.delete(nodeId);
      }
      if (transient) this.transient.done(nodeId);
      done(response);
    };
    const id = this.#requests.open(nodeId, settle);
    if (id === undefined) return settle(undefined);
    let sent = this.#sent.get(nodeId);
    if (!sent) this.#sent.set(nodeId, sent = new Map());
    sent.set(id, { request, via: connection });
    if (transient) this.transient.busy(nodeId);
    // The service has its own timeout; this one frees the request's place among the peer's in flight.
    pending.timer = clock.setTimeout(() => {
      this.#requests.drop(nodeId, id);
      settle(undefined);
    }, config.dhtQueryTimeoutMs);
    let queued = false;
    try {
      queued = connection.send(
        createLinkMessage(identity, MessageType.DHT_REQUEST, requestPayload(id, request), { timestamp: clock.now() }),
      );
    } catch {
      queued = false;
    }
    if (!queued) {
      this.#requests.drop(nodeId, id);
      settle(undefined);
    }
  }
}
