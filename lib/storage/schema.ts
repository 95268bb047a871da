/**
 * The SQLite file format: the schema as an ordered list of migrations, the
 * statements that read and write its tables, and the mapping of rows to the
 * storage records. Everything that names a table or column is here.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import {
  type SeenMessage,
  StorageError,
  type StoredAddress,
  type StoredDhtContact,
  type StoredPeer,
  type TrustEvent,
} from "./types.ts";

/**
 * Schema migrations, in order: element `i` brings a database from version
 * `i` to version `i + 1`. Version 1 is the design's four tables; version 2
 * adds what real use needs (peer counters and decay time, coalesced event
 * counts, indexes for pruning and lookups); version 3 moves the address book to its own
 * table; version 4 adds the DHT's routing table; version 5 the topic log. Never edit a released step; add one.
 */
export const SCHEMA_MIGRATIONS: readonly string[] = [
  `CREATE TABLE peers (
     node_id TEXT PRIMARY KEY,
     address TEXT NOT NULL,
     public_key BLOB,
     last_seen INTEGER NOT NULL,
     trust_score REAL NOT NULL
   );
   CREATE TABLE messages_seen (
     message_id BLOB PRIMARY KEY,
     timestamp INTEGER NOT NULL,
     sender_id TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE trust_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     node_id TEXT NOT NULL,
     event_type TEXT NOT NULL,
     trust_delta REAL NOT NULL,
     timestamp INTEGER NOT NULL
   );
   CREATE TABLE network_state (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   );`,
  `ALTER TABLE peers ADD COLUMN first_seen INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN trust_updated_at INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN valid_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN invalid_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN timeout_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE peers ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
   UPDATE peers SET first_seen = last_seen, trust_updated_at = last_seen;
   ALTER TABLE trust_events ADD COLUMN trust_after REAL NOT NULL DEFAULT 0;
   ALTER TABLE trust_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
   CREATE INDEX peers_by_trust ON peers (trust_score DESC, last_seen DESC);
   CREATE INDEX messages_seen_by_time ON messages_seen (timestamp);
   CREATE INDEX trust_events_by_node ON trust_events (node_id, id);
   CREATE INDEX trust_events_by_time ON trust_events (timestamp);`,
  // Version 3: the address book gets its own bounded table (issue 21); hearsay rows without any trust history,
  // which the old book wrote into peers, are dropped (at most the old book's 1,000 entries carry over).
  `CREATE TABLE addresses (
     node_id TEXT PRIMARY KEY,
     address TEXT NOT NULL,
     source TEXT NOT NULL,
     tried INTEGER NOT NULL,
     last_seen INTEGER NOT NULL,
     last_success INTEGER NOT NULL,
     failures INTEGER NOT NULL
   ) WITHOUT ROWID;
   INSERT INTO addresses (node_id, address, source, tried, last_seen, last_success, failures)
     SELECT node_id, address, '', 0, last_seen, 0, failures FROM peers WHERE address != ''
     ORDER BY trust_score DESC, last_seen DESC LIMIT 1000;
   DELETE FROM peers WHERE public_key IS NULL AND trust_score = 0.5 AND valid_count = 0 AND invalid_count = 0
     AND timeout_count = 0
     AND node_id NOT IN (SELECT node_id FROM trust_events);
   UPDATE peers SET address = '';`,
  // Version 4: the DHT's routing table (issue 24), so a restarted node starts from the contacts it had.
  `CREATE TABLE dht_contacts (
     node_id TEXT PRIMARY KEY,
     address TEXT NOT NULL,
     last_seen INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Version 5: the topic log (issue 25, lib/catchup/sqlite_log.ts): the signed envelopes of the topics the node
  // is in, read in (timestamp, id) order per topic, the order set reconciliation and replay use.
  `CREATE TABLE topic_log (
     id BLOB PRIMARY KEY,
     topic TEXT NOT NULL,
     timestamp INTEGER NOT NULL,
     origin TEXT NOT NULL,
     envelope BLOB NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX topic_log_by_topic ON topic_log (topic, timestamp, id);`,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION: number = SCHEMA_MIGRATIONS.length;

/** A row as node:sqlite returns it. */
export type Row = Record<string, unknown>;

/** The peer a `peers` row holds. */
export function peerFromRow(row: Row): StoredPeer {
  return {
    nodeId: row.node_id as string,
    address: row.address as string,
    publicKey: row.public_key ? new Uint8Array(row.public_key as Uint8Array) : null,
    firstSeen: Number(row.first_seen),
    lastSeen: Number(row.last_seen),
    trustScore: Number(row.trust_score),
    trustUpdatedAt: Number(row.trust_updated_at),
    validCount: Number(row.valid_count),
    invalidCount: Number(row.invalid_count),
    timeoutCount: Number(row.timeout_count),
    failures: Number(row.failures),
  };
}

/** The entry an `addresses` row holds. */
export function addressFromRow(row: Row): StoredAddress {
  return {
    nodeId: row.node_id as string,
    address: row.address as string,
    source: row.source as string,
    tried: Number(row.tried) === 1,
    lastSeen: Number(row.last_seen),
    lastSuccess: Number(row.last_success),
    failures: Number(row.failures),
  };
}

/** The contact a `dht_contacts` row holds. */
export function dhtContactFromRow(row: Row): StoredDhtContact {
  return { nodeId: row.node_id as string, address: row.address as string, lastSeen: Number(row.last_seen) };
}

/** The event a `trust_events` row holds. */
export function eventFromRow(row: Row): TrustEvent {
  return {
    nodeId: row.node_id as string,
    eventType: row.event_type as string,
    trustDelta: Number(row.trust_delta),
    trustAfter: Number(row.trust_after),
    timestamp: Number(row.timestamp),
    count: Number(row.count),
  };
}

/** The seen id a `messages_seen` row holds. */
export function seenFromRow(row: Row): SeenMessage {
  return {
    messageId: new Uint8Array(row.message_id as Uint8Array),
    timestamp: Number(row.timestamp),
    senderId: row.sender_id as string,
  };
}

/** The statements {@link prepareStatements} prepares, by name. */
export type Statements = Record<
  | "upsertPeer"
  | "deletePeer"
  | "getPeer"
  | "listPeers"
  | "countPeers"
  | "upsertAddress"
  | "deleteAddress"
  | "listAddresses"
  | "countAddresses"
  | "clearDhtContacts"
  | "insertDhtContact"
  | "listDhtContacts"
  | "insertEvent"
  | "listEvents"
  | "insertSeen"
  | "hasSeen"
  | "listSeen"
  | "countSeen"
  | "setState"
  | "getState"
  | "pruneSeen"
  | "pruneEventsByTime"
  | "pruneEventsByCount",
  StatementSync
>;

/** Prepares every statement the store runs, once per open database. */
export function prepareStatements(db: DatabaseSync): Statements {
  return {
    upsertPeer: db.prepare(
      `INSERT INTO peers (node_id, address, public_key, first_seen, last_seen, trust_score, trust_updated_at,
                          valid_count, invalid_count, timeout_count, failures)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, public_key = excluded.public_key,
         first_seen = excluded.first_seen, last_seen = excluded.last_seen, trust_score = excluded.trust_score,
         trust_updated_at = excluded.trust_updated_at, valid_count = excluded.valid_count,
         invalid_count = excluded.invalid_count, timeout_count = excluded.timeout_count, failures = excluded.failures`,
    ),
    deletePeer: db.prepare("DELETE FROM peers WHERE node_id = ?"),
    getPeer: db.prepare("SELECT * FROM peers WHERE node_id = ?"),
    listPeers: db.prepare("SELECT * FROM peers ORDER BY trust_score DESC, last_seen DESC, node_id LIMIT ?"),
    countPeers: db.prepare("SELECT count(*) AS n FROM peers"),
    upsertAddress: db.prepare(
      `INSERT OR REPLACE INTO addresses (node_id, address, source, tried, last_seen, last_success, failures)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteAddress: db.prepare("DELETE FROM addresses WHERE node_id = ?"),
    listAddresses: db.prepare("SELECT * FROM addresses ORDER BY tried DESC, last_seen DESC, node_id LIMIT ?"),
    countAddresses: db.prepare("SELECT count(*) AS n FROM addresses"),
    clearDhtContacts: db.prepare("DELETE FROM dht_contacts"),
    insertDhtContact: db.prepare("INSERT OR REPLACE INTO dht_contacts (node_id, address, last_seen) VALUES (?, ?, ?)"),
    listDhtContacts: db.prepare("SELECT * FROM dht_contacts ORDER BY last_seen DESC, node_id"),
    insertEvent: db.prepare(
      "INSERT INTO trust_events (node_id, event_type, trust_delta, trust_after, timestamp, count) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    listEvents: db.prepare("SELECT * FROM trust_events WHERE node_id = ? ORDER BY id DESC LIMIT ?"),
    insertSeen: db.prepare("INSERT OR IGNORE INTO messages_seen (message_id, timestamp, sender_id) VALUES (?, ?, ?)"),
    hasSeen: db.prepare("SELECT 1 AS found FROM messages_seen WHERE message_id = ?"),
    listSeen: db.prepare(
      "SELECT * FROM messages_seen WHERE timestamp >= ? ORDER BY timestamp, message_id LIMIT ?",
    ),
    countSeen: db.prepare("SELECT count(*) AS n FROM messages_seen"),
    setState: db.prepare(
      `INSERT INTO network_state (key, value, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    ),
    getState: db.prepare("SELECT value FROM network_state WHERE key = ?"),
    pruneSeen: db.prepare("DELETE FROM messages_seen WHERE timestamp < ?"),
    pruneEventsByTime: db.prepare("DELETE FROM trust_events WHERE timestamp < ?"),
    pruneEventsByCount: db.prepare(
      "DELETE FROM trust_events WHERE id <= (SELECT max(id) FROM trust_events) - ?",
    ),
  };
}

/**
 * Brings the database at `path` to {@link SCHEMA_VERSION}, one transaction per step.
 *
 * @throws {StorageError} `SCHEMA_TOO_NEW` when it was written by a newer kith, `STORAGE_OPEN` when a step fails
 */
export function migrate(db: DatabaseSync, path: string): void {
  const version = Number((db.prepare("PRAGMA user_version").get() as Row).user_version);
  if (version > SCHEMA_VERSION) {
    throw new StorageError(
      "SCHEMA_TOO_NEW",
      `database ${path} has schema version ${version}, newer than this kith supports (${SCHEMA_VERSION}); upgrade kith or use another data directory`,
    );
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.exec("BEGIN");
    try {
      db.exec(SCHEMA_MIGRATIONS[v]);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw new StorageError(
        "STORAGE_OPEN",
        `cannot migrate database ${path} from schema version ${v} to ${v + 1}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
