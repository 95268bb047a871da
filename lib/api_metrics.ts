/**
 * The control API's `GET /metrics`: a node's counters in the Prometheus text
 * format.
 *
 * @module
 */
import type { KithNode } from "./node.ts";

/** The Prometheus text exposition of `node`'s peers, messages, bytes, handshakes, trust and latency. */
export function renderMetrics(node: KithNode): string {
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
  metric("kith_uptime_seconds", "gauge", "Seconds since the node started.", [["", node.uptimeMs / 1000]]);
  return lines.join("\n") + "\n";
}
