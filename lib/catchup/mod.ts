/**
 * Catch-up (issue 25): the topic log's contract and an in-memory log (`log.ts`), the log in SQLite
 * (`sqlite_log.ts`), the causal buffer (`causal.ts`), the one delivery path of topic messages to the
 * application, exactly once and in causal order (`delivery.ts`); range-based set reconciliation
 * (`reconcile.ts`), by which two peers in a topic find the ids one holds and the other lacks at a cost that
 * grows with the difference; and the protocol over it (`sync.ts`): reconciliation sessions with peers
 * (`sessions.ts`), fetching what is missing from peers that hold it (`fetcher.ts`, its checks in `check.ts`),
 * serving peers' fetches (`server.ts`), their settings and bounds (`config.ts`), counters (`stats.ts`) and the
 * ranges' wire form (`wire.ts`).
 *
 * @module
 */
export {
  compareItems,
  DEFAULT_RECONCILE_CONFIG,
  END,
  fingerprint,
  type ReconcileConfig,
  Reconciler,
  type ReconcileStep,
  type SyncBound,
  type SyncItem,
  type SyncRange,
} from "./reconcile.ts";
export {
  DEFAULT_TOPIC_RETENTION,
  type LogEntry,
  type LogListOptions,
  MemoryTopicLog,
  type TopicLog,
  type TopicLogSummary,
  type TopicRetention,
} from "./log.ts";
export {
  CausalBuffer,
  type CausalConfig,
  DEFAULT_CAUSAL_CONFIG,
  type Held,
  type ReleaseCause,
  type Released,
} from "./causal.ts";
export {
  type ApplicationMessage,
  applicationMessage,
  entryMessage,
  TopicDelivery,
  type TopicDeliveryOptions,
  type TopicDeliveryStats,
} from "./delivery.ts";
export { SqliteTopicLog, type SqliteTopicLogOptions } from "./sqlite_log.ts";
export {
  type CatchupConfig,
  CatchupError,
  type CatchupErrorCode,
  DEFAULT_CATCHUP_CONFIG,
  resolveCatchupConfig,
} from "./config.ts";
export { type BodyExpectation, checkBody } from "./check.ts";
export { CatchupFetcher, type CatchupSink, type FetcherParts } from "./fetcher.ts";
export { CatchupServer, type ServerParts } from "./server.ts";
export { ReconcileSessions, type SessionParts } from "./sessions.ts";
export { type CatchupStats, emptyCatchupStats } from "./stats.ts";
export { CATCHUP_TYPES, type CatchupOptions, CatchupSync } from "./sync.ts";
export { countIds, decodeRanges, encodeRanges } from "./wire.ts";
