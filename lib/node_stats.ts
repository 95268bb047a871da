/**
 * A node's gossip counters over all its overlays (the network-wide one and one per topic): every count
 * summed, the lateness estimate taken from the overlay that delivered most.
 *
 * @module
 */
import type { GossipProtocol, GossipStats, MessageTypeCounts } from "./gossip/mod.ts";

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
