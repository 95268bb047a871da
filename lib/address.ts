/**
 * Parsing of the `host:port` strings that name a node's listening address,
 * in configuration and in peer lists received from the network.
 *
 * @module
 */

/** A parsed `host:port` address. */
export interface HostPort {
  /** IPv4 dotted quad, IPv6 without brackets, or a DNS name (lowercased). */
  host: string;
  /** TCP port, 1..65535. */
  port: number;
  /** Which kind of host this is. */
  family: "ipv4" | "ipv6" | "dns";
}

/** Longest address string accepted: a 253-character DNS name, `:`, five digits. */
export const MAX_ADDRESS_LENGTH = 259;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function isIpv6(text: string): boolean {
  if (text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return false;
  try {
    return new URL(`http://[${text}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/**
 * Parses `host:port` (IPv6 as `[addr]:port`). Returns `undefined` for
 * anything else, including port 0, so callers can refuse it with their own
 * error.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./address.ts";
 * parseHostPort("127.0.0.1:7400"); // { host: "127.0.0.1", port: 7400, family: "ipv4" }
 * parseHostPort("[::1]:7400");     // { host: "::1", port: 7400, family: "ipv6" }
 * ```
 */
export function parseHostPort(text: string): HostPort | undefined {
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_ADDRESS_LENGTH) return undefined;
  const colon = text.lastIndexOf(":");
  if (colon <= 0) return undefined;
  const portText = text.slice(colon + 1);
  if (!/^[1-9]\d{0,4}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  const hostText = text.slice(0, colon);
  if (hostText.startsWith("[") && hostText.endsWith("]")) {
    const inner = hostText.slice(1, -1);
    return isIpv6(inner) ? { host: inner.toLowerCase(), port, family: "ipv6" } : undefined;
  }
  if (IPV4.test(hostText)) return { host: hostText, port, family: "ipv4" };
  const name = hostText.toLowerCase();
  if (name.length > 253 || /^[\d.]+$/.test(name)) return undefined;
  return name.split(".").every((label) => DNS_LABEL.test(label)) ? { host: name, port, family: "dns" } : undefined;
}

/** Formats a host and port as `host:port`, bracketing IPv6. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The marker between a relay's `host:port` and its node id in a relayed address. */
export const RELAYED_MARKER = "/relay/";

/** Longest relayed address: a relay's address, {@link RELAYED_MARKER}, 64 hex digits. */
export const MAX_RELAYED_ADDRESS_LENGTH = MAX_ADDRESS_LENGTH + RELAYED_MARKER.length + 64;

/** A parsed relayed address: reach the node through the relay at `relay`, whose node id is `relayNodeId`. */
export interface RelayedAddress {
  /** The relay's own listening address. */
  relay: HostPort;
  /** The relay's node id, 64 lowercase hex digits (the circuit's control link must authenticate as it). */
  relayNodeId: string;
}

const NODE_ID_HEX = /^[0-9a-f]{64}$/;

/**
 * Parses a relayed address, `RELAY_HOST:PORT/relay/RELAY_NODE_ID` (the id in lowercase hex): the node whose
 * record carries it is reached through that relay. `undefined` for anything else; the relay's part is held to
 * {@link parseHostPort} exactly, so a relayed address names nothing a direct one could not.
 *
 * @example
 * ```ts
 * import { parseRelayedAddress } from "./address.ts";
 * parseRelayedAddress(`127.0.0.1:7400/relay/${"ab".repeat(32)}`)?.relay.port; // 7400
 * ```
 */
export function parseRelayedAddress(text: string): RelayedAddress | undefined {
  if (typeof text !== "string" || text.length > MAX_RELAYED_ADDRESS_LENGTH) return undefined;
  const at = text.indexOf(RELAYED_MARKER);
  if (at <= 0) return undefined;
  const relay = parseHostPort(text.slice(0, at));
  const relayNodeId = text.slice(at + RELAYED_MARKER.length);
  if (!relay || !NODE_ID_HEX.test(relayNodeId)) return undefined;
  return { relay, relayNodeId };
}

/** Formats the relayed address through the relay at `relayAddress` (`host:port`) whose id is `relayNodeId`. */
export function formatRelayedAddress(relayAddress: string, relayNodeId: string): string {
  return `${relayAddress}${RELAYED_MARKER}${relayNodeId}`;
}

/**
 * The host and port a node would open a socket to for `address`: the address itself when direct, the relay's
 * when relayed; `undefined` when it is neither. What dial policies, address books and netgroups look at.
 */
export function dialHostPort(address: string): HostPort | undefined {
  return parseHostPort(address) ?? parseRelayedAddress(address)?.relay;
}
