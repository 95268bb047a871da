/**
 * Sockets for hole punching. Deno.connect cannot choose its local port, which simultaneous open needs
 * (each end dials from the port it told the other, so that behind a port-preserving NAT its mapping is
 * the one the other end dials); node:net can. {@link NodeSocketConn} shapes a node:net socket as the
 * `ByteConn` the transport reads and writes, with backpressure (reading pauses the socket while unread
 * bytes pile up).
 *
 * @module
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import { formatHostPort } from "../address.ts";
import type { Clock } from "../clock.ts";
import type { ByteConn } from "../transport/connection.ts";

/**
 * Whether this process may listen on, bind or dial `host:port`. node:net checks Deno's net permission in a
 * later tick and throws there, past every handler (an uncaught error ends the process), so a node run with an
 * `--allow-net` narrower than the address it would punch from must find out first and stay relayed.
 */
function mayUse(host: string, port: number): boolean {
  try {
    return Deno.permissions.querySync({ name: "net", host: formatHostPort(host, port) }).state === "granted";
  } catch {
    return false;
  }
}

/** Unread bytes at which the socket is paused. */
const HIGH_WATER_BYTES = 256 * 1024;

/** A connected node:net socket as a {@link ByteConn}. */
export class NodeSocketConn implements ByteConn {
  readonly #socket: net.Socket;
  readonly #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  /** Wraps `socket`, which must be connected. */
  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#queued += chunk.byteLength;
      if (this.#queued > HIGH_WATER_BYTES) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Reads into `p`: the number of bytes, or null at end of stream. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#ended || this.#error) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const head = this.#chunks[0];
    const n = Math.min(p.length, head.length);
    p.set(head.subarray(0, n));
    if (n === head.length) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(n);
    this.#queued -= n;
    if (this.#queued <= HIGH_WATER_BYTES / 2 && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  /** Writes all of `p`; resolves once the socket has taken it. */
  write(p: Uint8Array): Promise<number> {
    if (this.#ended || this.#error || this.#socket.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("socket closed"));
    }
    const copy = Buffer.from(p);
    return new Promise((resolve, reject) => {
      this.#socket.write(copy, (error?: Error | null) => error ? reject(error) : resolve(p.length));
    });
  }

  /** Closes the socket at once. */
  close(): void {
    this.#ended = true;
    this.#socket.destroy();
    this.#notify();
  }

  /** Sets TCP_NODELAY. */
  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }
}

/** A local TCP port free now on `host` (the OS picks one; it is released before return). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    if (!mayUse(host, 0)) {
      reject(new Error(`no net permission to listen on ${formatHostPort(host, 0)}`));
      return;
    }
    const server = net.createServer();
    server.once("error", reject);
    try {
      server.listen({ host, port: 0, exclusive: true }, () => {
        const port = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(port));
      });
    } catch (error) {
      reject(error);
    }
  });
}

/**
 * One TCP connect from `localHost:localPort` to `host:port`, given up after `timeoutMs`: resolves with the
 * connected socket, or undefined when it was refused, reset or timed out (simultaneous open makes both
 * common; the caller retries within its window).
 */
export function connectFrom(
  host: string,
  port: number,
  localHost: string,
  localPort: number,
  timeoutMs: number,
  clock: Clock,
): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    if (!mayUse(host, port) || !mayUse(localHost, localPort)) {
      resolve(undefined);
      return;
    }
    const socket = net.createConnection({ host, port, localAddress: localHost, localPort });
    let settled = false;
    const finish = (result: net.Socket | undefined) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      socket.removeAllListeners("connect");
      if (!result) socket.destroy();
      resolve(result);
    };
    const timer = clock.setTimeout(() => finish(undefined), timeoutMs);
    socket.once("connect", () => finish(socket));
    // Kept after connecting too (finish ignores it then): an unheard socket error would be thrown.
    socket.on("error", () => finish(undefined));
  });
}

/**
 * Listens on `localHost:localPort` until a connection from `fromHost` arrives (others are closed) or
 * `timeoutMs` passes; the listener is closed either way. Resolves with the socket, or undefined.
 */
export function acceptOn(
  localHost: string,
  localPort: number,
  fromHost: string,
  timeoutMs: number,
  clock: Clock,
): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    if (!mayUse(localHost, localPort)) {
      resolve(undefined);
      return;
    }
    const server = net.createServer();
    let settled = false;
    const finish = (socket: net.Socket | undefined) => {
      if (settled) {
        socket?.destroy();
        return;
      }
      settled = true;
      clock.clearTimeout(timer);
      server.close();
      resolve(socket);
    };
    const timer = clock.setTimeout(() => finish(undefined), timeoutMs);
    server.on("connection", (socket: net.Socket) => {
      socket.on("error", () => {}); // heard by the ByteConn wrapper from here on
      if (normalise(socket.remoteAddress ?? "") === fromHost) finish(socket);
      else socket.destroy();
    });
    server.on("error", () => finish(undefined));
    server.listen({ host: localHost, port: localPort, exclusive: true });
  });
}

/** An IPv4-mapped IPv6 address as plain IPv4. */
function normalise(address: string): string {
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}
