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
import { toHex } from "./bytes.ts";
import { ConfigError, KithError } from "./errors.ts";
import { KEY_FILE_NAME, loadIdentity, loadOrCreateIdentity } from "./identity.ts";
import { parseHostPort } from "./address.ts";
import { type NetworkConfig, type PresetName, PRESETS } from "./config.ts";
import { KithNode } from "./node.ts";
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

const USAGE = `kith ${VERSION}: a peer-to-peer network node

Usage: kith <command> [options]

Commands:
  init     Create the data directory and this node's identity; print the node id
  id       Print the node id and public key of an initialised data directory
  start    Run a node until SIGINT/SIGTERM (initialises on the fly if needed)

Options:
  --data-dir DIR   Data directory (default ${DEFAULT_DATA_DIR}, or $KITH_DATA_DIR)
  --listen H:P     (start) Listening address (default 0.0.0.0:7400)
  --bootstrap H:P  (start) Bootstrap node, repeatable
  --profile NAME   (start) default, high-throughput, low-resource or high-security
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
                  [--profile default|high-throughput|low-resource|high-security] [--json]

Runs a node from DIR (creating its identity first if there is none),
listening on HOST:PORT (default 0.0.0.0:7400) and joining the network
through the bootstrap nodes (repeat the flag for several; without any, it
reconnects to the peers stored in DIR). Runs until SIGINT or SIGTERM, then
disconnects from its peers, flushes its database and exits 0.`,
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

interface StartFlags {
  json: boolean;
  listen?: string;
  bootstrap?: string[];
  profile?: string;
}

/** `kith start`: runs a node until SIGINT or SIGTERM. */
async function runNode(dataDir: string, flags: StartFlags, io: CliIo): Promise<number> {
  const config: Partial<NetworkConfig> = {};
  if (flags.listen !== undefined) {
    // Port 0 (any free port) is valid for listening, though not as a peer's address.
    const anyPort = flags.listen.endsWith(":0");
    const listen = parseHostPort(anyPort ? `${flags.listen.slice(0, -2)}:1` : flags.listen);
    if (!listen) throw new UsageError(`--listen must be host:port, got ${JSON.stringify(flags.listen)}`);
    config.listenHost = listen.host;
    config.listenPort = anyPort ? 0 : listen.port;
  }
  if (flags.bootstrap) {
    for (const address of flags.bootstrap) {
      if (!parseHostPort(address)) {
        throw new UsageError(`--bootstrap must be host:port, got ${JSON.stringify(address)}`);
      }
    }
    config.bootstrap = flags.bootstrap;
  }
  const profile = flags.profile ?? "default";
  if (!(profile in PRESETS)) {
    throw new UsageError(`--profile must be one of ${Object.keys(PRESETS).join(", ")}, got ${JSON.stringify(profile)}`);
  }
  let node: KithNode;
  try {
    node = new KithNode({ dataDir, config, preset: profile as PresetName });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  await node.start();
  const info = { nodeId: node.nodeId, address: node.address, dataDir, profile };
  io.out(
    flags.json
      ? JSON.stringify(info)
      : `kith ${VERSION} node ${node.nodeId} listening on ${node.address} (profile ${profile})`,
  );
  const stopped = new Promise<void>((resolve) => {
    const stop = () => resolve();
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      try {
        Deno.addSignalListener(signal, stop);
      } catch {
        // Not supported here (e.g. SIGTERM on Windows).
      }
    }
  });
  await stopped;
  io.err("kith: stopping");
  await node.stop();
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
  const args = argv.filter((arg, i) => !(arg === "--" && i === argv.indexOf("--") && i <= 1));
  let debug = args.includes("--debug");
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        "data-dir": { type: "string" },
        listen: { type: "string" },
        bootstrap: { type: "string", multiple: true },
        profile: { type: "string" },
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
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}' for kith ${command}`);
    const dataDir = dataDirFrom(values["data-dir"]);
    const keyPath = `${dataDir}/${KEY_FILE_NAME}`;
    if (command === "id") {
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
