/**
 * A check of causal order for simulations and tests: whether an application received each message of a topic
 * after every predecessor it names (`after`) that it received at all, read against the predecessors the
 * messages carry in a topic log. A predecessor never received is not checked (it was missing, and the message
 * says so in `ReceivedMessage.missing`); one received before the observation started counts as before.
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import { entryMessage, type TopicLog } from "../catchup/mod.ts";
import type { MessageCodec } from "../protocol/mod.ts";
import type { ReceivedMessage } from "../subscriptions.ts";

/** What {@link causalOrder} found. */
export interface CausalOrderReport {
  /** Messages received. */
  messages: number;
  /** Received messages that name at least one predecessor. */
  naming: number;
  /** Predecessor references (message, predecessor) where both were received: each one checked. */
  checked: number;
  /** Checked references where the predecessor came after the message without the message naming it missing. */
  outOfOrder: number;
  /** Checked references where the predecessor came after the message, which named it missing. */
  lateAfterMissing: number;
  /** Messages received with `missing` (some predecessor not delivered before them). */
  deliveredWithMissing: number;
  /** Received messages whose predecessors the log does not tell (not in it). */
  unknown: number;
  /** True when `outOfOrder` and `deliveredWithMissing` are 0 and every message's predecessors were known. */
  inCausalOrder: boolean;
}

/** The predecessors (hex ids) each message of `topic` in `log` names, by hex id. */
export function predecessorsInLog(log: TopicLog, codec: MessageCodec, topic: string): Map<string, string[]> {
  const after = new Map<string, string[]>();
  for (const item of log.items(topic, 0)) {
    const entry = log.get(item.id);
    if (entry !== undefined) after.set(toHex(entry.id), (entryMessage(codec, entry).payload.after ?? []).map(toHex));
  }
  return after;
}

/**
 * Checks `received` (in the order the application got them) against `predecessors` (hex id -> the hex ids it
 * names, as {@link predecessorsInLog} reads them).
 */
export function causalOrder(
  received: readonly ReceivedMessage[],
  predecessors: ReadonlyMap<string, readonly string[]>,
): CausalOrderReport {
  const position = new Map<string, number>();
  received.forEach((message, index) => {
    if (!position.has(message.id)) position.set(message.id, index);
  });
  const report: CausalOrderReport = {
    messages: received.length,
    naming: 0,
    checked: 0,
    outOfOrder: 0,
    lateAfterMissing: 0,
    deliveredWithMissing: 0,
    unknown: 0,
    inCausalOrder: false,
  };
  received.forEach((message, index) => {
    if ((message.missing?.length ?? 0) > 0) report.deliveredWithMissing++;
    const named = predecessors.get(message.id);
    if (named === undefined) {
      report.unknown++;
      return;
    }
    if (named.length > 0) report.naming++;
    for (const id of named) {
      const at = position.get(id);
      if (at === undefined) continue;
      report.checked++;
      if (at < index) continue;
      if (message.missing?.includes(id)) report.lateAfterMissing++;
      else report.outOfOrder++;
    }
  });
  report.inCausalOrder = report.outOfOrder === 0 && report.deliveredWithMissing === 0 && report.unknown === 0;
  return report;
}
