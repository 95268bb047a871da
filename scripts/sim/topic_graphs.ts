/**
 * The simulator's reading of topic overlays at the end of a run: for each topic, its honest members and the
 * links among them that both ends count as a peer in the topic (`node.topicPeers`), split into connected
 * pieces; and what the nodes' topic finders spent to build them.
 *
 * @module
 */

/** What one node says about its topics, for {@link topicGraphs}. */
export interface TopicGraphNode {
  /** The node ids of its peers in `topic` (`node.topicPeers`). */
  topicPeers(topic: string): readonly string[];
  /** Its node id. */
  nodeId: string;
}

/** The topic overlays at the end of a run. */
export interface TopicGraphsResult {
  /** Topics with at least two honest members. */
  topics: number;
  /** Of them, those whose honest members form one connected overlay. */
  connected: number;
  /** Most pieces one topic's overlay was in. */
  max_pieces: number;
  /** Honest memberships (node, topic) with no peer in the topic, of those in topics of two or more. */
  memberships_without_peer: number;
  memberships: number;
  /** Topic peers per honest membership: mean and largest. */
  topic_peers: { mean: number; max: number };
  /** The topics in pieces: honest members, pieces, members with no peer in the topic. */
  in_pieces: { members: number; pieces: number; alone: number }[];
}

/**
 * Reads the overlays of `members` (topic rank -> member node indices) among `nodes`, leaving out the indices
 * `skip` says (Byzantine ones); `name(rank)` is the topic's name.
 */
export function topicGraphs(
  nodes: readonly TopicGraphNode[],
  members: readonly (readonly number[])[],
  name: (rank: number) => string,
  skip: (index: number) => boolean,
): TopicGraphsResult {
  const indexOf = new Map(nodes.map((node, i) => [node.nodeId, i]));
  const result: TopicGraphsResult = {
    topics: 0,
    connected: 0,
    max_pieces: 0,
    memberships_without_peer: 0,
    memberships: 0,
    topic_peers: { mean: 0, max: 0 },
    in_pieces: [],
  };
  let peerSum = 0;
  members.forEach((list, rank) => {
    const honest = list.filter((i) => !skip(i));
    if (honest.length < 2) return; // no one to be linked to
    const topic = name(rank);
    const peers = new Map(honest.map((i) => [i, new Set(nodes[i].topicPeers(topic))]));
    const parent = new Map(honest.map((i) => [i, i]));
    const find = (i: number): number => {
      while (parent.get(i)! !== i) i = parent.get(i)!;
      return i;
    };
    for (const i of honest) {
      const mine = peers.get(i)!;
      result.memberships++;
      peerSum += mine.size;
      result.topic_peers.max = Math.max(result.topic_peers.max, mine.size);
      if (mine.size === 0) result.memberships_without_peer++;
      for (const id of mine) {
        const j = indexOf.get(id);
        // A link both ends count.
        if (j === undefined || !peers.get(j)?.has(nodes[i].nodeId)) continue;
        parent.set(find(i), find(j));
      }
    }
    const pieces = new Set(honest.map(find)).size;
    result.topics++;
    if (pieces === 1) result.connected++;
    else {
      const alone = honest.filter((i) => peers.get(i)!.size === 0).length;
      result.in_pieces.push({ members: honest.length, pieces, alone });
    }
    result.max_pieces = Math.max(result.max_pieces, pieces);
  });
  result.topic_peers.mean = Number((peerSum / Math.max(1, result.memberships)).toFixed(2));
  return result;
}

/** Sums counters (objects of numbers, one level of nesting at most) over nodes. */
export function sumCounters(list: readonly object[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const item of list) {
    for (const [key, value] of Object.entries(item)) {
      if (typeof value === "number") sum[key] = (sum[key] ?? 0) + value;
    }
  }
  return sum;
}

/** A simulated node as {@link topicDiscovery} reads it. */
export interface DiscoveryNode {
  /** Its identity. */
  identity: { nodeId: string };
  /** The node. */
  node: {
    topicPeers(topic: string): readonly string[];
    stats(): {
      topicFinder: object;
      peers: { topicDials: number };
      dht?: { lookups: number; queriesSent: number };
    };
  };
}

/** The topic overlays at a run's end and what their discovery cost, per node. */
export interface TopicDiscoveryResult {
  /** The overlays (see {@link topicGraphs}). */
  graphs: TopicGraphsResult;
  /** The topic finders' counters summed over the honest nodes, and per honest node. */
  finder: Record<string, number>;
  finder_per_node: Record<string, number>;
  /** The DHT's lookups and queries sent per honest node (null: the DHT was off). */
  dht_per_node: { lookups: number; queries_sent: number } | null;
  /** Bytes every node sent over the whole run (set-up, discovery, DHT, gossip), per node. */
  bytes_sent_per_node: number;
}

/** Reads the topic overlays and the discovery counters of `nodes` (honest ones: not `skip`). */
export function topicDiscovery(
  nodes: readonly DiscoveryNode[],
  members: readonly (readonly number[])[],
  skip: (index: number) => boolean,
  bytesSent: number,
): TopicDiscoveryResult {
  const view = nodes.map((n) => ({ nodeId: n.identity.nodeId, topicPeers: (t: string) => n.node.topicPeers(t) }));
  const graphs = topicGraphs(view, members, (rank) => `t${rank}`, skip);
  const honest = nodes.filter((_, i) => !skip(i)).map((n) => n.node.stats());
  const finder = sumCounters(honest.map((s) => ({ ...s.topicFinder, topicDials: s.peers.topicDials })));
  const per = (x: number) => Number((x / Math.max(1, honest.length)).toFixed(2));
  const dht = honest.some((s) => s.dht)
    ? {
      lookups: per(honest.reduce((n, s) => n + (s.dht?.lookups ?? 0), 0)),
      queries_sent: per(honest.reduce((n, s) => n + (s.dht?.queriesSent ?? 0), 0)),
    }
    : null;
  return {
    graphs,
    finder,
    finder_per_node: Object.fromEntries(Object.entries(finder).map(([k, v]) => [k, per(v)])),
    dht_per_node: dht,
    bytes_sent_per_node: Math.round(bytesSent / Math.max(1, nodes.length)),
  };
}
