/**
 * A node's transport and peer manager (lib/transport/, lib/peers/) made from its parts, and the routing of what the
 * peer manager reports to every layer: each envelope to the layer of its type, each peer that connects, leaves or
 * is on a new link to every layer that keeps state per peer, to the log and to the node's events. `KithNode` calls these at start.
 *
 * @module
 */
import { CATCHUP_TYPES, type CatchupSync } from "./catchup/mod.ts";
import type { Clock } from "./clock.ts";
import { DIRECT_TYPES, type DirectChannel } from "./direct/mod.ts";
import { type NodeEvents, peerConnected, peerDisconnected } from "./events.ts";
import type { Identity } from "./identity.ts";
import type { LogSink } from "./log.ts";
import { NAT_TYPES, type NatService } from "./nat/mod.ts";
import type { NodeDht } from "./node_dht.ts";
import { RELAY_TYPES, type RelayParts } from "./node_relay.ts";
import { PeerManager, type PeersConfig } from "./peers/mod.ts";
import { type MessageCodec, MessageType } from "./protocol/mod.ts";
import type { RandomSource } from "./random.ts";
import type { Storage } from "./storage/mod.ts";
import type { TopicFinder, TopicOverlays } from "./topics/mod.ts";
import { reasonName, type Transport, type TransportConfig } from "./transport/mod.ts";
import { tcpTransport, type TransportFactory } from "./transport_factory.ts";
import type { TrustManager } from "./trust.ts";
import { AGENT, AGENT_WITHOUT_DHT, announces, TOPICS_CAPABILITY } from "./version.ts";

/** What a node's transport and peer manager are made of. */
export interface PeersWiring {
  /** The node's identity. */
  identity: Identity;
  /** Its clock. */
  clock: Clock;
  /** Its randomness (default `Math.random`). */
  random: RandomSource | undefined;
  /** Its log sink. */
  log: LogSink;
  /** Its codec. */
  codec: MessageCodec;
}

/** The node's transport: built by `factory` (TCP by default), announcing `dht/1` only with the DHT on. */
export function wireTransport(
  wiring: PeersWiring & {
    factory: TransportFactory | undefined;
    config: Partial<TransportConfig>;
    dhtEnabled: boolean;
  },
): Transport {
  return (wiring.factory ?? tcpTransport)({
    identity: wiring.identity,
    clock: wiring.clock,
    codec: wiring.codec,
    config: wiring.config,
    // No peer list in HANDSHAKE_ACK: the responder does not know yet who it talks to. Lists go over the
    // authenticated link, as answers to PEER_DISCOVERY.
    initialPeers: () => [],
    log: wiring.log,
    // A node with the DHT off does not announce dht/1, so its peers never send it DHT messages.
    agent: wiring.dhtEnabled ? AGENT : AGENT_WITHOUT_DHT,
  });
}

/** The node's peer manager over `transport`. */
export function wirePeers(
  wiring: PeersWiring & {
    transport: Transport;
    trust: TrustManager;
    storage: Storage;
    config: Partial<PeersConfig>;
    /** The address this node announces. */
    selfAddress: () => string;
    /** When a peer last brought a message first (gossip's, asked only once a newcomer needs a slot). */
    lastNovelAt: (nodeId: string) => number;
    /** The connected peers in a topic (the overlays', asked only once peers talk). */
    topicPeers: (topic: string) => readonly string[];
  },
): PeerManager {
  return new PeerManager({
    identity: wiring.identity,
    transport: wiring.transport,
    trust: wiring.trust,
    storage: wiring.storage,
    codec: wiring.codec,
    clock: wiring.clock,
    random: wiring.random,
    config: wiring.config,
    selfAddress: wiring.selfAddress,
    log: wiring.log,
    lastNovelAt: wiring.lastNovelAt,
    topicPeers: wiring.topicPeers,
    answersTopics: (peer) => announces(peer.connection.agent, TOPICS_CAPABILITY),
  });
}

/** The layers the peer manager's reports are routed to. */
export interface PeerRoutes {
  /** Topic overlays (and the network-wide one): every envelope no other layer takes. */
  topics: TopicOverlays;
  /** The search for topics' peers. */
  finder: TopicFinder;
  /** Direct messages and requests. */
  direct: DirectChannel;
  /** Catch-up. */
  catchup: CatchupSync;
  /** Relaying and hole punching. */
  relay: RelayParts;
  /** Observed addresses and reachability. */
  nat: NatService;
  /** The DHT, when on. */
  dht: NodeDht | undefined;
  /** The node's log. */
  log: LogSink;
  /** The node's events. */
  events: NodeEvents;
  /** The node's clock (event times). */
  clock: Clock;
}

/** Routes `peers`' envelopes and peer arrivals and departures to the node's layers. */
export function routePeers(peers: PeerManager, to: PeerRoutes): void {
  const { topics, finder, direct, catchup, relay, nat, dht, log } = to;
  // Direct traffic goes to its channel, never to gossip, which would take it for a message to spread.
  peers.onEnvelope = (peer, envelope) => {
    if (DIRECT_TYPES.has(envelope.type)) direct.receive(peer, envelope);
    else if (CATCHUP_TYPES.has(envelope.type)) catchup.receive(peer.nodeId, envelope);
    else if (RELAY_TYPES.has(envelope.type)) relay.receive(peer, envelope);
    else if (NAT_TYPES.has(envelope.type)) nat.receive(peer, envelope);
    else if (envelope.type === MessageType.DHT_REQUEST || envelope.type === MessageType.DHT_RESPONSE) {
      // With the DHT off, as any type this node does not speak; with it on, refused from peers without dht/1.
      if (dht) dht.receive(peer.connection, envelope);
      else peers.penalise(peer.nodeId, "UNKNOWN_TYPE");
    } else topics.receive(peer, envelope);
  };
  peers.onPeerConnected = (peer) => {
    topics.peerConnected(peer);
    relay.peerConnected(peer);
    nat.peerConnected(peer);
    finder.peerConnected();
    dht?.peerConnected(peer.connection);
    log("info", "peer connected", {
      peer: peer.nodeId.slice(0, 16),
      address: peer.connection.remoteAddress,
      direction: peer.connection.direction,
    });
    to.events.emit(peerConnected(peer.connection, to.clock.now()));
  };
  // A newer link to a peer took the old one's place (no event: the peer stayed). What was in flight on the old
  // link may be lost: each layer's per-link state goes again over the new one.
  peers.onPeerReplaced = (peer) => {
    topics.peerReplaced(peer); // digests, its place in the topic views, this node's whole topic set
    // Sessions and fetches over the old link are void (a lost link is no fault: nothing unserved is charged);
    // they start again once its topic set comes over the new link.
    catchup.peerDisconnected(peer.nodeId);
    direct.peerReplaced(peer); // requests over the old link fail at once (LINK_REPLACED), its handlers abort
    dht?.peerReplaced(peer.connection); // queries in flight go again over the new link
    nat.peerConnected(peer); // where the new link is seen from
    log("debug", "peer link replaced", {
      peer: peer.nodeId.slice(0, 16),
      address: peer.connection.remoteAddress,
      direction: peer.connection.direction,
    });
  };
  peers.onPeerDisconnected = (peer, info) => {
    topics.peerDisconnected(peer.nodeId);
    relay.peerDisconnected(peer.nodeId);
    direct.peerDisconnected(peer.nodeId);
    dht?.peerDisconnected(peer.nodeId);
    catchup.peerDisconnected(peer.nodeId);
    log("info", "peer disconnected", {
      peer: peer.nodeId.slice(0, 16),
      reason: reasonName(info.reason),
      by: info.by,
      why: info.detail || "-",
    });
    to.events.emit(peerDisconnected(peer.nodeId, info, to.clock.now()));
  };
}
