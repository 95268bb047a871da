/**
 * The transport's part of `NetworkConfig` (lib/transport/): the network id, where the node listens and what it
 * announces, which addresses it dials, the handshake deadline, the largest frame, and the bounds on connections.
 *
 * @module
 */
import { DIAL_POLICY_NAMES, type DialPolicyName } from "../dial_policy.ts";
import { DEFAULT_TRANSPORT_CONFIG } from "../transport/config.ts";
import { int, type Rule } from "./rules.ts";

/** The transport's settings of a node (part of `NetworkConfig`). Each field documents its default and trade-off. */
export interface NetworkTransportConfig {
  /** Network id (1 to 64 bytes of UTF-8); nodes with different ids refuse each other. Default `"kith-main"`. */
  networkId: string;
  /** Address to listen on. Default `"0.0.0.0"`. */
  listenHost: string;
  /** Port to listen on; 0 picks one. Default 7400. */
  listenPort: number;
  /** `host:port` announced to peers; `""` derives it from a specific listen address. Default `""`. */
  advertisedAddress: string;
  /**
   * Which addresses the node dials (see `resolveDialPolicy` in lib/dial_policy.ts). Default `"auto"`: `"loopback"`
   * when `listenHost` is a loopback address (the README walkthrough, `kith devnet`, tests), `"private"` when it
   * is a private one, else `"public"`. `"public"` dials global unicast addresses only, refusing loopback,
   * private (RFC 1918, fc00::/7), CGNAT, link-local, documentation, multicast and reserved ranges, so peers
   * cannot point the node at hosts inside its network; `"private"` also dials the private ranges (a LAN or
   * data centre network); `"loopback"` dials 127.0.0.0/8 and ::1 only. Outside `"loopback"` the bootstrap
   * hosts are dialed whatever their range (they are the operator's choice, not hearsay); a bootstrap entry
   * the policy refuses is a configuration error. Host names are resolved only for bootstrap entries, and
   * their addresses must pass the policy.
   */
  dialPolicy: DialPolicyName;
  /**
   * CIDR ranges dialed even where the preset refuses them, e.g. `["10.20.0.0/16"]` for a private network
   * beside public peers. Default none. Each range widens what announced addresses can make the node dial.
   */
  dialAllow: string[];
  /**
   * CIDR ranges never dialed, whatever else allows them (bootstrap entries included). Default none. For
   * networks the node must never touch; announced addresses there are ignored.
   */
  dialDeny: string[];
  /** Handshake deadline, ms. Default 5,000. */
  handshakeTimeoutMs: number;
  /** Largest envelope on the wire, bytes. Default 1 MiB. */
  maxFrameBytes: number;
  /** Most inbound connections (the connection semaphore). Default 64. */
  maxInbound: number;
  /** Most outbound connections. Default 32. */
  maxOutbound: number;
  /** Most inbound connections from one IP address. Default 8. */
  maxConnectionsPerIp: number;
  /** New inbound connections accepted per second from one IP address (before anything is read). Default 20. */
  inboundRatePerIp: number;
  /** Largest burst of new inbound connections from one IP address. Default 100. */
  inboundBurstPerIp: number;
  /** New inbound connections accepted per second from one /24 (IPv4) or /48 (IPv6). Default 50. */
  inboundRatePerSubnet: number;
  /** Largest burst of new inbound connections from one /24 or /48. Default 200. */
  inboundBurstPerSubnet: number;
  /** New inbound connections accepted per second in all. Default 200. */
  inboundRateGlobal: number;
  /** Largest burst of new inbound connections in all. Default 400. */
  inboundBurstGlobal: number;
}

/** The defaults of {@link NetworkTransportConfig}, each the one its field names. */
export const DEFAULT_NETWORK_TRANSPORT_CONFIG: Readonly<NetworkTransportConfig> = Object.freeze({
  networkId: DEFAULT_TRANSPORT_CONFIG.networkId,
  listenHost: DEFAULT_TRANSPORT_CONFIG.listenHost,
  listenPort: DEFAULT_TRANSPORT_CONFIG.listenPort,
  advertisedAddress: "",
  dialPolicy: "auto",
  dialAllow: [],
  dialDeny: [],
  handshakeTimeoutMs: DEFAULT_TRANSPORT_CONFIG.handshakeTimeoutMs,
  maxFrameBytes: DEFAULT_TRANSPORT_CONFIG.maxFrameBytes,
  maxInbound: DEFAULT_TRANSPORT_CONFIG.maxInbound,
  maxOutbound: DEFAULT_TRANSPORT_CONFIG.maxOutbound,
  maxConnectionsPerIp: DEFAULT_TRANSPORT_CONFIG.maxConnectionsPerIp,
  inboundRatePerIp: DEFAULT_TRANSPORT_CONFIG.inboundRatePerIp,
  inboundBurstPerIp: DEFAULT_TRANSPORT_CONFIG.inboundBurstPerIp,
  inboundRatePerSubnet: DEFAULT_TRANSPORT_CONFIG.inboundRatePerSubnet,
  inboundBurstPerSubnet: DEFAULT_TRANSPORT_CONFIG.inboundBurstPerSubnet,
  inboundRateGlobal: DEFAULT_TRANSPORT_CONFIG.inboundRateGlobal,
  inboundBurstGlobal: DEFAULT_TRANSPORT_CONFIG.inboundBurstGlobal,
});

/** The rule each scalar setting of {@link NetworkTransportConfig} must pass (`dialAllow`, `dialDeny`: lists, checked in lib/config/validate.ts). */
export const NETWORK_TRANSPORT_RULES: Readonly<
  Record<Exclude<keyof NetworkTransportConfig, "dialAllow" | "dialDeny">, Rule>
> = {
  networkId: { kind: "string", maxBytes: 64 },
  listenHost: { kind: "host" },
  listenPort: int(0, 65535),
  advertisedAddress: { kind: "address" },
  dialPolicy: { kind: "enum", values: DIAL_POLICY_NAMES },
  handshakeTimeoutMs: int(10),
  maxFrameBytes: int(1024, 16 * 1024 * 1024),
  maxInbound: int(1),
  maxOutbound: int(1),
  maxConnectionsPerIp: int(1),
  inboundRatePerIp: int(1),
  inboundBurstPerIp: int(1),
  inboundRatePerSubnet: int(1),
  inboundBurstPerSubnet: int(1),
  inboundRateGlobal: int(1),
  inboundBurstGlobal: int(1),
};
