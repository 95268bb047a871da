/**
 * A lab of real hosts on one Linux machine: network namespaces joined by veth pairs to an "internet" namespace
 * (a bridge), some hosts behind NAT routers of a chosen kind, built with `ip` and `nft`, torn down on
 * {@link NetLab.close} (and, for the CLI, on Ctrl-C). Every address lives inside namespaces the lab made:
 * the internet is 198.18.0.0/16 (RFC 2544's benchmarking range, never routed; each host or router on it in
 * its own /24, 198.18.N.2), each NAT router's LAN
 * 10.77.N.0/24. Nothing is routed to the machine's own interfaces.
 *
 * NAT kinds, all nftables on the router's WAN side:
 * - `port-preserving`: `masquerade` as Linux does it (the source port kept when free; inbound only for
 *   tracked connections; unsolicited inbound dropped silently, never reset, as RFC 5382 REQ-4 asks), the NAT
 *   that hole punching works through;
 * - `symmetric`: `masquerade random` (a new external port per connection, so per destination);
 * - `firewall`: no translation (the host has an internet address), but new inbound connections are dropped.
 * Options per router: random loss (`numgen random`) and a bandwidth cap (tbf). This kernel has no netem, so
 * the lab adds no latency: latency stays the simulator's business.
 *
 * Needs root, `ip` and `nft`; {@link labUnavailable} says why the lab cannot run where it cannot.
 *
 * @module
 */

/** How a host reaches the internet. */
export type NatKind = "none" | "port-preserving" | "symmetric" | "firewall";

/** A host to build. */
export interface HostSpec {
  /** Short name (letters, digits, dashes; at most 8 characters). */
  name: string;
  /** Its router's kind; `none` (default) puts the host on the internet directly. */
  nat?: NatKind;
  /** Percent of packets the router drops at random, each way (0-100). Default 0. */
  lossPercent?: number;
  /** Bandwidth of the router's WAN link in kbit/s (tbf), each way. Default: unlimited. */
  rateKbit?: number;
}

/** A built host. */
export interface LabHost {
  /** Its name. */
  readonly name: string;
  /** Its network namespace. */
  readonly netns: string;
  /** Its own address (a LAN address behind a NAT, an internet address otherwise). */
  readonly address: string;
  /** The address the internet sees it from: its router's WAN address behind a NAT, its own otherwise. */
  readonly publicAddress: string;
  /** Its router's kind. */
  readonly nat: NatKind;
}

/** Why the lab cannot run here (not root, no `ip`, no `nft`, no netns), or undefined when it can. */
export async function labUnavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "the lab needs Linux network namespaces";
  if (Deno.uid() !== 0) return "the lab needs root (network namespaces and nftables)";
  for (const [tool, args] of [["ip", ["netns", "list"]], ["nft", ["--version"]]] as const) {
    try {
      const out = await new Deno.Command(tool, { args: [...args], stdout: "null", stderr: "null" }).output();
      if (!out.success) return `\`${tool} ${args.join(" ")}\` failed`;
    } catch {
      return `\`${tool}\` is not installed (apt-get install ${tool === "ip" ? "iproute2" : "nftables"})`;
    }
  }
  return undefined;
}

/** Runs a command, throwing one line with its stderr when it fails. */
async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const child = new Deno.Command(cmd, { args, stdin: input ? "piped" : "null", stdout: "piped", stderr: "piped" })
    .spawn();
  if (input) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new Error(`netlab: \`${cmd} ${args.join(" ")}\` failed: ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}

const NAME = /^[a-z][a-z0-9-]{0,7}$/;
/** Namespaces of this lab start with `kl<pid>-`, so that {@link removeStaleLabs} can tell dead labs apart. */
const PREFIX = "kl";

/**
 * Where each lab leaves a marker (`<lab id>`, holding the PID namespace of its process) while it is up. Network
 * namespaces are machine-wide, but a pid means something only in its own PID namespace: another container on the
 * same machine would take a live lab of this one for dead. So a lab is reaped only by a process of the PID namespace
 * that made it, which its marker names; a lab without a marker here is someone else's and is left alone.
 */
const MARKER_DIR = "/tmp/kithlab";

/** This process's PID namespace (`pid:[inode]`), or "" where it cannot be read. */
function pidNamespace(): string {
  try {
    return Deno.readLinkSync("/proc/self/ns/pid");
  } catch {
    return "";
  }
}

/**
 * Whether process `pid` exists. Not by reading `/proc/<pid>`: Deno 2 asks for all permissions to read /proc,
 * so without them every other live lab looked dead and was removed (two labs running at once removed each
 * other's namespaces). `kill -0` only asks the kernel, with the run permission the lab has anyway.
 */
async function processAlive(pid: number): Promise<boolean> {
  try {
    const out = await new Deno.Command("kill", { args: ["-0", String(pid)], stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return true; // cannot tell: keep it
  }
}

/** Removes namespaces left by labs whose process is gone (a crash or a kill -9 skips their teardown). */
export async function removeStaleLabs(): Promise<string[]> {
  const removed: string[] = [];
  const list = await run("ip", ["netns", "list"]);
  const ours = pidNamespace();
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0];
    const match = /^(kl(\d+)-[^-]+)-/.exec(name);
    if (!match) continue;
    let marker: string;
    try {
      marker = Deno.readTextFileSync(`${MARKER_DIR}/${match[1]}`);
    } catch {
      continue; // not made here: another container's lab, whose pids this one cannot see
    }
    if (ours === "" || marker !== ours) continue;
    const pid = Number(match[2]);
    if (pid === Deno.pid || await processAlive(pid)) continue;
    await run("ip", ["netns", "del", name]).catch(() => {});
    removed.push(name);
  }
  // Markers of labs reaped here, once none of their namespaces is left.
  const left = await run("ip", ["netns", "list"]);
  for (const name of new Set(removed.map((n) => /^(kl\d+-[^-]+)-/.exec(n)![1]))) {
    if (!left.includes(`${name}-`)) Deno.removeSync(`${MARKER_DIR}/${name}`);
  }
  return removed;
}

/** A lab of hosts; build with {@link NetLab.create}, always {@link NetLab.close}. */
export class NetLab {
  /** The hosts, by name. */
  readonly hosts = new Map<string, LabHost>();
  readonly #id: string;
  readonly #namespaces: string[] = [];
  readonly #children = new Set<Deno.ChildProcess>();
  #nextPublic = 10;
  #nextLan = 1;
  #closed = false;

  private constructor(id: string) {
    this.#id = id;
  }

  /** Builds the internet namespace and every host in `specs`; on any failure, removes what it built. */
  static async create(specs: HostSpec[], options: { tag?: string } = {}): Promise<NetLab> {
    const why = await labUnavailable();
    if (why) throw new Error(`netlab: ${why}`);
    await removeStaleLabs();
    const tag = options.tag ?? Math.floor(Math.random() * 1e4).toString(36);
    if (tag.includes("-")) throw new Error("netlab: a tag has no dash");
    const lab = new NetLab(`${PREFIX}${Deno.pid}-${tag}`);
    Deno.mkdirSync(MARKER_DIR, { recursive: true });
    Deno.writeTextFileSync(`${MARKER_DIR}/${lab.#id}`, pidNamespace());
    try {
      await lab.#buildInternet();
      for (const spec of specs) await lab.#addHost(spec);
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  /** The namespace name of `suffix` in this lab. */
  #ns(suffix: string): string {
    return `${this.#id}-${suffix}`;
  }

  async #netns(name: string): Promise<string> {
    await run("ip", ["netns", "add", name]);
    this.#namespaces.push(name);
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
    return name;
  }

  async #buildInternet(): Promise<void> {
    const net = await this.#netns(this.#ns("net"));
    await run("ip", ["-n", net, "link", "add", "br0", "type", "bridge"]);
    await run("ip", ["-n", net, "link", "set", "br0", "up"]);
  }

  /** A veth pair from namespace `a` (named `ifA`) to namespace `b` (named `ifB`), both up. */
  async #veth(a: string, ifA: string, b: string, ifB: string): Promise<void> {
    const tmpA = `v${this.#namespaces.length}a${Deno.pid % 1000}`,
      tmpB = `v${this.#namespaces.length}b${Deno.pid % 1000}`;
    await run("ip", ["link", "add", tmpA, "netns", a, "type", "veth", "peer", "name", tmpB, "netns", b]);
    await run("ip", ["-n", a, "link", "set", tmpA, "name", ifA]);
    await run("ip", ["-n", b, "link", "set", tmpB, "name", ifB]);
    await run("ip", ["-n", a, "link", "set", ifA, "up"]);
    await run("ip", ["-n", b, "link", "set", ifB, "up"]);
  }

  /** Plugs namespace `ns` into the internet's bridge as `wan0` with a fresh internet address; returns it. */
  async #plug(ns: string, port: string): Promise<string> {
    const net = this.#ns("net");
    await this.#veth(ns, "wan0", net, port);
    await run("ip", ["-n", net, "link", "set", port, "master", "br0"]);
    const n = this.#nextPublic++;
    // Each internet address in its own /24, as hosts of different providers are: rules that count subnets
    // (the per-subnet peer bounds, observed-address agreement) see them as the distinct networks they model.
    if (n > 255) throw new Error("netlab: at most 246 hosts and routers on the internet");
    const address = `198.18.${n}.2`;
    await run("ip", ["-n", ns, "addr", "add", `${address}/16`, "dev", "wan0"]);
    return address;
  }

  async #addHost(spec: HostSpec): Promise<void> {
    if (!NAME.test(spec.name)) {
      throw new Error(`netlab: host name ${JSON.stringify(spec.name)} is not [a-z][a-z0-9-]{0,7}`);
    }
    if (this.hosts.has(spec.name)) throw new Error(`netlab: two hosts named ${spec.name}`);
    const nat = spec.nat ?? "none";
    const loss = spec.lossPercent ?? 0;
    if (!Number.isInteger(loss) || loss < 0 || loss > 100) throw new Error("netlab: lossPercent must be 0-100");
    const host = await this.#netns(this.#ns(spec.name));
    if (nat === "none" || nat === "firewall") {
      const address = await this.#plug(host, `p-${spec.name}`);
      if (nat === "firewall") {
        await run("ip", ["netns", "exec", host, "nft", "-f", "-"], FIREWALL);
      }
      await this.#shape(host, "wan0", loss, spec.rateKbit);
      this.hosts.set(spec.name, { name: spec.name, netns: host, address, publicAddress: address, nat });
      return;
    }
    const router = await this.#netns(this.#ns(`r-${spec.name}`));
    const wan = await this.#plug(router, `p-${spec.name}`);
    const lan = this.#nextLan++;
    await this.#veth(router, "lan0", host, "eth0");
    await run("ip", ["-n", router, "addr", "add", `10.77.${lan}.1/24`, "dev", "lan0"]);
    await run("ip", ["-n", host, "addr", "add", `10.77.${lan}.2/24`, "dev", "eth0"]);
    await run("ip", ["-n", host, "route", "add", "default", "via", `10.77.${lan}.1`]);
    await run("ip", ["netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    await run("ip", ["netns", "exec", router, "nft", "-f", "-"], natRules(nat === "symmetric"));
    await this.#shape(router, "wan0", loss, spec.rateKbit);
    this.hosts.set(spec.name, { name: spec.name, netns: host, address: `10.77.${lan}.2`, publicAddress: wan, nat });
  }

  /** Loss (nftables, both ways) and a bandwidth cap (tbf, outbound of `dev`; the peer side caps the other way). */
  async #shape(ns: string, dev: string, loss: number, rateKbit: number | undefined): Promise<void> {
    if (loss > 0) {
      await run("ip", ["netns", "exec", ns, "nft", "-f", "-"], lossRules(dev, loss));
    }
    if (rateKbit !== undefined) {
      if (!Number.isInteger(rateKbit) || rateKbit < 8) throw new Error("netlab: rateKbit must be an integer >= 8");
      await run("ip", [
        "netns",
        "exec",
        ns,
        "tc",
        "qdisc",
        "add",
        "dev",
        dev,
        "root",
        "tbf",
        "rate",
        `${rateKbit}kbit`,
        "burst",
        "32kbit",
        "latency",
        "400ms",
      ]);
    }
  }

  /** The host named `name`; throws when there is none. */
  host(name: string): LabHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`netlab: no host named ${name}`);
    return host;
  }

  /**
   * Starts `cmd args` inside `host`'s namespace; the lab kills it on close if it is still running. Give the
   * process its own time bound as well (a timeout flag or a deadline of its own).
   */
  spawn(host: string, cmd: string, args: string[], options: { stdout?: "piped" | "null" } = {}): Deno.ChildProcess {
    if (this.#closed) throw new Error("netlab: the lab is closed");
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", this.host(host).netns, cmd, ...args],
      stdin: "null",
      stdout: options.stdout ?? "piped",
      stderr: "piped",
    }).spawn();
    this.#children.add(child);
    child.status.finally(() => this.#children.delete(child));
    return child;
  }

  /** Runs `cmd args` inside `host` to the end, within `timeoutMs`; returns its stdout; throws on failure. */
  async exec(host: string, cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
    const child = this.spawn(host, cmd, args);
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    try {
      const out = await child.output();
      if (!out.success) {
        const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
        throw new Error(`netlab: ${cmd} in ${host} exited ${out.code}: ${err}`);
      }
      return new TextDecoder().decode(out.stdout);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills what it started and removes every namespace it made (their links and rules go with them). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const child of [...this.#children]) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status.catch(() => {});
    }
    for (const ns of this.#namespaces.reverse()) await run("ip", ["netns", "del", ns]).catch(() => {});
    this.#namespaces.length = 0;
    try {
      Deno.removeSync(`${MARKER_DIR}/${this.#id}`);
    } catch {
      // Already gone.
    }
  }
}

/** A host firewall: replies and loopback pass, new inbound connections are dropped. */
const FIREWALL = `table inet kithlab {
  chain host_input {
    type filter hook input priority 0; policy drop;
    iif lo accept
    ct state established,related accept
  }
}
`;

/**
 * A NAT router: masquerade out of wan0 (random ports when symmetric); nothing unsolicited is forwarded in, and
 * an unsolicited connection to the router itself is dropped silently rather than reset, as RFC 5382 (REQ-4)
 * asks of NATs so that TCP simultaneous open can work: a reset would end the other side's attempt.
 */
function natRules(symmetric: boolean): string {
  return `table ip kithlab {
  chain nat_post {
    type nat hook postrouting priority 100;
    oifname "wan0" masquerade${symmetric ? " random" : ""}
  }
  chain lan_forward {
    type filter hook forward priority 0; policy drop;
    iifname "lan0" accept
    ct state established,related accept
  }
  chain wan_input {
    type filter hook input priority 0; policy accept;
    iifname "wan0" ct state new drop
  }
}
`;
}

/** Random loss on `dev`, both ways (prerouting in, postrouting out). */
function lossRules(dev: string, percent: number): string {
  const match = percent >= 100 ? "" : `numgen random mod 100 < ${percent} `;
  return `table inet kithloss {
  chain loss_in {
    type filter hook prerouting priority -300;
    iifname "${dev}" ${match}drop
  }
  chain loss_out {
    type filter hook postrouting priority 300;
    oifname "${dev}" ${match}drop
  }
}
`;
}
