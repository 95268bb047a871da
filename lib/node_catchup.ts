/**
 * A node's topic log and catch-up (lib/catchup/) as the node uses them: which log it keeps (SQLite beside its SQLite
 * storage, memory beside memory storage), the one delivery path of topic messages and the catch-up with peers wired
 * to the node's other parts, and the log read back as the application sees messages (history, replay).
 * `KithNode` calls these at start and from its methods.
 *
 * @module
 */
import { toHex } from "./bytes.ts";
import type { Clock } from "./clock.ts";
import {
  CatchupSync,
  type CausalConfig,
  entryMessage,
  type LogEntry,
  MemoryTopicLog,
  SqliteTopicLog,
  TopicDelivery,
  type TopicLog,
  type TopicRetention,
} from "./catchup/mod.ts";
import type { GossipProtocol } from "./gossip/mod.ts";
import type { Identity } from "./identity.ts";
import type { LogSink } from "./log.ts";
import type { PeerManager } from "./peers/mod.ts";
import { DisconnectReason, type MessageCodec } from "./protocol/mod.ts";
import type { RandomSource } from "./random.ts";
import { SqliteStorage, type Storage } from "./storage/mod.ts";
import type { NodeSettings, TopicLogStats } from "./node_options.ts";
import { receivedId, type ReceivedMessage, type Replay, type Subscriptions } from "./subscriptions.ts";
import type { TopicOverlays } from "./topics/mod.ts";
import { announces, CATCHUP_CAPABILITY } from "./version.ts";

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

/** What a node's topic delivery and catch-up are made of. */
export interface CatchupWiring {
  /** The node's identity. */
  identity: Identity;
  /** Its clock. */
  clock: Clock;
  /** Its randomness (default `Math.random`). */
  random: RandomSource | undefined;
  /** Its codec. */
  codec: MessageCodec;
  /** Its log sink. */
  log: LogSink;
  /** Its topic log. */
  topicLog: TopicLog;
  /** Each topic's retention. */
  retention: (topic: string) => TopicRetention;
  /** The causal buffer's settings. */
  causal: CausalConfig;
  /** The node's settings: catch-up's, and the topics' (each topic's largest message). */
  settings: Pick<NodeSettings, "catchup" | "topics">;
  /** The network-wide overlay (the node-wide largest message). */
  gossip: GossipProtocol;
  /** The topic overlays: which topics the node is in, and their peers. */
  topics: TopicOverlays;
  /** The peer manager: links, penalties. */
  peers: PeerManager;
  /** The application's subscriptions, where delivered messages go. */
  subscriptions: Subscriptions;
}

/**
 * The node's one delivery path of topic messages (exactly once, logged, in causal order) and its catch-up with
 * peers, whose fetched messages take that path too.
 */
export function wireCatchup(w: CatchupWiring): { delivery: TopicDelivery; catchup: CatchupSync } {
  const { topics, peers, retention } = w;
  const delivery = new TopicDelivery({
    log: w.topicLog,
    retention,
    codec: w.codec,
    clock: w.clock,
    isIn: (topic) => topics.gossipOf(topic) !== undefined,
    deliver: (message, from, missing) => w.subscriptions.deliver(message, from, missing),
    // In the topic's overlay: its later gossip copies are then duplicates in memory, before their signature.
    markSeen: (message, from) => topics.gossipOf(message.payload.topic)?.markSeen(message.id, from),
    // What the log took before this start may have lost its seen mark in a crash: those are still checked.
    logCheckedThrough: w.clock.now() + w.codec.limits.maxClockSkewMs,
    config: w.causal,
    logSink: w.log,
  });
  const speaksCatchup = (nodeId: string) => {
    const peer = peers.activePeer(nodeId);
    return peer !== undefined && announces(peer.connection.agent, CATCHUP_CAPABILITY);
  };
  const catchup = new CatchupSync({
    identity: w.identity,
    clock: w.clock,
    random: w.random ?? Math.random,
    codec: w.codec,
    config: w.settings.catchup,
    log: w.topicLog,
    // Fetched messages take the live path's way to the application: exactly once, logged, in causal order.
    sink: delivery,
    windowMs: (topic) => retention(topic).maxAgeMs,
    maxMessageBytes: (topic) =>
      w.settings.topics.topicSettings[topic]?.maxMessageBytes ?? w.gossip.config.maxApplicationPayloadBytes,
    joined: () => topics.topics().map((t) => t.topic),
    peersIn: (topic) => topics.topicPeers(topic),
    speaks: speaksCatchup,
    send: (nodeId, bytes) => peers.activePeer(nodeId)?.connection.sendEncoded(bytes) ?? false,
    penalise: (nodeId, code) => peers.penalise(nodeId, code),
    disconnect: (nodeId, detail) => {
      void peers.activePeer(nodeId)?.connection.close(DisconnectReason.PROTOCOL_ERROR, detail);
    },
    logSink: w.log,
  });
  return { delivery, catchup };
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
