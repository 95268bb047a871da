/**
 * A node's counters (`KithNode.stats`): its gossip counters over all its overlays (the network-wide one and one per
 * topic), every count summed, the lateness estimate taken from the overlay that delivered most; each peer's
 * messages over all overlays; and every other layer's counters beside them.
 *
 * @module
 */
import type { GossipProtocol, GossipStats, MessageTypeCounts } from "./gossip/mod.ts";
import { topicLogStats } from "./node_catchup.ts";
import type { NodeLayers, NodeStats } from "./node_options.ts";
import type { PeerInfo } from "./peers/mod.ts";
import type { Subscriptions } from "./subscriptions.ts";
import type { TopicOverlays } from "./topics/mod.ts";

/** Counters of several gossip layers, summed. */
export interface SummedGossipCounts {
  /** Totals; `latenessMs` and `latenessDeviationMs` are the busiest layer's (an estimate does not add up). */
  stats: GossipStats;
  /** By message type name. */
  byType: Record<string, MessageTypeCounts>;
  /** Invalid envelopes by error code. */
  invalidByCode: Record<string, number>;
}

/** Sums the counters of `layers` (at least one). */
export function sumGossipCounts(layers: readonly GossipProtocol[]): SummedGossipCounts {
  const all = layers.map((layer) => layer.stats);
  const busiest = all.reduce((a, b) => (b.delivered > a.delivered ? b : a));
  const stats = { ...all[0] };
  for (const key of Object.keys(stats) as (keyof GossipStats)[]) {
    if (key === "latenessMs" || key === "latenessDeviationMs") stats[key] = busiest[key];
    else stats[key] = all.reduce((n, s) => n + s[key], 0);
  }
  const byType: Record<string, MessageTypeCounts> = {};
  const invalidByCode: Record<string, number> = {};
  for (const layer of layers) {
    const kinds = layer.countsByKind;
    for (const [type, counts] of Object.entries(kinds.byType)) {
      const total = byType[type] ??= { ...counts, ...Object.fromEntries(Object.keys(counts).map((k) => [k, 0])) };
      for (const key of Object.keys(counts) as (keyof MessageTypeCounts)[]) total[key] += counts[key];
    }
    for (const [code, n] of Object.entries(kinds.invalidByCode)) invalidByCode[code] = (invalidByCode[code] ?? 0) + n;
  }
  return { stats, byType, invalidByCode };
}

/** The network-wide overlay and the overlay of every topic the node is in. */
export function allOverlays(gossip: GossipProtocol, topics: TopicOverlays): GossipProtocol[] {
  return [gossip, ...topics.topics().map((t) => topics.gossipOf(t.topic)!)];
}

/** Sets each active peer's `messages`: what it sent over all of `overlays` (none: left as the peer manager gave). */
export function countPeerMessages(peers: PeerInfo[], overlays: readonly GossipProtocol[]): PeerInfo[] {
  for (const peer of peers) {
    if (peer.state !== "active") continue;
    const counts = overlays.map((layer) => layer.peerStats(peer.nodeId)?.received ?? 0);
    if (counts.length > 0) peer.messages = counts.reduce((a, b) => a + b, 0);
  }
  return peers;
}

/**
 * The counters of every layer of a node; `need` gives a layer that must have been made (it throws when it was not).
 */
export function nodeStats(
  layers: NodeLayers,
  subscriptions: Subscriptions,
  need: <T>(layer: T | undefined) => T,
): NodeStats {
  const gossip = need(layers.gossip);
  const topics = need(layers.topics);
  const summed = sumGossipCounts(allOverlays(gossip, topics));
  return {
    gossip: summed.stats,
    topics: { ...topics.stats },
    topicFinder: { ...need(layers.finder).stats },
    peers: need(layers.peers).stats,
    transport: need(layers.transport).stats,
    deliveredToApplication: subscriptions.delivered,
    byType: summed.byType,
    invalidByCode: summed.invalidByCode,
    deliveryLatency: subscriptions.latency.snapshot(),
    direct: layers.direct!.stats,
    ...(layers.dht ? { dht: layers.dht.stats } : {}),
    signatureChecks: { ...layers.verifier!.stats },
    topicLog: topicLogStats(need(layers.topicLog)),
    topicDelivery: need(layers.delivery).stats,
    catchup: { ...need(layers.catchup).stats },
    relay: layers.relay!.stats(),
    nat: layers.nat!.status(),
  };
}
