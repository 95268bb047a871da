/**
 * The `kith` command line. `main.ts` calls {@link runCli}; tests call it with
 * their own output sinks.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 * Every error is one line on stderr; the stack trace follows only with
 * `--debug`.
 *
 * Layout: `args.ts` (flags, usage errors), `usage.ts` (help texts),
 * `output.ts` (sink, tables), `signal.ts` (SIGINT/SIGTERM), `permissions.ts`
 * (the `deno run` line a permission error names), `api_client.ts`
 * (requests to a running node), `commands/` (node, client, devnet) and
 * `run.ts` (dispatch and error reporting).
 *
 * @module
 */
export { DEFAULT_API_ADDRESS, DEFAULT_DATA_DIR } from "./args.ts";
export type { CliIo } from "./output.ts";
export { runCli } from "./run.ts";
