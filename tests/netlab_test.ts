/**
 * The network lab (scripts/netlab/lab.ts) builds what it claims: hosts on an internet of namespaces, NAT
 * routers that keep or randomise ports and refuse unsolicited inbound connections, and host firewalls.
 * Needs root, `ip` and `nft` (CI installs nftables); elsewhere these tests are ignored, never passed.
 * All traffic stays inside the namespaces the lab made, and the lab removes them.
 */
import assert from "node:assert/strict";
import { labUnavailable, NetLab } from "../scripts/netlab/lab.ts";

const unavailable = await labUnavailable();
if (unavailable) console.warn(`netlab tests ignored: ${unavailable}`);
const probe = new URL("../scripts/netlab/probe.ts", import.meta.url).pathname;
const deno = Deno.execPath();

/** Starts a probe server in `host` on port 9000 for `ms`, resolved once it listens. */
async function serve(lab: NetLab, host: string, ms: number): Promise<Deno.ChildProcess> {
  const child = lab.spawn(host, deno, ["run", "--allow-net", probe, "serve", "0.0.0.0", "9000", String(ms)]);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  assert.match(value ?? "", /listening/, `probe server in ${host}`);
  reader.releaseLock();
  void child.stdout.cancel().catch(() => {});
  return child;
}

/** Dials `target`:9000 from `host`: "LOCAL SEEN" on success, "error ..." or "timeout" otherwise. */
function dial(lab: NetLab, host: string, target: string, ms = 3000): Promise<string> {
  return lab.exec(host, deno, ["run", "--allow-net", probe, "dial", target, "9000", String(ms)], ms + 10_000)
    .then((out) => out.trim());
}

Deno.test({
  name:
    "netlab: NAT routers translate outbound (ports kept or randomised) and drop unsolicited inbound; a firewall drops new inbound; the lab leaves no namespace behind",
  ignore: unavailable !== undefined,
  sanitizeResources: false, // child processes' pipes are closed by the lab
  fn: async () => {
    const lab = await NetLab.create([
      { name: "pub" },
      { name: "pub2" },
      { name: "pp", nat: "port-preserving" },
      { name: "sym", nat: "symmetric" },
      { name: "fw", nat: "firewall" },
    ], { tag: "t1" });
    try {
      const pub = lab.host("pub"), pp = lab.host("pp"), sym = lab.host("sym"), fw = lab.host("fw");
      const servers = await Promise.all(["pub", "pp", "fw"].map((h) => serve(lab, h, 20_000)));
      // Public to public: direct, seen from its own address.
      const direct = (await dial(lab, "pub2", pub.address)).split(" ");
      assert.equal(direct[1].split(":")[0], lab.host("pub2").address, direct.join(" "));
      // Behind a port-preserving NAT: seen from the router's address, with the host's own port.
      const [ppLocal, ppSeen] = (await dial(lab, "pp", pub.address)).split(" ");
      assert.equal(ppLocal.split(":")[0], pp.address);
      assert.equal(ppSeen.split(":")[0], pp.publicAddress);
      assert.equal(ppSeen.split(":")[1], ppLocal.split(":")[1], "the port is kept");
      // Behind a symmetric NAT: seen from the router's address, with other ports than the host's own.
      let changed = 0;
      for (let i = 0; i < 3; i++) {
        const [local, seen] = (await dial(lab, "sym", pub.address)).split(" ");
        assert.equal(seen.split(":")[0], sym.publicAddress);
        if (seen.split(":")[1] !== local.split(":")[1]) changed++;
      }
      assert.ok(changed >= 2, "a symmetric NAT picks new ports");
      // Unsolicited inbound: to a NATed host's router, and to a firewalled host, nothing gets through.
      assert.match(await dial(lab, "pub", pp.publicAddress, 1500), /^(timeout|error)/);
      assert.match(await dial(lab, "pub", fw.address, 1500), /^(timeout|error)/);
      // The firewalled host still dials out.
      assert.equal((await dial(lab, "fw", pub.address)).split(" ")[1].split(":")[0], fw.address);
      for (const s of servers) s.kill("SIGTERM");
    } finally {
      await lab.close();
    }
    const left = await new Deno.Command("ip", { args: ["netns", "list"] }).output();
    assert.ok(!new TextDecoder().decode(left.stdout).includes(`kl${Deno.pid}-t1`), "namespaces removed");
  },
});

Deno.test({
  name: "netlab: a router's random loss drops packets, and a bad host spec is refused before anything is built",
  ignore: unavailable !== undefined,
  sanitizeResources: false,
  fn: async () => {
    await assert.rejects(NetLab.create([{ name: "Bad Name" }], { tag: "t2" }), /host name/);
    const lab = await NetLab.create([{ name: "pub" }, { name: "lossy", nat: "port-preserving", lossPercent: 100 }], {
      tag: "t3",
    });
    try {
      const server = await serve(lab, "pub", 10_000);
      assert.equal(await dial(lab, "lossy", lab.host("pub").address, 1500), "timeout", "every packet dropped");
      server.kill("SIGTERM");
    } finally {
      await lab.close();
    }
  },
});

Deno.test({
  name: "netlab CLI: Ctrl-C while the lab holds removes its namespaces and exits 0",
  ignore: unavailable !== undefined,
  fn: async () => {
    const script = new URL("../scripts/netlab.ts", import.meta.url).pathname;
    const child = new Deno.Command(deno, {
      args: [
        "run",
        "--allow-run",
        "--allow-read",
        "--allow-write=/tmp/kithlab",
        "--allow-sys",
        script,
        "up",
        "--host",
        "pub",
        "--duration",
        "60",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const deadline = Date.now() + 30_000;
    while (!text.includes("holding") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.match(text, /holding/);
    const listed = new TextDecoder().decode(
      (await new Deno.Command("ip", { args: ["netns", "list"] }).output()).stdout,
    );
    assert.ok(listed.includes(`kl${child.pid}-`), "the lab is up");
    child.kill("SIGINT");
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const status = await child.status;
    await child.stdout.cancel();
    assert.equal(status.code, 0, text);
    const after = new TextDecoder().decode((await new Deno.Command("ip", { args: ["netns", "list"] }).output()).stdout);
    assert.ok(!after.includes(`kl${child.pid}-`), "its namespaces are gone");
  },
});
