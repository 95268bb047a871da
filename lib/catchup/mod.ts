/**
 * Catch-up (issue 25), in progress: the topic log's contract and an in-memory log (`log.ts`), and range-based
 * set reconciliation (`reconcile.ts`), by which two peers in a topic find the ids one holds and the other
 * lacks at a cost that grows with the difference. The SQLite log, causal order and the wire messages are not
 * built yet.
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
