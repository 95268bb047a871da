/**
 * The Deno permissions each `kith` command needs, so that a permission error names all of them at once:
 * the whole `deno run` line to copy, instead of one missing flag per attempt.
 *
 * @module
 */
import { DEFAULT_API_ADDRESS, type Flags } from "./args.ts";

/** Whether `error` (or an error it wraps) is Deno refusing a permission. */
export function isPermissionError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) return true;
    if (/permission denied \(run with|^Requires \w+ access/.test(e.message)) return true;
  }
  return false;
}

/** The permission flags `command` needs with these flags and data directory (narrow: only what it uses). */
export function permissionsFor(command: string, dataDir: string, flags: Flags): string[] {
  switch (command) {
    case "init":
      return [`--allow-read=${dataDir}`, `--allow-write=${dataDir}`, "--allow-env=KITH_DATA_DIR"];
    case "id":
      return [`--allow-read=${dataDir}`, "--allow-env=KITH_DATA_DIR"];
    case "start": {
      const read = flags.config ? `${dataDir},${flags.config}` : dataDir;
      // A node listens and dials whatever addresses its peers and bootstrap list give: net is not narrowed.
      return [`--allow-read=${read}`, `--allow-write=${dataDir}`, "--allow-env=KITH_DATA_DIR", "--allow-net"];
    }
    case "devnet":
      return ["--allow-net=127.0.0.0/8"];
    default: // the client commands: the token in DIR, the control API's address
      return [
        `--allow-read=${dataDir}`,
        "--allow-env=KITH_DATA_DIR",
        `--allow-net=${flags.api ?? DEFAULT_API_ADDRESS}`,
      ];
  }
}

/** The shell-quoted word, when it needs quoting. */
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The `deno run` line that runs `args` with every permission `command` needs. */
export function denoRunLine(command: string, dataDir: string, flags: Flags, args: string[]): string {
  let main = "main.ts";
  try {
    const url = new URL(Deno.mainModule);
    if (url.protocol === "file:" && url.pathname.endsWith("/main.ts")) main = decodeURIComponent(url.pathname);
  } catch {
    // No main module URL: the repository's main.ts.
  }
  return ["deno", "run", ...permissionsFor(command, dataDir, flags), main, ...args].map(quote).join(" ");
}
