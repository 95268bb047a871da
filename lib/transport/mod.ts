/**
 * The network transport: TCP connections authenticated and encrypted by the
 * kith handshake, with hard limits on everything a remote party can make a
 * node hold.
 *
 * A connection opens with three messages (docs/protocol.md, "Connections"):
 *
 * ```
 * initiator -> responder   HANDSHAKE         signed; network id, nonce, ephemeral X25519 key
 * responder -> initiator   HANDSHAKE_ACK     signed; its own nonce and key, the HANDSHAKE's id, initial peers
 * initiator -> responder   HANDSHAKE_CONFIRM signed and sealed; the ACK's id
 * ```
 *
 * Each side thereby signs a transcript containing the other's fresh nonce,
 * so a recorded handshake cannot be replayed, and both ephemeral keys, so a
 * relay cannot substitute its own. Session keys come from the X25519 secret
 * through HKDF (`session.ts`); after the ACK every frame is a sealed record
 * carrying one or more envelopes.
 *
 * The layer's files, lowest first: `types.ts` (the {@link Transport} and
 * {@link Connection} interfaces), `config.ts`, `session.ts` (key schedule and
 * records), `handshake.ts` (the messages as pure build and check functions),
 * `connection.ts` (one established link), `admission.ts` (inbound slots and
 * rates), `dial_gate.ts` (the dial policy at the socket), `tcp_context.ts`
 * (what the accept and dial paths share), `tcp_accept.ts` (the accept path and
 * the responder's handshake), `tcp_dial.ts` (the dial path and the initiator's
 * handshake), `tcp.ts` ({@link TcpTransport}: listener, connection table, shutdown).
 * The transport sits behind the {@link Transport} interface so an in-memory
 * transport can replace TCP in simulations (`lib/sim/network.ts`).
 *
 * @example Two transports on loopback
 * ```ts
 * import { Identity } from "../identity.ts";
 * import { TcpTransport } from "./mod.ts";
 *
 * const config = { listenHost: "127.0.0.1", listenPort: 0 };
 * const a = new TcpTransport({ identity: Identity.generate(), config });
 * const b = new TcpTransport({ identity: Identity.generate(), config });
 * a.onConnection = (connection) => {
 *   connection.onEnvelope = (envelope) => console.log(envelope.type);
 * };
 * const connection = await b.dial(await a.listen());
 * console.log(connection.remoteNodeId === a.nodeId); // true
 * await b.close();
 * await a.close();
 * ```
 *
 * @module
 */
export {
  type CloseInfo,
  type Connection,
  CONNECTION_LOST,
  type ConnectionStats,
  type DialOptions,
  type LinkKind,
  reasonName,
  type Transport,
  TransportError,
  type TransportStats,
} from "./types.ts";
export { DEFAULT_TRANSPORT_CONFIG, resolveTransportConfig, type TransportConfig } from "./config.ts";
export { TcpTransport, type TcpTransportOptions } from "./tcp.ts";
export { type ResolveHost, systemResolve } from "./dial_gate.ts";
export {
  DIAL_POLICY_NAMES,
  DIAL_PRESETS,
  DialGuard,
  type DialPolicy,
  type DialPolicyName,
  type DialPolicyOptions,
  type DialPolicyPreset,
  type DialRefusal,
  LOOPBACK_DIAL_POLICY,
  resolveDialPolicy,
} from "../dial_policy.ts";
