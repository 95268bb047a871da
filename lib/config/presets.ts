/**
 * The design's presets ("Configuration Tuning"): the settings each changes from the defaults.
 *
 * @module
 */
import type { NetworkConfig } from "./network.ts";

/** Names of the presets. */
export type PresetName = "default" | "high-throughput" | "low-resource" | "high-security";

/** The design's presets, with exactly its values ("Configuration Tuning"). */
export const PRESETS: Readonly<Record<PresetName, Readonly<Partial<NetworkConfig>>>> = Object.freeze({
  "default": Object.freeze({}),
  "high-throughput": Object.freeze({ gossipFanout: 5, gossipIntervalMs: 500, maxPeers: 100 }),
  // The DHT settings below are kith's, not the design's (it has no DHT): a small node keeps an eighth of the store
  // and opens and holds fewer transient links; a cautious one looks up over three disjoint paths, and holds at
  // most 2 inbound transient links per subnet (their 16 then take 8 subnets to fill).
  "low-resource": Object.freeze({
    gossipFanout: 2,
    gossipIntervalMs: 2_000,
    maxPeers: 20,
    messageCacheSize: 1_000,
    dhtTransientLinks: 4,
    dhtInboundTransientLinks: 8,
    dhtMaxRecords: 512,
    dhtMaxRecordBytes: 512 * 1024,
    dhtMaxProviders: 2_048,
  }),
  "high-security": Object.freeze({
    initialTrustScore: 0.3,
    minTrustThreshold: 0.5,
    trustDecayRate: 0.02,
    dhtPaths: 3,
    dhtInboundTransientPerSubnet: 2,
  }),
});
