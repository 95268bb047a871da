/**
 * What a DHT node keeps for others: signed records (`records.ts`) and provider records (who provides a key,
 * such as a topic), each with an expiry, and every count bounded: in total, per owner, per provider, and per
 * the subnet of the peer that stored it, so one operator cannot fill the store. A full store refuses new
 * entries rather than evicting old ones, so an attacker cannot push honest records out; expired entries go at
 * each `prune`.
 *
 * Records are checked (`verifyRecord`) by the caller before they come here; the store applies the sequence
 * rule: a record replaces the one under its key only with a higher sequence number.
 *
 * @module
 */
import { bytesKey, toHex } from "../bytes.ts";
import { checkCounts } from "./routing_table.ts";
import type { SignedRecord } from "./records.ts";

/** Bounds of a {@link DhtStore}. */
export interface DhtStoreConfig {
  /** Signed records kept. Default 4,096. */
  maxRecords: number;
  /** Records of one owner (public key). Default 16. */
  maxRecordsPerOwner: number;
  /** Records and provider records stored by peers of one subnet (/24, IPv6 /48). Default 256. */
  maxPerSourceSubnet: number;
  /** Bytes of record values kept. Default 4 MiB. */
  maxRecordBytes: number;
  /** Provider records kept. Default 16,384. */
  maxProviders: number;
  /** Providers kept per key. Default 64: enough peers to join a topic by. */
  maxProvidersPerKey: number;
  /** Keys one provider may provide. Default 64, the most topics a node is in. */
  maxKeysPerProvider: number;
}

/** The default {@link DhtStoreConfig}. */
export const DEFAULT_DHT_STORE_CONFIG: Readonly<DhtStoreConfig> = Object.freeze({
  maxRecords: 4_096,
  maxRecordsPerOwner: 16,
  maxPerSourceSubnet: 256,
  maxRecordBytes: 4 * 1024 * 1024,
  maxProviders: 16_384,
  maxProvidersPerKey: 64,
  maxKeysPerProvider: 64,
});

/** A provider of a key: a node and where it listens, until it expires. */
export interface ProviderRecord {
  /** The provider's node id, hex. */
  nodeId: string;
  /** Its address, `host:port`. */
  address: string;
  /** When it expires, ms since the epoch. */
  expiresAt: number;
}

/** What {@link DhtStore.put} did with a record, or why it refused it. */
export type PutOutcome = "stored" | "replaced" | "unchanged" | "STALE_SEQ" | "CONFLICT" | "FULL";

interface KeptRecord {
  record: SignedRecord;
  owner: string;
  source: string;
}

/** Records and provider records kept for the DHT. */
export class DhtStore {
  /** The bounds in force. */
  readonly config: Readonly<DhtStoreConfig>;
  readonly #records = new Map<string, KeptRecord>();
  readonly #perOwner = new Map<string, number>();
  readonly #perSource = new Map<string, number>();
  #recordBytes = 0;
  // key -> provider node id -> provider record (and the source subnet it counts against).
  readonly #providers = new Map<string, Map<string, ProviderRecord & { source: string }>>();
  readonly #keysPerProvider = new Map<string, number>();
  #providerCount = 0;

  /** Creates an empty store. @throws {ConfigError} naming an invalid bound */
  constructor(config: Partial<DhtStoreConfig> = {}) {
    this.config = Object.freeze(checkCounts({ ...DEFAULT_DHT_STORE_CONFIG, ...config }));
  }

  /** Records kept, their value bytes, and provider records kept. */
  get sizes(): { records: number; recordBytes: number; providers: number } {
    return { records: this.#records.size, recordBytes: this.#recordBytes, providers: this.#providerCount };
  }

  /**
   * Keeps a checked `record` under `key`, stored by a peer of `sourceSubnet`, at `now`: a new key within the
   * bounds is stored; a known key is replaced only by a higher sequence number (the same record again is
   * `unchanged`; the same number with other contents is a `CONFLICT`, and the first one stays).
   */
  put(key: Uint8Array, record: SignedRecord, sourceSubnet: string, now: number): PutOutcome {
    const id = bytesKey(key);
    this.#pruneKey(id, now);
    const kept = this.#records.get(id);
    if (kept) {
      if (record.seq < kept.record.seq) return "STALE_SEQ";
      if (record.seq === kept.record.seq) {
        return bytesKey(record.signature) === bytesKey(kept.record.signature) ? "unchanged" : "CONFLICT";
      }
      const bytes = this.#recordBytes - kept.record.value.length + record.value.length;
      if (bytes > this.config.maxRecordBytes) return "FULL";
      this.#recordBytes = bytes;
      kept.record = record;
      return "replaced";
    }
    const owner = toHex(record.publicKey);
    if (
      this.#records.size >= this.config.maxRecords ||
      (this.#perOwner.get(owner) ?? 0) >= this.config.maxRecordsPerOwner ||
      (this.#perSource.get(sourceSubnet) ?? 0) >= this.config.maxPerSourceSubnet ||
      this.#recordBytes + record.value.length > this.config.maxRecordBytes
    ) return "FULL";
    this.#records.set(id, { record, owner, source: sourceSubnet });
    count(this.#perOwner, owner, 1);
    count(this.#perSource, sourceSubnet, 1);
    this.#recordBytes += record.value.length;
    return "stored";
  }

  /** The record under `key`, unless it has expired by `now`. */
  get(key: Uint8Array, now: number): SignedRecord | undefined {
    const id = bytesKey(key);
    this.#pruneKey(id, now);
    return this.#records.get(id)?.record;
  }

  /**
   * Notes `provider` as providing `key` until `expiresAt`, told by a peer of `sourceSubnet` (the provider
   * itself, over its authenticated link). Refreshing a provider already kept moves its expiry. False when a
   * bound refuses it.
   */
  addProvider(key: Uint8Array, provider: ProviderRecord, sourceSubnet: string, now: number): boolean {
    const id = bytesKey(key);
    let providers = this.#providers.get(id);
    const known = providers?.get(provider.nodeId);
    if (known && known.expiresAt > now) {
      known.expiresAt = Math.max(known.expiresAt, provider.expiresAt);
      known.address = provider.address;
      return true;
    }
    if (known) this.#dropProvider(id, provider.nodeId);
    providers = this.#providers.get(id);
    if (
      this.#providerCount >= this.config.maxProviders ||
      (providers?.size ?? 0) >= this.config.maxProvidersPerKey ||
      (this.#keysPerProvider.get(provider.nodeId) ?? 0) >= this.config.maxKeysPerProvider ||
      (this.#perSource.get(sourceSubnet) ?? 0) >= this.config.maxPerSourceSubnet
    ) return false;
    if (!providers) this.#providers.set(id, providers = new Map());
    providers.set(provider.nodeId, { ...provider, source: sourceSubnet });
    count(this.#keysPerProvider, provider.nodeId, 1);
    count(this.#perSource, sourceSubnet, 1);
    this.#providerCount++;
    return true;
  }

  /** Up to `limit` providers of `key` not expired at `now`, latest expiry first. */
  providers(key: Uint8Array, now: number, limit: number): ProviderRecord[] {
    const providers = this.#providers.get(bytesKey(key));
    if (!providers) return [];
    const live = [...providers.values()].filter((p) => p.expiresAt > now);
    return live.sort((a, b) => b.expiresAt - a.expiresAt).slice(0, limit)
      .map(({ nodeId, address, expiresAt }) => ({ nodeId, address, expiresAt }));
  }

  /** Drops everything expired by `now`. */
  prune(now: number): void {
    for (const id of [...this.#records.keys()]) this.#pruneKey(id, now);
    for (const [id, providers] of [...this.#providers]) {
      for (const provider of [...providers.values()]) {
        if (provider.expiresAt <= now) this.#dropProvider(id, provider.nodeId);
      }
    }
  }

  #pruneKey(id: string, now: number): void {
    const kept = this.#records.get(id);
    if (!kept || kept.record.expiresAt > now) return;
    this.#records.delete(id);
    count(this.#perOwner, kept.owner, -1);
    count(this.#perSource, kept.source, -1);
    this.#recordBytes -= kept.record.value.length;
  }

  #dropProvider(id: string, nodeId: string): void {
    const providers = this.#providers.get(id);
    const provider = providers?.get(nodeId);
    if (!providers || !provider) return;
    providers.delete(nodeId);
    if (providers.size === 0) this.#providers.delete(id);
    count(this.#keysPerProvider, nodeId, -1);
    count(this.#perSource, provider.source, -1);
    this.#providerCount--;
  }
}

function count(map: Map<string, number>, key: string, delta: number): void {
  const next = (map.get(key) ?? 0) + delta;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
