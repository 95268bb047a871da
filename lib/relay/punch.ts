/**
 * Hole punching over relayed links (DCUtR-like). On a link made over a circuit it asked for, the initiator
 * picks a free local port, sends HOLE_PUNCH CONNECT with its address to punch (the relay's observation of
 * its IP and that port), the responder answers with its own, the initiator measures the round trip, sends
 * SYNC and dials half a round trip later while the responder dials on SYNC: both from the ports they
 * announced (simultaneous open). The socket that connects runs kith's handshake (the circuit's initiator
 * as initiator again, so at both ends the duplicate rule keeps the newer, punched, link and closes the
 * relayed one). A few attempts (`punch_schedule.ts`), then the link stays relayed.
 *
 * The addresses the other end names are dialed only at the host the relay said it sees that end at (its
 * RELAY_CIRCUIT `PEER_ADDRESS`): a HOLE_PUNCH naming another host is refused ({@link PunchError}) and costs
 * its sender `PUNCH_ADDRESS`, so a peer cannot aim this node's SYNs at a third host. Over a circuit whose relay
 * said nothing of the other end, no punching is done.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "../address.ts";
import { KithError } from "../errors.ts";
import { isLoopback } from "../netgroup.ts";
import type { Clock, TimerId } from "../clock.ts";
import { errorFields, type LogSink } from "../log.ts";
import type { ActivePeer } from "../peers/mod.ts";
import { type Message, MessageType, type PayloadByType } from "../protocol/mod.ts";
import type { OpenOverOptions } from "../transport/tcp.ts";
import type { ByteConn } from "../transport/connection.ts";
import type { Connection } from "../transport/types.ts";
import { announces, RELAY_CAPABILITY } from "../version.ts";
import type { CircuitInfo } from "./client.ts";
import type { RelayConfig } from "./config.ts";
import { PunchSchedule } from "./punch_schedule.ts";
import { acceptOn, connectFrom, freePort, NodeSocketConn } from "./punch_socket.ts";

/**
 * The address punching sockets bind: any local address of the family, so that the kernel picks the source
 * its routes give toward the other end (the LAN address a NAT maps), as for the node's other outbound
 * sockets; on loopback, the loopback address observed.
 */
function wildcard(host: string): string {
  // A loopback peer is reached from loopback: bind that address itself (and ask no wider permission for it).
  if (isLoopback(host)) return host;
  return host.includes(":") ? "::" : "0.0.0.0";
}

/** HOLE_PUNCH kinds. */
const CONNECT = 0, SYNC = 1, ANSWER = 2;
/** Longest the initiator waits for the answer to CONNECT, ms. */
const ANSWER_TIMEOUT_MS = 5_000;
/** Pause between connect tries within one attempt's window (a refused SYN is retried), ms. */
const RECONNECT_PAUSE_MS = 50;
/** How long the listening side's opening SYN may take before it listens instead, ms. */
const OPENING_MS = 250;
/** Relayed links being punched at once. */
const MAX_SESSIONS = 16;

/** What the puncher needs from its node. */
export interface HolePuncherOptions {
  /** Settings (attempts, connect timeout). */
  config: Readonly<RelayConfig>;
  /** Time and timers. */
  clock: Clock;
  /** Whether the dial policy lets this node dial `address`. */
  permitsDial: (address: string) => boolean;
  /** Kith's handshake over a connected socket. */
  openOver: (conn: ByteConn, options: OpenOverOptions) => Promise<Connection>;
  /** The active peer `nodeId`, if any. */
  activePeer: (nodeId: string) => ActivePeer | undefined;
  /** Sends a link message to an active peer. */
  send: <T extends MessageType>(peer: ActivePeer, type: T, payload: PayloadByType[T]) => void;
  /** Charges a peer for a HOLE_PUNCH naming addresses it may not (`PUNCH_ADDRESS`). */
  penalise: (nodeId: string, code: string) => void;
  /** Where failures are logged. */
  log: LogSink;
}

/** Counters of hole punching. */
export interface PunchStats {
  /** Attempts begun (as initiator). */
  attempts: number;
  /** Links moved to a punched socket. */
  punched: number;
  /** Relayed links given up on (they stay relayed). */
  gaveUp: number;
  /** HOLE_PUNCH messages refused for naming a host other than the relay sees their sender at. */
  refusedAddresses: number;
}

/** A HOLE_PUNCH names an address this node will not dial for it; `code` is `PUNCH_ADDRESS`. */
export class PunchError extends KithError {
  /** Creates the error; `message` is one line. */
  constructor(message: string) {
    super("PUNCH_ADDRESS", message);
    this.name = "PunchError";
  }
}

/**
 * The addresses of a HOLE_PUNCH, parsed, when every one is at `observedHost`, the host the relay sees the
 * sender at (any port: the sender punches from a fresh one).
 *
 * @throws {PunchError} when one names another host (or none is known)
 */
export function pinnedAddresses(addresses: readonly string[], observedHost: string): { host: string; port: number }[] {
  const pinned = parseHostPort(formatHostPort(observedHost, 1))?.host;
  const parsed = addresses.map((address) => parseHostPort(address));
  if (pinned === undefined || parsed.some((a) => !a || a.host !== pinned)) {
    throw new PunchError(`a hole-punching address is not at ${observedHost || "the host the relay observed"}`);
  }
  return parsed as { host: string; port: number }[];
}

interface Session {
  peer: string;
  relayed: Connection;
  initiator: boolean;
  observedHost: string;
  /** The host the relay sees the other end at: the only one dialed. */
  peerHost: string;
  schedule?: PunchSchedule;
  attempt: number;
  localPort?: number;
  theirs: string[];
  timer?: TimerId;
  busy: boolean;
}

/** Moves relayed links to direct ones where the NATs allow. */
export class HolePuncher {
  /** Counters. */
  readonly stats: PunchStats = { attempts: 0, punched: 0, gaveUp: 0, refusedAddresses: 0 };
  readonly #options: HolePuncherOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #tasks = new Set<Promise<unknown>>();
  #stopped = false;

  /** A puncher under `options`. */
  constructor(options: HolePuncherOptions) {
    this.#options = options;
  }

  /** A link over a circuit opened: the circuit's initiator starts punching (when enabled and possible). */
  relayedLink(connection: Connection, circuit: CircuitInfo): void {
    const observed = parseHostPort(circuit.observedAddress);
    const peerObserved = parseHostPort(circuit.peerObservedAddress);
    if (!this.#options.config.holePunching || this.#stopped || !observed || !peerObserved) return;
    if (!announces(connection.agent, RELAY_CAPABILITY) || this.#sessions.size >= MAX_SESSIONS) return;
    const session: Session = {
      peer: connection.remoteNodeId,
      relayed: connection,
      initiator: circuit.initiator,
      observedHost: observed.host,
      peerHost: peerObserved.host,
      attempt: 0,
      theirs: [],
      busy: false,
    };
    this.#end(session.peer);
    this.#sessions.set(session.peer, session);
    connection.closed.then(() => {
      if (this.#sessions.get(session.peer) === session) this.#end(session.peer);
    });
    if (session.initiator) {
      session.schedule = new PunchSchedule(this.#options.config.punchAttempts);
      this.#later(session, 0, () => this.#begin(session));
    }
  }

  #later(session: Session, ms: number, fn: () => void): void {
    const { clock } = this.#options;
    if (session.timer !== undefined) clock.clearTimeout(session.timer);
    session.timer = clock.setTimeout(() => {
      session.timer = undefined;
      if (this.#sessions.get(session.peer) === session && !this.#stopped) fn();
    }, Math.max(0, ms));
  }

  #end(peer: string): void {
    const session = this.#sessions.get(peer);
    if (!session) return;
    if (session.timer !== undefined) this.#options.clock.clearTimeout(session.timer);
    this.#sessions.delete(peer);
  }

  #begin(session: Session): void {
    this.#track((async () => {
      const step = session.schedule!.begin(this.#options.clock.now());
      if (step.kind !== "send-connect") return;
      session.attempt = step.attempt;
      session.localPort = await freePort(wildcard(session.observedHost));
      const peer = this.#options.activePeer(session.peer);
      if (!peer || peer.connection !== session.relayed) return this.#end(session.peer);
      this.stats.attempts++;
      this.#options.send(peer, MessageType.HOLE_PUNCH, {
        kind: CONNECT,
        attempt: step.attempt,
        addresses: [formatHostPort(session.observedHost, session.localPort)],
      });
      this.#later(session, ANSWER_TIMEOUT_MS, () => this.#ended(session, step.attempt, false));
    })());
  }

  #ended(session: Session, attempt: number, succeeded: boolean): void {
    if (!session.schedule) return;
    const step = session.schedule.ended(attempt, succeeded, this.#options.clock.now());
    if (step.kind === "retry") this.#later(session, step.atMs - this.#options.clock.now(), () => this.#begin(session));
    else if (step.kind === "give-up") {
      this.stats.gaveUp++;
      this.#end(session.peer);
    } else this.#end(session.peer);
  }

  /** Handles a verified HOLE_PUNCH from `peer` (over the relayed link being punched). */
  receive(peer: ActivePeer, message: Message): void {
    if (message.type !== MessageType.HOLE_PUNCH) return;
    const session = this.#sessions.get(peer.nodeId);
    if (!session || peer.connection !== session.relayed || session.busy) return;
    const { kind, attempt, addresses } = message.payload;
    const now = this.#options.clock.now();
    try {
      pinnedAddresses(addresses, session.peerHost);
    } catch (error) {
      if (!(error instanceof PunchError)) throw error;
      this.stats.refusedAddresses++;
      this.#options.penalise(peer.nodeId, error.code);
      this.#options.log("debug", "hole-punching addresses refused", { peer: peer.nodeId, why: error.message });
      return;
    }
    if (session.initiator && kind === ANSWER) {
      const step = session.schedule!.answered(attempt, now);
      if (!step || step.kind !== "dial") return;
      session.theirs = addresses;
      this.#options.send(peer, MessageType.HOLE_PUNCH, { kind: SYNC, attempt, addresses: [] });
      this.#later(session, step.atMs - now, () => this.#dial(session, attempt));
    } else if (!session.initiator && kind === CONNECT) {
      session.attempt = attempt;
      session.theirs = addresses;
      this.#track((async () => {
        session.localPort = await freePort(wildcard(session.observedHost));
        this.#options.send(peer, MessageType.HOLE_PUNCH, {
          kind: ANSWER,
          attempt,
          addresses: [formatHostPort(session.observedHost, session.localPort)],
        });
      })());
    } else if (!session.initiator && kind === SYNC && attempt === session.attempt && session.localPort) {
      this.#dial(session, attempt);
    }
  }

  /** Dials the other end's first permitted address from the announced local port, retrying refusals in the window. */
  #dial(session: Session, attempt: number): void {
    const { clock, config, permitsDial, openOver, log } = this.#options;
    const target = session.theirs.map((a) => parseHostPort(a)).find((a) =>
      a && permitsDial(formatHostPort(a.host, a.port))
    );
    if (!target || session.localPort === undefined) {
      if (session.initiator) this.#ended(session, attempt, false);
      return;
    }
    session.busy = true;
    const localPort = session.localPort;
    const localHost = () => wildcard(target.host);
    this.#track((async () => {
      const deadline = clock.now() + config.punchConnectTimeoutMs;
      let socket;
      if (session.initiator) {
        // The dialing side: connect from the announced port, again after each refusal, within the window.
        while (!socket && clock.now() < deadline && !this.#stopped) {
          socket = await connectFrom(target.host, target.port, localHost(), localPort, deadline - clock.now(), clock);
          if (!socket) await new Promise<void>((resolve) => clock.setTimeout(resolve, RECONNECT_PAUSE_MS));
        }
      } else {
        // The listening side: one SYN from the announced port opens this end's NAT mapping toward the other
        // (and, if the other's SYN is already out, completes a simultaneous open); then it listens there.
        socket = await connectFrom(target.host, target.port, localHost(), localPort, OPENING_MS, clock);
        if (!socket && !this.#stopped) {
          socket = await acceptOn(localHost(), localPort, target.host, Math.max(0, deadline - clock.now()), clock);
        }
      }
      let succeeded = false;
      if (socket && !this.#stopped) {
        try {
          await openOver(new NodeSocketConn(socket), {
            role: session.initiator ? "initiator" : "responder",
            remoteAddress: formatHostPort(target.host, target.port),
            linkKind: "hole-punched",
            expectedNodeId: session.peer,
            slotIp: target.host,
          });
          succeeded = true;
          this.stats.punched++;
        } catch (error) {
          log("debug", "hole-punched handshake failed", errorFields(error));
        }
      } else socket?.destroy();
      session.busy = false;
      if (session.initiator) this.#ended(session, attempt, succeeded);
      else if (succeeded) this.#end(session.peer);
    })());
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    task.catch((error) => this.#options.log("debug", "hole punching failed", errorFields(error))).finally(() =>
      this.#tasks.delete(task)
    );
  }

  /** Stops punching; resolves once attempts in flight have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const peer of [...this.#sessions.keys()]) this.#end(peer);
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }
}
