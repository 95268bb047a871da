/**
 * The SSE scenario: authorised control-API clients that open `GET /v1/subscribe` and never read past the
 * headers, while large messages reach the victim at a bounded rate. Measures the victim's memory growth, the
 * streams accepted and refused, and whether a normal subscriber still receives.
 *
 * @module
 */
import process from "node:process";
import { ControlApi, DEFAULT_STREAM_HIGH_WATER_BYTES, loadOrCreateApiToken } from "../../lib/api.ts";
import { KithNode } from "../../lib/node.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes held after a full collection (heap in use and ArrayBuffers), or undefined without `--expose-gc`. */
function retainedBytes(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return undefined;
  gc();
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** What {@link sse} reports. */
export interface SseResult {
  stalled_clients: number;
  streams_accepted: number;
  streams_refused: number;
  /** Streams closed to make room for a newcomer because they were dropping events. */
  streams_replaced: number;
  /** Whether a client arriving after the load, with every slot taken, got a stream (replacing a stalled one). */
  late_client_accepted: boolean;
  messages: number;
  payload_bytes: number;
  victim_rss_mb_before: number;
  victim_rss_mb_peak: number;
  victim_rss_mb_growth: number;
  /**
   * Growth of the memory the process still holds after a full garbage collection (V8 heap in use plus
   * ArrayBuffers), from after the warm-up to the end of the load with every stalled stream still open: what the
   * attack makes the node keep, without the garbage that RSS also counts. Null unless run with
   * `--v8-flags=--expose-gc` (`deno task chaos` is).
   */
  victim_retained_mb_growth: number | null;
  cpu_cores: number;
  high_water_bytes: number;
  peak_queued_bytes: number;
  events_dropped: number;
  normal_client_messages: number;
  normal_client_dropped: number;
  honest_message_received: boolean;
}

/** Options of {@link sse}. */
export interface SseOptions {
  /** Stalled clients to open (after the normal one). */
  clients: number;
  /** Messages of `payloadBytes` to publish. */
  messages: number;
  /** Messages per second. */
  rate: number;
  /** Bytes of each message's data. Default 64,000. */
  payloadBytes?: number;
  /** The API's per-stream high-water mark. Default its own. */
  highWaterBytes?: number;
  /** The API's stream cap. Default its own. */
  maxStreams?: number;
}

let subnet = 0;
function node(bootstrap: string[]): KithNode {
  return new KithNode({
    config: {
      listenHost: `127.63.${++subnet % 250}.1`,
      listenPort: 0,
      bootstrap,
      minPeers: 1,
      peerMaintenanceIntervalMs: 100,
      // A small message store, so that what grows is what the streams hold.
      messageCacheSize: 16,
    },
  });
}

/** Opens a stream that reads its answer's first bytes (status and headers) and then nothing more. */
async function stalledClient(address: string, token: string): Promise<{ status: number; conn: Deno.TcpConn }> {
  const [hostname, port] = [
    address.slice(0, address.lastIndexOf(":")),
    Number(address.slice(address.lastIndexOf(":") + 1)),
  ];
  const conn = await Deno.connect({ hostname, port });
  await conn.write(
    new TextEncoder().encode(
      `GET /v1/subscribe HTTP/1.1\r\nHost: ${address}\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    ),
  );
  const buffer = new Uint8Array(512);
  const n = await conn.read(buffer);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(new TextDecoder().decode(buffer.subarray(0, n ?? 0)))?.[1] ?? 0);
  return { status, conn };
}

/** A victim with its control API on loopback; one normal subscriber, then `clients` stalled ones; messages flow. */
export async function sse(options: SseOptions): Promise<SseResult> {
  const payloadBytes = options.payloadBytes ?? 64_000;
  const victim = node([]);
  await victim.start();
  const publisher = node([victim.address]);
  await publisher.start();
  const apiDir = await Deno.makeTempDir();
  const token = await loadOrCreateApiToken(apiDir);
  const api = new ControlApi({
    node: victim,
    token,
    port: 0,
    eventStreamHighWaterBytes: options.highWaterBytes,
    maxEventStreams: options.maxStreams,
  });
  const address = await api.start();
  const stalled: Deno.TcpConn[] = [];
  let reader: ReadableStreamDefaultReader<string> | undefined;
  try {
    // Waits for events (a link, deliveries), not measurements: generous, as a loaded machine can take seconds.
    const deadline = Date.now() + 30_000;
    while (!victim.peers().some((p) => p.state === "active") && Date.now() < deadline) await sleep(20);
    const response = await fetch(`http://${address}/v1/subscribe`, { headers: { authorization: `Bearer ${token}` } });
    reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let normalMessages = 0, normalDropped = 0, honest = false, text = "";
    const reading = (async () => {
      while (true) {
        const { value, done } = await reader!.read().catch(() => ({ value: undefined, done: true as const }));
        if (done) return;
        text += value;
        let end;
        while ((end = text.indexOf("\n\n")) >= 0) {
          const event = text.slice(0, end);
          text = text.slice(end + 2);
          if (event.startsWith("event: message")) {
            normalMessages++;
            if (event.includes('"data":"honest"')) honest = true;
          } else if (event.startsWith("event: dropped")) normalDropped++;
        }
      }
    })();
    const filler = "kith sse ".repeat(Math.ceil(payloadBytes / 9));
    // The publisher runs at most half a mark of events ahead of what the normal client has read: a client that
    // reads as fast as it can then never reaches the mark, however slowly a loaded machine runs it (at full rate
    // under a load of 10 it fell 16 events behind and dropped), while the stalled ones, reading nothing, fill it.
    const window = Math.max(
      1,
      Math.floor((options.highWaterBytes ?? DEFAULT_STREAM_HIGH_WATER_BYTES) / payloadBytes / 2),
    );
    const keepUp = async (published: number) => {
      const until = Date.now() + 30_000;
      while (normalMessages < published - window && Date.now() < until) await sleep(5);
    };
    // Warm-up with the normal client alone: the growth measured below is over this phase's peak, so it is the
    // stalled clients' doing rather than the same traffic's garbage.
    const warmUp = Math.min(100, options.messages);
    let rssBefore = Deno.memoryUsage().rss;
    for (let m = 0; m < warmUp; m++) {
      await keepUp(m);
      publisher.broadcast(`warm-up ${m} ${filler}`.slice(0, payloadBytes), { topic: "" });
      rssBefore = Math.max(rssBefore, Deno.memoryUsage().rss);
      await sleep(1000 / options.rate);
    }
    const warmDeadline = Date.now() + 30_000;
    while (normalMessages < warmUp && Date.now() < warmDeadline) await sleep(20);
    const retainedBefore = retainedBytes();
    let accepted = 0, refused = 0;
    for (let i = 0; i < options.clients; i++) {
      const { status, conn } = await stalledClient(address, token);
      if (status === 200) accepted++;
      else refused++;
      stalled.push(conn);
    }
    let peak = Deno.memoryUsage().rss;
    const cpuBefore = process.cpuUsage();
    const start = Date.now();
    for (let m = 0; m < options.messages; m++) {
      await keepUp(warmUp + m);
      publisher.broadcast(`${m} ${filler}`.slice(0, payloadBytes), { topic: "" });
      peak = Math.max(peak, Deno.memoryUsage().rss);
      const due = start + ((m + 1) * 1000) / options.rate;
      while (Date.now() < due) await sleep(Math.max(1, due - Date.now()));
    }
    publisher.broadcast("honest", { topic: "" });
    const honestDeadline = Date.now() + 30_000;
    while (!honest && Date.now() < honestDeadline) {
      peak = Math.max(peak, Deno.memoryUsage().rss);
      await sleep(50);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const wall = (Date.now() - start) / 1000;
    const retainedAfter = retainedBytes();
    // A client that arrives with every slot taken (the normal one still holds its own): it replaces the
    // stream that stopped reading first, as long as one is dropping events.
    const late = await fetch(`http://${address}/v1/subscribe`, { headers: { authorization: `Bearer ${token}` } });
    const lateAccepted = late.status === 200;
    await late.body?.cancel().catch(() => {});
    await reader.cancel().catch(() => {});
    await reading;
    const streams = api.eventStreamStats();
    return {
      stalled_clients: options.clients,
      streams_accepted: accepted,
      streams_refused: refused,
      messages: options.messages,
      payload_bytes: payloadBytes,
      victim_rss_mb_before: Math.round(rssBefore / 1048576),
      victim_rss_mb_peak: Math.round(peak / 1048576),
      victim_rss_mb_growth: Math.max(0, Math.round((peak - rssBefore) / 1048576)),
      victim_retained_mb_growth: retainedBefore === undefined || retainedAfter === undefined
        ? null
        : Math.round((retainedAfter - retainedBefore) / 1048576),
      high_water_bytes: options.highWaterBytes ?? DEFAULT_STREAM_HIGH_WATER_BYTES,
      peak_queued_bytes: streams.peakQueuedBytes,
      events_dropped: streams.dropped,
      streams_replaced: streams.replaced,
      late_client_accepted: lateAccepted,
      cpu_cores: Number(((cpu.user + cpu.system) / 1e6 / wall).toFixed(3)),
      normal_client_messages: normalMessages,
      normal_client_dropped: normalDropped,
      honest_message_received: honest,
    };
  } finally {
    for (const conn of stalled) {
      try {
        conn.close();
      } catch {
        // Already closed by the victim.
      }
    }
    await reader?.cancel().catch(() => {});
    await api.stop();
    await publisher.stop();
    await victim.stop();
    await Deno.remove(apiDir, { recursive: true });
  }
}
