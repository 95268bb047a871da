/**
 * Typed errors. Every failure kith reports carries a machine-readable `code`
 * so callers (and the trust manager) can act on the kind of failure without
 * parsing messages, and a one-line `message` fit to show a person.
 *
 * @module
 */

/** Base class of every error kith throws on purpose. */
export class KithError extends Error {
  /** Machine-readable code, stable across releases. */
  readonly code: string;

  /**
   * Creates an error with a code.
   *
   * @param code machine-readable code
   * @param message one line for people: what failed, where, what to do
   * @param options standard `cause`
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KithError";
    this.code = code;
  }
}

/**
 * Codes of {@link ProtocolError}, one per way bytes from a peer can be wrong.
 * The trust manager penalises by code, so keep them specific.
 */
export const PROTOCOL_ERROR_CODES = [
  /** A length prefix above the maximum frame size (refused before allocation). */
  "FRAME_TOO_LARGE",
  /** A frame with a zero length prefix. */
  "FRAME_EMPTY",
  /** Bytes that are not one well-formed MessagePack value, or that exceed a decoder bound. */
  "MALFORMED",
  /** The envelope or a payload has a missing, extra or wrongly typed field. */
  "BAD_FIELD",
  /** The envelope names a protocol version this node does not speak. */
  "UNSUPPORTED_VERSION",
  /** The envelope names a message type that does not exist. */
  "UNKNOWN_TYPE",
  /** The payload is larger than the configured maximum. */
  "PAYLOAD_TOO_LARGE",
  /**
   * The origin node id is not the SHA-256 of the origin public key. Since protocol version 2 the origin is
   * not on the wire (receivers compute it), so only a hand-built `Envelope` given to `verify` can fail so.
   */
  "ORIGIN_MISMATCH",
  /** The origin public key is not an acceptable Ed25519 point. */
  "BAD_PUBLIC_KEY",
  /**
   * The message id is not the hash of the signed content. Not produced since protocol version 2, which
   * does not send the id (receivers compute it); kept so that codes stay stable.
   */
  "BAD_ID",
  /** The signature does not verify against the origin public key. */
  "BAD_SIGNATURE",
  /** No signature where one is required: only TTL 0 link messages from a session's own peer may omit it. */
  "UNSIGNED",
  /** The timestamp is older than the allowed message age. */
  "STALE_TIMESTAMP",
  /** The timestamp is further in the future than the allowed clock skew. */
  "FUTURE_TIMESTAMP",
  /** A sealed record failed authentication (tampered, reordered, replayed, or the wrong key). */
  "DECRYPT_FAILED",
] as const;

/** One of {@link PROTOCOL_ERROR_CODES}. */
export type ProtocolErrorCode = typeof PROTOCOL_ERROR_CODES[number];

/**
 * Bytes received from the network were refused. Thrown by the framing and
 * envelope decoders; never by anything else.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "./errors.ts";
 * import { MessageCodec } from "./protocol/mod.ts";
 * try {
 *   new MessageCodec().decode(new Uint8Array([0xc1]), Date.now());
 * } catch (e) {
 *   if (e instanceof ProtocolError) console.log(e.code); // "MALFORMED"
 * }
 * ```
 */
export class ProtocolError extends KithError {
  /** What was wrong with the bytes. */
  declare readonly code: ProtocolErrorCode;

  /**
   * Creates a protocol error.
   *
   * @param code what was wrong
   * @param message details for logs
   */
  constructor(code: ProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ProtocolError";
  }
}

/** The node's identity could not be created, loaded or saved. */
export class IdentityError extends KithError {
  /**
   * Creates an identity error.
   *
   * @param code `KEY_PERMISSIONS`, `KEY_MALFORMED`, `KEY_EXISTS`, `KEY_IO` or `KEY_INVALID`
   * @param message one line naming the file and what to do
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "IdentityError";
  }
}

/** A configuration value is invalid. The message names the key. */
export class ConfigError extends KithError {
  /** The configuration key at fault, e.g. `trust.decayRate`. */
  readonly key: string;

  /**
   * Creates a configuration error.
   *
   * @param key the key at fault
   * @param message one line: the key, the value, what is allowed
   */
  constructor(key: string, message: string) {
    super("CONFIG_INVALID", message);
    this.name = "ConfigError";
    this.key = key;
  }
}
