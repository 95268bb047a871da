/**
 * The attacker of the IHAVE scenario (scripts/chaos/ihave.ts), run as a process of its own so that its CPU
 * (building, encoding and sealing thousands of announcements a second) is not counted as the victim's. It
 * opens one authenticated link to the victim and, for a bounded time, sends GOSSIP_MESSAGE announcements
 * (`have`) of random ids at a fixed rate, never serving any of them: asks (`want`) that come back are only
 * counted.
 *
 *   deno run --allow-net=127.0.0.0/8 scripts/chaos/ihave_attacker.ts '<IhaveOrder as JSON>'
 *
 * prints its {@link IhaveReport} as one JSON line.
 *
 * @module
 */
import { Identity } from "../../lib/identity.ts";
import { createLinkMessage, MessageCodec, MessageType } from "../../lib/protocol/mod.ts";
import { TcpTransport } from "../../lib/transport/mod.ts";

/** What the scenario asks the attacker to do. */
export interface IhaveOrder {
  /** The victim's `host:port`. */
  address: string;
  /** Announcements per second. */
  rate: number;
  /** Ids per announcement (at most 256, the wire's bound). */
  ids: number;
  durationMs: number;
  /** The address the attacker binds (loopback). */
  listenHost: string;
}

/** What the attacker reports. */
export interface IhaveReport {
  nodeId: string;
  /** Announcements sent. */
  sent: number;
  /** Ids in them. */
  ids_sent: number;
  /** Asks (GOSSIP_MESSAGE with `want`) the victim sent back, and the ids they named. */
  asks_received: number;
  ids_asked: number;
  /** Whether the victim closed the link, after how long (ms from the start), and its reason code. */
  disconnected: boolean;
  disconnected_after_ms: number | null;
  disconnect_reason: number | null;
}

const codec = new MessageCodec();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one order to its end (or until the victim closes the link). */
export async function attack(order: IhaveOrder): Promise<IhaveReport> {
  const transport = new TcpTransport({
    identity: Identity.generate(),
    config: { listenHost: order.listenHost, listenPort: 0 },
  });
  const report: IhaveReport = {
    nodeId: transport.nodeId,
    sent: 0,
    ids_sent: 0,
    asks_received: 0,
    ids_asked: 0,
    disconnected: false,
    disconnected_after_ms: null,
    disconnect_reason: null,
  };
  try {
    const connection = await transport.dial(order.address);
    const start = Date.now();
    connection.closed.then((info) => {
      if (info.by !== "remote") return;
      report.disconnected = true;
      report.disconnected_after_ms = Date.now() - start;
      report.disconnect_reason = info.reason;
    });
    connection.onEnvelope = (envelope) => {
      if (envelope.type !== MessageType.GOSSIP_MESSAGE) return;
      try {
        const message = codec.verifyAllButSignature(envelope, Date.now(), { linkPeer: connection.remoteNodeId });
        if (message.type !== MessageType.GOSSIP_MESSAGE || message.payload.want.length === 0) return;
        report.asks_received++;
        report.ids_asked += message.payload.want.length;
      } catch { /* not an ask */ }
    };
    // Link messages are unsigned; distinct timestamps (and random ids) give distinct message ids.
    let timestamp = start - 60_000;
    const end = start + order.durationMs;
    const perSlice = order.rate / 100;
    let owed = 0;
    while (Date.now() < end && connection.isOpen) {
      const sliceEnd = Date.now() + 10;
      owed += perSlice;
      for (; owed >= 1 && connection.isOpen; owed--) {
        const have = Array.from({ length: order.ids }, () => crypto.getRandomValues(new Uint8Array(32)));
        connection.send(
          createLinkMessage(transport.identity, MessageType.GOSSIP_MESSAGE, { have, want: [] }, {
            timestamp: timestamp++,
          }),
        );
        report.sent++;
        report.ids_sent += order.ids;
      }
      while (Date.now() < sliceEnd) await sleep(1);
    }
    await sleep(200);
    return report;
  } finally {
    await transport.close();
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await attack(JSON.parse(Deno.args[0]) as IhaveOrder)));
}
