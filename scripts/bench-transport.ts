/**
 * Transport benchmarks on loopback, both ends in this process (one core does
 * the work of both): handshakes per second, encrypted throughput for
 * 256-byte and 64 KiB envelopes, and the CPU cost of one envelope sent alone.
 *
 *   deno task bench:transport -- [--handshakes 300] [--small 200000] [--large 2000] [--sequential 20000]
 *
 * Prints one JSON line per measurement. Loopback only; bounded in count.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { Identity } from "../lib/identity.ts";
import { TcpTransport } from "../lib/transport/mod.ts";
import { createMessage, type Envelope, MessageCodec, MessageType } from "../lib/protocol/mod.ts";

const { values } = parseArgs({
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    handshakes: { type: "string", default: "300" },
    small: { type: "string", default: "200000" },
    large: { type: "string", default: "2000" },
    sequential: { type: "string", default: "20000" },
  },
});
// The inbound rate limits (issue 21, item 5) are lifted: this measures the handshake's cost, not the limiter.
const config = {
  listenHost: "127.0.0.1",
  listenPort: 0,
  maxConnectionsPerIp: 1000,
  maxInbound: 1000,
  inboundRatePerIp: 1_000_000,
  inboundRatePerSubnet: 1_000_000,
  inboundRateGlobal: 1_000_000,
};

async function handshakes(count: number, parallel: number) {
  const server = new TcpTransport({ identity: Identity.generate(), config });
  const address = await server.listen();
  const clients = Array.from({ length: parallel }, () => new TcpTransport({ identity: Identity.generate(), config }));
  const started = performance.now();
  await Promise.all(clients.map(async (client) => {
    for (let i = 0; i < count / parallel; i++) {
      const connection = await client.dial(address);
      await connection.close();
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  await Promise.all([...clients.map((c) => c.close()), server.close()]);
  console.log(JSON.stringify({
    bench: "handshakes",
    parallel,
    count,
    per_s: Math.round(count / seconds),
    note: "dial + 3-message handshake + DISCONNECT, both ends on one core",
  }));
}

/**
 * A sender connected to a receiver whose connections call `onEnvelope`, and an encoded CUSTOM_DATA
 * envelope with `dataBytes` of data from the sender.
 */
async function connectedPair(dataBytes: number, onEnvelope: (envelope: Envelope) => void) {
  const receiver = new TcpTransport({ identity: Identity.generate(), config });
  const sender = new TcpTransport({ identity: Identity.generate(), config });
  receiver.onConnection = (c) => c.onEnvelope = onEnvelope;
  const connection = await sender.dial(await receiver.listen());
  const envelope = new MessageCodec().encode(
    createMessage(sender.identity, MessageType.CUSTOM_DATA, { topic: "bench", data: new Uint8Array(dataBytes) }),
  );
  const close = async () => {
    await sender.close();
    await receiver.close();
  };
  return { connection, envelope, close };
}

async function throughput(count: number, dataBytes: number) {
  let received = 0, receivedBytes = 0;
  let done: () => void;
  const finished = new Promise<void>((resolve) => done = resolve);
  const { connection, envelope, close } = await connectedPair(dataBytes, (e) => {
    received++;
    receivedBytes += e.payloadBytes.length;
    if (received === count) done();
  });
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    // Keep a bounded amount queued, as a well-behaved sender does.
    while (connection.bufferedBytes > 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 0));
    connection.sendEncoded(envelope);
  }
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const stats = connection.stats;
  await close();
  console.log(JSON.stringify({
    bench: "throughput",
    data_bytes: dataBytes,
    envelope_bytes: envelope.length,
    count,
    frames_per_s: Math.round(count / seconds),
    payload_mb_per_s: Number((receivedBytes / seconds / 1e6).toFixed(1)),
    wire_mb_per_s: Number((stats.bytesOut / seconds / 1e6).toFixed(1)),
  }));
}

/**
 * One envelope at a time: send, wait until the other end has parsed it, send the next. Nothing is
 * coalesced, so this is the per-record cost a node pays at low load (a gossip hop at 100 messages/s).
 */
async function sequential(count: number) {
  let arrived: () => void = () => {};
  const { connection, envelope, close } = await connectedPair(256, () => arrived());
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const received = new Promise<void>((resolve) => arrived = resolve);
    connection.sendEncoded(envelope);
    await received;
  }
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - started) / 1000;
  await close();
  console.log(JSON.stringify({
    bench: "sequential",
    envelope_bytes: envelope.length,
    count,
    cpu_us_per_envelope: Number(((cpu.user + cpu.system) / count).toFixed(1)),
    kernel_us_per_envelope: Number((cpu.system / count).toFixed(1)),
    round_trip_us: Number((seconds * 1e6 / count).toFixed(1)),
    note: "one record per envelope: seal, write, read, open, parse; both ends in this process",
  }));
}

await handshakes(Number(values.handshakes), 1);
await handshakes(Number(values.handshakes), 8);
await throughput(Number(values.small), 256);
await throughput(Number(values.large), 64 * 1024);
await sequential(Number(values.sequential));
