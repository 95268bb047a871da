/**
 * Copies held while a message's first copy has its signature checked (by
 * a verifier that may answer later): if that check fails, the next copy
 * is checked, so a peer that forges the signature of a real message and
 * sends it first cannot make a node drop the message.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { ProtocolError } from "../errors.ts";
import { type Envelope, type Message, type MessageCodec, MessageType } from "../protocol/mod.ts";
import type { SignatureVerifier } from "../verifier.ts";
import { MAX_ANNOUNCERS } from "./missing.ts";
import { removeFrom } from "./store.ts";

/**
 * Copies of one message from other peers held while its first copy's signature is checked. Three: a forger
 * would need as many links to make the node drop a real message.
 */
export const MAX_COPIES_UNDER_CHECK = 3;

/** A copy of a message from another peer, come while its first copy's signature was being checked. */
export interface OtherCopy {
  /** The peer that sent it (a GossipSender). */
  peer: { readonly nodeId: string };
  /** The copy. */
  envelope: Envelope;
}

/** A message whose first copy's signature is being checked. */
export interface CopyUnderCheck {
  /** Its id (a view of the first copy's record). */
  id: Uint8Array;
  /** The peer whose copy is being checked. */
  checking: string;
  /** Copies from other peers, checked in turn if the current one fails; at most MAX_COPIES_UNDER_CHECK. */
  others: OtherCopy[];
  /** Every other peer that sent a copy meanwhile (held or not), at most MAX_ANNOUNCERS: they have it. */
  alsoFrom: string[];
  /** Peers whose copies failed: not asked for it. */
  failed: string[];
}

/** A peer as the check sees the sender of a copy (a GossipSender). */
type Sender = OtherCopy["peer"];

/** What the check needs from the protocol around it. */
export interface CheckHooks {
  /** Verifies everything but the signature. */
  codec: MessageCodec;
  /** Checks signatures, at once or later. */
  verifier: SignatureVerifier;
  /** Read when a later answer comes. */
  clock: Clock;
  /** Largest application payload, bytes (GossipConfig.maxApplicationPayloadBytes). */
  maxApplicationPayloadBytes: number;
  /** Most messages under check at once (GossipConfig.messageCacheSize): beyond it first copies are dropped. */
  maxUnderCheck: number;
  /** Whether gossip has stopped (a later answer is then dropped). */
  stopped(): boolean;
  /** Whether the message `key` was accepted meanwhile (kept or seen): a failed copy then ends the check. */
  known(key: string): boolean;
  /** A copy passed every check; `entry` names the peers whose copies came meanwhile. */
  accept(peer: Sender, key: string, message: Message, entry: CopyUnderCheck | undefined, now: number): void;
  /** A copy failed a check with `code`. */
  reject(peer: Sender, type: number, code: ProtocolError["code"]): void;
  /** A first copy was dropped: too many others were under check. */
  dropped(): void;
  /** Every held copy failed: the peers in `entry.alsoFrom` have the message and may be asked for it. */
  exhausted(key: string, entry: CopyUnderCheck, now: number): void;
}

/** Messages under a signature check, by id key. */
export class CopiesUnderCheck {
  readonly #entries = new Map<string, CopyUnderCheck>();
  readonly #hooks: CheckHooks;

  /** Creates an empty set of checks run with `hooks`. */
  constructor(hooks: CheckHooks) {
    this.#hooks = hooks;
  }

  /** Messages under check. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry for `key`, if its message is under check. */
  get(key: string): (CopyUnderCheck) | undefined {
    return this.#entries.get(key);
  }

  /** Whether the message `key` is under check. */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Starts an entry: `id` (of the copy from `nodeId`) goes to the verifier. */
  start(key: string, id: Uint8Array, nodeId: string): CopyUnderCheck {
    const entry: CopyUnderCheck = { id, checking: nodeId, others: [], alsoFrom: [], failed: [] };
    this.#entries.set(key, entry);
    return entry;
  }

  /** Ends the check of `key` (passed, or nothing left to check). */
  delete(key: string): void {
    this.#entries.delete(key);
  }

  /**
   * Another copy came from `peer` during the check: it is noted among the peers that have the message, and
   * held to be checked in turn unless the peer's copy is the one under check, failed already, or is held.
   */
  hold(entry: CopyUnderCheck, peer: OtherCopy["peer"], envelope: Envelope): void {
    if (entry.checking === peer.nodeId || entry.failed.includes(peer.nodeId)) return;
    if (!entry.alsoFrom.includes(peer.nodeId) && entry.alsoFrom.length < MAX_ANNOUNCERS) {
      entry.alsoFrom.push(peer.nodeId);
    }
    if (
      entry.others.length < MAX_COPIES_UNDER_CHECK &&
      !entry.others.some((other) => other.peer.nodeId === peer.nodeId)
    ) entry.others.push({ peer, envelope });
  }

  /** The copy from `nodeId` failed its check: it is not asked for the message, nor taken to have it. */
  markFailed(entry: CopyUnderCheck, nodeId: string): void {
    entry.failed.push(nodeId);
    removeFrom(entry.alsoFrom, nodeId);
  }

  /**
   * Checks a first copy (everything but the signature here, the signature by the verifier, at once or
   * later) and accepts it; if it fails, the next copy that came meanwhile from another peer is checked.
   * `entry` is the message's entry once one copy went to the verifier.
   */
  check(peer: Sender, key: string, envelope: Envelope, entry: CopyUnderCheck | undefined, now: number): void {
    const hooks = this.#hooks;
    let message: Message;
    try {
      message = hooks.codec.verifyAllButSignature(envelope, now, { linkPeer: peer.nodeId });
      if (
        message.type === MessageType.CUSTOM_DATA && message.payload.data.length > hooks.maxApplicationPayloadBytes
      ) {
        throw new ProtocolError("PAYLOAD_TOO_LARGE", "application payload over the limit");
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      hooks.reject(peer, envelope.type, error.code);
      if (entry) this.#checkNextCopy(key, entry, peer.nodeId, now);
      return;
    }
    if (envelope.signature.length === 0) {
      if (entry) this.#entries.delete(key);
      hooks.accept(peer, key, message, entry, now);
      return;
    }
    if (entry === undefined) {
      if (this.#entries.size >= hooks.maxUnderCheck) {
        // More first copies under check than the node keeps messages: overloaded; a later copy or an
        // announcement brings it again.
        hooks.dropped();
        return;
      }
      entry = this.start(key, envelope.id, peer.nodeId);
    }
    entry.checking = peer.nodeId;
    const under = entry;
    let late = false;
    hooks.verifier.check(envelope.signature, envelope.id, envelope.publicKey, (valid) => {
      if (late && hooks.stopped()) {
        this.#entries.delete(key); // answered after stop(): nobody is listening
        return;
      }
      const at = hooks.clock.now();
      if (valid) {
        this.#entries.delete(key);
        hooks.accept(peer, key, message, under, at);
        return;
      }
      hooks.reject(peer, envelope.type, "BAD_SIGNATURE");
      this.#checkNextCopy(key, under, peer.nodeId, at);
    });
    late = true;
  }

  /**
   * The copy from `failedFrom` failed: checks the next held copy, or, with none left, hands the message to
   * `exhausted` (the peers that sent copies are its announcers, to be asked for it like an announced one).
   */
  #checkNextCopy(key: string, entry: CopyUnderCheck, failedFrom: string, now: number): void {
    this.markFailed(entry, failedFrom);
    if (this.#hooks.known(key)) {
      this.#entries.delete(key);
      return;
    }
    const next = entry.others.shift();
    if (next !== undefined) {
      this.check(next.peer, key, next.envelope, entry, now);
      return;
    }
    this.#entries.delete(key);
    this.#hooks.exhausted(key, entry, now);
  }
}
