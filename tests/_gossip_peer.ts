/**
 * A connected peer for gossip tests that drive `GossipProtocol` directly: its connection records every
 * envelope gossip sends it, and its link messages can be read back decoded.
 *
 * @module
 */
import { toHex } from "../lib/bytes.ts";
import { type Envelope, type GossipDigestPayload, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import { Identity } from "../lib/identity.ts";
import type { Connection } from "../lib/transport/mod.ts";

const codec = new MessageCodec();

/** A peer whose connection records what gossip sends it. */
export class RecordingPeer {
  /** Its identity (it signs what a test sends as this peer). */
  readonly identity: Identity = Identity.generate();
  /** Its node id. */
  readonly nodeId: string = this.identity.nodeId;
  /** Every envelope sent to it, in order. */
  readonly sent: Envelope[] = [];
  /** The DISCONNECT reason its link was closed with, if it was. */
  closedWith: number | undefined;
  /** Its connection, as gossip sees it (inbound). */
  readonly connection: Connection = {
    remoteNodeId: this.nodeId,
    direction: "inbound",
    bufferedBytes: 0,
    isOpen: true,
    send: (envelope: Envelope) => this.sent.push(envelope) > 0,
    sendEncoded: (bytes: Uint8Array) => this.sent.push(codec.parse(bytes)) > 0,
    close: (reason: number) => {
      this.closedWith ??= reason;
      return Promise.resolve();
    },
  } as unknown as Connection;

  /** The link messages (GOSSIP_MESSAGE: have, want, prune) sent to it, decoded. */
  linkMessages(): GossipDigestPayload[] {
    const out: GossipDigestPayload[] = [];
    for (const e of this.sent) {
      if (e.type !== MessageType.GOSSIP_MESSAGE) continue;
      const m = codec.verify(e, e.timestamp, { linkPeer: toHex(e.origin) });
      if (m.type === MessageType.GOSSIP_MESSAGE) out.push(m.payload);
    }
    return out;
  }
}
