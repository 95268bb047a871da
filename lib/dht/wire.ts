/**
 * The DHT on the wire: DHT_REQUEST and DHT_RESPONSE link messages (docs/protocol.md, "DHT") to and from the
 * service's {@link DhtRequest} and {@link DhtResponse}, and the correlation of answers with the requests in
 * flight to each peer, bounded per peer. The codec has already checked each payload against its schema; what
 * is checked here is what the schema cannot say (a known operation, a request id in flight).
 *
 * @module
 */
import { fromHex, toHex } from "../bytes.ts";
import {
  type DhtRecordFields,
  type DhtRequestPayload,
  type DhtResponsePayload,
  MAX_DHT_CONTACTS,
  MAX_REQUEST_ID,
} from "../protocol/mod.ts";
import type { SignedRecord } from "./records.ts";
import type { DhtOperation, DhtRequest, DhtResponse } from "./service.ts";

/** Operation codes on the wire, in DhtRequestPayload.op order. */
const OPS: readonly DhtOperation[] = ["FIND_NODE", "GET_VALUE", "PUT_VALUE", "ADD_PROVIDER", "GET_PROVIDERS"];

/** Requests in flight to one peer; a request beyond it is failed at once (the lookup asks someone else). */
export const MAX_DHT_REQUESTS_IN_FLIGHT = 16;

function recordFields(record: SignedRecord): DhtRecordFields {
  return { ...record };
}

/** The wire payload of `request` with correlation id `requestId`. */
export function requestPayload(requestId: number, request: DhtRequest): DhtRequestPayload {
  return {
    requestId,
    op: OPS.indexOf(request.op),
    key: request.key,
    records: request.record ? [recordFields(request.record)] : [],
  };
}

/** The request a checked payload carries, or `undefined` for an unknown operation. */
export function requestFrom(payload: DhtRequestPayload): DhtRequest | undefined {
  const op = OPS[payload.op];
  if (op === undefined) return undefined;
  const record = payload.records[0];
  return { op, key: payload.key, ...(record ? { record: { ...record } } : {}) };
}

/** The wire payload of `response` to request `requestId`, cut to what one message carries. */
export function responsePayload(requestId: number, response: DhtResponse): DhtResponsePayload {
  return {
    requestId,
    status: response.status,
    nodes: response.nodes.slice(0, MAX_DHT_CONTACTS).flatMap((n) => {
      const nodeId = fromHex(n.nodeId);
      return nodeId && nodeId.length === 32 ? [{ nodeId, address: n.address, lastSeen: 0 }] : [];
    }),
    providers: response.providers.slice(0, MAX_DHT_CONTACTS).flatMap((p) => {
      const nodeId = fromHex(p.nodeId);
      return nodeId && nodeId.length === 32 ? [{ nodeId, address: p.address, expiresAt: p.expiresAt }] : [];
    }),
    records: response.record ? [recordFields(response.record)] : [],
  };
}

/** The response a checked payload carries. */
export function responseFrom(payload: DhtResponsePayload): DhtResponse {
  const record = payload.records[0];
  return {
    status: payload.status,
    nodes: payload.nodes.map((n) => ({ nodeId: toHex(n.nodeId), address: n.address })),
    providers: payload.providers.map((p) => ({ nodeId: toHex(p.nodeId), address: p.address, expiresAt: p.expiresAt })),
    ...(record ? { record: { ...record } } : {}),
  };
}

/** Requests in flight to each peer, by correlation id, and their callbacks. */
export class DhtRequests {
  readonly #pending = new Map<string, Map<number, (response: DhtResponse | undefined) => void>>();
  #nextId = 1;

  /**
   * Registers a request to `nodeId`; returns its correlation id, or `undefined` when the peer already has
   * {@link MAX_DHT_REQUESTS_IN_FLIGHT} (the caller fails the query).
   */
  open(nodeId: string, done: (response: DhtResponse | undefined) => void): number | undefined {
    let pending = this.#pending.get(nodeId);
    if (!pending) this.#pending.set(nodeId, pending = new Map());
    if (pending.size >= MAX_DHT_REQUESTS_IN_FLIGHT) return undefined;
    const id = this.#nextId;
    this.#nextId = this.#nextId >= MAX_REQUEST_ID ? 1 : this.#nextId + 1;
    pending.set(id, done);
    return id;
  }

  /**
   * An answer from `nodeId`: its request's callback gets it. Returns false for an answer to nothing in flight
   * (a late answer after a timeout, or one never asked for; the caller decides whether that costs trust).
   */
  answered(nodeId: string, payload: DhtResponsePayload): boolean {
    const pending = this.#pending.get(nodeId);
    const done = pending?.get(payload.requestId);
    if (!pending || !done) return false;
    pending.delete(payload.requestId);
    if (pending.size === 0) this.#pending.delete(nodeId);
    done(responseFrom(payload));
    return true;
  }

  /** The request `id` to `nodeId` ended without an answer (its timeout): forgotten. */
  drop(nodeId: string, id: number): void {
    const pending = this.#pending.get(nodeId);
    pending?.delete(id);
    if (pending?.size === 0) this.#pending.delete(nodeId);
  }

  /** The peer disconnected: its requests fail now. */
  peerGone(nodeId: string): void {
    const pending = this.#pending.get(nodeId);
    this.#pending.delete(nodeId);
    for (const done of pending?.values() ?? []) done(undefined);
  }

  /** Requests in flight, over all peers. */
  get size(): number {
    let n = 0;
    for (const pending of this.#pending.values()) n += pending.size;
    return n;
  }
}
