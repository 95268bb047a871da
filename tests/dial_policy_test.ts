import assert from "node:assert/strict";
import {
  autoDialPreset,
  cidrContains,
  cidrSubtract,
  DialGuard,
  formatCidr,
  parseCidr,
  parseIp,
  resolveDialPolicy,
} from "../lib/dial_policy.ts";
import { ConfigError } from "../lib/errors.ts";

const ip = (text: string) => {
  const parsed = parseIp(text);
  assert.ok(parsed, `${text} parses`);
  return parsed;
};
const inRange = (cidr: string, address: string) => cidrContains(parseCidr(cidr, "k"), ip(address));

Deno.test("IPv4 ranges contain exactly their addresses, /0 and /32 included", () => {
  assert.equal(inRange("10.0.0.0/8", "10.255.255.255"), true);
  assert.equal(inRange("10.0.0.0/8", "11.0.0.0"), false);
  assert.equal(inRange("10.0.0.0/8", "9.255.255.255"), false);
  assert.equal(inRange("100.64.0.0/10", "100.127.255.255"), true);
  assert.equal(inRange("100.64.0.0/10", "100.128.0.0"), false);
  assert.equal(inRange("0.0.0.0/0", "255.255.255.255"), true);
  assert.equal(inRange("0.0.0.0/0", "0.0.0.0"), true);
  assert.equal(inRange("192.0.2.7/32", "192.0.2.7"), true);
  assert.equal(inRange("192.0.2.7/32", "192.0.2.6"), false);
  assert.equal(inRange("192.0.2.7", "192.0.2.7"), true, "a bare address is a /32");
  assert.equal(inRange("0.0.0.0/0", "::1"), false, "families never match each other");
});

Deno.test("IPv6 ranges contain exactly their addresses, /0 and /128 included", () => {
  assert.equal(inRange("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), true);
  assert.equal(inRange("2001:db8::/32", "2001:db9::"), false);
  assert.equal(inRange("fc00::/7", "fdff::1"), true);
  assert.equal(inRange("fc00::/7", "fe00::1"), false);
  assert.equal(inRange("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), true);
  assert.equal(inRange("::1/128", "::1"), true);
  assert.equal(inRange("::1/128", "0:0:0:0:0:0:0:1"), true);
  assert.equal(inRange("::1/128", "::2"), false);
  assert.equal(inRange("::/0", "10.0.0.1"), false);
  assert.equal(inRange("1:2:3:4:5:6:0.0.0.0/96", "1:2:3:4:5:6:7:8"), true, "a dotted IPv4 tail in IPv6");
});

Deno.test("IPv4-mapped IPv6 addresses and ranges are matched as IPv4", () => {
  assert.deepEqual(parseIp("::ffff:10.0.0.1"), { family: 4, value: 0x0a000001n });
  assert.deepEqual(parseIp("::ffff:a00:1"), { family: 4, value: 0x0a000001n });
  assert.deepEqual(parseIp("0:0:0:0:0:ffff:7f00:1"), { family: 4, value: 0x7f000001n });
  assert.equal(inRange("10.0.0.0/8", "::ffff:10.1.2.3"), true);
  assert.deepEqual(parseCidr("::ffff:10.0.0.0/104", "k"), { family: 4, base: 0x0a000000n, prefix: 8 });
  assert.deepEqual(parseCidr("::ffff:0:0/96", "k"), { family: 4, base: 0n, prefix: 0 });
  const guard = new DialGuard(resolveDialPolicy({ preset: "public" }));
  assert.equal(guard.permits("[::ffff:10.0.0.1]:7400"), false);
  assert.equal(guard.permits("[::ffff:127.0.0.1]:7400"), false);
  const loopback = new DialGuard(resolveDialPolicy({ preset: "loopback" }));
  assert.equal(loopback.permits("[::ffff:127.0.0.1]:7400"), true);
});

Deno.test("malformed ranges are refused with a ConfigError naming the key", () => {
  for (
    const text of [
      "",
      "10.0.0.0/33",
      "10.0.0.0/",
      "10.0.0.0/-1",
      "10.0.0.0/08",
      "10.0.0.1/8",
      "010.0.0.0/8",
      "10.0.0/8",
      "256.0.0.0/8",
      "::/129",
      "1:::2/64",
      "1:2:3:4:5:6:7:8:9/128",
      "::1%eth0/128",
      "fe80::/10/1",
      "example.com/32",
      "2001:db8::1/32",
      "1::2::3/128",
      " 10.0.0.0/8",
    ]
  ) {
    assert.throws(
      () => parseCidr(text, "dialDeny"),
      (e: unknown) => e instanceof ConfigError && e.key === "dialDeny" && e.message.startsWith("dialDeny: "),
      JSON.stringify(text),
    );
  }
  assert.throws(() => parseCidr(42 as unknown as string, "dialAllow"), ConfigError);
  assert.throws(
    () => resolveDialPolicy({ deny: ["10.0.0.0/33"] }),
    (e: unknown) => e instanceof ConfigError && e.key === "dialDeny",
  );
  assert.throws(
    () => resolveDialPolicy({ preset: "everything" as never }),
    (e: unknown) => e instanceof ConfigError && e.key === "dialPolicy",
  );
});

Deno.test("ranges format back to their canonical text", () => {
  for (const text of ["10.0.0.0/8", "0.0.0.0/0", "::/0", "::1/128", "2001:db8::/32", "fe80::/10", "1:0:0:2::/64"]) {
    assert.equal(formatCidr(parseCidr(text, "k")), text);
  }
  assert.equal(formatCidr(parseCidr("2001:0db8:0000:0000:0000:0000:0000:0000/32", "k")), "2001:db8::/32");
});

Deno.test("subtracting a range leaves exactly the addresses outside it", () => {
  const from = parseCidr("10.0.0.0/8", "k");
  const parts = cidrSubtract(from, parseCidr("10.1.2.3/32", "k"));
  assert.equal(parts.length, 24);
  const covered = (address: string) => parts.some((p) => cidrContains(p, ip(address)));
  assert.equal(covered("10.1.2.3"), false);
  for (const address of ["10.0.0.0", "10.1.2.2", "10.1.2.4", "10.255.255.255", "10.1.3.0"]) {
    assert.equal(covered(address), true, address);
  }
  assert.equal(covered("11.0.0.0"), false);
  assert.deepEqual(cidrSubtract(from, parseCidr("0.0.0.0/0", "k")), []);
  assert.deepEqual(cidrSubtract(from, parseCidr("11.0.0.0/8", "k")), [from]);
  assert.equal(cidrSubtract(parseCidr("::/0", "k"), parseCidr("::1/128", "k")).length, 128);
});

Deno.test("the public policy refuses private, loopback, link-local, CGNAT, documentation, multicast and reserved", () => {
  const guard = new DialGuard(resolveDialPolicy({ preset: "public" }));
  for (
    const host of [
      "0.0.0.0",
      "0.1.2.3",
      "10.1.2.3",
      "100.64.0.1",
      "127.0.0.1",
      "169.254.1.1",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "192.0.2.1",
      "198.51.100.1",
      "203.0.113.1",
      "224.0.0.1",
      "240.0.0.1",
      "255.255.255.255",
      "::",
      "::1",
      "fc00::1",
      "fd12::1",
      "fe80::1",
      "ff02::1",
      "2001:db8::1",
      "64:ff9b::a00:1",
      "2002:a00:1::1",
    ]
  ) {
    assert.ok(guard.checkIp(host) !== undefined, `${host} refused`);
  }
  for (const host of ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "2a00:1450::1"]) {
    assert.equal(guard.checkIp(host), undefined, `${host} allowed`);
  }
  assert.match(guard.check("10.1.2.3:7400")!, /10\.0\.0\.0\/8, private/);
  assert.match(guard.check("seed.example:7400")!, /host name/, "hearsay host names are never resolved");
});

Deno.test("auto picks loopback for a loopback listener, private for a private one, public otherwise", () => {
  assert.equal(autoDialPreset("127.0.0.1"), "loopback");
  assert.equal(autoDialPreset("127.9.8.1"), "loopback");
  assert.equal(autoDialPreset("::1"), "loopback");
  assert.equal(autoDialPreset("localhost"), "loopback");
  assert.equal(autoDialPreset("10.0.0.5"), "private");
  assert.equal(autoDialPreset("fd00::5"), "private");
  assert.equal(autoDialPreset("0.0.0.0"), "public");
  assert.equal(autoDialPreset("::"), "public");
  assert.equal(autoDialPreset("node.example"), "public");
  const loopback = new DialGuard(resolveDialPolicy({ listenHost: "127.0.0.1" }));
  assert.equal(loopback.permits("127.0.0.1:7400"), true);
  assert.equal(loopback.permits("[::1]:7400"), true);
  assert.equal(loopback.permits("1.1.1.1:7400"), false);
  assert.equal(loopback.permits("[::2]:7400"), false);
  const lan = new DialGuard(resolveDialPolicy({ listenHost: "192.168.1.5" }));
  assert.equal(lan.permits("192.168.1.6:7400"), true);
  assert.equal(lan.permits("127.0.0.1:7400"), false);
  assert.equal(lan.permits("192.0.2.1:7400"), false);
});

Deno.test("the operator's allow overrides the preset's refusals, the operator's deny always wins", () => {
  const guard = new DialGuard(resolveDialPolicy({ preset: "public", allow: ["10.1.0.0/16"], deny: ["1.2.3.0/24"] }));
  assert.equal(guard.permits("10.1.9.9:7400"), true);
  assert.equal(guard.permits("10.2.0.1:7400"), false);
  assert.equal(guard.permits("1.2.3.4:7400"), false);
  assert.equal(guard.permits("1.2.4.4:7400"), true);
  const both = new DialGuard(
    resolveDialPolicy({ preset: "loopback", allow: ["127.0.0.0/8"], deny: ["127.99.0.0/16"] }),
  );
  assert.equal(both.permits("127.98.0.1:7400"), true);
  assert.equal(both.permits("127.99.0.1:7400"), false);
  assert.match(both.check("127.99.0.1:7400")!, /refused by dialDeny/);
});

Deno.test("bootstrap hosts are allowed outside the loopback preset; hearsay in the same range is not", () => {
  const policy = resolveDialPolicy({ preset: "public", bootstrap: ["127.0.0.1:7410", "seed.example:7400"] });
  const guard = new DialGuard(policy);
  assert.equal(guard.permits("127.0.0.1:7410"), true);
  assert.equal(guard.permits("127.0.0.2:7410"), false);
  assert.equal(guard.permits("seed.example:7400"), true, "a configured name may be resolved");
  assert.equal(guard.checkIp("127.0.0.2"), guard.check("127.0.0.2:1"), "its resolved addresses are checked");
  assert.deepEqual(policy.names, ["seed.example"]);
  assert.throws(
    () => resolveDialPolicy({ listenHost: "127.0.0.1", bootstrap: ["127.0.0.1:7410", "1.1.1.1:7400"] }),
    (e: unknown) => e instanceof ConfigError && e.key === "bootstrap" && /1\.1\.1\.1:7400.*loopback/.test(e.message),
  );
  assert.throws(
    () => resolveDialPolicy({ preset: "public", bootstrap: ["127.0.0.1:7410"], deny: ["127.0.0.0/8"] }),
    (e: unknown) => e instanceof ConfigError && e.key === "bootstrap",
  );
});
