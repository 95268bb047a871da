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
 * | GET /v1/subscribe[?topic=T] | `text/event-stream` of application messages; a client behind by more than the high-water mark loses events and then gets `event: dropped` with `{"count"}`; over the stream cap, 503 |
 * | GET /metrics | Prometheus text format |
 *
 * Errors are JSON `{"error": {"code", "message"}}` with a 4xx status (503 `TOO_MANY_STREAMS` over the stream cap).
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { formatHostPort } from "./address.ts";
import { toHex } from "./bytes.ts";
import { KithError } from "./errors.ts";
import type { LogSink } from "./log.ts";
import type { KithNode, ReceivedMessage } from "./node.ts";
import { PROTOCOL_VERSION } from "./protocol/mod.ts";
import { VERSION } from "./version.ts";
import { EventStreams, type EventStreamStats, type SendEvent } from "./api_sse.ts";
import { DASHBOARD_HTML, DASHBOARD_SCRIPT_HASH, DEVNET_HTML, DEVNET_SCRIPT_HASH } from "./dashboard.ts";

export { DEFAULT_MAX_EVENT_STREAMS, DEFAULT_STREAM_HIGH_WATER_BYTES, type EventStreamStats } from "./api_sse.ts";

/** File name of the API token inside a data directory. */
export const API_TOKEN_FILE = "api.token";
/** Largest request body accepted, bytes. */
export const MAX_API_BODY_BYTES = 1024 * 1024;
/** How long a dashboard login code stays valid, ms. */
export const LOGIN_CODE_TTL_MS = 60_000;
/** How long a dashboard session lasts, ms. */
export const SESSION_TTL_MS = 12 * 3_600_000;

/**
 * The API token of `dataDir`, created (64 hex characters, mode 0600) when
 * absent. A token file readable by others is refused, like a key file.
 *
 * @throws {KithError} `API_TOKEN` with one line naming the file
 */
export async function loadOrCreateApiToken(dataDir: string): Promise<string> {
  const path = `${dataDir}/${API_TOKEN_FILE}`;
  try {
    const info = await Deno.stat(path);
    if (info.mode !== null && (info.mode & 0o077) !== 0) {
      throw new KithError("API_TOKEN", `token file ${path} is readable by other users; run: chmod 600 ${path}`);
    }
    const token = (await Deno.readTextFile(path)).trim();
    if (!/^[0-9a-f]{64}$/.test(token)) {
      throw new KithError(
        "API_TOKEN",
        `token file ${path} is malformed; delete it and restart the node to make a new one`,
      );
    }
    return token;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const token = toHex(crypto.getRandomValues(new Uint8Array(32)));
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  try {
    await file.write(new TextEncoder().encode(token + "\n"));
  } finally {
    file.close();
  }
  if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
  return token;
}

/** Reads the API token of a data directory, for CLI clients. */
export async function readApiToken(dataDir: string): Promise<string> {
  const path = `${dataDir}/${API_TOKEN_FILE}`;
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new KithError("API_TOKEN", `no API token in ${dataDir}: is a node running from that data directory?`);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new KithError("API_TOKEN", `cannot read ${path}: permission denied (run with --allow-read=${dataDir})`);
    }
    throw error;
  }
}

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

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** A page whose only script is its inline one (allowed by hash): nothing from elsewhere, no framing, no referrer. */
function page(html: string, scriptHash: string): Response {
  return new Response(html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy":
        `default-src 'none'; script-src 'sha256-${scriptHash}'; style-src 'unsafe-inline'; connect-src 'self'`,
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
    },
  });
}

function problem(status: number, code: string, message: string): Response {
  return json({ error: { code, message } }, status);
}

function messageJson(message: ReceivedMessage): Record<string, unknown> {
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(message.data);
  } catch {
    text = undefined;
  }
  return {
    id: message.id,
    origin: message.origin,
    from: message.from,
    topic: message.topic,
    timestamp: message.timestamp,
    ...(text !== undefined ? { data: text } : {}),
    dataBase64: btoa(String.fromCharCode(...message.data)),
  };
}

function base64ToBytes(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
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
  readonly #token: Uint8Array;
  #server: Deno.HttpServer | undefined;
  readonly #streams: EventStreams;
  readonly #eventJson = new WeakMap<ReceivedMessage, string>();
  // One-time login codes and browser sessions, each with its expiry (ms since the epoch). Bounded.
  readonly #codes = new Map<string, number>();
  readonly #sessions = new Map<string, number>();
  #address = "";

  /** Creates the server; nothing listens until {@link ControlApi.start}. */
  constructor(options: ControlApiOptions) {
    this.#options = options;
    this.#streams = new EventStreams(options.eventStreamHighWaterBytes, options.maxEventStreams);
    this.#token = new TextEncoder().encode(`Bearer ${options.token}`);
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

  #authorized(request: Request): boolean {
    const given = new TextEncoder().encode(request.headers.get("authorization") ?? "");
    if (given.length === this.#token.length && timingSafeEqual(given, this.#token)) return true;
    const session = /(?:^|;\s*)kith_session=([0-9a-f]{64})/.exec(request.headers.get("cookie") ?? "")?.[1];
    if (session === undefined) return false;
    const expires = this.#sessions.get(session);
    if (expires === undefined || expires < Date.now()) {
      this.#sessions.delete(session ?? "");
      return false;
    }
    return true;
  }

  /**
   * DNS-rebinding protection: the Host header must name the address this API listens on (or its loopback aliases).
   * CSRF protection: a request that carries an Origin must come from that address too.
   */
  #sameSite(request: Request): boolean {
    const port = this.#address.slice(this.#address.lastIndexOf(":") + 1);
    const allowed = new Set([this.#address, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]);
    const host = request.headers.get("host");
    if (host === null || !allowed.has(host.toLowerCase())) return false;
    const origin = request.headers.get("origin");
    if (origin === null) return true;
    try {
      return allowed.has(new URL(origin).host.toLowerCase());
    } catch {
      return false;
    }
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (!this.#sameSite(request)) {
      return problem(403, "FORBIDDEN_ORIGIN", "the Host or Origin of this request is not this node's control API");
    }
    if (request.method === "GET" && (url.pathname === "/" || url.pathname === "/index.html")) {
      return page(DASHBOARD_HTML, DASHBOARD_SCRIPT_HASH);
    }
    if (request.method === "GET" && url.pathname === "/devnet" && this.#options.devnet) {
      return page(DEVNET_HTML, DEVNET_SCRIPT_HASH);
    }
    if (request.method === "POST" && url.pathname === "/v1/session") return await this.#openSession(request);
    if (!this.#authorized(request)) {
      return problem(401, "UNAUTHORIZED", "missing or wrong bearer token (see api.token in the data directory)");
    }
    const route = `${request.method} ${url.pathname}`;
    const node = this.#options.node;
    switch (route) {
      case "POST /v1/login-code":
        return json({ code: this.#newLoginCode(), expiresInMs: LOGIN_CODE_TTL_MS });
      case "GET /v1/status":
        return json(this.#status());
      case "GET /v1/peers":
        return json(node.peers());
      case "GET /v1/trust":
        return json(
          node.peers().map((p) => ({ nodeId: p.nodeId, state: p.state, ...node.trust.explain(p.nodeId, 10) })),
        );
      case "POST /v1/publish":
        return await this.#publish(request);
      case "GET /v1/subscribe":
        return this.#subscribe(url.searchParams.get("topic") ?? undefined);
      case "GET /metrics":
        return new Response(this.#metrics(), { headers: { "content-type": "text/plain; version=0.0.4" } });
      case "GET /v1/devnet":
        if (this.#options.devnet) return json(this.#devnetState());
        break;
      case "GET /v1/devnet/events":
        if (this.#options.devnet) return this.#devnetEvents();
        break;
      case "POST /v1/devnet/broadcast":
        if (this.#options.devnet) {
          const nodes = this.#options.devnet;
          const origin = Math.floor(Math.random() * nodes.length);
          const id = nodes[origin].broadcast(`devnet broadcast at ${new Date().toISOString()}`, { topic: "devnet" });
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
    return this.#newLoginCode();
  }

  #devnetState(): Record<string, unknown> {
    const nodes = this.#options.devnet!;
    const index = new Map(nodes.map((n, i) => [n.nodeId, i]));
    return {
      nodes: nodes.map((n, i) => {
        const peers = n.peers().filter((p) => p.state === "active");
        const stats = n.stats().gossip;
        return {
          index: i,
          nodeId: n.nodeId,
          address: n.address,
          links: peers.map((p) => ({ to: index.get(p.nodeId) ?? -1, trust: p.trust })).filter((l) => l.to >= 0),
          published: stats.published,
          delivered: stats.delivered,
          duplicates: stats.duplicates,
        };
      }),
    };
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

  #newLoginCode(): string {
    const now = Date.now();
    for (const [code, expires] of this.#codes) if (expires < now) this.#codes.delete(code);
    if (this.#codes.size >= 16) this.#codes.delete(this.#codes.keys().next().value!);
    const code = toHex(crypto.getRandomValues(new Uint8Array(16)));
    this.#codes.set(code, now + LOGIN_CODE_TTL_MS);
    return code;
  }

  /** Exchanges a one-time login code for an HttpOnly, SameSite=Strict session cookie. */
  async #openSession(request: Request): Promise<Response> {
    let code: unknown;
    try {
      code = (await request.json() as { code?: unknown }).code;
    } catch {
      return problem(400, "BAD_JSON", "body must be JSON with a code");
    }
    const expires = typeof code === "string" ? this.#codes.get(code) : undefined;
    if (typeof code === "string") this.#codes.delete(code); // one use, right or wrong
    if (expires === undefined || expires < Date.now()) {
      return problem(401, "BAD_CODE", "unknown or expired login code; run kith dashboard again");
    }
    const session = toHex(crypto.getRandomValues(new Uint8Array(32)));
    if (this.#sessions.size >= 64) this.#sessions.delete(this.#sessions.keys().next().value!);
    this.#sessions.set(session, Date.now() + SESSION_TTL_MS);
    return new Response(JSON.stringify({ ok: true }), {
      headers: {
        "content-type": "application/json",
        "set-cookie": `kith_session=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`,
      },
    });
  }

  #status(): Record<string, unknown> {
    const node = this.#options.node;
    const peers = node.peers();
    const count = (state: string) => peers.filter((p) => p.state === state).length;
    return {
      nodeId: node.nodeId,
      version: VERSION,
      protocol: PROTOCOL_VERSION,
      address: node.address,
      profile: node.preset,
      uptimeMs: node.uptimeMs,
      peers: { active: count("active"), connecting: count("connecting"), known: count("known") },
      stats: node.stats(),
    };
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
      if (error instanceof KithError) return problem(400, error.code, error.message);
      throw error;
    }
  }

  #subscribe(topic: string | undefined): Response {
    return this.#eventStream("subscribed", (send) => [
      this.#options.node.subscribe(topic, (message) => send("message", () => this.#messageJson(message))),
    ]);
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

  #metrics(): string {
    const node = this.#options.node;
    const stats = node.stats();
    const peers = node.peers();
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    metric(
      "kith_peers",
      "gauge",
      "Peers by state.",
      (["active", "connecting", "known"] as const).map((
        s,
      ) => [`{state="${s}"}`, peers.filter((p) => p.state === s).length]),
    );
    const g = stats.gossip;
    metric("kith_messages_total", "counter", "Gossip messages by outcome.", [
      ['{outcome="published"}', g.published],
      ['{outcome="delivered"}', g.delivered],
      ['{outcome="forwarded"}', g.forwarded],
      ['{outcome="duplicate"}', g.duplicates],
      ['{outcome="invalid"}', g.invalid],
      ['{outcome="rate_limited"}', g.rateLimited],
      ['{outcome="origin_limited"}', g.originLimited],
      ['{outcome="served_on_request"}', g.served],
    ]);
    metric(
      "kith_messages_by_type_total",
      "counter",
      "Envelopes by message type and outcome: received, delivered, forwarded, duplicate, invalid.",
      Object.entries(stats.byType).flatMap(([type, counts]) =>
        Object.entries(counts).map(([outcome, n]) => [`{type="${type}",outcome="${outcome}"}`, n] as [string, number])
      ),
    );
    metric(
      "kith_messages_invalid_by_code_total",
      "counter",
      "Invalid envelopes received, by error code.",
      Object.entries(stats.invalidByCode).map(([code, n]) => [`{code="${code}"}`, n]),
    );
    metric("kith_bytes_total", "counter", "Bytes through sockets.", [
      ['{direction="in"}', stats.transport.bytesIn],
      ['{direction="out"}', stats.transport.bytesOut],
    ]);
    metric(
      "kith_signature_checks_total",
      "counter",
      "Signature checks by where they ran: on the node's thread, or on a helper thread while it was behind.",
      [
        ['{where="inline"}', stats.signatureChecks.inline],
        ['{where="helper"}', stats.signatureChecks.offloaded],
      ],
    );
    metric(
      "kith_messages_dropped_under_check_total",
      "counter",
      "First copies dropped while too many waited for their signature check.",
      [
        ["", g.droppedUnderCheck],
      ],
    );
    metric(
      "kith_gossip_lateness_ms",
      "gauge",
      "How late messages arrive beyond their origins' quickest (median over origins of the smoothed mean and deviation); a message's first ask waits mean + 4 deviations longer, at most 2 s.",
      [
        ['{stat="mean"}', Math.round(g.latenessMs * 10) / 10],
        ['{stat="deviation"}', Math.round(g.latenessDeviationMs * 10) / 10],
      ],
    );
    metric("kith_handshakes_total", "counter", "Handshakes by result.", [
      ['{result="completed"}', stats.transport.handshakesCompleted],
      ['{result="failed"}', stats.transport.handshakesFailed],
    ]);
    metric(
      "kith_dials_refused_total",
      "counter",
      "Addresses the dial policy refused: announced or stored ones the peer manager dropped (each counted once), " +
        "and dials the transport refused.",
      [
        ['{where="peers"}', stats.peers.refusedByPolicy],
        ['{where="transport"}', stats.transport.dialsRefused],
      ],
    );
    const bounds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
    lines.push("# HELP kith_peer_trust Trust of known peers.", "# TYPE kith_peer_trust histogram");
    for (const bound of bounds) {
      lines.push(`kith_peer_trust_bucket{le="${bound}"} ${peers.filter((p) => p.trust <= bound).length}`);
    }
    lines.push(`kith_peer_trust_bucket{le="+Inf"} ${peers.length}`);
    lines.push(
      `kith_peer_trust_sum ${peers.reduce((n, p) => n + p.trust, 0)}`,
      `kith_peer_trust_count ${peers.length}`,
    );
    const latency = stats.deliveryLatency;
    lines.push(
      "# HELP kith_delivery_latency_seconds Publish-to-delivery latency of application messages.",
      "# TYPE kith_delivery_latency_seconds histogram",
    );
    for (const [bound, count] of latency.buckets) {
      lines.push(`kith_delivery_latency_seconds_bucket{le="${bound / 1000}"} ${count}`);
    }
    lines.push(`kith_delivery_latency_seconds_bucket{le="+Inf"} ${latency.count}`);
    lines.push(
      `kith_delivery_latency_seconds_sum ${latency.sum / 1000}`,
      `kith_delivery_latency_seconds_count ${latency.count}`,
    );
    metric("kith_uptime_seconds", "gauge", "Seconds since the node started.", [["", node.uptimeMs / 1000]]);
    return lines.join("\n") + "\n";
  }
}
