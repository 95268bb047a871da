/**
 * The release version; kept equal to `version` in deno.json (a test checks).
 *
 * @module
 */

/** kith's release version. */
export const VERSION = "0.1.0";

/** Agent string sent in handshakes. */
export const AGENT = `kith/${VERSION}`;
