/**
 * Anchors: the outbound peers this node last had, saved as they change and
 * dialed first after a restart (as Bitcoin Core's anchors.dat), so that an
 * attacker who filled the address book while the node was down does not get
 * to choose its first connections. Kept in storage's network state.
 *
 * @module
 */
import { fromHex } from "../bytes.ts";
import { parseHostPort } from "../address.ts";
import type { Storage } from "../storage/types.ts";

/** The network-state key the anchors are saved under. */
export const ANCHORS_KEY = "peers.anchors";

/** An anchor: a peer reached by this node's own outbound connection, and the address it was reached at. */
export interface Anchor {
  /** Node id (hex). */
  nodeId: string;
  /** The address dialed. */
  address: string;
}

/** The saved anchors, at most `limit`; malformed entries are skipped (the state is this node's own, but a file can rot). */
export function loadAnchors(storage: Pick<Storage, "getState">, limit: number): Anchor[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(storage.getState(ANCHORS_KEY) ?? "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const out: Anchor[] = [];
  for (const item of parsed) {
    if (out.length >= limit) break;
    const { nodeId, address } = (item ?? {}) as Partial<Anchor>;
    if (typeof nodeId !== "string" || fromHex(nodeId)?.length !== 32) continue;
    if (typeof address !== "string" || !parseHostPort(address)) continue;
    out.push({ nodeId, address });
  }
  return out;
}

/** Saves `anchors` (at most `limit`) when they differ from what is saved; returns whether it wrote. */
export function saveAnchors(
  storage: Pick<Storage, "getState" | "setState">,
  anchors: Anchor[],
  limit: number,
): boolean {
  const value = JSON.stringify(anchors.slice(0, limit).map(({ nodeId, address }) => ({ nodeId, address })));
  if (storage.getState(ANCHORS_KEY) === value) return false;
  storage.setState(ANCHORS_KEY, value);
  return true;
}
