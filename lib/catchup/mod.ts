/**
 * Catch-up (issue 25), in progress: the topic log's contract and an in-memory log (`log.ts`), the log in SQLite
 * (`sqlite_log.ts`), the causal buffer (`causal.ts`), the one delivery path of topic messages to the
 * application, exactly once and in causal order (`delivery.ts`), and range-based set reconciliation
 * (`reconcile.ts`), by which two peers in a topic find the ids one holds and the other lacks at a cost that
 * grows with the difference. The wire messages of catch-up are not built yet.
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
