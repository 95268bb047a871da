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
import { KithError } from "./errors.ts";
import { KEY_FILE_NAME, loadIdentity, loadOrCreateIdentity } from "./identity.ts";
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
  start    Start the node (initialises on the fly if needed)

Options:
  --data-dir DIR   Data directory (default ${DEFAULT_DATA_DIR}, or $KITH_DATA_DIR)
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
  start: `Usage: kith start [--data-dir DIR] [--json]

Starts the node from DIR, creating the identity first if there is none.
This release has the identity and the wire protocol; the network layer
(transport, peers, gossip) is not built yet, so start loads the identity,
reports it, and exits.`,
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
export async function runCli(args: string[], io: CliIo = processIo): Promise<number> {
  let debug = args.includes("--debug");
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        "data-dir": { type: "string" },
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
    const { identity, created } = await loadOrCreateIdentity(dataDir);
    if (values.json) {
      io.out(JSON.stringify({ nodeId: identity.nodeId, publicKey: toHex(identity.publicKey), dataDir, created }));
    } else if (command === "init") {
      io.out(created ? identity.nodeId : `${identity.nodeId}`);
      if (!created) io.err(`kith: ${dataDir} was already initialised; kept its identity`);
    } else {
      io.out(
        `kith ${VERSION} node ${identity.nodeId} (${created ? "new identity" : "identity loaded"} from ${keyPath})`,
      );
      io.err(
        "kith: the network layer (transport, peers, gossip) is not built yet in this release; nothing to run, exiting",
      );
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
