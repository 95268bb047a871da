/**
 * Network groups: which peers share a host or a subnet, for the per-IP and
 * per-subnet bounds that keep one operator with many identities from
 * occupying a node's slots (as Bitcoin Core's netgroups do).
 *
 * @module
 */

/** The host and subnet a peer address belongs to. */
export interface NetworkGroup {
  /** The host: an IP address (IPv4-mapped IPv6 as IPv4) or a DNS name. */
  host: string;
  /** The subnet: IPv4 /24 (`"v4:a.b.c"`), IPv6 /48 (`"v6:xxxx:xxxx:xxxx"`), or the DNS name itself. */
  subnet: string;
}

function expandIpv6(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = text.slice(lastColon + 1).split(".").map(Number);
    if (v4.length !== 4 || v4.some((n) => !(n >= 0 && n <= 255))) return undefined;
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => part === "" ? [] : part.split(":").map((h) => parseInt(h, 16));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const words = [...head, ...Array(fill).fill(0), ...rest];
  if (tail.length) words.splice(6, 2, ...tail);
  return words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : undefined;
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
    const words = expandIpv6(host);
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
