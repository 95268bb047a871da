/**
 * The wiring of a node's gossip: the network-wide overlay, the overlay of each topic it is in (a
 * {@link GossipProtocol} made with the topic's settings over the peers in it) and the routing between them
 * ({@link TopicOverlays}), and the finder of topic peers ({@link TopicFinder}), from the node's other
 * components. `KithNode` calls it once, at start.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import { type GossipConfig, type GossipPeers, GossipProtocol, type GossipSender } from "./gossip/mod.ts";
import type { Identity } from "./identity.ts";
import type { LogSink } from "./log.ts";
import type { NodeDht } from "./node_dht.ts";
import type { PeerManager } from "./peers/mod.ts";
import { type Message, type MessageCodec, MessageType } from "./protocol/mod.ts";
import type { RandomSource } from "./random.ts";
import type { Storage } from "./storage/mod.ts";
import {
  TopicFinder,
  topicGossipConfig,
  TopicOverlays,
  type TopicPeerSource,
  type TopicsConfig,
} from "./topics/mod.ts";
import type { TrustManager } from "./trust.ts";
import { announces, TOPICS_CAPABILITY } from "./version.ts";
import type { ParallelVerifier } from "./verifier.ts";

/** The node's parts its gossip is made of. */
export interface TopicParts {
  /** The node's identity. */
  identity: Identity;
  /** Its clock. */
  clock: Clock;
  /** Its randomness (default `Math.random`). */
  random?: RandomSource;
  /** Its log sink. */
  log: LogSink;
  /** Its codec. */
  codec: MessageCodec;
  /** The topics config in force. */
  config: Readonly<TopicsConfig>;
  /** The gossip settings every overlay starts from (a topic's own settings go over them). */
  gossipConfig: Partial<GossipConfig>;
  /** The peer manager: the connected peers, penalties, topic queries and topic links. */
  peers: PeerManager;
  /** The trust manager. */
  trust: TrustManager;
  /** The storage (seen ids). */
  storage: Storage;
  /** The signature checker the overlays share. */
  verifier: ParallelVerifier | undefined;
  /** Hands a verified first-seen application message to the subscribers. */
  deliver: (message: Message, from: GossipSender) => void;
  /** Called when a peer's topics changed. */
  onPeerTopics: (nodeId: string) => void;
  /** The finder's round, ms (the peer maintenance interval). */
  roundMs: number;
  /** The DHT's rendezvous, asked after peer exchange; none when the DHT is off. */
  dhtSource?: TopicPeerSource;
}

/** Makes the network-wide overlay, the topic overlays and the topic finder of a node from its parts. */
export function wireGossip(
  parts: TopicParts,
): { gossip: GossipProtocol; topics: TopicOverlays; finder: TopicFinder } {
  // One gossip layer: the network-wide overlay (topic "") or a topic's, each handing its application messages on.
  const layer = (peers: GossipPeers, config: Partial<GossipConfig>, topic = "") => {
    const gossip = new GossipProtocol({
      identity: parts.identity,
      peers,
      trust: parts.trust,
      storage: parts.storage,
      codec: parts.codec,
      verifier: parts.verifier,
      clock: parts.clock,
      random: parts.random,
      config,
      log: parts.log,
      topic,
    });
    gossip.registerHandler(MessageType.CUSTOM_DATA, parts.deliver);
    return gossip;
  };
  // The network-wide overlay: untopiced messages, TRUST_UPDATE, the application's registered types.
  const global = layer(parts.peers, parts.gossipConfig);
  const topicsConfig = parts.config;
  const topicGossip = (topic: string) => topicGossipConfig(parts.gossipConfig, topicsConfig.topicSettings[topic]);
  const topics = new TopicOverlays({
    identity: parts.identity,
    clock: parts.clock,
    random: parts.random ?? Math.random,
    log: parts.log,
    codec: parts.codec,
    config: topicsConfig,
    peers: parts.peers,
    global,
    makeOverlay: (topic, view) => layer(view, topicGossip(topic), topic),
    penalise: (nodeId, code) => parts.peers.penalise(nodeId, code),
    onPeerTopics: parts.onPeerTopics,
    scopesTopics: (peer) => announces(peer.connection.agent, TOPICS_CAPABILITY),
    peerRateLimit: global.config.peerRateLimit,
    defaultTtl: (topic) => topicGossip(topic).defaultTtl ?? global.config.defaultTtl,
    maxMessageBytes: (topic) =>
      topicGossip(topic).maxApplicationPayloadBytes ?? global.config.maxApplicationPayloadBytes,
  });
  const finder = new TopicFinder({
    config: topicsConfig,
    clock: parts.clock,
    log: parts.log,
    // Peer exchange first (connected peers answer at once), then the DHT's rendezvous.
    sources: [
      {
        name: "peer-exchange",
        find: (topic) => parts.peers.findTopicPeers(topic),
        reach: () => parts.peers.activePeers().length,
      },
      ...(parts.dhtSource ? [parts.dhtSource] : []),
    ],
    links: parts.peers,
    joined: () => topics.topics().map((t) => t.topic),
    peersIn: (topic) => topics.topicPeers(topic),
    roundMs: parts.roundMs,
    maxTopics: topicsConfig.maxTopics,
    topicSlots: parts.peers.config.topicSlots,
    random: parts.random ?? Math.random,
  });
  return { gossip: global, topics, finder };
}

/** The DHT's rendezvous as a source of a topic's peers: `k` providers of the topic's key. */
export function dhtTopicSource(dht: NodeDht, k: number): TopicPeerSource {
  return {
    name: "dht",
    // One lookup a search: every node it asks is asked alike, so a second would find the same providers.
    questions: 1,
    // Nothing to ask while the routing table is empty: the search is then not counted as done.
    find: (topic) => dht.service.table.size > 0 ? dht.topicProviders(topic, k) : undefined,
  };
}
