/**
 * Discovery: whom to ask for peers (PEER_DISCOVERY), whether to answer a
 * peer's request, and what to announce (PEER_ANNOUNCEMENT), through a cache so
 * that repeated requests within a window get the same answer (as Bitcoin
 * Core's getaddr cache), and probing cannot enumerate the book fast. Pure
 * functions and a cache; the shuffle is passed in so the manager's injected
 * randomness decides ties.
 *
 * @module
 */
import { parseHostPort, parseRelayedAddress } from "../address.ts";
import { fromHex, toHex } from "../bytes.ts";
import { MAX_PEER_LIST, MessageType, type PeerRecord } from "../protocol/mod.ts";
import type { PeersConfig } from "./config.ts";
import type { ActiveState, KnownPeer } from "./types.ts";
import { announces, RELAY_CAPABILITY } from "../version.ts";

/** The message types the peer manager answers itself; every other envelope goes up to gossip. */
export const LINK_TYPES: ReadonlySet<number> = new Set([
  MessageType.HEARTBEAT,
  MessageType.PEER_DISCOVERY,
  MessageType.PEER_ANNOUNCEMENT,
]);

/** Shuffles in place and returns the array. */
export type Shuffle = <T>(items: T[]) => T[];

/**
 * Up to `limit` dialable addresses to tell `requester` about: active peers first (seen now), then known
 * peers this node's own outbound connections reached ("tried") and saw within `addressMaxAgeMs`, each
 * group in shuffled order.
 */
export function announceable(
  requester: string,
  limit: number,
  now: number,
  active: Iterable<ActiveState>,
  known: Iterable<KnownPeer>,
  addressOf: (nodeId: string) => string,
  config: Pick<PeersConfig, "addressMaxAgeMs">,
  shuffle: Shuffle,
): PeerRecord[] {
  const records: PeerRecord[] = [];
  const add = (nodeId: string, address: string, lastSeen: number) => {
    if (nodeId !== requester && parseHostPort(address)) {
      records.push({ nodeId: fromHex(nodeId)!, address, lastSeen });
    }
  };
  const activePeers = [...active];
  for (const peer of shuffle(activePeers)) add(peer.nodeId, addressOf(peer.nodeId), now);
  const activeIds = new Set(activePeers.map((p) => p.nodeId));
  const recent = [...known].filter((k) =>
    !activeIds.has(k.nodeId) && k.tried && now - k.lastSeen <= config.addressMaxAgeMs
  );
  for (const k of shuffle(recent)) add(k.nodeId, k.address, k.lastSeen);
  return records.slice(0, limit);
}

/**
 * The peers to send PEER_DISCOVERY now, or undefined when no round is due: a round runs while below
 * `minPeers` (asking `discoveryFanout` peers) or every `discoveryIntervalMs` (asking one), and asks no peer
 * more often than `discoveryMinIntervalMs`.
 */
export function discoveryTargets(
  active: Iterable<ActiveState>,
  activeCount: number,
  now: number,
  lastDiscovery: number,
  config: Pick<PeersConfig, "minPeers" | "discoveryIntervalMs" | "discoveryMinIntervalMs" | "discoveryFanout">,
  shuffle: Shuffle,
): ActiveState[] | undefined {
  const below = activeCount < config.minPeers;
  const due = now - lastDiscovery >= config.discoveryIntervalMs;
  if (!below && !due) return undefined;
  const askable = [...active].filter((p) => now - p.lastDiscoveryAsked >= config.discoveryMinIntervalMs);
  if (askable.length === 0) return undefined;
  return shuffle(askable).slice(0, below ? config.discoveryFanout : 1);
}

/** Whether `peer`'s PEER_DISCOVERY at `now` is answered; if so, records the answer. */
export function takeDiscoveryAnswer(
  peer: ActiveState,
  now: number,
  config: Pick<PeersConfig, "discoveryMinIntervalMs">,
): boolean {
  if (now - peer.lastDiscoveryAnswered < config.discoveryMinIntervalMs) return false;
  peer.lastDiscoveryAnswered = now;
  return true;
}

/**
 * The answer to PEER_DISCOVERY, built once and reused: within `addressCacheMs` every requester gets the same
 * records (less itself), cut to what it asked for. An answer that is not full (the node knows fewer than 64
 * addresses to give) is rebuilt at most every `discoveryMinIntervalMs`, so a young node's answers still grow.
 */
export class AnswerCache {
  #records: PeerRecord[] = [];
  #builtAt = -Infinity;
  readonly #config: Pick<PeersConfig, "addressCacheMs" | "discoveryMinIntervalMs">;

  /** Creates an empty cache. */
  constructor(config: Pick<PeersConfig, "addressCacheMs" | "discoveryMinIntervalMs">) {
    this.#config = config;
  }

  /** Up to `limit` records for `requester` at `now`; `build(max)` makes a fresh answer when the cache is due. */
  answer(requester: string, limit: number, now: number, build: (max: number) => PeerRecord[]): PeerRecord[] {
    const age = now - this.#builtAt;
    const full = this.#records.length >= MAX_PEER_LIST;
    if (age >= this.#config.addressCacheMs || (!full && age >= this.#config.discoveryMinIntervalMs)) {
      this.#records = build(MAX_PEER_LIST);
      this.#builtAt = now;
    }
    const out: PeerRecord[] = [];
    for (const record of this.#records) {
      if (out.length >= limit) break;
      if (toHex(record.nodeId) !== requester) out.push(record);
    }
    return out;
  }
}

/**
 * The records of `peers` a peer with handshake agent `agent` can take: all of them when it announces `relay/1`,
 * else only those with direct addresses, since a kith without relayed addresses refuses a list naming one
 * (`BAD_FIELD`) and charges the node that sent it.
 */
export function recordsFor<T extends { address: string }>(agent: string, peers: T[]): T[] {
  if (announces(agent, RELAY_CAPABILITY)) return peers;
  return peers.filter((record) => parseRelayedAddress(record.address) === undefined);
}
