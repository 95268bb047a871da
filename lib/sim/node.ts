/**
 * A simulated node: a {@link KithNode}, the node that ships, over a
 * {@link SimTransport} and in-memory storage, on the network's virtual clock.
 *
 * @module
 */
import { MemoryTopicLog } from "../catchup/log.ts";
import { componentConfigs, type NetworkConfig, type PresetName, resolveNetworkConfig } from "../config.ts";
import type { DirectConfig } from "../direct/mod.ts";
import { type GossipConfig, type GossipProtocol, resolveGossipConfig } from "../gossip/mod.ts";
import { Identity } from "../identity.ts";
import { KithNode, type NodeOptions } from "../node.ts";
import type { PeerManager } from "../peers/mod.ts";
import { randomBytes, type RandomSource } from "../random.ts";
import { MemoryStorage } from "../storage/mod.ts";
import { resolveTopicsConfig, topicRetention } from "../topics/mod.ts";
import type { TrustManager } from "../trust.ts";
import type { SimNetwork, SimTransport, SimTransportOptions } from "./network.ts";

/** One node of a simulation. */
export interface SimNode {
  /** Index in the simulation. */
  index: number;
  /** The node itself. */
  node: KithNode;
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
  /** Its topic log (kept across a crash, as the database would be). */
  topicLog: MemoryTopicLog;
  /** Stops it as {@link KithNode.stop} does: DISCONNECT to its peers, timers stopped. */
  stop(): Promise<void>;
  /** Crashes it: timers stop and links drop at once; storage survives for a restart. */
  crash(): void;
}

/** A distinct loopback /24 per node, so subnet bounds treat nodes as distinct networks. */
export function simAddress(index: number): string {
  return `127.${(index >> 8) & 255}.${index & 255}.1:7400`;
}

/**
 * Builds and starts node `index` on `network`. Its identity comes from
 * `random`, so the same seed gives the same network. Signature checks stay
 * on the node's thread (`verifyThreads` 0): helper threads would make the
 * order of events depend on the host.
 */
export async function startSimNode(
  network: SimNetwork,
  index: number,
  random: RandomSource,
  overrides: Partial<NetworkConfig> = {},
  preset: PresetName = "default",
  gossipOverrides: Partial<GossipConfig> = {},
  restart?: { identity: Identity; storage: MemoryStorage; topicLog?: MemoryTopicLog },
  direct: Partial<DirectConfig> = {},
  extra: Pick<NodeOptions, "catchup" | "checkSignature"> = {},
  transportOptions: Pick<SimTransportOptions, "acceptsInbound"> = {},
): Promise<SimNode> {
  const clock = network.clock;
  const identity = restart?.identity ?? Identity.fromSecretKey(randomBytes(random, 32));
  const address = simAddress(index);
  const storage = restart?.storage ?? new MemoryStorage({ clock, pruneIntervalMs: 0 });
  // A log of its own, with the retention the node's config gives, kept across a restart like the storage.
  const parts = componentConfigs(resolveNetworkConfig(overrides, preset));
  const topicsConfig = resolveTopicsConfig(parts.topics, resolveGossipConfig({ ...parts.gossip, ...gossipOverrides }));
  const topicLog = restart?.topicLog ?? new MemoryTopicLog((topic) => topicRetention(topicsConfig, topic));
  let transport: SimTransport | undefined;
  if (overrides.dialPolicy !== undefined && overrides.dialPolicy !== "loopback") {
    throw new RangeError(`a simulated node dials loopback only, got dialPolicy ${overrides.dialPolicy}`);
  }
  const node = new KithNode({
    // Simulated addresses are loopback ones: the node runs the loopback-only dial policy, which its
    // transport checks again.
    config: { ...overrides, verifyThreads: 0, dialPolicy: "loopback" },
    preset,
    identity,
    storage,
    topicLog,
    clock,
    random,
    gossip: gossipOverrides,
    direct,
    ...extra,
    transport: (context) => {
      transport = network.transport(context.identity, address, {
        ...transportOptions,
        dialPolicy: context.config.dialPolicy,
      });
      if (context.agent !== undefined) transport.agent = context.agent;
      return transport;
    },
  });
  await node.start();
  const { trust, peers, gossip } = node.components;
  return {
    index,
    node,
    identity,
    address,
    transport: transport!,
    trust,
    peers,
    gossip,
    storage,
    topicLog,
    crash() {
      // Silence first, as a crash is: no DISCONNECT, no last announcement; then the node's own timers.
      gossip.stop();
      void peers.stop();
      transport!.crash();
      void node.stop();
    },
    stop: () => node.stop(),
  };
}
