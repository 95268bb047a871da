/**
 * The dial policy: which addresses a node may connect to. Peers announce addresses; without a policy a
 * node dials whatever it is told, private networks and documentation ranges included, so a peer could
 * point it at hosts inside the operator's network. A {@link DialPolicy} lists allowed and refused CIDR
 * ranges (a refusal wins); {@link resolveDialPolicy} builds one from a preset and the operator's own
 * ranges, and {@link DialGuard} answers "may this address be dialed?" for the transport and the peer
 * manager.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are matched as the IPv4 address they carry, so a range
 * refused in IPv4 cannot be reached by writing it in IPv6.
 *
 * @module
 */
import { parseHostPort } from "./address.ts";
import { ConfigError } from "./errors.ts";
import { type IpAddress, ipv4Number, parseIp, parseIpv4, parseIpv6 } from "./ip.ts";
import { BoundedMap } from "./ratelimit.ts";

export { type IpAddress, parseIp };

/** A parsed CIDR range. */
export interface Cidr {
  /** 4 or 6. */
  family: 4 | 6;
  /** The first address of the range (host bits zero). */
  base: bigint;
  /** Prefix length: 0..32 for IPv4, 0..128 for IPv6. */
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

function mask(family: 4 | 6, prefix: number): bigint {
  const bits = BigInt(BITS[family]);
  return prefix === 0 ? 0n : ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

/**
 * Parses a CIDR range (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a single-host range). The host
 * bits must be zero. An IPv4-mapped range (`::ffff:10.0.0.0/104`) becomes the IPv4 range it maps.
 *
 * @param key the configuration key the text came from, named by the error
 * @throws {ConfigError} naming `key` when the text is not a valid range
 */
export function parseCidr(text: string, key: string): Cidr {
  const fail = (why: string): never => {
    throw new ConfigError(key, `${key}: ${JSON.stringify(text)} is not a CIDR range (${why})`);
  };
  if (typeof text !== "string" || text.length === 0 || text.length > 64) fail("expected address/prefix");
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const v4 = parseIpv4(addressText);
  const v6 = v4 === undefined ? parseIpv6(addressText) : undefined;
  if (v4 === undefined && v6 === undefined) fail("not an IPv4 or IPv6 address");
  let family: 4 | 6 = v4 !== undefined ? 4 : 6;
  let value = v4 ?? v6!;
  let prefix: number = BITS[family];
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > BITS[family]) {
      fail(`the prefix must be 0..${BITS[family]}`);
    }
    prefix = Number(prefixText);
  }
  if ((value & ~mask(family, prefix)) !== 0n) {
    fail(
      `host bits are set; the range starts at ${formatCidr({ family, base: value & mask(family, prefix), prefix })}`,
    );
  }
  if (family === 6 && prefix >= 96 && (value >> 32n) === 0xffffn) {
    family = 4;
    value &= 0xffffffffn;
    prefix -= 96;
  }
  return { family, base: value, prefix };
}

/** Formats a range as text (IPv6 with its longest run of zero words as `::`). */
export function formatCidr(cidr: Cidr): string {
  if (cidr.family === 4) {
    const octets = [24n, 16n, 8n, 0n].map((shift) => String((cidr.base >> shift) & 255n));
    return `${octets.join(".")}/${cidr.prefix}`;
  }
  const words: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) words.push(((cidr.base >> shift) & 0xffffn).toString(16));
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const text = best.start < 0
    ? words.join(":")
    : `${words.slice(0, best.start).join(":")}::${words.slice(best.start + best.length).join(":")}`;
  return `${text}/${cidr.prefix}`;
}

/** Whether `cidr` contains `ip` (always false across families). */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  return cidr.family === ip.family && (ip.value & mask(cidr.family, cidr.prefix)) === cidr.base;
}

/** Whether range `outer` contains every address of range `inner`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix &&
    (inner.base & mask(outer.family, outer.prefix)) === outer.base;
}

/**
 * The addresses of `from` that are not in `remove`, as CIDR ranges: `[from]` when they do not overlap,
 * `[]` when `remove` covers `from`, otherwise the (at most 128) ranges around `remove`.
 */
export function cidrSubtract(from: Cidr, remove: Cidr): Cidr[] {
  if (cidrCovers(remove, from)) return [];
  if (!cidrCovers(from, remove)) return [from];
  const bits = BITS[from.family];
  const out: Cidr[] = [];
  for (let prefix = from.prefix + 1; prefix <= remove.prefix; prefix++) {
    // The sibling, at this prefix length, of the half that holds `remove`.
    const bit = 1n << BigInt(bits - prefix);
    out.push({ family: from.family, base: (remove.base & mask(from.family, prefix)) ^ bit, prefix });
  }
  return out;
}

/**
 * A dial policy: an address may be dialed when it is in an `allow` range and in no `deny` range (a
 * refusal wins). DNS names are never matched by ranges: only the names in `names` (those the operator
 * configured, such as bootstrap host names) are resolved at all, and the addresses they resolve to must
 * then pass the ranges. Data only (CIDR text), so it can sit in a configuration.
 */
export interface DialPolicy {
  /** The preset it was built from, for messages: `public`, `private` or `loopback`. */
  preset: DialPolicyPreset;
  /** Ranges that may be dialed. */
  allow: readonly string[];
  /** Ranges never dialed, even inside `allow`. */
  deny: readonly string[];
  /** DNS names that may be resolved and dialed (lower case), when their addresses pass the ranges. */
  names: readonly string[];
}

/** The built-in presets. */
export type DialPolicyPreset = "public" | "private" | "loopback";

/** A preset name, or `auto`: chosen from the listen address (see {@link autoDialPreset}). */
export type DialPolicyName = DialPolicyPreset | "auto";

/** The names {@link resolveDialPolicy} accepts. */
export const DIAL_POLICY_NAMES: readonly DialPolicyName[] = ["auto", "public", "private", "loopback"];

/** Ranges refused because a peer could use them to reach a private network: RFC 1918, CGNAT, ULA. */
const PRIVATE_RANGES: readonly [string, string][] = [
  ["10.0.0.0/8", "private (RFC 1918)"],
  ["100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"],
  ["172.16.0.0/12", "private (RFC 1918)"],
  ["192.168.0.0/16", "private (RFC 1918)"],
  ["fc00::/7", "unique local (RFC 4193)"],
];

/**
 * Ranges no public peer has an address in (IANA's special-purpose registries), with why each is
 * refused. 2000::/3 bounds IPv6 from the allow side; these name the special ranges inside it too.
 */
const SPECIAL_RANGES: readonly [string, string][] = [
  ["0.0.0.0/8", "this network (RFC 791), unspecified"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["192.0.0.0/24", "IETF protocol assignments"],
  ["192.0.2.0/24", "documentation (TEST-NET-1)"],
  ["192.88.99.0/24", "6to4 relay anycast (deprecated)"],
  ["198.18.0.0/15", "benchmarking"],
  ["198.51.100.0/24", "documentation (TEST-NET-2)"],
  ["203.0.113.0/24", "documentation (TEST-NET-3)"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved, broadcast"],
  ["::/8", "reserved: unspecified, loopback, IPv4-compatible"],
  ["64:ff9b::/96", "NAT64 (reaches IPv4 through a translator)"],
  ["64:ff9b:1::/48", "NAT64, local use"],
  ["100::/64", "discard-only"],
  ["2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID)"],
  ["2001:db8::/32", "documentation"],
  ["2002::/16", "6to4 (tunnels to any IPv4 address)"],
  ["3fff::/20", "documentation"],
  ["5f00::/16", "segment routing SIDs"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "site-local (deprecated)"],
  ["ff00::/8", "multicast"],
];

const LOOPBACK_RANGES: readonly string[] = ["127.0.0.0/8", "::1/128"];

/** The ranges of each preset, before the operator's own ranges are applied. */
export const DIAL_PRESETS: Readonly<Record<DialPolicyPreset, { allow: readonly string[]; deny: readonly string[] }>> =
  Object.freeze({
    /** Global unicast only: every special, private and documentation range refused. */
    public: Object.freeze({
      allow: ["0.0.0.0/0", "2000::/3"],
      deny: [...PRIVATE_RANGES, ...SPECIAL_RANGES].map(([cidr]) => cidr),
    }),
    /** As public, and the private ranges too: for nodes on a LAN or a private data centre. */
    private: Object.freeze({
      allow: ["0.0.0.0/0", "2000::/3", "fc00::/7"],
      deny: SPECIAL_RANGES.map(([cidr]) => cidr),
    }),
    /** 127.0.0.0/8 and ::1 only: tests, benchmarks, the devnet, nodes that listen on loopback. */
    loopback: Object.freeze({ allow: LOOPBACK_RANGES, deny: [] }),
  });

/**
 * The preset `auto` stands for, from the host the node listens on: `loopback` for a loopback address
 * (or `localhost`), `private` for an address in a private range, `public` otherwise (wildcards included).
 */
export function autoDialPreset(listenHost: string): DialPolicyPreset {
  if (listenHost.toLowerCase() === "localhost") return "loopback";
  const ip = parseIp(listenHost);
  if (ip === undefined) return "public";
  const inAny = (ranges: readonly string[]) => ranges.some((r) => cidrContains(parseCidr(r, "dialPolicy"), ip));
  if (inAny(LOOPBACK_RANGES)) return "loopback";
  if (inAny(PRIVATE_RANGES.map(([cidr]) => cidr))) return "private";
  return "public";
}

/** What {@link resolveDialPolicy} builds a policy from. */
export interface DialPolicyOptions {
  /** The preset, or `auto`. Default `auto`. */
  preset?: DialPolicyName;
  /** The listen host `auto` decides by. Default `0.0.0.0` (so: public). */
  listenHost?: string;
  /** The operator's own allowed ranges: they override the preset's refusals. Default none. */
  allow?: readonly string[];
  /** The operator's own refused ranges: they always win. Default none. */
  deny?: readonly string[];
  /**
   * The bootstrap addresses the operator configured (`host:port`). Outside the loopback preset their
   * hosts are allowed even in a range the preset refuses (they are the operator's choice, not hearsay);
   * their DNS names are resolved then checked. One the policy still refuses is a configuration error.
   */
  bootstrap?: readonly string[];
  /** Key prefix for errors, e.g. `""` for a node config or `"transport."`. */
  keyPrefix?: string;
}

/**
 * Builds the dial policy in force: the preset's ranges, with the operator's `allow` ranges (and, outside
 * the loopback preset, the bootstrap hosts) cut out of the preset's refusals and added to its allowed
 * ranges, and the operator's `deny` ranges refused whatever else says.
 *
 * @example
 * ```ts
 * import { DialGuard, resolveDialPolicy } from "./dial_policy.ts";
 * const guard = new DialGuard(resolveDialPolicy({ listenHost: "127.0.0.1" }));
 * guard.permits("127.0.0.2:7400"); // true
 * guard.permits("[::ffff:10.0.0.1]:7400"); // false
 * ```
 * @throws {ConfigError} naming the key of a malformed range, an unknown preset, or a refused bootstrap entry
 */
export function resolveDialPolicy(options: DialPolicyOptions = {}): DialPolicy {
  const prefix = options.keyPrefix ?? "";
  const name = options.preset ?? "auto";
  if (!DIAL_POLICY_NAMES.includes(name)) {
    throw new ConfigError(
      `${prefix}dialPolicy`,
      `${prefix}dialPolicy must be one of ${DIAL_POLICY_NAMES.join(", ")}, got ${JSON.stringify(name)}`,
    );
  }
  const preset = name === "auto" ? autoDialPreset(options.listenHost ?? "0.0.0.0") : name;
  const list = (values: readonly string[] | undefined, key: string): Cidr[] => {
    if (values === undefined) return [];
    if (!Array.isArray(values)) {
      throw new ConfigError(`${prefix}${key}`, `${prefix}${key} must be a list of CIDR ranges`);
    }
    return values.map((text) => parseCidr(text, `${prefix}${key}`));
  };
  const operatorAllow = list(options.allow, "dialAllow");
  const operatorDeny = list(options.deny, "dialDeny");
  const names = new Set<string>();
  const bootstrapHosts: Cidr[] = [];
  for (const address of options.bootstrap ?? []) {
    const parsed = parseHostPort(address);
    if (parsed === undefined) continue; // the bootstrap list's own check reports it
    if (parsed.family === "dns") names.add(parsed.host);
    else if (preset !== "loopback") bootstrapHosts.push(parseCidr(parsed.host, `${prefix}bootstrap`));
  }
  const overrides = [...operatorAllow, ...bootstrapHosts];
  let deny = DIAL_PRESETS[preset].deny.map((text) => parseCidr(text, "dialPolicy"));
  for (const cut of overrides) deny = deny.flatMap((range) => cidrSubtract(range, cut));
  const policy: DialPolicy = Object.freeze({
    preset,
    allow: Object.freeze([...DIAL_PRESETS[preset].allow, ...overrides.map(formatCidr)]),
    deny: Object.freeze([...deny, ...operatorDeny].map(formatCidr)),
    names: Object.freeze([...names]),
  });
  const guard = new DialGuard(policy);
  for (const address of options.bootstrap ?? []) {
    const verdict = guard.check(address);
    if (verdict !== undefined && parseHostPort(address)?.family !== "dns") {
      throw new ConfigError(
        `${prefix}bootstrap`,
        `${prefix}bootstrap entry ${address} is refused by the ${preset} dial policy (${verdict}); ` +
          (preset === "loopback"
            ? `the loopback policy${name === "auto" ? " (auto: the node listens on loopback)" : ""} dials ` +
              "only 127.0.0.0/8 and ::1: set dialPolicy to public or private, or add the range to dialAllow"
            : "remove it from dialDeny"),
      );
    }
  }
  return policy;
}

/** Why an address is refused, or `undefined` when it may be dialed (see {@link DialGuard.check}). */
export type DialRefusal = string | undefined;

/**
 * A compiled {@link DialPolicy}: answers whether an address may be dialed. Checking costs a comparison
 * per range, with no allocation beyond parsing the address.
 */
export class DialGuard {
  /** The policy it checks. */
  readonly policy: DialPolicy;
  readonly #allow: Cidr[];
  readonly #deny: Cidr[];
  readonly #denyWhy: string[];
  // IPv4 ranges again as 32-bit numbers: most checks are IPv4, and number arithmetic is far cheaper than bigint.
  readonly #allow4: Range4[];
  readonly #deny4: Range4[];
  readonly #names: Set<string>;
  // Verdicts of recent addresses: the dialer asks about the same book entries on every maintenance round.
  readonly #verdicts = new BoundedMap<string, DialRefusal | null>(VERDICTS_CACHED);

  /**
   * Compiles `policy`.
   *
   * @param key the configuration key named when a range is malformed
   * @throws {ConfigError} naming `key`
   */
  constructor(policy: DialPolicy, key = "dialPolicy") {
    if (
      typeof policy !== "object" || policy === null || !Array.isArray(policy.allow) || !Array.isArray(policy.deny) ||
      !Array.isArray(policy.names)
    ) {
      throw new ConfigError(key, `${key} must be an object with allow, deny and names lists`);
    }
    this.policy = policy;
    this.#allow = policy.allow.map((text) => parseCidr(text, `${key}.allow`));
    this.#deny = policy.deny.map((text) => parseCidr(text, `${key}.deny`));
    this.#names = new Set(policy.names.map((n) => String(n).toLowerCase()));
    this.#denyWhy = this.#deny.map((range) => `in ${describeRange(range, policy.preset)}`);
    this.#allow4 = this.#allow.filter((r) => r.family === 4).map((r) => toRange4(r, ""));
    this.#deny4 = this.#deny.flatMap((r, i) => r.family === 4 ? [toRange4(r, this.#denyWhy[i])] : []);
  }

  /** Whether `address` (`host:port`) may be dialed. A permitted DNS name must still pass {@link DialGuard.checkIp}. */
  permits(address: string): boolean {
    return this.check(address) === undefined;
  }

  /**
   * Why `address` (`host:port`) may not be dialed, or `undefined` when it may. A DNS name is permitted
   * only when it is one of the policy's `names`; its resolved addresses are checked with
   * {@link DialGuard.checkIp} before connecting.
   */
  check(address: string): DialRefusal {
    const cached = this.#verdicts.get(address);
    if (cached !== undefined) return cached ?? undefined;
    const verdict = this.#checkUncached(address);
    this.#verdicts.set(address, verdict ?? null);
    return verdict;
  }

  #checkUncached(address: string): DialRefusal {
    const parsed = parseHostPort(address);
    if (parsed === undefined) return "not a host:port address";
    if (parsed.family === "dns") {
      return this.#names.has(parsed.host)
        ? undefined
        : "a host name that is not configured (only IP addresses are dialed from hearsay)";
    }
    return this.checkIp(parsed.host);
  }

  /** Why the IP address `host` may not be dialed, or `undefined` when it may. */
  checkIp(host: string): DialRefusal {
    const v4 = ipv4Number(host);
    if (v4 !== undefined) {
      for (const range of this.#deny4) {
        if (((v4 & range.mask) >>> 0) === range.base) return range.why;
      }
      for (const range of this.#allow4) if (((v4 & range.mask) >>> 0) === range.base) return undefined;
      return `outside the ranges the ${this.policy.preset} policy dials`;
    }
    const ip = parseIp(host);
    if (ip === undefined) return "not an IP address";
    for (let i = 0; i < this.#deny.length; i++) if (cidrContains(this.#deny[i], ip)) return this.#denyWhy[i];
    for (const range of this.#allow) if (cidrContains(range, ip)) return undefined;
    return `outside the ranges the ${this.policy.preset} policy dials`;
  }
}

/** Verdicts a {@link DialGuard} keeps for recently checked addresses. */
const VERDICTS_CACHED = 4_096;

/** An IPv4 range as 32-bit numbers. */
interface Range4 {
  base: number;
  mask: number;
  /** Why an address in it is refused (deny ranges). */
  why: string;
}

function toRange4(cidr: Cidr, why: string): Range4 {
  return { base: Number(cidr.base), mask: Number(mask(4, cidr.prefix)), why };
}

/** The built-in refused ranges, parsed, with why each is refused. */
const KNOWN_RANGES: [Cidr, string][] = [...PRIVATE_RANGES, ...SPECIAL_RANGES].map((
  [text, why],
) => [parseCidr(text, "dialPolicy"), why]);

/** A refused range and, for one the preset refuses (or part of one), why it is refused. */
function describeRange(range: Cidr, preset: DialPolicyPreset): string {
  const presetDeny = DIAL_PRESETS[preset]?.deny ?? [];
  const known = KNOWN_RANGES.find(([outer]) => presetDeny.includes(formatCidr(outer)) && cidrCovers(outer, range));
  return known ? `${formatCidr(range)}, ${known[1]}` : `${formatCidr(range)}, refused by dialDeny`;
}

/** The loopback preset's policy (127.0.0.0/8 and ::1 only), for tests, benchmarks and tools. */
export const LOOPBACK_DIAL_POLICY: DialPolicy = resolveDialPolicy({ preset: "loopback" });
