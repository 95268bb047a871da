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

/**
 * The capability a node announces in its handshake agent when it scopes topics (docs/protocol.md, "Topics"):
 * it sends and takes TOPIC_SUBSCRIPTIONS and topic digests. A node sends those only to peers that announce it;
 * an older kith is kept in the network-wide overlay only.
 */
export const TOPICS_CAPABILITY = "topics/1";

/**
 * The capability a node announces in its handshake agent when it takes OBSERVED_ADDRESS, DIAL_BACK_REQUEST
 * and DIAL_BACK_RESPONSE (docs/protocol.md, "Observed addresses and reachability"): a node sends those only
 * to peers that announce it.
 */
export const NAT_CAPABILITY = "nat/1";

/**
 * The token that marks a HANDSHAKE as a dial-back (the agent of such a handshake is `kith/<version>` and this
 * token only): the responder completes it, records who reached it, and closes it; neither end keeps the link.
 */
export const DIAL_BACK_TOKEN = "dialback/1";

/** Agent string sent in handshakes: name and version, then the capabilities, separated by spaces. */
export const AGENT = `kith/${VERSION} ${DIRECT_CAPABILITY} ${TOPICS_CAPABILITY} ${NAT_CAPABILITY}`;

/** Agent string of a dial-back handshake (see {@link DIAL_BACK_TOKEN}). */
export const DIAL_BACK_AGENT = `kith/${VERSION} ${DIAL_BACK_TOKEN}`;

/** Whether a handshake agent announces `capability` (a space-separated token after the name). */
export function announces(agent: string, capability: string): boolean {
  return agent.split(" ").includes(capability);
}
