/**
 * The NAT messages on a node's links (docs/protocol.md, "Observed addresses and reachability"):
 * OBSERVED_ADDRESS to each peer announcing `nat/1` right after the handshake, into {@link ObservedAddresses};
 * DIAL_BACK_REQUEST answered by {@link DialBackServer}; DIAL_BACK_RESPONSE into {@link Reachability}; and
 * the address this node advertises, from the verdict.
 *
 * What is advertised (in handshakes and in this node's own peer records):
 * - a forced address (`--advertise`) always, whatever the verdict (the check still runs and is shown);
 * - `public`: the address the check proved (the agreed observed IP with the listening port);
 * - `private`: none, so peers do not fill their books with an address nobody can dial;
 * - `unknown` (or the check off): as before, a specific bound address, none for a wildcard bind.
 *
 * @module
 */
import { parseHostPort } from "../address.ts";
import { toHex } from "../bytes.ts";
import type { Clock } from "../clock.ts";
import { KithError } from "../errors.ts";
import type { Identity } from "../identity.ts";
import { errorFields, type LogSink } from "../log.ts";
import {
  createLinkMessage,
  type Envelope,
  type MessageCodec,
  MessageType,
  type PayloadByType,
} from "../protocol/mod.ts";
import type { RandomSource } from "../random.ts";
import type { Connection } from "../transport/types.ts";
import { announces, NAT_CAPABILITY } from "../version.ts";
import type { NatConfig } from "./config.ts";
import { DialBackServer, type DialBackServerStats } from "./dial_back.ts";
import { ObservedAddresses } from "./observed.ts";
import { Reachability, type ReachabilityState, type ReachabilityStats } from "./reachability.ts";

/** The message types this service takes. */
export const NAT_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  MessageType.OBSERVED_ADDRESS,
  MessageType.DIAL_BACK_REQUEST,
  MessageType.DIAL_BACK_RESPONSE,
]);

/** A connected peer as this service sees it. */
export interface NatPeer {
  /** Its node id. */
  readonly nodeId: string;
  /** Its link. */
  readonly connection: Connection;
  /** Its network group. */
  readonly group: { readonly subnet: string };
}

/** What {@link NatService} needs. */
export interface NatServiceOptions {
  /** This node's identity (signs nothing here: the messages are link messages). */
  identity: Identity;
  /** Verifies received link messages. */
  codec: MessageCodec;
  /** Time source and timers. */
  clock: Clock;
  /** Randomness. */
  random: RandomSource;
  /** Settings. */
  config: Readonly<NatConfig>;
  /** The address forced by `--advertise` (`""`: none). */
  forcedAddress: string;
  /** The port this node listens on (0 before it listens). */
  listenPort: () => number;
  /** The connected peers. */
  peers: () => NatPeer[];
  /** Whether the dial policy lets this node dial `address`. */
  permitsDial: (address: string) => boolean;
  /** A dial-back: dial, handshake expecting `nodeId`, close. */
  dialBack: (address: string, nodeId: string) => Promise<void>;
  /** What the transport advertises now (`""`: nothing). */
  advertised: () => string;
  /** Sets what the transport advertises (`undefined`: its default rule). */
  advertise: (address: string | undefined) => void;
  /** A trust penalty for a peer's bad message. */
  penalise: (nodeId: string, code: string) => void;
  /** Logs. */
  log: LogSink;
  /** Told each new verdict, after the advertised address is set from it. */
  onVerdict?: (state: ReachabilityState) => void;
}

/** This node's reachability, as shown by status, the API and metrics. */
export interface NatStatus {
  /** The verdict. */
  reachability: ReachabilityState;
  /** The address the verdict is about (the one checked), if any. */
  checkedAddress: string | undefined;
  /** The address peers of several network groups agree they see this node at, if any. */
  observedAddress: string | undefined;
  /** Fresh observation reports kept. */
  observedReports: number;
  /** When the last check ended, ms since the epoch. */
  checkedAt: number | undefined;
  /** Whether this node checks its reachability. */
  checking: boolean;
  /** The address this node advertises now (in handshakes), `""` for none. */
  advertisedAddress: string;
  /** Counters of this node's checks. */
  checks: Readonly<ReachabilityStats>;
  /** Counters of the dial-backs this node did for others. */
  dialBacks: Readonly<DialBackServerStats>;
}

/** Observed addresses, reachability and dial-backs of one node. */
export class NatService {
  /** The observed-address collector. */
  readonly observed: ObservedAddresses;
  /** The reachability check. */
  readonly reachability: Reachability;
  /** The dial-back answerer. */
  readonly server: DialBackServer;
  readonly #options: NatServiceOptions;
  // Links that have reported already: one OBSERVED_ADDRESS per link, later ones ignored.
  readonly #reported = new WeakSet<Connection>();

  /** A service with `options`; {@link NatService.start} starts the checks. */
  constructor(options: NatServiceOptions) {
    this.#options = options;
    const { clock, config } = options;
    this.observed = new ObservedAddresses(clock, options.listenPort, config);
    this.server = new DialBackServer({
      clock,
      config,
      permitsDial: options.permitsDial,
      dialBack: options.dialBack,
      log: options.log,
    });
    this.reachability = new Reachability({
      clock,
      random: options.random,
      config,
      // A forced host name is not checked (answerers dial IPs only): the observed address is, to show the truth.
      candidate: () =>
        options.forcedAddress && parseHostPort(options.forcedAddress)?.family !== "dns"
          ? options.forcedAddress
          : this.observed.confirmed(),
      peers: () =>
        options.peers().filter((peer) => askable(peer.connection)).map((peer) => ({
          nodeId: peer.nodeId,
          group: peer.group.subnet,
          sees: this.observed.reportOf(peer.nodeId),
          send: (request) => this.#send(peer, MessageType.DIAL_BACK_REQUEST, request),
        })),
      onChange: (state, address) => this.#changed(state, address),
    });
    this.observed.onChange = () => this.reachability.candidateChanged();
  }

  /** Starts the checks (when enabled). */
  start(): void {
    if (this.#options.config.enabled) this.reachability.start();
  }

  /** Stops checks and answers. */
  stop(): void {
    this.reachability.stop();
    this.server.stop();
  }

  /** A peer connected: tell it where it is seen from, if it speaks `nat/1` over a direct link. */
  peerConnected(peer: NatPeer): void {
    if (!askable(peer.connection)) return;
    if (parseHostPort(peer.connection.remoteAddress)) {
      this.#send(peer, MessageType.OBSERVED_ADDRESS, { address: peer.connection.remoteAddress });
    }
    this.reachability.peerConnected();
  }

  /** This node's listener completed a dial-back handshake from `nodeId`. */
  dialedBack(nodeId: string): void {
    this.reachability.dialedBack(nodeId);
  }

  /** Takes one of {@link NAT_TYPES} from `peer`; bad input costs the peer trust and is dropped. */
  receive(peer: NatPeer, envelope: Envelope): void {
    const { codec, clock, penalise, log } = this.#options;
    try {
      if (envelope.ttl !== 0 || toHex(envelope.origin) !== peer.nodeId) {
        throw new KithError("BAD_FIELD", "NAT messages must be the sender's own link messages (TTL 0)");
      }
      const message = codec.verify(envelope, clock.now(), { linkPeer: peer.nodeId });
      // Over a relayed link neither end sees the other's socket: what it reports or asks is of the relay.
      if (peer.connection.linkKind === "relayed") return;
      if (message.type === MessageType.OBSERVED_ADDRESS) {
        if (this.#reported.has(peer.connection)) return;
        this.#reported.add(peer.connection);
        if (!this.observed.report(peer.nodeId, peer.group.subnet, message.payload.address)) {
          throw new KithError("BAD_FIELD", "OBSERVED_ADDRESS must name an IP address");
        }
      } else if (message.type === MessageType.DIAL_BACK_REQUEST) {
        this.server.handle({
          nodeId: peer.nodeId,
          ip: parseHostPort(peer.connection.remoteAddress)?.host ?? "",
          send: (response) => this.#send(peer, MessageType.DIAL_BACK_RESPONSE, response),
        }, message.payload);
      } else if (message.type === MessageType.DIAL_BACK_RESPONSE) {
        this.reachability.response(peer.nodeId, message.payload);
      }
    } catch (error) {
      if (error instanceof KithError) penalise(peer.nodeId, error.code);
      else log("error", "NAT message handling failed", { peer: peer.nodeId.slice(0, 16), ...errorFields(error) });
    }
  }

  /** The node's reachability now. */
  status(): NatStatus {
    const r = this.reachability;
    return {
      reachability: r.state,
      checkedAddress: r.address,
      observedAddress: this.observed.confirmed(),
      observedReports: this.observed.reports().length,
      checkedAt: r.checkedAt,
      checking: this.#options.config.enabled,
      advertisedAddress: this.#options.advertised(),
      checks: { ...r.stats },
      dialBacks: { ...this.server.stats },
    };
  }

  #changed(state: ReachabilityState, address: string | undefined): void {
    const { forcedAddress, advertise, log } = this.#options;
    log("info", "reachability", { state, address: address ?? "-" });
    // The operator's address is advertised whatever the verdict.
    if (!forcedAddress) advertise(state === "public" ? address : state === "private" ? "" : undefined);
    this.#options.onVerdict?.(state);
  }

  #send<T extends MessageType>(peer: NatPeer, type: T, payload: PayloadByType[T]): void {
    const { identity, clock } = this.#options;
    peer.connection.send(createLinkMessage(identity, type, payload, { timestamp: clock.now() }));
  }
}

/**
 * Whether NAT messages go to this link's peer: it announces `nat/1`, and the link is a socket of its own (a
 * relayed link's addresses are the relay's, so neither an observation nor a dial-back request means anything there).
 */
function askable(connection: Connection): boolean {
  return announces(connection.agent, NAT_CAPABILITY) && connection.linkKind !== "relayed";
}
