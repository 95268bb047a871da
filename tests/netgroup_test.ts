import assert from "node:assert/strict";
import { isLoopback, networkGroup } from "../lib/netgroup.ts";

Deno.test("IPv4 hosts group by /24, IPv6 by /48, IPv4-mapped IPv6 as IPv4", () => {
  assert.deepEqual(networkGroup("10.1.2.3"), { host: "10.1.2.3", subnet: "v4:10.1.2" });
  assert.equal(networkGroup("10.1.2.200").subnet, networkGroup("10.1.2.3").subnet);
  assert.notEqual(networkGroup("10.1.3.3").subnet, networkGroup("10.1.2.3").subnet);
  assert.equal(networkGroup("2001:db8:1:2::1").subnet, "v6:2001:db8:1");
  assert.equal(networkGroup("2001:db8:1:ffff::9").subnet, networkGroup("2001:0db8:0001::1").subnet);
  assert.notEqual(networkGroup("2001:db8:2::1").subnet, networkGroup("2001:db8:1::1").subnet);
  assert.deepEqual(networkGroup("::ffff:10.1.2.3"), { host: "10.1.2.3", subnet: "v4:10.1.2" });
  assert.equal(networkGroup("Node.Example.org").subnet, "dns:node.example.org");
});

Deno.test("loopback addresses are recognised, and distinct 127.x.y.z model distinct subnets", () => {
  assert.ok(isLoopback("127.0.0.1") && isLoopback("127.66.0.9") && isLoopback("::1"));
  assert.ok(!isLoopback("10.0.0.1") && !isLoopback("::2"));
  assert.notEqual(networkGroup("127.0.1.1").subnet, networkGroup("127.0.2.1").subnet);
});
