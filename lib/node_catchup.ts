/**
 * A node's topic log (lib/catchup/) as the node uses it: which log it keeps (SQLite beside its SQLite storage,
 * memory beside memory storage), and the log read back as the application sees messages (history, replay).
 * `KithNode` calls these at start and from its methods.
 *
 * @module
 */
import { toHex } from "./bytes.ts";
import type { Clock } from "./clock.ts";
import {
  entryMessage,
  type LogEntry,
  MemoryTopicLog,
  SqliteTopicLog,
  type TopicLog,
  type TopicRetention,
} from "./catchup/mod.ts";
import type { LogSink } from "./log.ts";
import type { MessageCodec } from "./protocol/mod.ts";
import { SqliteStorage, type Storage } from "./storage/mod.ts";
import type { TopicLogStats } from "./node_options.ts";
import { receivedId, type ReceivedMessage, type Replay } from "./subscriptions.ts";

/** Options of {@link KithNode.history}. */
export interface HistoryOptions {
  /** Only messages with `timestamp >= since` (the origin's clock, ms since the epoch). Default 0. */
  since?: number;
  /** At most this many, oldest first. Default 1,000, at most 10,000. */
  limit?: number;
}

/** Options of {@link KithNode.subscribe}. */
export interface SubscribeOptions {
  /**
   * Replay the topic's log from this timestamp (ms since the epoch; 0: all of it) before live messages, with no
   * gap and no duplicate between the two. Replayed messages have `replayed: true` and `from: ""`; they include
   * this node's own messages, which live delivery does not. Only for a named topic.
   */
  since?: number;
}

/** Most messages one history read returns. */
export const MAX_HISTORY_LIMIT = 10_000;

/**
 * The topic log of a node: `given` if any; else SQLite in the database of a {@link SqliteStorage} (its own
 * connection to `kith.db`), else memory.
 */
export function openTopicLog(
  given: TopicLog | undefined,
  storage: Storage,
  options: { clock: Clock; flushIntervalMs: number; retention: (topic: string) => TopicRetention; log: LogSink },
): TopicLog {
  if (given) return given;
  if (!(storage instanceof SqliteStorage)) return new MemoryTopicLog(options.retention);
  return new SqliteTopicLog(storage.path, {
    clock: options.clock,
    flushIntervalMs: options.flushIntervalMs,
    retention: options.retention,
    onError: (error) => options.log("error", error.message, { code: error.code }),
  });
}

/** A log entry's message as the application sees it, marked replayed. */
function received(codec: MessageCodec, entry: LogEntry): ReceivedMessage {
  const message = entryMessage(codec, entry);
  return {
    id: toHex(message.id),
    origin: entry.origin,
    topic: message.payload.topic,
    data: message.payload.data,
    timestamp: message.timestamp,
    from: "",
    replayed: true,
  };
}

/** A topic's logged messages, oldest first (see {@link HistoryOptions}). */
export function readHistory(
  log: TopicLog,
  codec: MessageCodec,
  topic: string,
  options: HistoryOptions = {},
): ReceivedMessage[] {
  const since = options.since ?? 0;
  const limit = options.limit ?? 1_000;
  if (!Number.isSafeInteger(since) || since < 0) throw new RangeError("history: since must be a timestamp >= 0");
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
    throw new RangeError(`history: limit must be an integer in 1..${MAX_HISTORY_LIMIT}`);
  }
  return log.list(topic, { since, limit }).map((entry) => received(codec, entry));
}

/**
 * A subscription's replay of `topic`'s log from `since`, page by page; `log` gives the log (it throws when the
 * node has none yet).
 *
 * @throws {RangeError} without a named topic, or for a `since` that is no timestamp
 */
export function sinceReplay(
  log: () => TopicLog,
  codec: MessageCodec,
  topic: string | undefined,
  since: number,
): Replay {
  if (topic === undefined) throw new RangeError("subscribe: since replays a named topic's log; give the topic");
  if (!Number.isSafeInteger(since) || since < 0) {
    throw new RangeError("subscribe: since must be a timestamp >= 0 (ms since the epoch)");
  }
  return replayOf(log(), codec, topic, since);
}

/** A replay of `topic`'s log from `since`, page by page. */
function replayOf(log: TopicLog, codec: MessageCodec, topic: string, since: number): Replay {
  return (cursor, limit) => {
    const page = cursor === undefined
      ? log.list(topic, { since, limit })
      : log.list(topic, { since: cursor.timestamp, afterId: receivedId(cursor), limit });
    return page.map((entry) => received(codec, entry));
  };
}

/** What a node's topic log holds, in total and per topic (see {@link TopicLogStats}). */
export function topicLogStats(log: TopicLog): TopicLogStats {
  const topics = log.topics().map((topic) => log.summary(topic));
  return {
    messages: topics.reduce((n, t) => n + t.count, 0),
    bytes: topics.reduce((n, t) => n + t.bytes, 0),
    topics,
  };
}
