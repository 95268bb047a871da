/**
 * The messages gossip keeps for forwarding and repair (gossipsub's message
 * cache): bounded by count and by bytes, oldest evicted first, each with
 * the peers known to have it as a bitmask over numbered peer slots.
 *
 * @module
 */
import { ByteArena } from "../bytes.ts";
import { KeyQueue } from "../key_queue.ts";

/**
 * Connected peers numbered for the known-to-have bitmask of kept messages: bits 0-29, so a mask is always
 * a small integer in V8 (no allocation). A message kept by each of thousands of nodes would otherwise
 * carry a list of node ids, which costs far more per message once it has grown by a push.
 */
export const KNOWN_SLOTS = 30;

/** A message kept for forwarding and repair; its id is its key in the store (see `keyBytes`). */
export interface StoredMessage {
  /**
   * The envelope as this node sends it on (TTL already decremented): `length` bytes at `offset` of
   * `buffer`, a chunk shared with other kept messages (see ByteArena). Not a view object of its own,
   * which would cost an object per kept message; views are made when it is sent.
   */
  buffer: ArrayBufferLike;
  offset: number;
  length: number;
  /** TTL the kept envelope carries. */
  forwardTtl: number;
  /** Message type. */
  type: number;
  origin: string;
  /** The peer it first came from (this node's id for its own). */
  from: string;
  /**
   * Peers known to have it (sent it, announced it, or were sent it), never sent it or its id again: bit i
   * stands for the peer in slot i (see KNOWN_SLOTS).
   */
  knownMask: number;
  /** Peers known to have it that hold no slot (more than KNOWN_SLOTS peers connected); usually none. */
  knownOthers: string[] | undefined;
  storedAt: number;
}

/** What a kept message is besides its bytes. */
export interface StoredFields {
  /** TTL the kept envelope carries. */
  forwardTtl: number;
  /** Message type. */
  type: number;
  /** Origin (hex). */
  origin: string;
  /** The peer it first came from. */
  from: string;
}

/** A view of a kept message's envelope, made when it is sent. */
export function wireBytes(stored: StoredMessage): Uint8Array {
  return new Uint8Array(stored.buffer, stored.offset, stored.length);
}

/** Whether the peer `nodeId`, holding `slot` (-1 for none), is known to have the kept message. */
export function knows(stored: StoredMessage, nodeId: string, slot: number): boolean {
  if (slot >= 0 && (stored.knownMask & (1 << slot)) !== 0) return true;
  return stored.knownOthers !== undefined && stored.knownOthers.includes(nodeId);
}

/** Notes that the peer `nodeId`, holding `slot` (-1 for none), has the kept message. */
export function markKnown(stored: StoredMessage, nodeId: string, slot: number): void {
  if (slot >= 0) stored.knownMask |= 1 << slot;
  else if (stored.knownOthers === undefined) stored.knownOthers = [nodeId];
  else if (!stored.knownOthers.includes(nodeId)) stored.knownOthers.push(nodeId);
}

/** Removes `nodeId` from `list` if it is there. */
export function removeFrom(list: string[], nodeId: string): void {
  const i = list.indexOf(nodeId);
  if (i >= 0) list.splice(i, 1);
}

/** Kept messages by id key, in age order, and the known-to-have slots handed to connected peers. */
export class MessageStore {
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  // id key -> message kept for repair; insertion order is age order.
  readonly #messages = new Map<string, StoredMessage>();
  // The keys of #messages in its insertion order: the oldest is taken from here (see KeyQueue for why).
  readonly #order = new KeyQueue<string>();
  #bytes = 0;
  // Kept envelopes share chunks instead of a buffer each (see ByteArena): the store evicts oldest first.
  readonly #arena = new ByteArena();
  // Slots of the known-to-have masks not held by a connected peer.
  readonly #freeSlots: number[] = Array.from({ length: KNOWN_SLOTS }, (_, i) => KNOWN_SLOTS - 1 - i);
  // Messages kept since the last repair round, and in the interval before it (each at most maxMessages):
  // a round's digests cover the interval before it, not the whole store.
  #keptSinceLastRound: [string, StoredMessage][] = [];
  #keptBeforeLastRound: [string, StoredMessage][] = [];

  /** Creates an empty store holding at most `maxMessages` messages and `maxBytes` bytes of them. */
  constructor(maxMessages: number, maxBytes: number) {
    this.#maxMessages = maxMessages;
    this.#maxBytes = maxBytes;
  }

  /** Messages kept. */
  get size(): number {
    return this.#messages.size;
  }

  /** Bytes of the messages kept. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The message kept under `key`. */
  get(key: string): StoredMessage | undefined {
    return this.#messages.get(key);
  }

  /** Whether a message is kept under `key`. */
  has(key: string): boolean {
    return this.#messages.has(key);
  }

  /** Kept messages with their keys, oldest first. */
  entries(): IterableIterator<[string, StoredMessage]> {
    return this.#messages.entries();
  }

  /**
   * A free slot for a newly connected peer, or -1 when all KNOWN_SLOTS are taken (its knowledge is then
   * kept by node id).
   */
  takeSlot(): number {
    return this.#freeSlots.pop() ?? -1;
  }

  /**
   * Forgets what a disconnected peer was known to have (a message sent as it went down may never have
   * arrived, and it may come back without it), and frees its slot for the next peer.
   */
  forgetPeer(nodeId: string, slot: number): void {
    this.forgetKnown(nodeId, slot);
    // Cleared from every kept message, so the next peer to take the slot starts knowing nothing.
    if (slot >= 0) this.#freeSlots.push(slot);
  }

  /** Forgets what a peer was known to have, keeping its slot (its link was replaced: it stayed). */
  forgetKnown(nodeId: string, slot: number): void {
    const keep = slot >= 0 ? ~(1 << slot) : -1;
    for (const stored of this.#messages.values()) {
      stored.knownMask &= keep;
      if (stored.knownOthers !== undefined) removeFrom(stored.knownOthers, nodeId);
    }
  }

  /**
   * Keeps a copy of `encoded` (the envelope as sent on; the caller may reuse its bytes) under `key`, then
   * evicts the oldest messages while over either bound (the new one too, if it alone is over them).
   */
  keep(key: string, encoded: Uint8Array, fields: StoredFields, now: number): StoredMessage {
    const bytes = this.#arena.copy(encoded);
    const stored: StoredMessage = {
      buffer: bytes.buffer,
      offset: bytes.byteOffset,
      length: bytes.byteLength,
      forwardTtl: fields.forwardTtl,
      type: fields.type,
      origin: fields.origin,
      from: fields.from,
      knownMask: 0,
      knownOthers: undefined,
      storedAt: now,
    };
    const size = this.#messages.size;
    this.#messages.set(key, stored); // a key kept again keeps its place, as in the Map
    if (this.#messages.size > size) this.#order.push(key);
    this.#bytes += bytes.length;
    if (this.#keptSinceLastRound.length < this.#maxMessages) this.#keptSinceLastRound.push([key, stored]);
    while (this.#messages.size > this.#maxMessages || this.#bytes > this.#maxBytes) {
      const oldestKey = this.#order.shift()!;
      this.#bytes -= this.#messages.get(oldestKey)!.length;
      this.#messages.delete(oldestKey);
    }
    return stored;
  }

  /** Drops messages kept `windowMs` or longer before `now`. */
  expire(now: number, windowMs: number): void {
    for (let key = this.#order.peek(); key !== undefined; key = this.#order.peek()) {
      const stored = this.#messages.get(key)!;
      if (now - stored.storedAt < windowMs) break;
      this.#messages.delete(key);
      this.#bytes -= stored.length;
      this.#order.shift();
    }
  }

  /** Starts a repair round: what was kept since the last one becomes {@link MessageStore.keptLastInterval}. */
  startRound(): void {
    [this.#keptBeforeLastRound, this.#keptSinceLastRound] = [this.#keptSinceLastRound, []];
  }

  /** Messages kept in the interval before the current round and still kept, oldest first. */
  keptLastInterval(): [string, StoredMessage][] {
    return this.#keptBeforeLastRound.filter(([key, stored]) => this.#messages.get(key) === stored);
  }
}
