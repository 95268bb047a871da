/**
 * Dialing policy: how many dials to start, which known addresses to dial
 * (subnet diversity first, then trust), and how long to wait after a failure
 * (exponential backoff with jitter). Pure functions; the manager runs the dials.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { type NetworkGroup, networkGroup } from "../netgroup.ts";
import type { RandomSource } from "../random.ts";
import type { TrustModel } from "../trust.ts";
import { groupCounts } from "./admission.ts";
import type { PeersConfig } from "./config.ts";
import type { ActivePeer, KnownPeer } from "./types.ts";

/**
 * How many dials to start now: enough to reach `minPeers` and fill the outbound slots, within the
 * concurrent-dial and `maxPeers` bounds, counting dials already in flight.
 */
export function dialBudget(
  config: Pick<PeersConfig, "minPeers" | "outboundSlots" | "maxConcurrentDials" | "maxPeers">,
  active: number,
  outbound: number,
  inFlight: number,
): number {
  const want = Math.max(config.minPeers - active, config.outboundSlots - outbound) - inFlight;
  return Math.min(want, config.maxConcurrentDials - inFlight, config.maxPeers - active - inFlight);
}

/** The delay before the next dial after `failures` consecutive failures (at least 1), ms. */
export function backoffMs(
  failures: number,
  config: Pick<PeersConfig, "dialBackoffMs" | "maxDialBackoffMs">,
  random: RandomSource,
): number {
  const base = Math.min(config.maxDialBackoffMs, config.dialBackoffMs * 2 ** Math.min(30, failures - 1));
  return Math.round(base * (0.75 + 0.5 * random())); // jitter, so peers do not retry in lockstep
}

/** Whether `known` may be dialed at `now`: not busy, out of backoff, recently seen, and trusted enough. */
export function isDialable(
  known: KnownPeer,
  now: number,
  busy: (nodeId: string) => boolean,
  config: Pick<PeersConfig, "addressMaxAgeMs">,
  trust: Pick<TrustModel, "canDial">,
): boolean {
  return !busy(known.nodeId) && known.nextDialAt <= now && now - known.lastSeen <= config.addressMaxAgeMs &&
    trust.canDial(known.nodeId);
}

/**
 * Up to `budget` of `candidates` (shuffled by the caller, which breaks ties) to dial: within the per-IP and
 * per-subnet bounds counting `active` peers and dials `pending`, fewest peers in the same subnet first, then
 * the most EARNED trust, then (a weak tie-breaker, in practice between strangers) the most recommended, and
 * no more picked in one subnet than its bound leaves room for.
 */
export function pickDialTargets(
  candidates: readonly KnownPeer[],
  active: Iterable<ActivePeer>,
  pending: readonly NetworkGroup[],
  budget: number,
  config: Pick<PeersConfig, "maxPeersPerIp" | "maxPeersPerSubnet">,
  trust: Pick<TrustModel, "trust"> & Partial<Pick<TrustModel, "recommended">>,
): KnownPeer[] {
  const activePeers = [...active];
  const scored = candidates.map((known) => {
    const group = networkGroup(parseHostPort(known.address)!.host);
    const counts = groupCounts(activePeers, group);
    for (const g of pending) {
      if (g.host === group.host) counts.host++;
      if (g.subnet === group.subnet) counts.subnet++;
    }
    const recommended = trust.recommended?.(known.nodeId) ?? 0;
    return { known, group, counts, trust: trust.trust(known.nodeId), recommended };
  }).filter((c) => c.counts.host < config.maxPeersPerIp && c.counts.subnet < config.maxPeersPerSubnet)
    // Diversity first (fewest peers in the same subnet), then earned trust; recommendations only break ties.
    .sort((a, b) => a.counts.subnet - b.counts.subnet || b.trust - a.trust || b.recommended - a.recommended);
  const chosenSubnets = new Map<string, number>();
  const picked: KnownPeer[] = [];
  for (const candidate of scored) {
    if (picked.length >= budget) break;
    const planned = chosenSubnets.get(candidate.group.subnet) ?? 0;
    if (candidate.counts.subnet + planned >= config.maxPeersPerSubnet) continue;
    chosenSubnets.set(candidate.group.subnet, planned + 1);
    picked.push(candidate.known);
  }
  return picked;
}
