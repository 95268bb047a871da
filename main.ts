/**
 * The `kith` executable: `deno run main.ts <command>`, or the binary built by
 * `deno task compile`. See lib/cli/ for the commands.
 *
 * @module
 */
import { runCli } from "./lib/cli/mod.ts";

if (import.meta.main) {
  Deno.exitCode = await runCli(Deno.args);
}
