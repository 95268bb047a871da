/**
 * kith nodes as processes on hosts of the network lab (scripts/netlab/lab.ts): two public hosts and one behind
 * a port-preserving NAT. The NATed node dials out through its router and joins; a message it publishes
 * reaches the far public node; the public nodes cannot dial it (its router drops unsolicited inbound). Driven
 * through the CLI and the control API, as an operator would. Needs root, `ip` and `nft`; ignored elsewhere.
 * Traffic stays inside the lab's namespaces (198.18.0.0/16 and 10.77.0.0/16, which exist only there).
 */
import assert from "node:assert/strict";
import { labUnavailable, NetLab } from "../scripts/netlab/lab.ts";

const unavailable = await labUnavailable();
const main = new URL("../main.ts", import.meta.url).pathname;
const deno = Deno.execPath();

Deno.test({
  name: "netlab: a kith node behind a NAT joins through two public nodes, and what it publishes reaches the far one",
  ignore: unavailable !== undefined,
  sanitizeResources: false, // the nodes' pipes are closed by the lab
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const lab = await NetLab.create([{ name: "pub1" }, { name: "pub2" }, { name: "nat", nat: "port-preserving" }], {
      tag: "k1",
    });
    try {
      const host = (name: string) => lab.host(name);
      const start = (name: string, bootstrap?: string) =>
        lab.spawn(name, deno, [
          "run",
          "-A",
          main,
          "start",
          "--data-dir",
          `${dir}/${name}`,
          "--listen",
          `${host(name).address}:7400`,
          "--api",
          "127.0.0.1:7401",
          // Peers announce lab addresses in 198.18.0.0/16, a range the public preset refuses; the lab is the
          // operator's choice here.
          "--dial-allow",
          "198.18.0.0/16",
          "--log-level",
          "warn",
          ...(bootstrap ? ["--bootstrap", `${bootstrap}:7400`] : []),
        ], { stdout: "null" });
      const cli = async (name: string, args: string[]) =>
        JSON.parse(
          await lab.exec(name, deno, [
            "run",
            "-A",
            main,
            ...args,
            "--data-dir",
            `${dir}/${name}`,
            "--api",
            "127.0.0.1:7401",
            "--json",
          ]),
        );
      const status = (name: string) => cli(name, ["status"]).catch(() => undefined);
      const until = async (what: string, check: () => Promise<boolean>, limitMs = 60_000) => {
        const deadline = Date.now() + limitMs;
        while (!(await check())) {
          if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      };
      start("pub1");
      await until("pub1's API", async () => (await status("pub1")) !== undefined);
      start("pub2", host("pub1").address);
      start("nat", host("pub1").address);
      await until("the NATed node's links", async () => ((await status("nat"))?.peers?.active ?? 0) >= 1);
      await until("pub2's link", async () => ((await status("pub2"))?.peers?.active ?? 0) >= 1);
      const before = (await status("pub2")).stats.deliveredToApplication;
      await cli("nat", ["publish", "hello from behind a NAT"]); // the network-wide topic: every node carries it
      await until("the message at pub2", async () => (await status("pub2"))?.stats.deliveredToApplication > before);
      // Every link of the NATed node is one it dialed: its router lets nothing in unasked.
      const peers = await cli("nat", ["peers"]);
      const active = (peers.peers ?? peers).filter((p: { state: string }) => p.state === "active");
      assert.ok(active.length >= 1);
      assert.ok(active.every((p: { direction: string }) => p.direction === "outbound"), JSON.stringify(active));
    } finally {
      await lab.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
