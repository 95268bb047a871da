/**
 * Who may use the control API: the bearer token (compared in constant time),
 * dashboard sessions opened with one-time login codes, and the Host/Origin
 * check against DNS rebinding and CSRF.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { toHex } from "./bytes.ts";
import { problem } from "./api_views.ts";

/** How long a dashboard login code stays valid, ms. */
export const LOGIN_CODE_TTL_MS = 60_000;
/** How long a dashboard session lasts, ms. */
export const SESSION_TTL_MS = 12 * 3_600_000;

/** The bearer token, the one-time login codes and the browser sessions of one control API. */
export class ApiAuth {
  readonly #token: Uint8Array;
  // One-time login codes and browser sessions, each with its expiry (ms since the epoch). Bounded.
  readonly #codes = new Map<string, number>();
  readonly #sessions = new Map<string, number>();

  /** Authorizes requests carrying `token` (or a session cookie). */
  constructor(token: string) {
    this.#token = new TextEncoder().encode(`Bearer ${token}`);
  }

  /** Whether `request` carries the bearer token or a live session cookie. */
  authorized(request: Request): boolean {
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

  /** A new one-time login code, valid for {@link LOGIN_CODE_TTL_MS}. */
  newLoginCode(): string {
    const now = Date.now();
    for (const [code, expires] of this.#codes) if (expires < now) this.#codes.delete(code);
    if (this.#codes.size >= 16) this.#codes.delete(this.#codes.keys().next().value!);
    const code = toHex(crypto.getRandomValues(new Uint8Array(16)));
    this.#codes.set(code, now + LOGIN_CODE_TTL_MS);
    return code;
  }

  /** Exchanges a one-time login code for an HttpOnly, SameSite=Strict session cookie. */
  async openSession(request: Request): Promise<Response> {
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
}

/**
 * DNS-rebinding protection: the Host header must name `address`, the address the API listens on (or its loopback
 * aliases). CSRF protection: a request that carries an Origin must come from that address too.
 */
export function sameSite(address: string, request: Request): boolean {
  const port = address.slice(address.lastIndexOf(":") + 1);
  const allowed = new Set([address, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]);
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
