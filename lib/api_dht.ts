/**
 * The control API's DHT endpoints (lib/api.ts routes them here), over `node.dht`:
 *
 * | method and path | answer |
 * | --- | --- |
 * | GET /v1/dht | the routing table (contacts by bucket) and the DHT's counters |
 * | GET /v1/dht/peer?id=ID | `{"nodeId", "address"}`: the node's address as the nodes around its id know it; 404 when none does |
 * | POST /v1/dht/provide | body `{"key"}`; announces this node as a provider of the key; `{"key", "stored"}` |
 * | GET /v1/dht/providers?key=KEY | `{"key", "providers": [{"nodeId", "address", "expiresAt"}]}` |
 * | POST /v1/dht/put | body `{"name", "value"}` (text) or `{"name", "valueBase64"}`; `{"key", "seq", "stored"}` |
 * | GET /v1/dht/get?key=KEY | `{"key", "owner", "name", "value", "valueBase64", "seq", "expiresAt"}`; 404 when no node keeps it |
 *
 * A KEY is 64 hex digits, or `topic:NAME` for a topic's rendezvous key. A node with the DHT off answers 409
 * `DHT_DISABLED`.
 *
 * @module
 */
import { toHex } from "./bytes.ts";
import { topicKey } from "./dht/mod.ts";
import { KithError } from "./errors.ts";
import { base64ToBytes, json, problem } from "./api_views.ts";
import type { KithNode } from "./node.ts";
import type { NodeDht } from "./node_dht.ts";

/** The paths {@link handleDhtRequest} answers. */
export const DHT_PATHS: readonly string[] = [
  "/v1/dht",
  "/v1/dht/peer",
  "/v1/dht/provide",
  "/v1/dht/providers",
  "/v1/dht/put",
  "/v1/dht/get",
];

/** Largest DHT request body, bytes: a record's value is at most 1 KiB (4/3 of it in base64) and its name 64. */
const MAX_BODY_BYTES = 8 * 1024;

/** The key a request names: 64 hex digits, or `topic:NAME`. @throws {KithError} `BAD_KEY` */
export function parseDhtKey(text: string): Uint8Array {
  if (text.startsWith("topic:")) return topicKey(text.slice("topic:".length));
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new KithError("BAD_KEY", "a key is 64 hex digits, or topic:NAME for a topic's key");
  }
  return Uint8Array.from(text.toLowerCase().match(/../g)!.map((byte) => parseInt(byte, 16)));
}

/** The answer to a DHT request (`route` is `METHOD /path`), or `undefined` when it is no DHT route. */
export async function handleDhtRequest(
  node: KithNode,
  route: string,
  url: URL,
  request: Request,
): Promise<Response | undefined> {
  if (!DHT_PATHS.includes(url.pathname)) return undefined;
  let dht: NodeDht;
  try {
    dht = node.dht;
  } catch (error) {
    if (error instanceof KithError) return problem(409, error.code, error.message);
    throw error;
  }
  try {
    switch (route) {
      case "GET /v1/dht":
        return json({ stats: dht.stats, table: dht.table() });
      case "GET /v1/dht/peer": {
        const id = url.searchParams.get("id") ?? "";
        if (!/^[0-9a-f]{64}$/.test(id)) {
          return problem(400, "BAD_KEY", "give the node id: /v1/dht/peer?id=<64 hex digits>");
        }
        const address = await dht.findPeer(id);
        if (address === undefined) return problem(404, "NOT_FOUND", `no node knows ${id.slice(0, 16)}`);
        return json({ nodeId: id, address });
      }
      case "GET /v1/dht/providers": {
        const key = parseDhtKey(url.searchParams.get("key") ?? "");
        return json({ key: toHex(key), providers: await dht.findProviders(key) });
      }
      case "GET /v1/dht/get": {
        const key = parseDhtKey(url.searchParams.get("key") ?? "");
        const value = await dht.get(key);
        if (!value) return problem(404, "NOT_FOUND", `no node keeps a record under ${toHex(key).slice(0, 16)}`);
        return json({ ...value, value: textOf(value.value), valueBase64: base64Of(value.value) });
      }
      case "POST /v1/dht/provide": {
        const body = await bodyOf(request);
        if (typeof body.key !== "string") return problem(400, "BAD_FIELD", 'give "key"');
        const key = parseDhtKey(body.key);
        return json({ key: toHex(key), stored: await dht.provide(key) });
      }
      case "POST /v1/dht/put": {
        const body = await bodyOf(request);
        if (typeof body.name !== "string") return problem(400, "BAD_FIELD", 'give "name"');
        let value: Uint8Array | undefined;
        if (typeof body.value === "string") value = new TextEncoder().encode(body.value);
        else if (typeof body.valueBase64 === "string") value = base64ToBytes(body.valueBase64);
        if (value === undefined) return problem(400, "BAD_FIELD", 'give "value" (text) or "valueBase64"');
        return json(await dht.put(body.name, value));
      }
    }
  } catch (error) {
    if (error instanceof KithError) return problem(error.code === "TOO_LARGE" ? 413 : 400, error.code, error.message);
    throw error;
  }
  return problem(405, "METHOD_NOT_ALLOWED", `${request.method} is not allowed here`);
}

/** The JSON object a request carries. @throws {KithError} `BAD_JSON`, `TOO_LARGE` */
async function bodyOf(request: Request): Promise<Record<string, unknown>> {
  const raw = new Uint8Array(await request.arrayBuffer().catch(() => new ArrayBuffer(0)));
  if (raw.length > MAX_BODY_BYTES) throw new KithError("TOO_LARGE", `body over ${MAX_BODY_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    throw new KithError("BAD_JSON", "body is not JSON");
  }
  if (typeof body !== "object" || body === null) throw new KithError("BAD_JSON", "body must be a JSON object");
  return body as Record<string, unknown>;
}

/** The value as text when it is UTF-8, else `null` (its base64 is always given). */
function textOf(value: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(value);
  } catch {
    return null;
  }
}

function base64Of(value: Uint8Array): string {
  return btoa(String.fromCharCode(...value));
}
