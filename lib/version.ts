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
 * The capability a node announces in its handshake agent when it answers and sends DHT_REQUEST and
 * DHT_RESPONSE (docs/protocol.md, "DHT"): a node queries only peers that announce it, and refuses both types
 * from peers that do not (`UNKNOWN_TYPE`), as an older kith would.
 */
export const DHT_CAPABILITY = "dht/1";

/**
 * The capability a node announces in its handshake agent when it catches up topics (docs/protocol.md,
 * "Catch-up"): it sends and takes CATCHUP_RECONCILE, CATCHUP_FETCH and CATCHUP_BODIES. A node sends those only
 * to peers that announce it; an older kith gets nothing new.
 */
export const CATCHUP_CAPABILITY = "catchup/1";

/**
 * The capability a node announces in its handshake agent when it speaks relaying and hole punching
 * (docs/protocol.md, "Relays and hole punching"): RELAY_RESERVE .. HOLE_PUNCH and relayed addresses. Whether
 * it also serves circuits is said by its answer to RELAY_RESERVE.
 */
export const RELAY_CAPABILITY = "relay/1";

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

/**
 * The token that marks a HANDSHAKE as a transient link's (docs/protocol.md, "DHT"): a short link its dialer
 * opens only to ask DHT questions. The agent of such a handshake is {@link TRANSIENT_AGENT}; the responder
 * takes the link outside its peer slots and exchanges only DHT messages over it, and a peer link between the
 * same two nodes displaces it at both ends.
 */
export const TRANSIENT_TOKEN = "transient/1";

/** Agent string sent in handshakes: name and version, then the capabilities, separated by spaces. */
export const AGENT =
  `kith/${VERSION} ${DIRECT_CAPABILITY} ${TOPICS_CAPABILITY} ${CATCHUP_CAPABILITY} ${RELAY_CAPABILITY} ${NAT_CAPABILITY} ${DHT_CAPABILITY}`;

/** The agent of a node with the DHT off: {@link AGENT} without {@link DHT_CAPABILITY}. */
export const AGENT_WITHOUT_DHT =
  `kith/${VERSION} ${DIRECT_CAPABILITY} ${TOPICS_CAPABILITY} ${CATCHUP_CAPABILITY} ${RELAY_CAPABILITY} ${NAT_CAPABILITY}`;

/** Agent string of a dial-back handshake (see {@link DIAL_BACK_TOKEN}). */
export const DIAL_BACK_AGENT = `kith/${VERSION} ${DIAL_BACK_TOKEN}`;

/**
 * Agent string of a transient link's HANDSHAKE (see {@link TRANSIENT_TOKEN}): the one capability it is used
 * for and the token; the full {@link AGENT} would not fit the 64-byte field with the token added.
 */
export const TRANSIENT_AGENT = `kith/${VERSION} ${DHT_CAPABILITY} ${TRANSIENT_TOKEN}`;

/** Whether a handshake agent announces `capability` (a space-separated token after the name). */
export function announces(agent: string, capability: string): boolean {
  // Asked for every topic message a peer sends: a token search in place, not an array of the agent's words.
  if (capability === "" || capability.includes(" ")) return agent.split(" ").includes(capability);
  for (let at = agent.indexOf(capability); at >= 0; at = agent.indexOf(capability, at + 1)) {
    const end = at + capability.length;
    if ((at === 0 || agent.charCodeAt(at - 1) === 32) && (end === agent.length || agent.charCodeAt(end) === 32)) {
      return true;
    }
  }
  return false;
}
