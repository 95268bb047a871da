/**
 * The typed error of direct messages and requests.
 *
 * @module
 */
import { KithError } from "../errors.ts";

/** Codes of {@link DirectError}. */
export type DirectErrorCode =
  /** The node id is not an active peer (reaching other nodes through the DHT's findPeer is a later issue). */
  | "NOT_A_PEER"
  /** The peer runs a kith that does not announce direct messages (`direct/1` in its handshake agent). */
  | "PEER_UNSUPPORTED"
  /** The data is over this node's size limit (or the responder's: a RESPONSE with status TOO_LARGE). */
  | "TOO_LARGE"
  /** This node already sent that peer as many direct messages and requests as its rate allows. */
  | "RATE_LIMITED"
  /** The link's send queue is full. */
  | "QUEUE_FULL"
  /** A protocol name that is not 1..64 bytes of `[A-Za-z0-9._/-]`, or one already handled. */
  | "BAD_PROTOCOL"
  /** Already `maxOutgoingRequestsPerPeer` requests in flight to that peer. */
  | "TOO_MANY_REQUESTS"
  /** The responder has no handler for the protocol. */
  | "UNKNOWN_PROTOCOL"
  /** The responder refused: its handler failed, or it is busy with this node's requests (`status` says which). */
  | "REFUSED"
  /** The peer disconnected before the response came. */
  | "PEER_DISCONNECTED"
  /**
   * The link the request went over was replaced by a newer one to the same peer (two nodes dialed each other
   * at once) before the response came. The peer is still connected: retry at once if the protocol allows it
   * (the peer may or may not have served the request).
   */
  | "LINK_REPLACED"
  /** The node is not running (or stopped while the request was in flight). */
  | "NOT_RUNNING";

/**
 * A direct message or request could not be sent or was not answered.
 *
 * @example
 * ```ts ignore
 * try {
 *   await node.request(peerId, "echo/1", bytes);
 * } catch (error) {
 *   if (error instanceof DirectError && error.code === "UNKNOWN_PROTOCOL") console.log("peer lacks echo/1");
 * }
 * ```
 */
export class DirectError extends KithError {
  /** What went wrong. */
  declare readonly code: DirectErrorCode;
  /** For a refusal by the responder: the RESPONSE status name (`BUSY`, `HANDLER_FAILED`, ...). */
  readonly status: string | undefined;

  /**
   * Creates the error.
   *
   * @param code what went wrong
   * @param message one line for people
   * @param status the responder's status name, for its refusals
   */
  constructor(code: DirectErrorCode, message: string, status?: string) {
    super(code, message);
    this.name = "DirectError";
    this.status = status;
  }
}
