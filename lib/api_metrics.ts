/**
 * The control API's `GET /metrics`: a node's counters in the Prometheus text
 * format.
 *
 * @module
 */
import { escapeLabelValue, OTHER_TOPICS_LABEL, TopicLabels } from "./api_topic_labels.ts";
import { type TopicMessageCounts, topicMessageCounts } from "./api_views.ts";
import type { KithNode, NodeStats } from "./node.ts";
import type { NodeDhtStats } from "./node_dht.ts";
import type { PeerInfo } from "./peers/mod.ts";

/** The per-topic outcomes, as labelled, and the counter of each. */
const TOPIC_OUTCOMES: readonly [string, keyof TopicMessageCounts][] = [
  ["published", "published"],
  ["delivered", "delivered"],
  ["forwarded", "forwarded"],
  ["duplicate", "duplicates"],
  ["invalid", "invalid"],
  ["rate_limited", "rateLimited"],
  ["origin_limited", "originLimited"],
];

/**
 * The Prometheus text exposition of `node`'s peers, messages, bytes, handshakes, trust, latency and topics.
 * `labels` chooses which topics get series of their own (see {@link TopicLabels}); keep one per node across
 * scrapes so a topic keeps its series.
 */
export function renderMetrics(node: KithNode, labels: TopicLabels = new TopicLabels()): string {
  const stats = node.stats();
  const peers = node.peers();
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  metric(
    "kith_peers",
    "gauge",
    "Peers by state.",
    (["active", "connecting", "known"] as const).map((
      s,
    ) => [`{state="${s}"}`, peers.filter((p) => p.state === s).length]),
  );
  const g = stats.gossip;
  metric("kith_messages_total", "counter", "Gossip messages by outcome.", [
    ['{outcome="published"}', g.published],
    ['{outcome="delivered"}', g.delivered],
    ['{outcome="forwarded"}', g.forwarded],
    ['{outcome="duplicate"}', g.duplicates],
    ['{outcome="invalid"}', g.invalid],
    ['{outcome="rate_limited"}', g.rateLimited],
    ['{outcome="origin_limited"}', g.originLimited],
    ['{outcome="served_on_request"}', g.served],
  ]);
  metric(
    "kith_messages_by_type_total",
    "counter",
    "Envelopes by message type and outcome: received, delivered, forwarded, duplicate, invalid.",
    Object.entries(stats.byType).flatMap(([type, counts]) =>
      Object.entries(counts).map(([outcome, n]) => [`{type="${type}",outcome="${outcome}"}`, n] as [string, number])
    ),
  );
  metric(
    "kith_messages_invalid_by_code_total",
    "counter",
    "Invalid envelopes received, by error code.",
    Object.entries(stats.invalidByCode).map(([code, n]) => [`{code="${code}"}`, n]),
  );
  metric("kith_bytes_total", "counter", "Bytes through sockets.", [
    ['{direction="in"}', stats.transport.bytesIn],
    ['{direction="out"}', stats.transport.bytesOut],
  ]);
  metric(
    "kith_signature_checks_total",
    "counter",
    "Signature checks by where they ran: on the node's thread, or on a helper thread while it was behind.",
    [
      ['{where="inline"}', stats.signatureChecks.inline],
      ['{where="helper"}', stats.signatureChecks.offloaded],
    ],
  );
  metric(
    "kith_messages_dropped_under_check_total",
    "counter",
    "First copies dropped while too many waited for their signature check.",
    [
      ["", g.droppedUnderCheck],
    ],
  );
  metric(
    "kith_gossip_lateness_ms",
    "gauge",
    "How late messages arrive beyond their origins' quickest (median over origins of the smoothed mean and deviation); a message's first ask waits mean + 4 deviations longer, at most 2 s.",
    [
      ['{stat="mean"}', Math.round(g.latenessMs * 10) / 10],
      ['{stat="deviation"}', Math.round(g.latenessDeviationMs * 10) / 10],
    ],
  );
  metric("kith_handshakes_total", "counter", "Handshakes by result.", [
    ['{result="completed"}', stats.transport.handshakesCompleted],
    ['{result="failed"}', stats.transport.handshakesFailed],
  ]);
  metric(
    "kith_dials_refused_total",
    "counter",
    "Addresses the dial policy refused: announced or stored ones the peer manager dropped (each counted once), " +
      "and dials the transport refused.",
    [
      ['{where="peers"}', stats.peers.refusedByPolicy],
      ['{where="transport"}', stats.transport.dialsRefused],
    ],
  );
  const bounds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
  lines.push("# HELP kith_peer_trust Trust of known peers.", "# TYPE kith_peer_trust histogram");
  for (const bound of bounds) {
    lines.push(`kith_peer_trust_bucket{le="${bound}"} ${peers.filter((p) => p.trust <= bound).length}`);
  }
  lines.push(`kith_peer_trust_bucket{le="+Inf"} ${peers.length}`);
  lines.push(
    `kith_peer_trust_sum ${peers.reduce((n, p) => n + p.trust, 0)}`,
    `kith_peer_trust_count ${peers.length}`,
  );
  const latency = stats.deliveryLatency;
  lines.push(
    "# HELP kith_delivery_latency_seconds Publish-to-delivery latency of application messages.",
    "# TYPE kith_delivery_latency_seconds histogram",
  );
  for (const [bound, count] of latency.buckets) {
    lines.push(`kith_delivery_latency_seconds_bucket{le="${bound / 1000}"} ${count}`);
  }
  lines.push(`kith_delivery_latency_seconds_bucket{le="+Inf"} ${latency.count}`);
  lines.push(
    `kith_delivery_latency_seconds_sum ${latency.sum / 1000}`,
    `kith_delivery_latency_seconds_count ${latency.count}`,
  );
  renderTopicMetrics(node, labels, metric);
  if (stats.dht) renderDhtMetrics(stats.dht, lines, metric);
  renderNatMetrics(stats, peers, metric);
  metric("kith_uptime_seconds", "gauge", "Seconds since the node started.", [["", node.uptimeMs / 1000]]);
  return lines.join("\n") + "\n";
}

/** The DHT's series: lookups, hops, operation latency, table and store sizes, queries, transient links. */
function renderDhtMetrics(
  dht: NodeDhtStats,
  lines: string[],
  metric: (name: string, type: string, help: string, samples: [string, number][]) => void,
): void {
  metric("kith_dht_lookups_total", "counter", "DHT lookups run, and those that ended with an answer.", [
    ['{outcome="run"}', dht.lookups],
    ['{outcome="answered"}', dht.lookupsAnswered],
  ]);
  metric(
    "kith_dht_lookup_hops_total",
    "counter",
    "Sum of the hops at which each answered lookup found its closest node (divide by answered lookups).",
    [["", dht.hops]],
  );
  metric("kith_dht_table_contacts", "gauge", "Contacts in the DHT routing table.", [["", dht.tableSize]]);
  metric("kith_dht_queries_total", "counter", "DHT queries by outcome.", [
    ['{outcome="sent"}', dht.queriesSent],
    ['{outcome="failed"}', dht.queriesFailed],
    ['{outcome="answered"}', dht.answered],
    ['{outcome="rate_limited"}', dht.rateLimited],
  ]);
  metric("kith_dht_store", "gauge", "What this node keeps for the DHT.", [
    ['{kind="records"}', dht.store.records],
    ['{kind="record_bytes"}', dht.store.recordBytes],
    ['{kind="providers"}', dht.store.providers],
  ]);
  metric("kith_dht_transient_links", "gauge", "Transient links open now.", [["", dht.transient.open]]);
  metric("kith_dht_transient_dials_total", "counter", "Transient link dials by outcome.", [
    ['{outcome="dialed"}', dht.transient.dials],
    ['{outcome="failed"}', dht.transient.dialFailures],
    ['{outcome="refused_by_limit"}', dht.transient.refusedByLimit],
  ]);
  metric(
    "kith_dht_inbound_transient_links",
    "gauge",
    "Transient links other nodes hold to this one now (DHT questions only, no peer slot).",
    [["", dht.inboundTransient.open]],
  );
  metric("kith_dht_inbound_transient_total", "counter", "Inbound transient links by outcome.", [
    ['{outcome="accepted"}', dht.inboundTransient.accepted],
    ['{outcome="refused"}', dht.inboundTransient.refused],
    ['{outcome="closed_idle"}', dht.inboundTransient.closedIdle],
  ]);
  metric(
    "kith_dht_hearsay_refused_total",
    "counter",
    "Nodes and providers named in DHT answers at addresses the dial policy refuses: dropped, never asked or returned.",
    [["", dht.hearsayRefused]],
  );
  const latency = dht.latency;
  lines.push(
    "# HELP kith_dht_operation_seconds Latency of DHT operations (find-peer, provide, providers, put, get).",
    "# TYPE kith_dht_operation_seconds histogram",
  );
  for (const [bound, count] of latency.buckets) {
    lines.push(`kith_dht_operation_seconds_bucket{le="${bound / 1000}"} ${count}`);
  }
  lines.push(
    `kith_dht_operation_seconds_bucket{le="+Inf"} ${latency.count}`,
    `kith_dht_operation_seconds_sum ${latency.sum / 1000}`,
    `kith_dht_operation_seconds_count ${latency.count}`,
  );
}

/** Reachability (one series at 1, the verdict), active peers by link kind, checks and dial-backs. */
function renderNatMetrics(
  stats: NodeStats,
  peers: PeerInfo[],
  metric: (name: string, type: string, help: string, samples: [string, number][]) => void,
): void {
  const nat = stats.nat;
  metric(
    "kith_reachability",
    "gauge",
    "This node's reachability verdict: 1 for the state it is in, 0 for the others.",
    (["public", "private", "unknown"] as const).map((s) => [`{state="${s}"}`, nat.reachability === s ? 1 : 0]),
  );
  const active = peers.filter((p) => p.state === "active");
  metric(
    "kith_peer_links",
    "gauge",
    "Active peers by how their link reaches them.",
    (["direct", "relayed", "hole-punched"] as const).map((
      kind,
    ) => [`{kind="${kind}"}`, active.filter((p) => (p.linkKind ?? "direct") === kind).length]),
  );
  metric("kith_reachability_answers_total", "counter", "Answers to this node's dial-back requests, by verdict.", [
    ['{answer="reached"}', nat.checks.reached],
    ['{answer="unproven"}', nat.checks.unproven],
    ['{answer="unreachable"}', nat.checks.unreachable],
    ['{answer="none"}', nat.checks.noVerdict],
  ]);
  metric("kith_dial_backs_total", "counter", "Dial-back requests from peers, by what this node did.", [
    ['{outcome="reached"}', nat.dialBacks.reached],
    ['{outcome="unreachable"}', nat.dialBacks.unreachable],
    ['{outcome="refused"}', nat.dialBacks.refused],
    ['{outcome="rate_limited"}', nat.dialBacks.rateLimited],
    ['{outcome="dropped"}', nat.dialBacks.dropped],
  ]);
  const punch = stats.relay.punch;
  metric(
    "kith_hole_punches_total",
    "counter",
    "Hole punches by outcome; refused: a peer named a host the relay does not see it at.",
    [
      ['{outcome="attempted"}', punch.attempts],
      ['{outcome="punched"}', punch.punched],
      ['{outcome="gave_up"}', punch.gaveUp],
      ['{outcome="refused_address"}', punch.refusedAddresses],
    ],
  );
}

/** The topic series: how many topics, and per topic (bounded by `labels`) its peers and messages; routing. */
function renderTopicMetrics(
  node: KithNode,
  labels: TopicLabels,
  metric: (name: string, type: string, help: string, samples: [string, number][]) => void,
): void {
  const topics = node.topics().map((info) => ({ ...info, messages: topicMessageCounts(node, info.topic) }));
  const labelled = labels.choose(
    topics.map((t) => ({
      topic: t.topic,
      subscribed: t.subscribed,
      traffic: t.messages.delivered + t.messages.forwarded,
    })),
  );
  const shown = topics.filter((t) => labelled.has(t.topic));
  const others = topics.filter((t) => !labelled.has(t.topic));
  const label = (topic: string) => `topic="${escapeLabelValue(topic)}"`;
  metric(
    "kith_topics",
    "gauge",
    "Named topics this node is in: subscribed by the application, or relayed for every topic.",
    [
      ['{kind="subscribed"}', topics.filter((t) => t.subscribed).length],
      ['{kind="relayed"}', topics.filter((t) => !t.subscribed).length],
    ],
  );
  const sum = (pick: (t: typeof topics[number]) => number) => others.reduce((n, t) => n + pick(t), 0);
  metric(
    "kith_topic_peers",
    "gauge",
    `Connected peers in each topic's overlay (at most ${labels.max} topics by name, the rest summed under topic="${OTHER_TOPICS_LABEL}").`,
    [
      ...shown.map((t): [string, number] => [`{${label(t.topic)}}`, t.peers]),
      ...(others.length > 0 ? [[`{${label(OTHER_TOPICS_LABEL)}}`, sum((t) => t.peers)] as [string, number]] : []),
    ],
  );
  metric(
    "kith_topic_messages_total",
    "counter",
    `Messages of each topic's overlay by outcome (topics as in kith_topic_peers; a topic's counters start again when it is rejoined).`,
    TOPIC_OUTCOMES.flatMap(([outcome, key]) => [
      ...shown.map((t): [string, number] => [`{${label(t.topic)},outcome="${outcome}"}`, t.messages[key]]),
      ...(others.length > 0
        ? [[`{${label(OTHER_TOPICS_LABEL)},outcome="${outcome}"}`, sum((t) => t.messages[key])] as [string, number]]
        : []),
    ]),
  );
  // The log may hold topics the node has left: they are summed under the other label with the unlabelled ones.
  const log = node.components.topicLog;
  const held = log.topics().map((topic) => log.summary(topic));
  const heldShown = held.filter((t) => labelled.has(t.topic));
  const heldOthers = held.filter((t) => !labelled.has(t.topic));
  for (
    const [name, pick, help] of [
      ["kith_topic_log_messages", (t: { count: number }) => t.count, "Messages each topic's log holds"],
      ["kith_topic_log_bytes", (t: { bytes: number }) => t.bytes, "Bytes of envelopes each topic's log holds"],
    ] as const
  ) {
    metric(
      name,
      "gauge",
      `${help} (topics as in kith_topic_peers; topics left but still logged are under topic="${OTHER_TOPICS_LABEL}").`,
      [
        ...heldShown.map((t): [string, number] => [`{${label(t.topic)}}`, pick(t)]),
        ...(heldOthers.length > 0
          ? [[`{${label(OTHER_TOPICS_LABEL)}}`, heldOthers.reduce((n, t) => n + pick(t), 0)] as [string, number]]
          : []),
      ],
    );
  }
  const delivery = node.stats().topicDelivery;
  metric(
    "kith_topic_delivery_total",
    "counter",
    "Topic messages taken by the delivery path, by outcome: accepted (new), duplicate, not_member; delivered in_order or with predecessors missing; waited in the causal buffer; released_early by its bounds; log_refused.",
    [
      ['{outcome="accepted"}', delivery.accepted],
      ['{outcome="duplicate"}', delivery.duplicates],
      ['{outcome="not_member"}', delivery.notMember],
      ['{outcome="in_order"}', delivery.inOrder],
      ['{outcome="delivered_missing"}', delivery.deliveredMissing],
      ['{outcome="waited"}', delivery.waited],
      ['{outcome="released_early"}', delivery.releasedEarly],
      ['{outcome="log_refused"}', delivery.logRefused],
    ],
  );
  metric("kith_causal_buffer", "gauge", "Topic messages held for their predecessors now: messages and bytes.", [
    ['{kind="messages"}', delivery.pending],
    ['{kind="bytes"}', delivery.pendingBytes],
  ]);
  const catchup = node.stats().catchup;
  metric(
    "kith_catchup_sessions_total",
    "counter",
    "Catch-up sessions: started by this node, answered for peers, completed, diverged, timed out, refused.",
    [
      ['{outcome="started"}', catchup.sessionsStarted],
      ['{outcome="answered"}', catchup.sessionsAnswered],
      ['{outcome="completed"}', catchup.sessionsCompleted],
      ['{outcome="diverged"}', catchup.sessionsDiverged],
      ['{outcome="timed_out"}', catchup.sessionsTimedOut],
      ['{outcome="refused"}', catchup.sessionsRefused],
    ],
  );
  metric(
    "kith_catchup_messages_total",
    "counter",
    "Messages of catch-up: fetched (new, checked), refused by a check, claimed and not served, served to peers.",
    [
      ['{outcome="fetched"}', catchup.fetched],
      ['{outcome="refused"}', catchup.refused],
      ['{outcome="unserved"}', catchup.unserved],
      ['{outcome="served"}', catchup.served],
    ],
  );
  metric(
    "kith_catchup_bytes_total",
    "counter",
    "Bytes of catch-up envelopes: reconciliation and bodies (fetches with their answers), sent and received.",
    [
      ['{kind="reconcile",direction="sent"}', catchup.reconcileBytesSent],
      ['{kind="reconcile",direction="received"}', catchup.reconcileBytesReceived],
      ['{kind="bodies",direction="sent"}', catchup.bodyBytesSent],
      ['{kind="bodies",direction="received"}', catchup.bodyBytesReceived],
    ],
  );
  metric(
    "kith_catchup_have_withheld_total",
    "counter",
    "Ids not yet told to peers in catch-up's have: past a peer's allowance (haveIdsPerMinute beyond what it fetched).",
    [["", catchup.haveWithheld]],
  );
  const routing = node.stats().topics;
  metric(
    "kith_topic_routing_total",
    "counter",
    "Topic routing: fanout publishes, refusals and drops, subscription messages, envelopes over a peer's rate for all topics.",
    [
      ['{outcome="fanout_published"}', routing.fanoutPublished],
      ['{outcome="wrong_topic"}', routing.wrongTopic],
      ['{outcome="dropped_after_leave"}', routing.droppedAfterLeave],
      ['{outcome="digests_dropped"}', routing.digestsDropped],
      ['{outcome="subscriptions_refused"}', routing.subscriptionsRefused],
      ['{outcome="subscriptions_sent"}', routing.subscriptionsSent],
      ['{outcome="rate_limited"}', routing.rateLimited],
    ],
  );
}
