/**
 * Whom to evict when a newcomer needs a slot: protection on several
 * criteria, as Bitcoin Core's SelectNodeToEvict does, instead of one score an
 * attacker could buy. Each criterion protects a few peers; an attacker can
 * win some of them cheaply (publishing its own messages counts as novel, on
 * loopback everyone's round trip is alike) but not all of them at once, and
 * the peers that have been here longest keep half of what is left. In order:
 *
 * 1. peers worse than a stranger (earned trust below the initial trust, by
 *    their own behaviour) go first, lowest reputation first, unprotected;
 * 2. one peer (the longest connected) from each of `byNetgroup` distinct
 *    subnets, chosen by a keyed hash of the subnet so that an attacker cannot
 *    predict which subnets are protected;
 * 3. the `byRtt` peers with the lowest measured heartbeat round trip
 *    (lowering it means moving closer);
 * 4. the `byNovelty` peers that most recently brought a first-seen message
 *    (useful work);
 * 5. the longest-connected `longevityShare` of the rest (attacks that start
 *    later cannot displace them);
 * 6. only then the `byTrust` peers with the highest reputation, which reads
 *    earned trust only (recommendations never count here);
 * 7. of the rest, the youngest peer of the subnet with the most of them is
 *    evicted (ties: the subnet whose youngest member is youngest). With no
 *    one left, nobody is evicted and the newcomer is refused.
 *
 * A pure function of the candidates, so each rule is tested without a network.
 *
 * @module
 */

/** What eviction knows of one peer that may be displaced. */
export interface EvictionCandidate {
  /** Node id (hex). */
  readonly nodeId: string;
  /** Its subnet (a netgroup key: /24 or /48). */
  readonly subnet: string;
  /** When it connected, ms. */
  readonly connectedAt: number;
  /** Lowest measured heartbeat round trip, ms; undefined when never measured. */
  readonly minRttMs: number | undefined;
  /** When it last brought a first-seen message, ms; -Infinity when never. */
  readonly lastNovelAt: number;
  /** Its earned trust. */
  readonly trust: number;
  /** Its reputation (from earned trust). */
  readonly reputation: number;
}

/** How many peers each criterion protects. Bitcoin Core's figures, for its ~117 inbound slots, except `byRtt`. */
export interface EvictionProtection {
  /** Distinct subnets protected (one peer each). Default 4. */
  byNetgroup: number;
  /** Peers with the lowest round trip protected. Default 8. */
  byRtt: number;
  /** Peers that most recently brought a first-seen message protected. Default 4. */
  byNovelty: number;
  /** Share of the remaining peers protected for having been connected longest. Default 0.5. */
  longevityShare: number;
  /** Highest-reputation peers protected, after all the above. Default 4. */
  byTrust: number;
}

/** Default protection counts. */
export const DEFAULT_EVICTION_PROTECTION: Readonly<EvictionProtection> = Object.freeze({
  byNetgroup: 4,
  byRtt: 8,
  byNovelty: 4,
  longevityShare: 0.5,
  byTrust: 4,
});

/** A 32-bit keyed hash (FNV-1a over the salt and the subnet): which subnets are protected, unpredictably. */
export function keyedNetgroupHash(subnet: string, salt: number): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < subnet.length; i++) {
    h ^= subnet.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final mix, so that subnets differing in their last character spread over the whole range.
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 12)) >>> 0;
}

/** Older first; equal times by node id, so the choice is deterministic. */
function byAge(a: EvictionCandidate, b: EvictionCandidate): number {
  return a.connectedAt - b.connectedAt || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0);
}

/** Removes from `rest` the first `k` of it in `order`, among those `eligible`. */
function protect(
  rest: EvictionCandidate[],
  k: number,
  order: (a: EvictionCandidate, b: EvictionCandidate) => number,
  eligible: (c: EvictionCandidate) => boolean = () => true,
): EvictionCandidate[] {
  const chosen = new Set(rest.filter(eligible).sort(order).slice(0, Math.max(0, k)));
  return rest.filter((c) => !chosen.has(c));
}

/**
 * The node id to evict among `candidates`, or undefined when every one is protected.
 *
 * @param initialTrust a stranger's trust: candidates below it go first (rule 1)
 * @param salt the key of the netgroup hash: random, drawn once per node
 */
export function selectEvictionVictim(
  candidates: readonly EvictionCandidate[],
  initialTrust: number,
  salt: number,
  protection: Readonly<EvictionProtection> = DEFAULT_EVICTION_PROTECTION,
): string | undefined {
  const worse = candidates.filter((c) => c.trust < initialTrust);
  if (worse.length > 0) {
    worse.sort((a, b) => a.reputation - b.reputation || byAge(b, a));
    return worse[0].nodeId;
  }
  let rest = [...candidates];
  // 2. one peer from each of a few distinct subnets, by keyed hash.
  const subnets = [...new Set(rest.map((c) => c.subnet))]
    .map((subnet) => ({ subnet, key: keyedNetgroupHash(subnet, salt) }))
    .sort((a, b) => b.key - a.key || (a.subnet < b.subnet ? -1 : 1))
    .slice(0, Math.max(0, protection.byNetgroup));
  for (const { subnet } of subnets) rest = protect(rest, 1, byAge, (c) => c.subnet === subnet);
  // 3. lowest round trip, among peers whose round trip was measured.
  rest = protect(
    rest,
    protection.byRtt,
    (a, b) => a.minRttMs! - b.minRttMs! || byAge(a, b),
    (c) => c.minRttMs !== undefined,
  );
  // 4. most recent first-seen messages, among peers that brought any.
  rest = protect(
    rest,
    protection.byNovelty,
    (a, b) => b.lastNovelAt - a.lastNovelAt || byAge(a, b),
    (c) => c.lastNovelAt > -Infinity,
  );
  // 5. longevity: the oldest share of the rest.
  rest = protect(rest, Math.floor(rest.length * protection.longevityShare), byAge);
  // 6. only then earned reputation.
  rest = protect(rest, protection.byTrust, (a, b) => b.reputation - a.reputation || byAge(a, b));
  if (rest.length === 0) return undefined;
  // 7. the youngest of the subnet with the most peers left (ties: the subnet whose youngest is youngest).
  const groups = new Map<string, EvictionCandidate[]>();
  for (const c of rest) {
    const group = groups.get(c.subnet);
    if (group) group.push(c);
    else groups.set(c.subnet, [c]);
  }
  let victim: EvictionCandidate | undefined, size = 0;
  for (const group of groups.values()) {
    const youngest = group.reduce((y, c) => byAge(c, y) > 0 ? c : y);
    if (group.length > size || (group.length === size && byAge(youngest, victim!) > 0)) {
      [victim, size] = [youngest, group.length];
    }
  }
  return victim!.nodeId;
}
