/**
 * The transport's settings: {@link TransportConfig}, its defaults, and the
 * check that turns overrides into a valid config.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "../address.ts";
import { DialGuard, type DialPolicy, resolveDialPolicy } from "../dial_policy.ts";
import { ConfigError } from "../errors.ts";
import { MAX_RECORD_PLAINTEXT } from "./session.ts";

/** Most UTF-8 bytes of a network id (the HANDSHAKE schema's bound). */
const MAX_NETWORK_ID_BYTES = 64;
/** Smallest maximum frame size: room for any handshake message's fixed fields and a DISCONNECT. */
const MIN_FRAME_BYTES = 1024;
/** Largest maximum frame size a node may configure. */
const MAX_CONFIGURABLE_FRAME_BYTES = 16 * 1024 * 1024;
/** Largest TCP port. */
const MAX_PORT = 65535;

/** Transport settings. Every field documents its default and trade-off. */
export interface TransportConfig {
  /** Network id: nodes with different ids refuse each other. Default `"kith-main"`. At most 64 bytes. */
  networkId: string;
  /** Address to listen on. Default `"0.0.0.0"`; `"::"` for IPv6, `"127.0.0.1"` for loopback only. */
  listenHost: string;
  /** Port to listen on. Default 7400; 0 picks a free port. */
  listenPort: number;
  /**
   * The `host:port` announced to peers. Default `""`: the listen address when it is a specific address,
   * nothing when it is a wildcard (peers then use the address they see).
   */
  advertisedAddress: string;
  /** Most inbound connections, handshaking ones included (the design's connection semaphore). Default 64. */
  maxInbound: number;
  /** Most outbound connections, handshaking ones included. Default 32. */
  maxOutbound: number;
  /**
   * Most inbound connections from one IP address. Default 8. One host cannot fill the inbound slots. On
   * loopback every local client has the same address: raise it for devnets.
   */
  maxConnectionsPerIp: number;
  /**
   * New inbound connections accepted per second from one IP address, checked at accept before anything is
   * read (a token bucket; refused sockets are closed without an answer). Default 20, bursts of
   * {@link TransportConfig.inboundBurstPerIp}. Bounds the handshakes (each a signature check and a key
   * agreement) one host can make a node do; far above a node redialing. On loopback every local client has
   * the same address: raise it for devnets that open hundreds of connections at once.
   */
  inboundRatePerIp: number;
  /** Largest burst of new inbound connections from one IP address. Default 100. */
  inboundBurstPerIp: number;
  /** New inbound connections accepted per second from one /24 (IPv4) or /48 (IPv6). Default 50. */
  inboundRatePerSubnet: number;
  /** Largest burst of new inbound connections from one /24 or /48. Default 200. */
  inboundBurstPerSubnet: number;
  /**
   * New inbound connections accepted per second in all. Default 200. Bounds the handshake CPU an attacker
   * with many addresses can force; past it newcomers wait too.
   */
  inboundRateGlobal: number;
  /** Largest burst of new inbound connections in all. Default 400. */
  inboundBurstGlobal: number;
  /** A handshake not finished within this is dropped, ms. Default 5,000. Bounds slow and silent clients. */
  handshakeTimeoutMs: number;
  /** Largest envelope, bytes. Default 1 MiB. */
  maxFrameBytes: number;
  /**
   * Largest frame before the peer is authenticated, bytes. Default 64 KiB (a full HANDSHAKE_ACK is about
   * 20 KiB), so an unauthenticated client cannot make a node buffer large frames.
   */
  maxHandshakeFrameBytes: number;
  /**
   * Bytes a connection may have queued for sending; past this the peer is a stalled reader and is
   * disconnected (SLOW_READER). Default 8 MiB. Bounds the sender's memory per peer.
   */
  maxSendQueueBytes: number;
  /** A write blocked this long means the peer stopped reading: disconnect, ms. Default 10,000. */
  writeTimeoutMs: number;
  /**
   * Most plaintext bytes coalesced into one sealed record, bytes. Default and maximum 64 KiB (the
   * protocol's limit). Larger records cost fewer seals and syscalls; smaller ones cut latency for the
   * frames behind a large one.
   */
  maxRecordBytes: number;
  /** How long closing waits for the DISCONNECT and queued frames to be written, ms. Default 1,000. */
  closeTimeoutMs: number;
  /**
   * Which addresses {@link Transport.dial} may connect to; anything else is refused with `DIAL_REFUSED`
   * before a socket is opened. Default: {@link resolveDialPolicy} for `listenHost` (`auto`): loopback-only
   * when listening on loopback (tests, devnets), the private preset on a private address, else the public
   * preset (global unicast only). A node builds it from `dialPolicy`, `dialAllow`, `dialDeny` and its
   * bootstrap list. Stricter keeps peers from pointing the node at hosts it should not reach; looser is
   * needed only for networks on private addresses.
   */
  dialPolicy: DialPolicy;
}

/** The default {@link TransportConfig}. */
export const DEFAULT_TRANSPORT_CONFIG: Readonly<TransportConfig> = Object.freeze({
  networkId: "kith-main",
  listenHost: "0.0.0.0",
  listenPort: 7400,
  advertisedAddress: "",
  maxInbound: 64,
  maxOutbound: 32,
  maxConnectionsPerIp: 8,
  inboundRatePerIp: 20,
  inboundBurstPerIp: 100,
  inboundRatePerSubnet: 50,
  inboundBurstPerSubnet: 200,
  inboundRateGlobal: 200,
  inboundBurstGlobal: 400,
  handshakeTimeoutMs: 5_000,
  maxFrameBytes: 1024 * 1024,
  maxHandshakeFrameBytes: 64 * 1024,
  maxSendQueueBytes: 8 * 1024 * 1024,
  writeTimeoutMs: 10_000,
  maxRecordBytes: 64 * 1024,
  closeTimeoutMs: 1_000,
  dialPolicy: resolveDialPolicy({ listenHost: "0.0.0.0" }),
});

/**
 * The full transport config from defaults and `overrides`.
 *
 * @throws {ConfigError} naming the first invalid key
 */
export function resolveTransportConfig(overrides: Partial<TransportConfig> = {}): TransportConfig {
  const config = { ...DEFAULT_TRANSPORT_CONFIG, ...overrides };
  if (overrides.dialPolicy === undefined && typeof config.listenHost === "string") {
    config.dialPolicy = resolveDialPolicy({ listenHost: config.listenHost, keyPrefix: "transport." });
  }
  new DialGuard(config.dialPolicy, "transport.dialPolicy"); // throws on a malformed range
  const fail = (key: keyof TransportConfig, rule: string) => {
    throw new ConfigError(`transport.${key}`, `transport.${key} ${rule}, got ${JSON.stringify(config[key])}`);
  };
  if (
    typeof config.networkId !== "string" || config.networkId.length === 0 ||
    new TextEncoder().encode(config.networkId).length > MAX_NETWORK_ID_BYTES
  ) {
    fail("networkId", `must be a string of 1 to ${MAX_NETWORK_ID_BYTES} bytes`);
  }
  if (typeof config.listenHost !== "string" || (parseHostPort(formatHostPort(config.listenHost, 1)) === undefined)) {
    fail("listenHost", "must be an IP address or host name");
  }
  if (!Number.isInteger(config.listenPort) || config.listenPort < 0 || config.listenPort > MAX_PORT) {
    fail("listenPort", `must be an integer in 0..${MAX_PORT}`);
  }
  if (config.advertisedAddress !== "" && parseHostPort(config.advertisedAddress) === undefined) {
    fail("advertisedAddress", "must be empty or host:port");
  }
  const positive: (keyof TransportConfig)[] = [
    "maxInbound",
    "maxOutbound",
    "maxConnectionsPerIp",
    "inboundRatePerIp",
    "inboundBurstPerIp",
    "inboundRatePerSubnet",
    "inboundBurstPerSubnet",
    "inboundRateGlobal",
    "inboundBurstGlobal",
    "handshakeTimeoutMs",
    "maxSendQueueBytes",
    "writeTimeoutMs",
    "maxRecordBytes",
    "closeTimeoutMs",
  ];
  for (const key of positive) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || (value as number) < 1) fail(key, "must be a positive integer");
  }
  if (config.maxRecordBytes > MAX_RECORD_PLAINTEXT) fail("maxRecordBytes", `must be at most ${MAX_RECORD_PLAINTEXT}`);
  if (
    !Number.isInteger(config.maxFrameBytes) || config.maxFrameBytes < MIN_FRAME_BYTES ||
    config.maxFrameBytes > MAX_CONFIGURABLE_FRAME_BYTES
  ) {
    fail("maxFrameBytes", `must be an integer in ${MIN_FRAME_BYTES}..${MAX_CONFIGURABLE_FRAME_BYTES}`);
  }
  if (
    !Number.isInteger(config.maxHandshakeFrameBytes) || config.maxHandshakeFrameBytes < MIN_FRAME_BYTES ||
    config.maxHandshakeFrameBytes > config.maxFrameBytes
  ) {
    fail("maxHandshakeFrameBytes", `must be an integer from ${MIN_FRAME_BYTES} up to maxFrameBytes`);
  }
  return config;
}
