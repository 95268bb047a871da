/**
 * Reachability of kith processes on hosts of the network lab (scripts/netlab/lab.ts): three public hosts,
 * and one host behind each kind of NAT (port-preserving, symmetric) and one behind a firewall. Every node
 * learns where its peers see it, asks for dial-backs, and classifies itself: the public ones public, the
 * others private; a private node then advertises no address, and the peers it links to next keep none for it.
 * Driven through the CLI and the control API. Needs root, `ip` and `nft`; ignored elsewhere. Traffic stays
 * inside the lab's namespaces (198.18.0.0/16 and 10.77.0.0/16, which exist only there). Bounded to 2 minutes.
 */
import assert from "node:assert/strict";
import { labUnavailable, NetLab } from "../scripts/netlab/lab.ts";
import type { HostSpec } from "../scripts/netlab/lab.ts";

const unavailable = await labUnavailable();
const main = new URL("../main.ts", import.meta.url).pathname;
const deno = Deno.execPath();

const HOSTS: HostSpec[] = [
  { name: "pub1" },
  { name: "pub2" },
  { name: "pub3" },
  { name: "pp", nat: "port-preserving" },
  { name: "sym", nat: "symmetric" },
  { name: "fw", nat: "firewall" },
];
const EXPECTED: Record<string, string> = {
  pub1: "public",
  pub2: "public",
  pub3: "public",
  pp: "private",
  sym: "private",
  fw: "private",
};

interface NatStatusJson {
  reachability: string;
  checkedAddress?: string;
  observedAddress?: string;
  advertisedAddress: string;
}

Deno.test({
  name:
    "netlab: public hosts find themselves public; hosts behind port-preserving, symmetric NATs and a firewall private, advertising nothing",
  ignore: unavailable !== undefined,
  sanitizeResources: false, // the nodes' pipes are closed by the lab
  fn: async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/lab.json`, JSON.stringify({ dialBackAskerIntervalMs: 10_000 }));
    const lab = await NetLab.create(HOSTS, { tag: "r1" });
    const startedAt = Date.now();
    const drains: Promise<void>[] = [];
    try {
      const host = (name: string) => lab.host(name);
      // Each node's log is drained to a file (a pipe nobody reads would fill and stall the node's writes), and
      // shown when a node gives no verdict.
      const logTail = (name: string) => {
        try {
          return Deno.readTextFileSync(`${dir}/${name}.log`).trim().split("\n").slice(-5).join(" | ");
        } catch {
          return "";
        }
      };
      const start = (name: string, bootstrap: string[]) => {
        const child = spawnNode(name, bootstrap);
        const file = Deno.openSync(`${dir}/${name}.log`, { create: true, write: true, truncate: true });
        drains.push(child.stderr.pipeTo(file.writable).catch(() => {}));
      };
      const spawnNode = (name: string, bootstrap: string[]) =>
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
          "--dial-allow",
          "198.18.0.0/16",
          "--log-level",
          "warn",
          // A failed dial-back waits out a 5 s connect timeout: answers get 12 s (the machine may be loaded). A
          // check that met busy answerers (all six nodes ask at once) tries again after 2 s instead of a minute,
          // and answerers take an asker's retries every 10 s instead of every minute (the config file).
          "--reachability-timeout-ms",
          "12000",
          "--reachability-retry-ms",
          "2000",
          "--config",
          `${dir}/lab.json`,
          ...bootstrap.flatMap((b) => ["--bootstrap", `${b}:7400`]),
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
      const until = async (what: string, check: () => Promise<boolean>, limitMs = 100_000, seen = () => "") => {
        const deadline = Date.now() + limitMs;
        while (!(await check())) {
          if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${seen()}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      };
      start("pub1", []);
      await until("pub1's API", async () => (await status("pub1")) !== undefined);
      const publics = [host("pub1").address];
      start("pub2", publics);
      start("pub3", publics);
      for (const name of ["pp", "sym", "fw"]) start(name, publics);
      const verdicts: Record<string, NatStatusJson> = {};
      const latest: Record<string, unknown> = {};
      await until(
        "every node's verdict",
        async () => {
          // Asked in parallel, and only until each has a verdict: a status is a whole deno process in the host.
          await Promise.all(
            HOSTS.filter(({ name }) => !verdicts[name]).map(async ({ name }) => {
              const nat = (await cli(name, ["status"]).catch((error) => {
                latest[name] = String(error).slice(0, 300);
                return undefined;
              }))?.stats?.nat as NatStatusJson | undefined;
              if (nat) latest[name] = nat;
              if (nat && nat.reachability !== "unknown") verdicts[name] = nat;
            }),
          );
          return HOSTS.every(({ name }) => verdicts[name] !== undefined);
        },
        100_000,
        () =>
          JSON.stringify(latest) + " logs: " +
          HOSTS.filter(({ name }) => !verdicts[name]).map(({ name }) => `${name}: ${logTail(name)}`).join("; "),
      );
      const classified = Object.fromEntries(HOSTS.map(({ name }) => [name, verdicts[name].reachability]));
      assert.deepEqual(classified, EXPECTED);
      for (const { name } of HOSTS) {
        const nat = verdicts[name];
        const h = host(name);
        // Each is seen at its public address: its own on the internet, its router's behind a NAT.
        assert.equal(nat.observedAddress, `${h.publicAddress}:7400`, name);
        if (EXPECTED[name] === "public") assert.equal(nat.advertisedAddress, `${h.address}:7400`, name);
        else assert.equal(nat.advertisedAddress, "", `${name} advertises no address`);
      }
      // A private node's next link carries no address: the public node it reaches keeps none for it.
      const ppId = (await status("pp")).nodeId;
      const pub3Peers = await cli("pub3", ["peers"]);
      const listed = (pub3Peers.peers ?? pub3Peers) as { nodeId: string; address: string; linkKind?: string }[];
      const pp = listed.find((p) => p.nodeId === ppId);
      if (pp) assert.ok(pp.address === "" || pp.address.startsWith(`${host("pp").address}:`), JSON.stringify(pp));
      assert.ok(listed.filter((p) => p.linkKind !== undefined).every((p) => p.linkKind === "direct"));
      console.log(`netlab reachability: ${JSON.stringify(classified)} in ${Date.now() - startedAt} ms`);
    } finally {
      await lab.close();
      await Promise.all(drains);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
