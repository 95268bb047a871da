import assert from "node:assert/strict";
import { formatHostPort, parseHostPort } from "../lib/address.ts";

Deno.test("IPv4, bracketed IPv6 and DNS names with a port parse", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:7400"), { host: "127.0.0.1", port: 7400, family: "ipv4" });
  assert.deepEqual(parseHostPort("[::1]:1"), { host: "::1", port: 1, family: "ipv6" });
  assert.deepEqual(parseHostPort("[2001:DB8::1]:65535"), { host: "2001:db8::1", port: 65535, family: "ipv6" });
  assert.deepEqual(parseHostPort("Node-1.Example.org:80"), { host: "node-1.example.org", port: 80, family: "dns" });
});

Deno.test("malformed addresses are refused", () => {
  for (
    const bad of [
      "",
      "127.0.0.1",
      "127.0.0.1:0",
      "127.0.0.1:65536",
      "127.0.0.1:07400",
      "256.1.1.1:80",
      "1.2.3:80",
      "::1:80",
      "[::1]",
      "[zz::1]:80",
      "-bad.example:80",
      "a..b:80",
      "host name:80",
      "a".repeat(300) + ":80",
      ":80",
    ]
  ) {
    assert.equal(parseHostPort(bad), undefined, bad);
  }
});

Deno.test("formatHostPort brackets IPv6 and round-trips through parseHostPort", () => {
  assert.equal(formatHostPort("::1", 7400), "[::1]:7400");
  assert.equal(formatHostPort("10.0.0.1", 7400), "10.0.0.1:7400");
  assert.deepEqual(parseHostPort(formatHostPort("fe80::1", 9)), { host: "fe80::1", port: 9, family: "ipv6" });
});
