/**
 * The `kith` entry point: parses the command line, dispatches to a command,
 * and turns every error into one line on stderr and an exit code.
 *
 * @module
 */
import { KithError } from "../errors.ts";
import { PROTOCOL_VERSION } from "../protocol/mod.ts";
import { VERSION } from "../version.ts";
import { dataDirFrom, parseCliArgs, UsageError } from "./args.ts";
import { runClient } from "./commands/client.ts";
import { runDevnet } from "./commands/devnet.ts";
import { runDht } from "./commands/dht.ts";
import { runId, runInit, runNode } from "./commands/node.ts";
import { type CliIo, processIo } from "./output.ts";
import { denoRunLine, isPermissionError } from "./permissions.ts";
import { COMMAND_HELP, USAGE } from "./usage.ts";

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code.
 *
 * @example
 * ```ts
 * import { runCli } from "./mod.ts";
 * const code = await runCli(["--version"]);
 * console.log(code); // 0
 * ```
 */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  // `deno task start -- --flag` passes the "--" through.
  const dashDash = argv.indexOf("--");
  const args = dashDash >= 0 && dashDash <= 1 ? [...argv.slice(0, dashDash), ...argv.slice(dashDash + 1)] : argv;
  let debug = args.includes("--debug");
  let json = false;
  // Set once the command and its data directory are known: the `deno run` line a permission error names.
  let rerun: (() => string) | undefined;
  try {
    const { values, positionals } = parseCliArgs(args);
    debug = values.debug;
    json = values.json;
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
    if (rest.length > 0 && command !== "publish" && command !== "dht" && command !== "history") {
      throw new UsageError(`unexpected argument '${rest[0]}' for kith ${command}`);
    }
    rerun = () => denoRunLine(command, dataDirFrom(values["data-dir"]), values, args);
    if (command === "devnet") return await runDevnet(values, io);
    const dataDir = dataDirFrom(values["data-dir"]);
    if (command === "id") return await runId(dataDir, values, io);
    if (command === "start") return await runNode(dataDir, values, io);
    if (command === "dht") return await runDht(dataDir, values, rest, io);
    if (command !== "init") return await runClient(command, dataDir, values, rest, io);
    return await runInit(dataDir, values, io);
  } catch (error) {
    const usage = error instanceof UsageError ||
      (error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"));
    let message = error instanceof Error ? error.message : String(error);
    if (rerun && isPermissionError(error)) {
      // Every permission the command needs, in one line to copy, rather than one missing flag per attempt.
      message =
        `${message.replace(/ \(run with [^)]*\)$/, "").replace(/, run again with the --allow-\w+ flag$/, "")}; ` +
        `run: ${rerun()}`;
    }
    if (json) {
      // --json promised machine-readable output: the error too, as one JSON line on stderr.
      const code = error instanceof KithError ? error.code : "ERROR";
      io.err(JSON.stringify({ error: { code, message } }));
    } else io.err(`kith: ${message}`);
    if (debug && error instanceof Error && error.stack) io.err(error.stack);
    return usage ? 2 : 1;
  }
}
