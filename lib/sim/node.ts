/**
 * A simulated node: the real TrustManager, PeerManager and GossipProtocol,
 * wired as {@link KithNode} wires them, over a {@link SimTransport}.
 *
 * @module
 */
import { componentConfigs, type NetworkConfig, type PresetName, resolveNetworkConfig } from "../config.ts";
import { type GossipConfig, GossipProtocol } from "../gossip/mod.ts";
import { Identity } from "../identity.ts";
import { PeerManager } from "../peers.ts";

import { randomBytes, type RandomSource } from "../random.ts";
import { MemoryStorage } from "../storage.ts";
import { TrustManager } from "../trust.ts";
import type { SimNetwork, SimTransport } from "./network.ts";

/** One node of a simulation. */
export interface SimNode {
  /** Index in the simulation. */
  index: number;
  /** Its identity (from the seed). */
  identity: Identity;
  /** Its address on the simulated network. */
  address: string;
  /** Its transport. */
  transport: SimTransport;
  /** Its trust manager. */
  trust: TrustManager;
  /** Its peer manager. */
  peers: PeerManager;
  /** Its gossip layer. */
  gossip: GossipProtocol;
  /** Its storage (kept across a crash, as a data directory would be). */
  storage: MemoryStorage;
  /** Stops its timers and drops its links. */
  stop(): Promise<void>;
  /** Crashes it: timers stop and links drop at once; storage survives for a restart. */
  crash(): void;
}

/** A distinct /24 per node, so subnet bounds treat nodes as distinct networks. */
export function simAddress(index: number): string {
  return `10.${(index >> 8) & 255}.${index & 255}.1:7400`;
}

/**
 * Builds and starts node `index` on `network`. Its identity comes from
 * `random`, so the same seed gives the same network.
 */
export function startSimNode(
  network: SimNetwork,
  index: number,
  random: RandomSource,
  overrides: Partial<NetworkConfig> = {},
  preset: PresetName = "default",
  gossipOverrides: Partial<GossipConfig> = {},
  restart?: { identity: Identity; storage: MemoryStorage },
): SimNode {
  const clock = network.clock;
  const config = resolveNetworkConfig(overrides, preset);
  const parts = componentConfigs(config);
  const identity = restart?.identity ?? Identity.fromSecretKey(randomBytes(random, 32));
  const address = simAddress(index);
  const storage = restart?.storage ?? new MemoryStorage({ clock, pruneIntervalMs: 0 });
  const trust = new TrustManager({ storage, clock, config: parts.trust, localNodeId: identity.nodeId });
  const transport = network.transport(identity, address);
  const peers = new PeerManager({
    identity,
    transport,
    trust,
    storage,
    clock,
    random,
    codec: network.codec,
    config: parts.peers,
    selfAddress: () => address,
  });
  const gossip = new GossipProtocol({
    identity,
    peers,
    trust,
    storage,
    clock,
    random,
    codec: network.codec,
    config: { ...parts.gossip, ...gossipOverrides },
  });
  peers.onEnvelope = (peer, envelope) => gossip.receive(peer, envelope);
  peers.onPeerConnected = (peer) => gossip.peerConnected(peer);
  peers.onPeerDisconnected = (peer) => gossip.peerDisconnected(peer.nodeId);
  peers.start();
  gossip.start();
  return {
    index,
    identity,
    address,
    transport,
    trust,
    peers,
    gossip,
    storage,
    crash() {
      gossip.stop();
      void peers.stop();
      transport.crash();
    },
    async stop() {
      gossip.stop();
      await peers.stop();
      await transport.close();
      storage.close();
    },
  };
}
