/**
 * A node's direct messages and requests (lib/direct/) wired to its peer manager: the channel sends over a peer's
 * link and takes penalties through the manager, which disconnects a peer below the trust threshold at once.
 * `KithNode` calls {@link wireDirect} at start.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import { DirectChannel, type DirectConfig, type DirectInbox, type RequestHandler } from "./direct/mod.ts";
import type { Identity } from "./identity.ts";
import type { LogSink } from "./log.ts";
import type { PeerManager } from "./peers/mod.ts";
import type { MessageCodec } from "./protocol/mod.ts";

/** What a node's direct channel is made of. */
export interface DirectWiring {
  /** The node's identity (signs direct messages). */
  identity: Identity;
  /** Its codec. */
  codec: MessageCodec;
  /** Its clock. */
  clock: Clock;
  /** Its peer manager. */
  peers: PeerManager;
  /** The limits of direct messages and requests. */
  config: Readonly<DirectConfig>;
  /** Its log sink. */
  log: LogSink;
  /** Where received direct messages go (made with the node, so handlers can be added before start). */
  inbox: DirectInbox;
  /** The request handlers by protocol (the node's, added before or after start). */
  handlers: ReadonlyMap<string, RequestHandler>;
}

/** The node's direct channel over its peers' links. */
export function wireDirect(w: DirectWiring): DirectChannel {
  const { peers } = w;
  return new DirectChannel(
    {
      identity: w.identity,
      codec: w.codec,
      clock: w.clock,
      // Penalties through the peer manager, which disconnects a peer below the threshold at once.
      trust: { recordInvalid: (nodeId, code) => peers.penalise(nodeId, code ?? "BAD_FIELD") },
      activePeer: (nodeId) => peers.activePeer(nodeId),
      config: w.config,
      log: w.log,
    },
    w.inbox,
    w.handlers,
  );
}
