/**
 * What a relay circuit's leg looks like on the wire before any kith bytes: the preamble an end sends on a
 * fresh socket to the relay (magic, then the token the relay gave it over an authenticated link), and the
 * one byte the relay answers once both legs are there and spliced. A listener tells a leg from a handshake
 * by the magic: read as a frame length, its first four bytes are over any frame limit, so no handshake can
 * begin with them.
 *
 * @module
 */
import type { ByteConn } from "./connection.ts";

/** The first bytes of a circuit leg: "KITHRLY1". */
export const CIRCUIT_MAGIC: Uint8Array = new TextEncoder().encode("KITHRLY1");
/** The relay's answer once the circuit is spliced: from the next byte on, the stream is the other end's. */
export const CIRCUIT_READY = 0x00;
/** The relay's answer when it will not splice (unknown or used token, limits): it closes after it. */
export const CIRCUIT_REFUSED = 0x01;

/** A socket that opened with a circuit preamble, handed by the listener to the relay. */
export interface CircuitLeg {
  /** The socket, positioned just after the preamble. */
  conn: ByteConn;
  /** The token it presented. */
  token: Uint8Array;
  /** The IP it came from. */
  ip: string;
}

/** The preamble of a leg presenting `token`. */
export function circuitPreamble(token: Uint8Array): Uint8Array {
  const out = new Uint8Array(CIRCUIT_MAGIC.length + token.length);
  out.set(CIRCUIT_MAGIC);
  out.set(token, CIRCUIT_MAGIC.length);
  return out;
}
