/**
 * Network groups: which peers share a host or a subnet, for the per-IP and
 * per-subnet bounds that keep one operator with many identities from
 * occupying a node's slots (as Bitcoin Core's netgroups do).
 *
 * @module
 */
import { parseIpv6 } from "./ip.ts";

/** The host and subnet a peer address belongs to. */
export interface NetworkGroup {
  /** The host: an IP address (IPv4-mapped IPv6 as IPv4) or a DNS name. */
  host: string;
  /** The subnet: IPv4 /24 (`"v4:a.b.c"`), IPv6 /48 (`"v6:xxxx:xxxx:xxxx"`), or the DNS name itself. */
  subnet: string;
}

/** The eight 16-bit words of an IPv6 address (a zone suffix ignored), or `undefined`. */
function ipv6Words(address: string): number[] | undefined {
  const zone = address.indexOf("%");
  const value = parseIpv6(zone >= 0 ? address.slice(0, zone) : address);
  if (value === undefined) return undefined;
  return Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
}

/**
 * The group of `host` (an IP address or DNS name, without port or brackets).
 *
 * @example
 * ```ts
 * import { networkGroup } from "./netgroup.ts";
 * networkGroup("10.1.2.3");          // { host: "10.1.2.3", subnet: "v4:10.1.2" }
 * networkGroup("2001:db8:1:2::1");    // { host: "2001:db8:1:2::1", subnet: "v6:2001:db8:1" }
 * ```
 */
export function networkGroup(host: string): NetworkGroup {
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (ipv4) return { host, subnet: `v4:${ipv4[1]}.${ipv4[2]}.${ipv4[3]}` };
  if (host.includes(":")) {
    const words = ipv6Words(host);
    if (words) {
      // IPv4-mapped addresses are IPv4 hosts.
      if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
        const v4 = `${words[6] >> 8}.${words[6] & 255}.${words[7] >> 8}.${words[7] & 255}`;
        return networkGroup(v4);
      }
      return { host: host.toLowerCase(), subnet: `v6:${words.slice(0, 3).map((w) => w.toString(16)).join(":")}` };
    }
  }
  const name = host.toLowerCase();
  return { host: name, subnet: `dns:${name}` };
}

/** Whether `host` is a loopback address (127.0.0.0/8 or ::1). */
export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "::1" || host === "0:0:0:0:0:0:0:1";
}
