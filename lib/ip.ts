/**
 * IP address parsing, strict: IPv4 as a dotted quad without leading zeros, IPv6 without brackets or zone.
 * The dial policy matches addresses by these values and the network groups (lib/netgroup.ts) group by
 * them, so both read an address the same way.
 *
 * @module
 */

/** A parsed IP address: its family and its value as an unsigned integer (32 or 128 bits). */
export interface IpAddress {
  /** 4 or 6. IPv4-mapped IPv6 addresses are family 4. */
  family: 4 | 6;
  /** The address bits. */
  value: bigint;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The 32 bits of a dotted-quad IPv4 address, or `undefined`. */
export function parseIpv4(text: string): bigint | undefined {
  if (!IPV4.test(text)) return undefined;
  return text.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/**
 * A dotted-quad IPv4 address as an unsigned 32-bit number, or `undefined`: the dial policy's fast path, in
 * plain numbers rather than bigints.
 */
export function ipv4Number(text: string): number | undefined {
  if (!IPV4.test(text)) return undefined;
  const [a, b, c, d] = text.split(".").map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** The 128 bits of an IPv6 address (an IPv4 tail allowed), or `undefined`. */
export function parseIpv6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let head = text;
  let tail: bigint[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    head = text.slice(0, lastColon + 1);
    // "x:y:a.b.c.d" drops the separator; "::a.b.c.d" keeps its "::".
    if (!head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const words = (part: string): bigint[] | undefined => {
    if (part === "") return [];
    const out: bigint[] = [];
    for (const word of part.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(word)) return undefined;
      out.push(BigInt(parseInt(word, 16)));
    }
    return out;
  };
  const first = words(halves[0]);
  const second = halves.length === 2 ? words(halves[1]) : [];
  if (first === undefined || second === undefined) return undefined;
  const given = first.length + second.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const all = [...first, ...Array(8 - given).fill(0n), ...second, ...tail];
  return all.reduce((acc, word) => (acc << 16n) | word, 0n);
}

/**
 * Parses an IP address (IPv4 dotted quad without leading zeros, or IPv6 without brackets or zone).
 * IPv4-mapped IPv6 becomes IPv4. Returns `undefined` for anything else, DNS names included.
 *
 * @example
 * ```ts
 * import { parseIp } from "./ip.ts";
 * parseIp("::ffff:10.0.0.1"); // { family: 4, value: 167772161n }
 * ```
 */
export function parseIp(text: string): IpAddress | undefined {
  if (typeof text !== "string") return undefined;
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}
