/**
 * Relaying and hole punching wired into a node (`KithNode` calls {@link wireRelay}): the relay's side
 * (`lib/relay/server.ts`) answers reservations and circuits and takes the legs the TCP listener recognises;
 * the client's side (`lib/relay/client.ts`) reserves, announces a relayed address and dials relayed ones;
 * the puncher (`lib/relay/punch.ts`) moves relayed links to direct ones. On a transport other than TCP (the
 * simulator's), relay requests are answered NOT_RELAYING and nothing is dialed through relays.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import { ProtocolError } from "./errors.ts";
import { errorFields, type LogSink } from "./log.ts";
import type { ActivePeer, PeerManager } from "./peers/mod.ts";
import {
  createLinkMessage,
  type Envelope,
  type MessageCodec,
  MessageType,
  type PayloadByType,
} from "./protocol/mod.ts";
import type { Identity } from "./identity.ts";
import type { RandomSource } from "./random.ts";
import { RelayClient, type RelayClientStats } from "./relay/client.ts";
import { type RelayConfig, reservationTarget, type ReservingReachability } from "./relay/config.ts";
import { HolePuncher, type PunchStats } from "./relay/punch.ts";
import { RelayServer } from "./relay/server.ts";
import type { RelayStats } from "./relay/book.ts";
import { TcpTransport, type Transport } from "./transport/mod.ts";

/** The relay and hole-punching message types, handled here rather than by gossip. */
export const RELAY_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  MessageType.RELAY_RESERVE,
  MessageType.RELAY_RESERVATION,
  MessageType.RELAY_CONNECT,
  MessageType.RELAY_CIRCUIT,
  MessageType.HOLE_PUNCH,
]);

/** Counters of relaying, hole punching and the relays used. */
export interface RelayNodeStats {
  /** As a relay. */
  relay: RelayStats;
  /** As a user of relays (zeros on a transport without circuits). */
  client: RelayClientStats;
  /** Hole punching. */
  punch: PunchStats;
}

/** What {@link wireRelay} needs. */
export interface RelayWiring {
  /** Settings. */
  config: Readonly<RelayConfig>;
  /** The node's identity (link messages). */
  identity: Identity;
  /** The node's clock. */
  clock: Clock;
  /** Randomness for tokens and request ids (a cryptographic source in a running node). */
  random: RandomSource;
  /** The envelope codec. */
  codec: MessageCodec;
  /** The node's transport. */
  transport: Transport;
  /** The peer manager. */
  peers: PeerManager;
  /** The node's log. */
  log: LogSink;
  /** The node's reachability verdict now (default `unknown`): `private` makes it reserve at relays. */
  reachability?: () => ReservingReachability;
}

/** A node's relaying, as wired: route envelopes to it, tell it of peers, stop it. */
export interface RelayParts {
  /** Handles a relay or hole-punching envelope from `peer`. */
  receive(peer: ActivePeer, envelope: Envelope): void;
  /** A peer became active. */
  peerConnected(peer: ActivePeer): void;
  /** A peer's link closed. */
  peerDisconnected(nodeId: string): void;
  /** Starts reserving (when asked to). */
  start(): void;
  /** The node's reachability verdict changed: reserve at relays, or let reservations go, now. */
  reachabilityChanged(): void;
  /** Stops everything; resolves once circuits and attempts have ended. */
  stop(): Promise<void>;
  /** Counters. */
  stats(): RelayNodeStats;
  /** The relayed addresses the node can be reached at now. */
  relayedAddresses(): string[];
}

/** Wires relaying and hole punching into a node. */
export function wireRelay(w: RelayWiring): RelayParts {
  const send = <T extends MessageType>(peer: ActivePeer, type: T, payload: PayloadByType[T]) => {
    peer.connection.send(createLinkMessage(w.identity, type, payload, { timestamp: w.clock.now() }));
  };
  const penalise = (nodeId: string, code: string) => w.peers.penalise(nodeId, code);
  const activePeer = (nodeId: string) => w.peers.activePeer(nodeId);
  const tcp = w.transport instanceof TcpTransport ? w.transport : undefined;
  const server = new RelayServer({
    config: tcp ? w.config : { ...w.config, relayService: false },
    clock: w.clock,
    random: w.random,
    activePeer,
    send,
    penalise,
    log: w.log,
  });
  let puncher: HolePuncher | undefined;
  let client: RelayClient | undefined;
  if (tcp) {
    if (w.config.relayService) tcp.circuitLeg = (leg) => server.takeLeg(leg);
    puncher = new HolePuncher({
      config: w.config,
      clock: w.clock,
      permitsDial: (address) => tcp.permitsDial(address),
      openOver: (conn, options) => tcp.openOver(conn, options),
      activePeer,
      send,
      penalise,
      log: w.log,
    });
    const punch = puncher;
    client = new RelayClient({
      config: w.config,
      clock: w.clock,
      random: w.random,
      transport: tcp,
      activePeers: () => w.peers.activePeers(),
      activePeer,
      send,
      penalise,
      log: w.log,
      target: () => reservationTarget(w.config, w.reachability?.() ?? "unknown"),
      onRelayedLink: (connection, circuit) => punch.relayedLink(connection, circuit),
    });
    const relays = client;
    tcp.relayedDial = (address, options) => relays.dial(address, options);
    // Declared or found behind a NAT, its relayed address is what it announces while it holds a reservation;
    // a node that holds none (public, or not reserving) announces as the transport's own rule says.
    tcp.relayedAdvertisement = () => relays.relayedAddresses()[0];
  }
  return {
    receive(peer, envelope) {
      let message;
      try {
        message = w.codec.verify(envelope, w.clock.now(), { linkPeer: peer.nodeId });
      } catch (error) {
        if (error instanceof ProtocolError) penalise(peer.nodeId, error.code);
        else w.log("error", "relay message check failed", { peer: peer.nodeId, ...errorFields(error) });
        return;
      }
      if (message.type === MessageType.RELAY_RESERVE || message.type === MessageType.RELAY_CONNECT) {
        server.receive(peer, message);
      } else if (message.type === MessageType.HOLE_PUNCH) puncher?.receive(peer, message);
      else client?.receive(peer, message);
    },
    peerConnected: () => client?.peerConnected(),
    peerDisconnected(nodeId) {
      server.peerDisconnected(nodeId);
      client?.peerDisconnected(nodeId);
    },
    start: () => client?.start(),
    reachabilityChanged: () => client?.targetChanged(),
    async stop() {
      if (tcp) {
        tcp.circuitLeg = undefined;
        tcp.relayedDial = undefined;
        tcp.relayedAdvertisement = undefined;
      }
      await Promise.all([client?.stop(), puncher?.stop(), server.stop()]);
    },
    stats: () => ({
      relay: { ...server.book.stats },
      client: client
        ? { ...client.stats }
        : { reservations: 0, dialed: 0, answered: 0, dialFailures: 0, relayFailures: 0 },
      punch: puncher ? { ...puncher.stats } : { attempts: 0, punched: 0, gaveUp: 0, refusedAddresses: 0 },
    }),
    relayedAddresses: () => client?.relayedAddresses() ?? [],
  };
}
