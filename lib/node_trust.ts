/**
 * A node's trust (lib/trust.ts, lib/trust_exchange.ts) wired to the rest of it: the trust manager over its storage,
 * reporting changes as node events, and the exchange of trust with peers over gossip. `KithNode` calls these at
 * start.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { NetworkConfig } from "./config.ts";
import type { NodeEvents } from "./events.ts";
import type { GossipProtocol } from "./gossip/mod.ts";
import type { Identity } from "./identity.ts";
import type { PeerManager } from "./peers/mod.ts";
import type { RandomSource } from "./random.ts";
import type { Storage } from "./storage/mod.ts";
import { type TrustConfig, TrustManager } from "./trust.ts";
import { TrustExchange } from "./trust_exchange.ts";

/** The node's trust manager over `storage`, its changes emitted as `trust-changed` events. */
export function wireTrust(wiring: {
  storage: Storage;
  clock: Clock;
  config: Partial<TrustConfig>;
  /** The node's identity: recommendations about it are ignored. */
  identity: Identity;
  events: NodeEvents;
}): TrustManager {
  const { storage, clock, config, events } = wiring;
  const trust = new TrustManager({ storage, clock, config, localNodeId: wiring.identity.nodeId });
  // Credits for valid messages (+0.001 each, per message) are no events: they would drown the rest.
  trust.onChange = (nodeId, before, after, cause) => {
    if (cause !== "valid_message") {
      events.emit({ type: "trust-changed", nodeId, before, after, cause, at: clock.now() });
    }
  };
  return trust;
}

/** The exchange of trust with peers (transitive trust), registered with the network-wide overlay. */
export function wireTrustExchange(wiring: {
  identity: Identity;
  peers: PeerManager;
  trust: TrustManager;
  clock: Clock;
  random: RandomSource | undefined;
  config: Readonly<NetworkConfig>;
  gossip: GossipProtocol;
}): TrustExchange {
  const { config } = wiring;
  const exchange = new TrustExchange({
    identity: wiring.identity,
    peers: wiring.peers,
    trust: wiring.trust,
    clock: wiring.clock,
    random: wiring.random ?? Math.random,
    intervalMs: config.trustExchangeIntervalMs,
    maxAnswered: 4 * config.maxPeers,
  });
  exchange.register(wiring.gossip);
  return exchange;
}
