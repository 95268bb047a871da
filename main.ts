/**
 * The `kith` executable: `deno run main.ts <command>`, or the binary built by
 * `deno task compile`. See lib/cli.ts for the commands.
 *
 * @module
 */
import { runCli } from "./lib/cli.ts";

if (import.meta.main) {
  Deno.exitCode = await runCli(Deno.args);
}
