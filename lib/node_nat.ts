/**
 * The node's NAT service wired to its transport and peers (lib/nat/): what it reads of them, what it may do
 * with them (dial back, set the advertised address, take trust), so that the node only routes to it
 * (lib/node_peers.ts).
 *
 * @module
 */
import { parseHostPort } from "./address.ts";
import type { Clock } from "./clock.ts";
import type { NetworkConfig } from "./config.ts";
import type { Identity } from "./identity.ts";
import type { LogSink } from "./log.ts";
import { type NatConfig, NatService, type ReachabilityState, resolveNatConfig } from "./nat/mod.ts";
import type { PeerManager } from "./peers/mod.ts";
import type { MessageCodec } from "./protocol/mod.ts";
import type { RandomSource } from "./random.ts";
import type { Transport } from "./transport/mod.ts";

/** What {@link wireNat} needs of the node. */
export interface NatWiring {
  /** The node's identity. */
  identity: Identity;
  /** Its codec. */
  codec: MessageCodec;
  /** Its clock. */
  clock: Clock;
  /** Its randomness. */
  random: RandomSource;
  /** Its settings: the NAT component's, and the forced advertised address. */
  config: Readonly<NetworkConfig>;
  /** The NAT component's part of them. */
  nat: Partial<NatConfig>;
  /** Its transport (dial-backs, the advertised address; its onDialBack is set here). */
  transport: Transport;
  /** Its peer manager (the peers asked, trust penalties). */
  peers: PeerManager;
  /** The bound address (`""` before listening). */
  boundAddress: () => string;
  /** Its log. */
  log: LogSink;
  /** Told each new reachability verdict (the relays a private node reserves at follow it). */
  onReachability?: (state: ReachabilityState) => void;
}

/** The node's {@link NatService}, with the transport's dial-backs reported to it. */
export function wireNat(wiring: NatWiring): NatService {
  const { transport, peers } = wiring;
  const nat = new NatService({
    identity: wiring.identity,
    codec: wiring.codec,
    clock: wiring.clock,
    random: wiring.random,
    config: resolveNatConfig(wiring.nat),
    forcedAddress: wiring.config.advertisedAddress,
    listenPort: () => parseHostPort(wiring.boundAddress())?.port ?? 0,
    peers: () => peers.activePeers(),
    permitsDial: (address) => transport.permitsDial(address),
    dialBack: (address, nodeId) => transport.dialBack(address, nodeId),
    advertised: () => transport.advertisedAddress,
    advertise: (address) => transport.advertise(address),
    penalise: (nodeId, code) => peers.penalise(nodeId, code),
    log: wiring.log,
    onVerdict: wiring.onReachability,
  });
  transport.onDialBack = (nodeId) => nat.dialedBack(nodeId);
  return nat;
}
