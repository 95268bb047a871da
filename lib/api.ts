/**
 * The local control API of a running node: status, peers, trust, publish,
 * a Server-Sent Events stream of messages, and Prometheus metrics.
 *
 * It listens on loopback by default and every request needs the bearer
 * token kept (mode 0600) in the data directory, so only the node's operator
 * (who can read that directory) can use it.
 *
 * | method and path | answer |
 * | --- | --- |
 * | GET /v1/status | node id, version, address, uptime, profile, peer counts, counters |
 * | GET /v1/peers | every known peer: state, direction, trust, reputation, last seen, round trip |
 * | GET /v1/trust | trust, reputation and its parts per peer, with the latest trust events |
 * | POST /v1/publish | body `{"data": "text"}` or `{"dataBase64": "..."}`, optional `"topic"`, `"ttl"`; answers `{"id"}` |
 * | GET /v1/subscribe[?topic=T][&since=MS] | `text/event-stream` of application messages (joining topic T); with `since`, T's log from that timestamp first, then live, with no gap or duplicate; a client behind by more than the high-water mark loses events and then gets `event: dropped` with `{"count"}`; over the stream cap, 503; a bad topic name or `since` 400, over `maxTopics` 409 |
 * | GET /v1/history?topic=T[&since=MS][&limit=N] | the messages T's log holds, oldest first (limit 1..10,000, default 1,000) |
 * | GET /v1/topics | the topics this node is in, with peers, eager links and message counters; topic routing counters |
 * | GET /v1/topics/peers?topic=T | the connected peers in topic T (node id, address, trust, relays all) |
 * | GET /metrics | Prometheus text format |
 * | GET, POST /v1/dht... | the DHT: routing table, find-peer, provide, providers, put, get (`api_dht.ts`) |
 *
 * Errors are JSON `{"error": {"code", "message"}}` with a 4xx status (503 `TOO_MANY_STREAMS` over the stream cap).
 *
 * This file holds the server and its routes; `api_token.ts` the token file, `api_auth.ts` the token check,
 * login codes, sessions and the Host/Origin check, `api_views.ts` the JSON bodies and pages, `api_metrics.ts`
 * the Prometheus text, `api_sse.ts` the event streams, `api_dht.ts` the DHT's endpoints.
 *
 * @module
 */
import { formatHostPort } from "./address.ts";
import { KithError } from "./errors.ts";
import type { LogSink } from "./log.ts";
import type { KithNode, ReceivedMessage } from "./node.ts";
import { EventStreams, type EventStreamStats, type SendEvent } from "./api_sse.ts";
import { ApiAuth, LOGIN_CODE_TTL_MS, sameSite } from "./api_auth.ts";
import { renderMetrics } from "./api_metrics.ts";
import { handleDhtRequest } from "./api_dht.ts";
import { TopicLabels } from "./api_topic_labels.ts";
import {
  base64ToBytes,
  devnetStateJson,
  json,
  messageJson,
  page,
  problem,
  statusJson,
  topicPeersJson,
  topicsJson,
} from "./api_views.ts";
import { MAX_HISTORY_LIMIT } from "./node_catchup.ts";
import { isTopicName } from "./topics/mod.ts";
import { DASHBOARD_HTML, DASHBOARD_SCRIPT_HASH, DEVNET_HTML, DEVNET_SCRIPT_HASH } from "./dashboard.ts";

export { DEFAULT_MAX_EVENT_STREAMS, DEFAULT_STREAM_HIGH_WATER_BYTES, type EventStreamStats } from "./api_sse.ts";
export { API_TOKEN_FILE, loadOrCreateApiToken, readApiToken } from "./api_token.ts";
export { LOGIN_CODE_TTL_MS, SESSION_TTL_MS } from "./api_auth.ts";

/** Largest request body accepted, bytes. */
export const MAX_API_BODY_BYTES = 1024 * 1024;

/** Options of {@link ControlApi}. */
export interface ControlApiOptions {
  /** The node to control. */
  node: KithNode;
  /** The bearer token requests must carry. */
  token: string;
  /** Address to listen on. Default `"127.0.0.1"`. */
  hostname?: string;
  /** Port; 0 picks one. Default 7401. */
  port?: number;
  /** Where to log requests that fail. */
  log?: LogSink;
  /** All nodes of a devnet (node 0 being `node`): adds the devnet page at `/devnet` and its data. */
  devnet?: KithNode[];
  /** Bytes one event stream may queue for a client that reads slowly; past it events are dropped. Default 1 MiB. */
  eventStreamHighWaterBytes?: number;
  /** Event streams (subscribe and devnet) open at once; one more is answered 503. Default 16. */
  maxEventStreams?: number;
}

/**
 * The control API server.
 *
 * @example
 * ```ts ignore
 * const api = new ControlApi({ node, token: await loadOrCreateApiToken(dataDir) });
 * console.log(await api.start()); // "127.0.0.1:7401"
 * await api.stop();
 * ```
 */
export class ControlApi {
  readonly #options: ControlApiOptions;
  readonly #auth: ApiAuth;
  #server: Deno.HttpServer | undefined;
  readonly #streams: EventStreams;
  readonly #eventJson = new WeakMap<ReceivedMessage, string>();
  // Which topics have metric series of their own, kept across scrapes.
  readonly #topicLabels = new TopicLabels();
  #address = "";

  /** Creates the server; nothing listens until {@link ControlApi.start}. */
  constructor(options: ControlApiOptions) {
    this.#options = options;
    this.#streams = new EventStreams(options.eventStreamHighWaterBytes, options.maxEventStreams);
    this.#auth = new ApiAuth(options.token);
  }

  /** The bound `host:port`. */
  get address(): string {
    return this.#address;
  }

  /** Starts listening; resolves with the bound `host:port`. */
  start(): Promise<string> {
    return new Promise((resolve, reject) => {
      try {
        this.#server = Deno.serve({
          hostname: this.#options.hostname ?? "127.0.0.1",
          port: this.#options.port ?? 7401,
          onListen: ({ hostname, port }) => {
            this.#address = formatHostPort(hostname, port);
            resolve(this.#address);
          },
          onError: (error) => {
            this.#options.log?.("error", "control API request failed", { error: String(error) });
            return problem(500, "INTERNAL", "internal error");
          },
        }, (request) => this.#handle(request));
      } catch (error) {
        reject(
          new KithError(
            "API_LISTEN",
            `cannot listen for the control API on ${this.#options.hostname ?? "127.0.0.1"}:${
              this.#options.port ?? 7401
            }: ${error instanceof Error ? error.message : error}`,
          ),
        );
      }
    });
  }

  /** Closes open event streams and stops the server. */
  async stop(): Promise<void> {
    this.#streams.closeAll();
    await this.#server?.shutdown();
    this.#server = undefined;
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (!sameSite(this.#address, request)) {
      return problem(403, "FORBIDDEN_ORIGIN", "the Host or Origin of this request is not this node's control API");
    }
    if (request.method === "GET" && (url.pathname === "/" || url.pathname === "/index.html")) {
      return page(DASHBOARD_HTML, DASHBOARD_SCRIPT_HASH);
    }
    if (request.method === "GET" && url.pathname === "/devnet" && this.#options.devnet) {
      return page(DEVNET_HTML, DEVNET_SCRIPT_HASH);
    }
    if (request.method === "POST" && url.pathname === "/v1/session") return await this.#auth.openSession(request);
    if (!this.#auth.authorized(request)) {
      return problem(401, "UNAUTHORIZED", "missing or wrong bearer token (see api.token in the data directory)");
    }
    const route = `${request.method} ${url.pathname}`;
    const node = this.#options.node;
    const dhtAnswer = await handleDhtRequest(node, route, url, request);
    if (dhtAnswer) return dhtAnswer;
    switch (route) {
      case "POST /v1/login-code":
        return json({ code: this.#auth.newLoginCode(), expiresInMs: LOGIN_CODE_TTL_MS });
      case "GET /v1/status":
        return json(statusJson(node));
      case "GET /v1/peers":
        return json(node.peers());
      case "GET /v1/trust":
        return json(
          node.peers().map((p) => ({ nodeId: p.nodeId, state: p.state, ...node.trust.explain(p.nodeId, 10) })),
        );
      case "POST /v1/publish":
        return await this.#publish(request);
      case "GET /v1/subscribe":
        return this.#subscribe(url.searchParams.get("topic") ?? undefined, url.searchParams.get("since"));
      case "GET /v1/history":
        return this.#history(url.searchParams);
      case "GET /v1/topics":
        return json(topicsJson(node));
      case "GET /v1/topics/peers": {
        const topic = url.searchParams.get("topic");
        if (topic === null) {
          return problem(400, "BAD_FIELD", 'give the topic: /v1/topics/peers?topic=T ("" for all peers)');
        }
        if (topic !== "" && !isTopicName(topic)) return problem(400, "BAD_TOPIC", "a topic name is at most 255 bytes");
        return json(topicPeersJson(node, topic));
      }
      case "GET /metrics":
        return new Response(renderMetrics(node, this.#topicLabels), {
          headers: { "content-type": "text/plain; version=0.0.4" },
        });
      case "GET /v1/devnet":
        if (this.#options.devnet) return json(devnetStateJson(this.#options.devnet));
        break;
      case "GET /v1/devnet/events":
        if (this.#options.devnet) return this.#devnetEvents();
        break;
      case "POST /v1/devnet/broadcast":
        if (this.#options.devnet) {
          const nodes = this.#options.devnet;
          const origin = Math.floor(Math.random() * nodes.length);
          const id = nodes[origin].broadcast(`devnet broadcast at ${new Date().toISOString()}`, { topic: "" });
          return json({ id, origin });
        }
        break;
    }
    const known = [
      "/v1/status",
      "/v1/peers",
      "/v1/trust",
      "/v1/publish",
      "/v1/subscribe",
      "/v1/history",
      "/v1/topics",
      "/v1/topics/peers",
      "/metrics",
      "/v1/login-code",
    ];
    if (known.includes(url.pathname)) {
      return problem(405, "METHOD_NOT_ALLOWED", `${request.method} is not allowed here`);
    }
    return problem(404, "NOT_FOUND", `no endpoint ${url.pathname}`);
  }

  /** Counters of the event streams: open, accepted, refused, events dropped, most bytes one stream queued. */
  eventStreamStats(): EventStreamStats {
    return this.#streams.stats();
  }

  /** A one-time dashboard login code (what `POST /v1/login-code` returns), for in-process callers such as devnet. */
  loginCode(): string {
    return this.#auth.newLoginCode();
  }

  /** Every application delivery at every devnet node, as it happens: which node, which message, how long after publishing. */
  #devnetEvents(): Response {
    const nodes = this.#options.devnet!;
    const index = new Map(nodes.map((n, i) => [n.nodeId, i]));
    return this.#eventStream(
      "devnet",
      (send) =>
        nodes.map((node, i) =>
          node.subscribe(undefined, (m) =>
            send("delivery", () =>
              JSON.stringify({
                node: i,
                id: m.id,
                origin: index.get(m.origin) ?? -1,
                from: index.get(m.from) ?? -1,
                topic: m.topic,
                ms: Date.now() - m.timestamp,
              })))
        ),
    );
  }

  async #publish(request: Request): Promise<Response> {
    const length = Number(request.headers.get("content-length") ?? "0");
    if (length > MAX_API_BODY_BYTES) return problem(413, "TOO_LARGE", `body over ${MAX_API_BODY_BYTES} bytes`);
    let raw: Uint8Array;
    try {
      raw = new Uint8Array(await request.arrayBuffer());
    } catch {
      return problem(400, "BAD_BODY", "could not read the body");
    }
    if (raw.length > MAX_API_BODY_BYTES) return problem(413, "TOO_LARGE", `body over ${MAX_API_BODY_BYTES} bytes`);
    let body: { data?: unknown; dataBase64?: unknown; topic?: unknown; ttl?: unknown };
    try {
      body = JSON.parse(new TextDecoder().decode(raw));
    } catch {
      return problem(400, "BAD_JSON", "body is not JSON");
    }
    if (typeof body !== "object" || body === null) return problem(400, "BAD_JSON", "body must be a JSON object");
    let data: Uint8Array | undefined;
    if (typeof body.data === "string") data = new TextEncoder().encode(body.data);
    else if (typeof body.dataBase64 === "string") data = base64ToBytes(body.dataBase64);
    if (data === undefined) return problem(400, "BAD_FIELD", 'give "data" (text) or "dataBase64"');
    if (body.topic !== undefined && typeof body.topic !== "string") {
      return problem(400, "BAD_FIELD", '"topic" must be a string');
    }
    if (
      body.ttl !== undefined &&
      !(Number.isInteger(body.ttl) && (body.ttl as number) >= 0 && (body.ttl as number) <= 255)
    ) {
      return problem(400, "BAD_FIELD", '"ttl" must be an integer in 0..255');
    }
    try {
      const id = this.#options.node.broadcast(data, {
        topic: body.topic as string | undefined,
        ttl: body.ttl as number | undefined,
      });
      return json({ id });
    } catch (error) {
      if (error instanceof RangeError) return problem(413, "TOO_LARGE", error.message);
      // Publishing from outside a topic needs a connected peer in it: a state of the network, not a bad request.
      if (error instanceof KithError && error.code === "NO_TOPIC_PEERS") return problem(409, error.code, error.message);
      if (error instanceof KithError) return problem(400, error.code, error.message);
      throw error;
    }
  }

  #history(params: URLSearchParams): Response {
    const topic = params.get("topic");
    if (topic === null || !isTopicName(topic)) {
      return problem(400, "BAD_TOPIC", "give a topic of 1 to 255 bytes: /v1/history?topic=T");
    }
    const since = wholeNumber(params.get("since"));
    const limit = wholeNumber(params.get("limit"));
    if (since === null) return problem(400, "BAD_FIELD", "since must be a timestamp in ms since the epoch");
    if (limit === null || (limit !== undefined && (limit < 1 || limit > MAX_HISTORY_LIMIT))) {
      return problem(400, "BAD_FIELD", `limit must be a whole number in 1..${MAX_HISTORY_LIMIT}`);
    }
    const messages = this.#options.node.history(topic, { since, limit });
    return json({ topic, messages: messages.map(messageJson) });
  }

  #subscribe(topic: string | undefined, sinceText: string | null): Response {
    const since = wholeNumber(sinceText);
    if (since === null) return problem(400, "BAD_FIELD", "since must be a timestamp in ms since the epoch");
    if (since !== undefined && (topic === undefined || topic === "")) {
      return problem(400, "BAD_FIELD", "since replays a named topic's log: give topic=T");
    }
    try {
      return this.#eventStream("subscribed", (send) => [
        this.#options.node.subscribe(
          topic,
          { since },
          (message) => send("message", () => this.#messageJson(message)),
        ),
      ]);
    } catch (error) {
      // Refused by the node as it subscribed (the stream was not opened): the request's fault, or a full node's.
      if (error instanceof KithError && error.code === "TOO_MANY_TOPICS") {
        return problem(409, error.code, error.message);
      }
      if (error instanceof KithError && error.code === "BAD_TOPIC") return problem(400, error.code, error.message);
      throw error;
    }
  }

  /** A message's event data as JSON, made once however many streams send it (they share the message object). */
  #messageJson(message: ReceivedMessage): string {
    let text = this.#eventJson.get(message);
    if (text === undefined) {
      text = JSON.stringify(messageJson(message));
      this.#eventJson.set(message, text);
    }
    return text;
  }

  #eventStream(greeting: string, attach: (send: SendEvent) => { unsubscribe(): void }[]): Response {
    return this.#streams.open(greeting, attach) ??
      problem(503, "TOO_MANY_STREAMS", "too many event streams are open; close one and retry");
  }
}

/** A query parameter that must be a whole number: undefined when absent, null when malformed. */
function wholeNumber(text: string | null): number | undefined | null {
  if (text === null) return undefined;
  return /^[0-9]{1,16}$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : null;
}
