/**
 * A TCP probe the lab's tests run inside hosts, bounded in time:
 *
 *   probe.ts serve HOST PORT MS   accept for MS ms; answer each connection with the address it came from
 *   probe.ts dial HOST PORT MS    connect (giving up after MS ms); print its own address and port, then
 *                                 what the server answered; or `error <name>` / `timeout`
 *
 * The server's answer is what a NAT did to the dialer: its source address and port as seen from outside.
 *
 * @module
 */
const [mode, host, portText, msText] = Deno.args;
const port = Number(portText), ms = Number(msText);
if (!["serve", "dial"].includes(mode) || !host || !Number.isInteger(port) || !(ms > 0)) {
  console.error("usage: probe.ts serve|dial HOST PORT MS");
  Deno.exit(2);
}
if (mode === "serve") {
  const listener = Deno.listen({ hostname: host, port });
  console.log("listening");
  const timer = setTimeout(() => listener.close(), ms);
  try {
    for await (const conn of listener) {
      const from = conn.remoteAddr as Deno.NetAddr;
      await conn.write(new TextEncoder().encode(`${from.hostname}:${from.port}\n`)).catch(() => 0);
      conn.close();
    }
  } catch {
    // Closed at the deadline.
  }
  clearTimeout(timer);
} else {
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve("timeout"), ms));
  const attempt = (async () => {
    try {
      const conn = await Deno.connect({ hostname: host, port });
      const buf = new Uint8Array(128);
      const n = await conn.read(buf);
      const local = conn.localAddr as Deno.NetAddr;
      conn.close();
      return `${local.hostname}:${local.port} ${new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim()}`;
    } catch (error) {
      return `error ${(error as Error).name}`;
    }
  })();
  console.log(await Promise.race([attempt, timeout]));
  Deno.exit(0);
}
