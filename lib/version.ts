/**
 * The release version; kept equal to `version` in deno.json (a test checks).
 *
 * @module
 */

/** kith's release version. */
export const VERSION = "0.1.0";

/**
 * The capability a node announces in its handshake agent when it takes DIRECT_MESSAGE, REQUEST and
 * RESPONSE (docs/protocol.md, "Direct messages"): a node sends those only to peers that announce it, as an
 * older kith would count the unknown types against the sender's trust.
 */
export const DIRECT_CAPABILITY = "direct/1";

/** Agent string sent in handshakes: name and version, then the capabilities, separated by spaces. */
export const AGENT = `kith/${VERSION} ${DIRECT_CAPABILITY}`;
