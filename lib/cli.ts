/**
 * The `kith` command line. `main.ts` calls {@link runCli}; tests call it with
 * their own output sinks.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 * Every error is one line on stderr; the stack trace follows only with
 * `--debug`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseHostPort } from "./address.ts";
import { API_TOKEN_FILE, ControlApi, loadOrCreateApiToken, readApiToken } from "./api.ts";
import { concatBytes, toHex } from "./bytes.ts";
import { type NetworkConfig, type PresetName, PRESETS } from "./config.ts";
import { ConfigError, KithError } from "./errors.ts";
import { KEY_FILE_NAME, loadIdentity, loadOrCreateIdentity } from "./identity.ts";
import { createLogger, isLogLevel, type LogFormat } from "./log.ts";
import { KithNode } from "./node.ts";
import type { PeerInfo } from "./peers/mod.ts";
import { PROTOCOL_VERSION } from "./protocol.ts";
import { VERSION } from "./version.ts";

/** Where the CLI writes; defaults to the process's stdout and stderr. */
export interface CliIo {
  /** Normal output (results). */
  out(line: string): void;
  /** Diagnostics and errors. */
  err(line: string): void;
}

const processIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/** Default data directory when neither `--data-dir` nor `$KITH_DATA_DIR` is set. */
export const DEFAULT_DATA_DIR = "./.kith";
/** Default control API address. */
export const DEFAULT_API_ADDRESS = "127.0.0.1:7401";

const USAGE = `kith ${VERSION}: a peer-to-peer network node

Usage: kith <command> [options]

Commands:
  init        Create the data directory and this node's identity; print the node id
  id          Print the node id and public key of an initialised data directory
  start       Run a node until SIGINT/SIGTERM (initialises on the fly if needed)
  status      Show a running node's status
  peers       List a running node's peers
  trust       Show a running node's trust in its peers, and why
  publish     Broadcast a message through a running node
  subscribe   Print the messages a running node receives
  devnet      Run several nodes on loopback in this process, with a live summary
  dashboard   Print a one-time address that opens a running node's dashboard

Common options:
  --data-dir DIR   Data directory (default ${DEFAULT_DATA_DIR}, or $KITH_DATA_DIR)
  --api HOST:PORT  Control API address (default ${DEFAULT_API_ADDRESS})
  --json           Machine-readable output
  --debug          Show stack traces with errors
  -h, --help       Show help (also: kith <command> --help)
  -V, --version    Show the version

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.`;

const COMMAND_HELP: Record<string, string> = {
  init: `Usage: kith init [--data-dir DIR] [--json]

Creates DIR (mode 0700) and DIR/${KEY_FILE_NAME} (mode 0600) with a new Ed25519
identity, and prints the node id. An existing identity is kept, never replaced.`,
  id: `Usage: kith id [--data-dir DIR] [--json]

Prints the node id and public key stored in DIR/${KEY_FILE_NAME}.`,
  start: `Usage: kith start [--data-dir DIR] [--listen HOST:PORT] [--bootstrap HOST:PORT]...
                  [--api HOST:PORT] [--profile NAME] [--config FILE.json]
                  [--log-level debug|info|warn|error] [--log-format text|json] [--json]

Runs a node from DIR (creating its identity first if there is none),
listening on HOST:PORT (default 0.0.0.0:7400) and joining the network
through the bootstrap nodes (repeat the flag for several; without any, it
reconnects to the peers stored in DIR). The control API listens on --api
(default ${DEFAULT_API_ADDRESS}) and needs the token in DIR/${API_TOKEN_FILE}.
--profile picks a preset: default, high-throughput, low-resource,
high-security. --config reads NetworkConfig settings from a JSON object
(flags win). Logs go to stderr. SIGINT or SIGTERM stops the node cleanly
(exit 0).`,
  status: `Usage: kith status [--data-dir DIR] [--api HOST:PORT] [--json]

Shows the node id, address, uptime, profile, peer counts and message counters
of the node running from DIR.`,
  peers: `Usage: kith peers [--data-dir DIR] [--api HOST:PORT] [--json]

Lists the node's peers: state, direction, address, trust, reputation, round trip.`,
  trust: `Usage: kith trust [--data-dir DIR] [--api HOST:PORT] [--json]

Shows trust and reputation per peer with their parts (trend, stats) and the
latest trust events that moved them.`,
  publish: `Usage: kith publish [--topic T] [--ttl N] [--data-dir DIR] [--api HOST:PORT] [DATA]

Broadcasts DATA (or, without it, standard input) through the running node and
prints the message id.`,
  subscribe: `Usage: kith subscribe [--topic T] [--count N] [--data-dir DIR] [--api HOST:PORT] [--json]

Prints each message the running node receives (on topic T only, with --topic),
until SIGINT, or until N messages with --count.`,
  dashboard: `Usage: kith dashboard [--data-dir DIR] [--api HOST:PORT]

Prints the address of the node's dashboard with a one-time login code (valid
for a minute, in the address's #fragment so it never reaches a server log).
Opening it exchanges the code for a session cookie; the API token itself
never appears in a URL.`,
  devnet: `Usage: kith devnet [--nodes N] [--traffic R] [--duration S] [--api HOST:PORT] [--json]

Starts N nodes (default 5) on loopback in this process, connects them through
the first one, publishes R demo messages per second (default 1) from random
nodes, and prints a summary every 2 seconds: peers, messages and trust of each
node. Runs until SIGINT, or for S seconds. It also serves a page showing every
node and link and each broadcast spreading hop by hop, with the delivery time
at each node, and prints the page's address with a one-time code: on a free
loopback port, or at --api HOST:PORT (--api off: no page).`,
};

class UsageError extends KithError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

function dataDirFrom(flag: string | undefined): string {
  if (flag !== undefined) {
    if (flag === "") throw new UsageError("--data-dir needs a directory path");
    return flag;
  }
  try {
    const fromEnv = Deno.env.get("KITH_DATA_DIR");
    if (fromEnv) return fromEnv;
  } catch {
    // No --allow-env for it: the default applies.
  }
  return DEFAULT_DATA_DIR;
}

/** `host:port` where port 0 (any free port) is allowed, for listening. */
function listenAddress(flag: string, name: string): { host: string; port: number } {
  const anyPort = flag.endsWith(":0");
  const parsed = parseHostPort(anyPort ? `${flag.slice(0, -2)}:1` : flag);
  if (!parsed) throw new UsageError(`${name} must be host:port, got ${JSON.stringify(flag)}`);
  return { host: parsed.host, port: anyPort ? 0 : parsed.port };
}

function waitForSignal(): { promise: Promise<void>; dispose(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  const listeners: [Deno.Signal, () => void][] = [];
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, resolve);
      listeners.push([signal, resolve]);
    } catch {
      // Not supported here (e.g. SIGTERM on Windows).
    }
  }
  return {
    promise,
    dispose: () => {
      for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    },
  };
}

interface Flags {
  "data-dir"?: string;
  api?: string;
  json: boolean;
  listen?: string;
  bootstrap?: string[];
  profile?: string;
  config?: string;
  "log-level"?: string;
  "log-format"?: string;
  topic?: string;
  ttl?: string;
  count?: string;
  nodes?: string;
  traffic?: string;
  duration?: string;
}

async function readConfigFile(path: string): Promise<Partial<NetworkConfig>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new KithError(
        "CONFIG_READ",
        `cannot read config file ${path}: permission denied (run with --allow-read=${path})`,
      );
    }
    throw new UsageError(`cannot read config file ${path}: ${error instanceof Error ? error.message : error}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`config file ${path} is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`config file ${path} must hold a JSON object of settings`);
  }
  return value as Partial<NetworkConfig>;
}

/** `kith start`: runs a node until SIGINT or SIGTERM. */
async function runNode(dataDir: string, flags: Flags, io: CliIo): Promise<number> {
  const level = flags["log-level"] ?? "info";
  if (!isLogLevel(level)) {
    throw new UsageError(`--log-level must be debug, info, warn or error, got ${JSON.stringify(level)}`);
  }
  const format = flags["log-format"] ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--log-format must be text or json, got ${JSON.stringify(format)}`);
  }
  const log = createLogger(level, format as LogFormat, io.err);
  const config: Partial<NetworkConfig> = flags.config ? await readConfigFile(flags.config) : {};
  if (flags.listen !== undefined) {
    const listen = listenAddress(flags.listen, "--listen");
    config.listenHost = listen.host;
    config.listenPort = listen.port;
  }
  if (flags.bootstrap) {
    for (const address of flags.bootstrap) {
      if (!parseHostPort(address)) {
        throw new UsageError(`--bootstrap must be host:port, got ${JSON.stringify(address)}`);
      }
    }
    config.bootstrap = flags.bootstrap;
  }
  const api = listenAddress(flags.api ?? DEFAULT_API_ADDRESS, "--api");
  const profile = flags.profile ?? "default";
  if (!(profile in PRESETS)) {
    throw new UsageError(`--profile must be one of ${Object.keys(PRESETS).join(", ")}, got ${JSON.stringify(profile)}`);
  }
  let node: KithNode;
  try {
    node = new KithNode({ dataDir, config, preset: profile as PresetName, log });
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new UsageError(`${flags.config ? `config file ${flags.config}: ` : ""}${error.message}`);
    }
    throw error;
  }
  const signal = waitForSignal();
  let server: ControlApi | undefined;
  try {
    await node.start();
    server = new ControlApi({
      node,
      token: await loadOrCreateApiToken(dataDir),
      hostname: api.host,
      port: api.port,
      log,
    });
    const apiAddress = await server.start();
    const info = { nodeId: node.nodeId, address: node.address, api: apiAddress, dataDir, profile };
    io.out(
      flags.json
        ? JSON.stringify(info)
        : `kith ${VERSION} node ${node.nodeId} listening on ${node.address}, control API on ${apiAddress} (profile ${profile})`,
    );
    await signal.promise;
    log("info", "stopping");
  } finally {
    signal.dispose();
    await server?.stop();
    await node.stop();
  }
  return 0;
}

/** A request to a running node's control API. */
async function callApi(
  dataDir: string,
  apiFlag: string | undefined,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const token = await readApiToken(dataDir);
  const api = apiFlag ?? DEFAULT_API_ADDRESS;
  if (!parseHostPort(api)) throw new UsageError(`--api must be host:port, got ${JSON.stringify(api)}`);
  let response: Response;
  try {
    response = await fetch(`http://${api}${path}`, {
      ...init,
      headers: { ...init.headers, authorization: `Bearer ${token}` },
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new KithError(
        "API",
        `cannot reach the control API at ${api}: permission denied (run with --allow-net=${api})`,
      );
    }
    throw new KithError("API", `cannot reach the control API at ${api}: is \`kith start\` running with --api ${api}?`);
  }
  if (response.status === 401) {
    await response.body?.cancel();
    throw new KithError("API", `the control API at ${api} refused the token in ${dataDir}/${API_TOKEN_FILE} (401)`);
  }
  if (!response.ok) {
    const body = await response.json().catch(() => undefined) as { error?: { message?: string } } | undefined;
    throw new KithError(
      "API",
      `the control API answered ${response.status}: ${body?.error?.message ?? response.statusText}`,
    );
  }
  return response;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

const short = (id: string) => id.slice(0, 16);

function peersTable(peers: PeerInfo[]): string {
  if (peers.length === 0) return "no peers";
  return table([
    ["NODE", "STATE", "DIR", "ADDRESS", "TRUST", "REPUTATION", "RTT", "LAST SEEN"],
    ...peers.map((p) => [
      short(p.nodeId),
      p.state,
      p.direction ?? "-",
      p.address || "-",
      p.trust.toFixed(3),
      p.reputation.toFixed(3),
      p.rttMs === undefined ? "-" : `${p.rttMs} ms`,
      p.lastSeen ? new Date(p.lastSeen).toISOString() : "-",
    ]),
  ]);
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of Deno.stdin.readable) {
    size += chunk.length;
    if (size > 1024 * 1024) throw new UsageError("standard input is over 1 MiB; the message would be refused");
    chunks.push(chunk);
  }
  return concatBytes(...chunks);
}

async function runClient(command: string, dataDir: string, flags: Flags, rest: string[], io: CliIo): Promise<number> {
  switch (command) {
    case "status": {
      const status = await (await callApi(dataDir, flags.api, "/v1/status")).json();
      if (flags.json) io.out(JSON.stringify(status));
      else {
        const g = status.stats.gossip;
        io.out(table([
          ["node", status.nodeId],
          ["address", status.address],
          ["version", `${status.version} (protocol ${status.protocol})`],
          ["profile", status.profile],
          ["uptime", `${Math.round(status.uptimeMs / 1000)} s`],
          [
            "peers",
            `${status.peers.active} active, ${status.peers.connecting} connecting, ${status.peers.known} known`,
          ],
          [
            "messages",
            `${g.published} published, ${g.delivered} delivered, ${g.duplicates} duplicate, ${g.invalid} invalid`,
          ],
          ["bytes", `${status.stats.transport.bytesIn} in, ${status.stats.transport.bytesOut} out`],
        ]));
      }
      return 0;
    }
    case "peers": {
      const peers = await (await callApi(dataDir, flags.api, "/v1/peers")).json() as PeerInfo[];
      io.out(flags.json ? JSON.stringify(peers) : peersTable(peers));
      return 0;
    }
    case "trust": {
      const trust = await (await callApi(dataDir, flags.api, "/v1/trust")).json() as {
        nodeId: string;
        state: string;
        trust: number;
        reputation: number;
        trend: number;
        stats: number;
        events: { eventType: string; trustDelta: number; count: number }[];
      }[];
      if (flags.json) io.out(JSON.stringify(trust));
      else if (trust.length === 0) io.out("no peers");
      else {
        io.out(table([
          ["NODE", "STATE", "TRUST", "REPUTATION", "TREND", "STATS", "LATEST EVENTS"],
          ...trust.map((t) => [
            short(t.nodeId),
            t.state,
            t.trust.toFixed(3),
            t.reputation.toFixed(3),
            t.trend.toFixed(2),
            t.stats.toFixed(2),
            t.events.slice(0, 3).map((e) =>
              `${e.eventType}${e.count > 1 ? ` x${e.count}` : ""} ${e.trustDelta >= 0 ? "+" : ""}${
                e.trustDelta.toFixed(3)
              }`
            ).join(", ") || "-",
          ]),
        ]));
      }
      return 0;
    }
    case "publish": {
      if (rest.length > 1) throw new UsageError("kith publish takes one DATA argument (quote it), or standard input");
      const data = rest.length === 1 ? new TextEncoder().encode(rest[0]) : await readStdin();
      const ttl = flags.ttl === undefined ? undefined : Number(flags.ttl);
      if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 0 && ttl <= 255)) {
        throw new UsageError("--ttl must be an integer in 0..255");
      }
      const response = await callApi(dataDir, flags.api, "/v1/publish", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ dataBase64: btoa(String.fromCharCode(...data)), topic: flags.topic, ttl }),
      });
      const { id } = await response.json();
      io.out(flags.json ? JSON.stringify({ id }) : id);
      return 0;
    }
    case "dashboard": {
      const { code } = await (await callApi(dataDir, flags.api, "/v1/login-code", { method: "POST" })).json();
      const url = `http://${flags.api ?? DEFAULT_API_ADDRESS}/#code=${code}`;
      io.out(flags.json ? JSON.stringify({ url }) : url);
      return 0;
    }
    case "subscribe": {
      const limit = flags.count === undefined ? Infinity : Number(flags.count);
      if (!(limit > 0)) throw new UsageError("--count must be a positive integer");
      const query = flags.topic !== undefined ? `?topic=${encodeURIComponent(flags.topic)}` : "";
      const response = await callApi(dataDir, flags.api, `/v1/subscribe${query}`);
      const signal = waitForSignal();
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "", seen = 0;
      try {
        const stopped = signal.promise.then(() => ({ done: true as const, value: undefined }));
        while (seen < limit) {
          const { value, done } = await Promise.race([reader.read(), stopped]);
          if (done) break;
          buffered += value;
          let end;
          while ((end = buffered.indexOf("\n\n")) >= 0 && seen < limit) {
            const event = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const dataLine = event.split("\n").find((line) => line.startsWith("data: "));
            if (!dataLine) continue;
            const message = JSON.parse(dataLine.slice(6));
            seen++;
            io.out(
              flags.json
                ? JSON.stringify(message)
                : `${new Date(message.timestamp).toISOString()} ${short(message.origin)} [${message.topic || "-"}] ${
                  message.data ?? `(binary, base64) ${message.dataBase64}`
                }`,
            );
          }
        }
      } finally {
        signal.dispose();
        await reader.cancel().catch(() => {});
      }
      return 0;
    }
  }
  throw new UsageError(`unknown command '${command}'`);
}

/** `kith devnet`: several nodes in this process, a live summary. */
async function runDevnet(flags: Flags, io: CliIo): Promise<number> {
  const count = Number(flags.nodes ?? 5);
  const traffic = Number(flags.traffic ?? 1);
  const duration = flags.duration === undefined ? Infinity : Number(flags.duration);
  if (!Number.isInteger(count) || count < 2 || count > 100) {
    throw new UsageError("--nodes must be an integer in 2..100");
  }
  if (!(traffic >= 0 && traffic <= 1000)) {
    throw new UsageError("--traffic must be a number of messages per second in 0..1000");
  }
  if (!(duration > 0)) throw new UsageError("--duration must be a positive number of seconds");
  const nodes: KithNode[] = [];
  const received = new Map<KithNode, number>();
  const signal = waitForSignal();
  let publisher: ReturnType<typeof setInterval> | undefined, summary: ReturnType<typeof setInterval> | undefined;
  let server: ControlApi | undefined;
  try {
    for (let i = 0; i < count; i++) {
      const node = new KithNode({
        config: {
          listenHost: `127.0.${i + 1}.1`,
          listenPort: 0,
          bootstrap: i === 0 ? [] : [nodes[0].address],
          minPeers: Math.min(4, count - 1),
          maxConnectionsPerIp: 1_000,
          gossipIntervalMs: 500,
          peerMaintenanceIntervalMs: 200,
        },
      });
      await node.start();
      received.set(node, 0);
      node.subscribe("devnet", () => received.set(node, received.get(node)! + 1));
      nodes.push(node);
    }
    let page: string | undefined;
    if (flags.api !== "off") {
      // A free loopback port by default, so a devnet never collides with a node's API on 7401.
      const api = listenAddress(flags.api ?? "127.0.0.1:0", "--api");
      server = new ControlApi({
        node: nodes[0],
        token: toHex(crypto.getRandomValues(new Uint8Array(32))), // in memory only: the page logs in by code
        hostname: api.host,
        port: api.port,
        devnet: nodes,
      });
      const address = await server.start();
      page = `http://${address}/devnet#code=${server.loginCode()}`;
    }
    io.out(
      flags.json
        ? JSON.stringify({ devnet: nodes.map((n) => ({ nodeId: n.nodeId, address: n.address })), page })
        : `devnet: ${count} nodes on loopback; ${traffic} message(s)/s of demo traffic; Ctrl-C to stop` +
          (page ? `\nwatch it at ${page} (the code works once, for a minute)` : ""),
    );
    let seq = 0;
    if (traffic > 0) {
      publisher = setInterval(() => {
        const node = nodes[Math.floor(Math.random() * nodes.length)];
        node.broadcast(`demo message ${++seq} from ${short(node.nodeId)}`, { topic: "devnet" });
      }, 1000 / traffic);
    }
    const print = () => {
      const rows = nodes.map((n, i) => {
        const peers = n.peers().filter((p) => p.state === "active");
        const stats = n.stats().gossip;
        const meanTrust = peers.length ? peers.reduce((s, p) => s + p.trust, 0) / peers.length : 0;
        return {
          index: i,
          nodeId: n.nodeId,
          address: n.address,
          peers: peers.length,
          published: stats.published,
          received: received.get(n)!,
          duplicates: stats.duplicates,
          meanTrust,
        };
      });
      if (flags.json) io.out(JSON.stringify({ time: Date.now(), nodes: rows }));
      else {
        io.out(
          table([
            ["#", "NODE", "ADDRESS", "PEERS", "PUBLISHED", "RECEIVED", "DUPLICATES", "MEAN TRUST"],
            ...rows.map((
              r,
            ) => [
              String(r.index),
              short(r.nodeId),
              r.address,
              String(r.peers),
              String(r.published),
              String(r.received),
              String(r.duplicates),
              r.meanTrust.toFixed(3),
            ]),
          ]) + "\n",
        );
      }
    };
    summary = setInterval(print, 2_000);
    const timer = Number.isFinite(duration)
      ? new Promise<void>((r) => setTimeout(r, duration * 1000))
      : new Promise<void>(() => {});
    await Promise.race([signal.promise, timer]);
    print();
  } finally {
    signal.dispose();
    if (publisher !== undefined) clearInterval(publisher);
    if (summary !== undefined) clearInterval(summary);
    await server?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  }
  return 0;
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code.
 *
 * @example
 * ```ts
 * import { runCli } from "./cli.ts";
 * const code = await runCli(["--version"]);
 * console.log(code); // 0
 * ```
 */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  // `deno task start -- --flag` passes the "--" through.
  const dashDash = argv.indexOf("--");
  const args = dashDash >= 0 && dashDash <= 1 ? [...argv.slice(0, dashDash), ...argv.slice(dashDash + 1)] : argv;
  let debug = args.includes("--debug");
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        "data-dir": { type: "string" },
        api: { type: "string" },
        listen: { type: "string" },
        bootstrap: { type: "string", multiple: true },
        profile: { type: "string" },
        config: { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        topic: { type: "string" },
        ttl: { type: "string" },
        count: { type: "string" },
        nodes: { type: "string" },
        traffic: { type: "string" },
        duration: { type: "string" },
        json: { type: "boolean", default: false },
        debug: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "V", default: false },
      },
    });
    debug = values.debug;
    const [command, ...rest] = positionals;
    if (values.version) {
      io.out(
        values.json
          ? JSON.stringify({ version: VERSION, protocol: PROTOCOL_VERSION })
          : `kith ${VERSION} (protocol ${PROTOCOL_VERSION})`,
      );
      return 0;
    }
    if (command === undefined) {
      (values.help ? io.out : io.err)(USAGE);
      return values.help ? 0 : 2;
    }
    if (!(command in COMMAND_HELP)) throw new UsageError(`unknown command '${command}'; run kith --help for the list`);
    if (values.help) {
      io.out(COMMAND_HELP[command]);
      return 0;
    }
    if (rest.length > 0 && command !== "publish") {
      throw new UsageError(`unexpected argument '${rest[0]}' for kith ${command}`);
    }
    if (command === "devnet") return await runDevnet(values, io);
    const dataDir = dataDirFrom(values["data-dir"]);
    if (command === "id") {
      const keyPath = `${dataDir}/${KEY_FILE_NAME}`;
      const identity = await loadIdentity(keyPath).catch((error) => {
        if (error instanceof KithError && error.cause instanceof Deno.errors.NotFound) {
          throw new KithError("NOT_INITIALISED", `no identity in ${dataDir}; run: kith init --data-dir ${dataDir}`);
        }
        throw error;
      });
      const info = { nodeId: identity.nodeId, publicKey: toHex(identity.publicKey), dataDir };
      io.out(values.json ? JSON.stringify(info) : `node id     ${info.nodeId}\npublic key  ${info.publicKey}`);
      return 0;
    }
    if (command === "start") return await runNode(dataDir, values, io);
    if (command !== "init") return await runClient(command, dataDir, values, rest, io);
    const { identity, created } = await loadOrCreateIdentity(dataDir);
    if (values.json) {
      io.out(JSON.stringify({ nodeId: identity.nodeId, publicKey: toHex(identity.publicKey), dataDir, created }));
    } else {
      io.out(identity.nodeId);
      if (!created) io.err(`kith: ${dataDir} was already initialised; kept its identity`);
    }
    return 0;
  } catch (error) {
    const usage = error instanceof UsageError ||
      (error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"));
    const message = error instanceof Error ? error.message : String(error);
    io.err(`kith: ${message}`);
    if (debug && error instanceof Error && error.stack) io.err(error.stack);
    return usage ? 2 : 1;
  }
}
