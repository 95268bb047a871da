/**
 * Admission: which network group a connection counts against, the per-IP
 * and per-subnet bounds, the slots (outbound ones protected from inbound
 * connections) and whom a newcomer may displace (the choice itself is
 * lib/peers/eviction.ts). Pure functions of the active set, so each rule can
 * be tested without a network.
 *
 * On loopback every client socket comes from 127.0.0.1, so to let tests and
 * devnets model distinct hosts, an inbound peer whose socket address is
 * loopback is grouped by the loopback listen address it announced.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { isLoopback, type NetworkGroup, networkGroup } from "../netgroup.ts";
import type { Connection } from "../transport/types.ts";
import type { TrustModel } from "../trust.ts";
import type { PeersConfig } from "./config.ts";
import { type EvictionCandidate, selectEvictionVictim } from "./eviction.ts";
import type { ActivePeer, ActiveState } from "./types.ts";

/** The host and subnet `connection` counts against (see the module doc for loopback). */
export function groupOf(connection: Connection): NetworkGroup {
  const socketHost = parseHostPort(connection.remoteAddress)?.host ?? "";
  if (connection.direction === "inbound" && isLoopback(socketHost)) {
    const announced = parseHostPort(connection.listenAddress)?.host;
    if (announced && isLoopback(announced)) return networkGroup(announced);
  }
  return networkGroup(socketHost);
}

/** How many of `active` (other than `except`) share `group`'s host and its subnet. */
export function groupCounts(
  active: Iterable<ActivePeer>,
  group: NetworkGroup,
  except?: string,
): { host: number; subnet: number } {
  let host = 0, subnet = 0;
  for (const peer of active) {
    if (peer.nodeId === except) continue;
    if (peer.group.host === group.host) host++;
    if (peer.group.subnet === group.subnet) subnet++;
  }
  return { host, subnet };
}

/** How many of `active` are inbound and outbound. */
export function directionCounts(active: Iterable<ActivePeer>): { inbound: number; outbound: number } {
  let inbound = 0, outbound = 0;
  for (const peer of active) {
    if (peer.connection.direction === "inbound") inbound++;
    else outbound++;
  }
  return { inbound, outbound };
}

/** Whether one more peer with these group counts would break the per-IP or per-subnet bound. */
export function overGroupBounds(
  counts: { host: number; subnet: number },
  config: Pick<PeersConfig, "maxPeersPerIp" | "maxPeersPerSubnet">,
): boolean {
  return counts.host >= config.maxPeersPerIp || counts.subnet >= config.maxPeersPerSubnet;
}

/** Whether a newcomer in `direction` finds no free slot: all taken, or (inbound) all but the outbound ones. */
export function slotsFull(
  config: Pick<PeersConfig, "maxPeers" | "outboundSlots">,
  total: number,
  inbound: number,
  direction: "inbound" | "outbound",
): boolean {
  const inboundCap = config.maxPeers - config.outboundSlots;
  return total >= config.maxPeers || (direction === "inbound" && inbound >= inboundCap);
}

/** What {@link evictionVictim} reads besides the active set. */
export interface EvictionView {
  /** Earned trust and reputation (never the recommended component). */
  trust: Pick<TrustModel, "trust" | "reputation" | "initialTrust">;
  /** When a peer last brought a first-seen message (gossip's counters), ms; -Infinity when never. */
  lastNovelAt: (nodeId: string) => number;
  /** Key of the netgroup hash, drawn once per node. */
  salt: number;
}

/**
 * The peer to evict for `newcomer`, chosen by {@link selectEvictionVictim} among those it may displace
 * (inbound newcomers only displace inbound peers, so outbound slots stay protected); undefined when every one
 * is protected, or when the newcomer's own record is worse than a stranger's (it displaces no one).
 */
export function evictionVictim(
  active: Iterable<ActiveState>,
  newcomer: Connection,
  view: EvictionView,
): string | undefined {
  const { trust } = view;
  if (trust.trust(newcomer.remoteNodeId) < trust.initialTrust) return undefined;
  const candidates: EvictionCandidate[] = [];
  for (const p of active) {
    if (newcomer.direction === "inbound" && p.connection.direction !== "inbound") continue;
    candidates.push({
      nodeId: p.nodeId,
      subnet: p.group.subnet,
      connectedAt: p.since,
      minRttMs: p.minRttMs,
      lastNovelAt: view.lastNovelAt(p.nodeId),
      trust: trust.trust(p.nodeId),
      reputation: trust.reputation(p.nodeId),
    });
  }
  return selectEvictionVictim(candidates, trust.initialTrust, view.salt);
}

/** The address to remember for a new peer: its announced listen address, else the one dialed. */
export function dialableAddressOf(connection: Connection): string {
  return parseHostPort(connection.listenAddress)
    ? connection.listenAddress
    : connection.direction === "outbound"
    ? connection.remoteAddress
    : "";
}

/** The fresh state of a peer admitted at `now`. */
export function newActiveState(connection: Connection, group: NetworkGroup, now: number): ActiveState {
  return {
    nodeId: connection.remoteNodeId,
    connection,
    group,
    since: now,
    replaced: false,
    lastHeard: now,
    lastPingAt: now,
    pingSeq: 0,
    pingSentAt: 0,
    rttMs: undefined,
    minRttMs: undefined,
    lastDiscoveryAnswered: -Infinity,
    lastDiscoveryAsked: -Infinity,
    lastTopicDiscoveryAnswered: -Infinity,
    lastTopicDiscoveryAsked: -Infinity,
    pendingAnswers: [],
    lastHeartbeatAnswered: -Infinity,
    announced: [],
  };
}
