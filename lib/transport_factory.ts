/**
 * How a node gets its transport: the factory type, what it is given, and the default (TCP). The simulator
 * passes a factory of its own, so simulations run the node that ships.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { Identity } from "./identity.ts";
import type { LogSink } from "./log.ts";
import type { MessageCodec, PeerRecord } from "./protocol/mod.ts";
import { TcpTransport, type Transport, type TransportConfig } from "./transport/mod.ts";

/** What a {@link TransportFactory} gets from the node it builds a transport for. */
export interface TransportContext {
  /** The node's identity (the transport authenticates as it). */
  identity: Identity;
  /** The node's clock. */
  clock: Clock;
  /** The node's envelope codec, with the limits of its configuration. */
  codec: MessageCodec;
  /** The transport's part of the node's configuration. */
  config: Partial<TransportConfig>;
  /** Peer records to hand an authenticated peer during the handshake (what the address book offers it). */
  initialPeers: (remoteNodeId: string) => PeerRecord[];
  /** The node's log sink, for the transport's failures. */
  log: LogSink;
  /** The agent the node's handshakes announce: its version and the capabilities it speaks. */
  agent?: string;
}

/**
 * Builds the transport a node runs on. The default builds a TCP transport; the simulator passes one that
 * builds a transport on its in-memory network, so simulations run the node that ships.
 */
export type TransportFactory = (context: TransportContext) => Transport;

/** The TCP transport, the default {@link TransportFactory}. */
export function tcpTransport(context: TransportContext): Transport {
  return new TcpTransport(context);
}
