/**
 * Topics that scope the network: a node carries only the topics it is in. Subscriptions on the wire
 * (TOPIC_SUBSCRIPTIONS, `membership.ts`), one gossip overlay per topic and the routing between them
 * (`overlays.ts`, each over a view of its members on their live links, `view.ts`), publishing from outside a topic through a fanout set, finding a topic's peers
 * (`finder.ts`), and the per-topic settings (`config.ts`).
 *
 * @module
 */
export {
  DEFAULT_TOPICS_CONFIG,
  isTopicName,
  resolveTopicsConfig,
  topicGossipConfig,
  topicRetention,
  type TopicsConfig,
  type TopicSettings,
} from "./config.ts";
export {
  SPARE_TOPIC_PEERS,
  TOPIC_LINK_GRACE_MS,
  TopicFinder,
  type TopicFinderOptions,
  type TopicFinderStats,
  type TopicLinks,
  type TopicPeerCandidate,
  type TopicPeerSource,
} from "./finder.ts";
export { PeerTopics, SubscriptionError } from "./membership.ts";
export {
  type TopicInfo,
  TopicOverlays,
  type TopicOverlaysOptions,
  type TopicPeer,
  type TopicStats,
} from "./overlays.ts";
