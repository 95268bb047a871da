/**
 * The DHT's routing table: Kademlia k-buckets over node ids, one per shared-prefix length with this node's
 * id, each holding at most `k` contacts ordered from least to most recently seen, with a small cache of
 * replacements.
 *
 * - A full bucket keeps its old contacts (Kademlia's preference for long-lived nodes, which an attacker
 *   cannot displace by making new ids): a newcomer goes to the replacement cache, and the caller is told to
 *   check the bucket's least recently seen contact; only when that check fails does the freshest
 *   replacement take its place.
 * - Diversity, as Bitcoin's netgroups: a bucket holds at most `maxPerSubnet` contacts of one /24 (IPv6 /48)
 *   and `maxPerWideGroup` of one /16 (IPv6 /32), so one operator's hosts cannot fill the buckets that lead to
 *   a region of the id space. Loopback addresses are grouped as any IPv4 address, so distinct 127.x.y.z
 *   addresses model distinct hosts and subnets in tests and simulations.
 * - Contacts are added only from authenticated links and answers (the caller's job); the table trusts no id
 *   it is told about.
 *
 * Pure logic: no clock, timers or sockets; the caller passes `now`.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { fromHex, toHex } from "../bytes.ts";
import { ConfigError } from "../errors.ts";
import { networkGroup } from "../netgroup.ts";
import { commonPrefixLength, compareDistance, ID_BITS, ID_BYTES } from "./distance.ts";

/** A node the table knows: its id, where it listens, and when it was last heard from. */
export interface DhtContact {
  /** Node id, hex. */
  readonly nodeId: string;
  /** Node id, 32 bytes. */
  readonly id: Uint8Array;
  /** Its listening address, `host:port`. */
  address: string;
  /** When it was last heard from, ms since the epoch. */
  lastSeen: number;
}

/** Settings of a {@link RoutingTable}. */
export interface RoutingTableConfig {
  /** Contacts per bucket (Kademlia's k). Default 20, as libp2p's kad-dht. */
  k: number;
  /** Contacts of one /24 (IPv6 /48) in a bucket. Default 2. */
  maxPerSubnet: number;
  /** Contacts of one /16 (IPv6 /32) in a bucket. Default 4. */
  maxPerWideGroup: number;
  /** Replacements cached per full bucket; the oldest goes first. Default 8. */
  replacements: number;
}

/** The default {@link RoutingTableConfig}. */
export const DEFAULT_ROUTING_TABLE_CONFIG: Readonly<RoutingTableConfig> = Object.freeze({
  k: 20,
  maxPerSubnet: 2,
  maxPerWideGroup: 4,
  replacements: 8,
});

/** What {@link RoutingTable.add} did. */
export type AddOutcome =
  /** Taken into its bucket. */
  | { kind: "added" }
  /** Already there: marked seen (and its address updated). */
  | { kind: "updated" }
  /** The bucket is full: cached as a replacement; the caller should check `oldest`, and call `failed` if it is gone. */
  | { kind: "full"; oldest: DhtContact }
  /** Refused: too many of its subnet or wider group in the bucket already. */
  | { kind: "diversity" }
  /** Refused: this node itself, or an id or address that is not valid. */
  | { kind: "invalid" };

interface Bucket {
  /** Least recently seen first. */
  contacts: DhtContact[];
  /** Replacements, oldest first. */
  spare: DhtContact[];
}

/** The subnet and wider group of an address, for the diversity bounds. */
export function addressGroups(address: string): { subnet: string; wide: string } | undefined {
  const parsed = parseHostPort(address);
  if (!parsed) return undefined;
  const { subnet } = networkGroup(parsed.host);
  const cut = subnet.lastIndexOf(subnet.startsWith("v4:") ? "." : ":");
  return { subnet, wide: subnet.startsWith("dns:") || cut < 0 ? subnet : subnet.slice(0, cut) };
}

/**
 * Returns `config` once every value is an integer of at least 1 (the DHT's settings all count something).
 *
 * @throws {ConfigError} naming the first that is not, as `dht.<key>`
 */
export function checkCounts<T extends object>(config: T): T {
  for (const [key, value] of Object.entries(config)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigError(`dht.${key}`, `dht.${key} must be an integer of at least 1, got ${JSON.stringify(value)}`);
    }
  }
  return config;
}

/** Kademlia k-buckets around one local id. */
export class RoutingTable {
  /** The settings in force. */
  readonly config: Readonly<RoutingTableConfig>;
  readonly #local: Uint8Array;
  readonly #localHex: string;
  readonly #buckets = new Map<number, Bucket>();
  readonly #where = new Map<string, number>();

  /**
   * Creates an empty table around `localId` (32 bytes).
   *
   * @throws {ConfigError} naming an invalid setting
   */
  constructor(localId: Uint8Array, config: Partial<RoutingTableConfig> = {}) {
    if (localId.length !== ID_BYTES) throw new RangeError(`a node id is ${ID_BYTES} bytes`);
    this.config = Object.freeze(checkCounts({ ...DEFAULT_ROUTING_TABLE_CONFIG, ...config }));
    this.#local = localId;
    this.#localHex = toHex(localId);
  }

  /** Contacts held (not counting replacements). */
  get size(): number {
    return this.#where.size;
  }

  /** The bucket index `nodeId` falls in (its shared-prefix length with this node), or `undefined` for itself. */
  bucketOf(id: Uint8Array): number | undefined {
    const index = commonPrefixLength(this.#local, id);
    return index === ID_BITS ? undefined : index;
  }

  /**
   * Adds or refreshes the contact `nodeId` (hex) at `address`, heard from at `now`. See {@link AddOutcome};
   * nothing is evicted here.
   */
  add(nodeId: string, address: string, now: number): AddOutcome {
    const id = fromHex(nodeId);
    if (!id || id.length !== ID_BYTES || nodeId === this.#localHex) return { kind: "invalid" };
    const groups = addressGroups(address);
    if (!groups) return { kind: "invalid" };
    const index = this.bucketOf(id)!;
    let bucket = this.#buckets.get(index);
    if (!bucket) this.#buckets.set(index, bucket = { contacts: [], spare: [] });
    const at = bucket.contacts.findIndex((c) => c.nodeId === nodeId);
    if (at >= 0) {
      const contact = bucket.contacts[at];
      // A known id moving to another group must still fit the bounds there.
      if (contact.address !== address && !this.#fits(bucket, groups, nodeId)) return { kind: "diversity" };
      bucket.contacts.splice(at, 1);
      contact.address = address;
      contact.lastSeen = Math.max(contact.lastSeen, now);
      bucket.contacts.push(contact);
      return { kind: "updated" };
    }
    if (!this.#fits(bucket, groups, nodeId)) return { kind: "diversity" };
    const contact: DhtContact = { nodeId, id, address, lastSeen: now };
    if (bucket.contacts.length < this.config.k) {
      bucket.contacts.push(contact);
      this.#where.set(nodeId, index);
      return { kind: "added" };
    }
    bucket.spare = bucket.spare.filter((c) => c.nodeId !== nodeId);
    bucket.spare.push(contact);
    if (bucket.spare.length > this.config.replacements) bucket.spare.shift();
    return { kind: "full", oldest: bucket.contacts[0] };
  }

  /** Marks a held contact as heard from at `now` (an authenticated message from it); false when not held. */
  seen(nodeId: string, now: number): boolean {
    const index = this.#where.get(nodeId);
    if (index === undefined) return false;
    const bucket = this.#buckets.get(index)!;
    const at = bucket.contacts.findIndex((c) => c.nodeId === nodeId);
    const [contact] = bucket.contacts.splice(at, 1);
    contact.lastSeen = Math.max(contact.lastSeen, now);
    bucket.contacts.push(contact);
    return true;
  }

  /**
   * The contact did not answer: it leaves its bucket, and the most recently cached replacement that still
   * fits the bucket's diversity bounds takes its place. Returns the replacement, if one moved in.
   */
  failed(nodeId: string): DhtContact | undefined {
    const index = this.#where.get(nodeId);
    if (index === undefined) return undefined;
    const bucket = this.#buckets.get(index)!;
    bucket.contacts = bucket.contacts.filter((c) => c.nodeId !== nodeId);
    this.#where.delete(nodeId);
    for (let i = bucket.spare.length - 1; i >= 0; i--) {
      const candidate = bucket.spare[i];
      const groups = addressGroups(candidate.address);
      if (!groups || !this.#fits(bucket, groups, candidate.nodeId)) continue;
      bucket.spare.splice(i, 1);
      // Replacements wait least recently seen first in line for the next check, as any newcomer.
      bucket.contacts.unshift(candidate);
      this.#where.set(candidate.nodeId, index);
      return candidate;
    }
    if (bucket.contacts.length === 0 && bucket.spare.length === 0) this.#buckets.delete(index);
    return undefined;
  }

  /** Whether the table holds `nodeId`. */
  has(nodeId: string): boolean {
    return this.#where.has(nodeId);
  }

  /** The held contact `nodeId`, if any. */
  get(nodeId: string): DhtContact | undefined {
    const index = this.#where.get(nodeId);
    return index === undefined ? undefined : this.#buckets.get(index)!.contacts.find((c) => c.nodeId === nodeId);
  }

  /** Up to `count` held contacts closest to `target` (32 bytes), closest first; `except` left out. */
  closest(target: Uint8Array, count: number, except?: (contact: DhtContact) => boolean): DhtContact[] {
    const all: DhtContact[] = [];
    for (const bucket of this.#buckets.values()) {
      for (const contact of bucket.contacts) if (!except?.(contact)) all.push(contact);
    }
    all.sort((a, b) => compareDistance(target, a.id, b.id));
    return all.slice(0, count);
  }

  /** Every held contact, bucket by bucket (for persistence and display). */
  *contacts(): IterableIterator<DhtContact> {
    for (const bucket of this.#buckets.values()) yield* bucket.contacts;
  }

  /** Non-empty buckets: index, contacts held, replacements cached, and when the bucket last heard from any. */
  buckets(): { index: number; size: number; replacements: number; lastSeen: number }[] {
    return [...this.#buckets].sort(([a], [b]) => a - b).map(([index, bucket]) => ({
      index,
      size: bucket.contacts.length,
      replacements: bucket.spare.length,
      lastSeen: bucket.contacts.reduce((latest, c) => Math.max(latest, c.lastSeen), -Infinity),
    }));
  }

  /** Whether a contact of `groups` (other than `nodeId` itself) fits the bucket's diversity bounds. */
  #fits(bucket: Bucket, groups: { subnet: string; wide: string }, nodeId: string): boolean {
    let subnet = 0, wide = 0;
    for (const contact of bucket.contacts) {
      if (contact.nodeId === nodeId) continue;
      const other = addressGroups(contact.address);
      if (other?.subnet === groups.subnet) subnet++;
      if (other?.wide === groups.wide) wide++;
    }
    return subnet < this.config.maxPerSubnet && wide < this.config.maxPerWideGroup;
  }
}
