/**
 * The control API's bearer token: made (mode 0600) in the data directory
 * when absent, refused when others can read it, and read by CLI clients.
 *
 * @module
 */
import { toHex } from "./bytes.ts";
import { KithError } from "./errors.ts";

/** File name of the API token inside a data directory. */
export const API_TOKEN_FILE = "api.token";

/**
 * The API token of `dataDir`, created (64 hex characters, mode 0600) when
 * absent. A token file readable by others is refused, like a key file.
 *
 * @throws {KithError} `API_TOKEN` with one line naming the file
 */
export async function loadOrCreateApiToken(dataDir: string): Promise<string> {
  const path = `${dataDir}/${API_TOKEN_FILE}`;
  try {
    const info = await Deno.stat(path);
    if (info.mode !== null && (info.mode & 0o077) !== 0) {
      throw new KithError("API_TOKEN", `token file ${path} is readable by other users; run: chmod 600 ${path}`);
    }
    const token = (await Deno.readTextFile(path)).trim();
    if (!/^[0-9a-f]{64}$/.test(token)) {
      throw new KithError(
        "API_TOKEN",
        `token file ${path} is malformed; delete it and restart the node to make a new one`,
      );
    }
    return token;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const token = toHex(crypto.getRandomValues(new Uint8Array(32)));
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  try {
    await file.write(new TextEncoder().encode(token + "\n"));
  } finally {
    file.close();
  }
  if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
  return token;
}

/** Reads the API token of a data directory, for CLI clients. */
export async function readApiToken(dataDir: string): Promise<string> {
  const path = `${dataDir}/${API_TOKEN_FILE}`;
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new KithError("API_TOKEN", `no API token in ${dataDir}: is a node running from that data directory?`);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new KithError("API_TOKEN", `cannot read ${path}: permission denied (run with --allow-read=${dataDir})`);
    }
    throw error;
  }
}
