/**
 * The client side of a running node's control API, for the commands that
 * talk to `kith start`: the token from the data directory, and every failure
 * turned into one readable line.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { API_TOKEN_FILE, readApiToken } from "../api.ts";
import { KithError } from "../errors.ts";
import { DEFAULT_API_ADDRESS, UsageError } from "./args.ts";

/** A request to a running node's control API. */
export async function callApi(
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
