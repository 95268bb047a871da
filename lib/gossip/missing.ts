/**
 * Messages heard of (IHAVE) but not yet received, whom to ask for them
 * (IWANT) and when: gossipsub's tracer role. Each missing id keeps the
 * peers that announced it, in the order they are asked; each ask has a
 * promise (the asked peer should answer before the next ask), and the ask
 * delay stretches while asks turn out needless.
 *
 * @module
 */
import { bytesKey } from "../bytes.ts";
import { MAX_DIGEST_IDS } from "../protocol/mod.ts";
import { BoundedMap } from "../ratelimit.ts";

/** Announcers remembered per missing message: how many peers are asked before giving up. */
export const MAX_ANNOUNCERS = 8;
/** Missing-message entries one peer's announcements may have open at once. */
export const MAX_MISSING_PER_ANNOUNCER = 512;
/** Ids asked for that are remembered so their copies are not timed for lateness. */
export const MAX_ASKED_REMEMBERED = 4_096;

/**
 * The ask delay's stretch (see {@link MissingTracker.backoff}): at most 4x; 1.5x up for each late copy that
 * came after an ask, 1.1x down for each answer and 1.25x down each repair round. Up by more than down: while
 * more than about one ask in five was needless, the delay grows.
 */
export const MAX_ASK_BACKOFF = 4;
/** See {@link MAX_ASK_BACKOFF}: the stretch's factor up after a needless ask. */
export const ASK_BACKOFF_UP = 1.5;
/** See {@link MAX_ASK_BACKOFF}: the stretch's factor down after an answer. */
export const ASK_BACKOFF_DOWN = 1.1;
/** See {@link MAX_ASK_BACKOFF}: the stretch's factor down each repair round. */
export const ASK_BACKOFF_DECAY = 1.25;

/** A message heard of (IHAVE) but not yet received. */
export interface MissingMessage {
  id: Uint8Array;
  /** Peers that announced it, in order, at most MAX_ANNOUNCERS. */
  announcers: string[];
  /** How many of `announcers` have been asked. */
  asked: number;
  /** When it was first announced, then when the last ask went out. */
  askedAt: number;
  /** The peer last asked for it: a copy from that peer is an answer, from another one a late copy. */
  lastAsked: string | undefined;
  /** The peer whose announcement created the entry (counted against its MAX_MISSING_PER_ANNOUNCER). */
  startedBy: string;
}

/** Adds `value` to `set` as its newest member, dropping the oldest beyond `bound`. */
export function addBounded(set: Set<string>, value: string, bound: number): void {
  set.delete(value);
  set.add(value);
  if (set.size > bound) set.delete(set.values().next().value!);
}

/** Missing messages by id key (least recently touched first), their announcers and the asks for them. */
export class MissingTracker {
  /** How long after an announcement, or after the last ask, the next ask waits (before the stretch), ms. */
  readonly askDelayMs: number;
  readonly #missing: BoundedMap<string, MissingMessage>;
  readonly #capacity: number;
  // Open entries by the peer that started them (entries leave by drop()).
  readonly #started = new Map<string, number>();
  /** Ids asked for lately (their copies are not timed for lateness), oldest first. */
  readonly #askedIds = new Set<string>();
  #backoff = 1;

  /** Creates an empty tracker of at most `capacity` missing ids, asking `askDelayMs` after an announcement. */
  constructor(capacity: number, askDelayMs: number) {
    this.#capacity = capacity;
    this.#missing = new BoundedMap(capacity);
    this.askDelayMs = askDelayMs;
  }

  /**
   * Multiplies the ask delay (1 to MAX_ASK_BACKOFF): up when an asked-for message comes first from a peer
   * not asked (the copy on its way was late, not lost), down when the asked peer's answer comes first, and
   * back toward 1 each repair round. When nodes are overloaded every copy is late, and asking for them
   * anyway adds copies and grafts that deepen the overload.
   */
  get backoff(): number {
    return this.#backoff;
  }

  /** Missing ids tracked. */
  get size(): number {
    return this.#missing.size;
  }

  /** The entry for `key`, refreshing its recency. */
  get(key: string): MissingMessage | undefined {
    return this.#missing.get(key);
  }

  /** Whether `key` is tracked (recency unchanged). */
  has(key: string): boolean {
    return this.#missing.has(key);
  }

  /** Entries, least recently touched first. */
  values(): IterableIterator<MissingMessage> {
    return this.#missing.values();
  }

  /** Whether `nodeId` may start another entry (it has fewer than MAX_MISSING_PER_ANNOUNCER open). */
  canStart(nodeId: string): boolean {
    return (this.#started.get(nodeId) ?? 0) < MAX_MISSING_PER_ANNOUNCER;
  }

  /**
   * The entry for `key`, made if there is none and `startedBy` may start one: each peer may leave at most
   * MAX_MISSING_PER_ANNOUNCER ids waiting, so ids it announces and never serves cannot push out what honest
   * peers announced. The id is copied (it may be a view of a record).
   */
  entry(key: string, id: Uint8Array, startedBy: string, now: number): MissingMessage | undefined {
    let missing = this.#missing.get(key);
    if (missing) return missing;
    const started = this.#started.get(startedBy) ?? 0;
    if (started >= MAX_MISSING_PER_ANNOUNCER) return undefined;
    this.#started.set(startedBy, started + 1);
    missing = { id: id.slice(), announcers: [], asked: 0, askedAt: now, lastAsked: undefined, startedBy };
    if (this.#missing.size >= this.#capacity) this.drop(this.#missing.entries().next().value![0]);
    this.#missing.set(key, missing);
    return missing;
  }

  /**
   * Adds a peer that has the message to those to ask. A peer that pushes to this node (`pushing`) is asked
   * before those that do not: asking it grafts at most the message's origin back, where asking a lazy peer
   * adds an eager link, and under load such grafts push nodes over their bound and set off PRUNEs (see
   * BENCHMARKS.md).
   */
  addAnnouncer(missing: MissingMessage, nodeId: string, pushing: boolean): void {
    if (missing.announcers.length >= MAX_ANNOUNCERS || missing.announcers.includes(nodeId)) return;
    if (pushing) missing.announcers.splice(missing.asked, 0, nodeId);
    else missing.announcers.push(nodeId);
  }

  /** Removes an entry, releasing its place in its starter's allowance. */
  drop(key: string): void {
    const missing = this.#missing.get(key);
    if (!missing) return;
    this.#missing.delete(key);
    const started = this.#started.get(missing.startedBy);
    if (started !== undefined) {
      if (started <= 1) this.#started.delete(missing.startedBy);
      else this.#started.set(missing.startedBy, started - 1);
    }
  }

  /** A peer disconnected: it is no announcer any more (it may come back without what it announced). */
  forgetAnnouncer(nodeId: string): void {
    for (const missing of this.#missing.values()) {
      const i = missing.announcers.indexOf(nodeId);
      if (i < 0) continue;
      missing.announcers.splice(i, 1);
      if (i < missing.asked) missing.asked--;
    }
  }

  /** Notes that `nodeId`, one of the message's announcers, is being asked for it at `now`. */
  markAsked(missing: MissingMessage, nodeId: string, now: number): void {
    missing.asked = missing.announcers.indexOf(nodeId) + 1;
    missing.askedAt = now;
    missing.lastAsked = nodeId;
  }

  /** Remembers ids sent in an ask, so that their copies are not taken for unasked ones. */
  noteAsked(ids: readonly Uint8Array[]): void {
    for (const id of ids) addBounded(this.#askedIds, bytesKey(id), MAX_ASKED_REMEMBERED);
  }

  /**
   * A first copy of `key` came from `from`; `missing` is its entry as it was (or none). Settles the ask's
   * promise: an answer from the peer asked shortens the ask delay, a copy from another peer after an ask
   * (the ask was needless) stretches it. Returns whether the copy came unasked, the only kind that times
   * the paths: an answer is late by the ask's own delay.
   */
  arrived(key: string, missing: MissingMessage | undefined, from: string): boolean {
    const asked = this.#askedIds.delete(key);
    if (missing?.lastAsked === from) {
      this.#backoff = Math.max(1, this.#backoff / ASK_BACKOFF_DOWN);
    } else if (missing?.lastAsked !== undefined) {
      // Asked too soon: the copy on its way came first. Wait longer before the next ask.
      this.#backoff = Math.min(MAX_ASK_BACKOFF, this.#backoff * ASK_BACKOFF_UP);
    } else if (!asked) {
      return true;
    }
    return false;
  }

  /** A repair round passed: the ask delay's stretch eases toward 1. */
  decay(): void {
    this.#backoff = Math.max(1, this.#backoff / ASK_BACKOFF_DECAY);
  }

  /**
   * The asks due at `now`, by peer to ask: each missing message whose wait is over goes to its next
   * connected announcer (at most MAX_DIGEST_IDS per peer; the rest wait for the next round), and one whose
   * announcers have all been asked is dropped (anti-entropy is the last resort). A message under a
   * signature check (`underCheck`) is not asked for. `allowance` is the lateness allowance, read at most
   * once, and only if some message waits for its first ask.
   */
  planAsks(
    now: number,
    connected: (nodeId: string) => boolean,
    underCheck: (key: string) => boolean,
    allowance: () => number,
  ): Map<string, Uint8Array[]> {
    const asks = new Map<string, Uint8Array[]>();
    const done: string[] = [];
    let extra: number | undefined;
    for (const [key, missing] of this.#missing.entries()) {
      // Late copies are not lost ones: while messages come late, the first ask waits as much longer (once per
      // message: the next announcers are asked after the ask delay alone, so withholders cannot add it up).
      let askAfter = this.askDelayMs * this.#backoff;
      if (missing.asked === 0) askAfter += extra ??= allowance();
      if (now - missing.askedAt < askAfter || underCheck(key)) continue;
      let target: string | undefined, deferred = false;
      while (missing.asked < missing.announcers.length && target === undefined) {
        const candidate = missing.announcers[missing.asked];
        const list = asks.get(candidate) ?? [];
        if (connected(candidate) && list.length >= MAX_DIGEST_IDS) {
          deferred = true; // this round's ask to it is full: ask in the next round
          break;
        }
        missing.asked++;
        if (connected(candidate)) {
          target = candidate;
          list.push(missing.id);
          asks.set(candidate, list);
        }
      }
      if (deferred) continue;
      if (target === undefined) done.push(key); // every announcer asked: anti-entropy is the last resort
      else {
        missing.askedAt = now;
        missing.lastAsked = target;
      }
    }
    for (const key of done) this.drop(key);
    if (asks.size > 0) {
      // Ask each chosen peer also for everything else it announced that is still missing: one ask (and
      // graft) then repairs the path for all of them, and the nodes this one pushes to get them from it
      // in full instead of each timing out and grafting a link of its own.
      for (const missing of this.#missing.values()) {
        if (missing.askedAt === now) continue;
        for (const announcer of missing.announcers) {
          const list = asks.get(announcer);
          if (list && list.length < MAX_DIGEST_IDS) {
            list.push(missing.id);
            missing.askedAt = now;
            missing.lastAsked = announcer;
            break;
          }
        }
      }
    }
    return asks;
  }
}
