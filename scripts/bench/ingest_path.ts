/**
 * The single-node ingest path in one process, for comparing checkouts: a `KithNode` on the simulator's network
 * (no sockets, records or sealing; every check, the signature inline, topic routing, dedup, delivery through
 * the topic log, keeping and forwarding as a node runs them) fed by two raw simulated peers with CUSTOM_DATA
 * messages signed before each round, 256 bytes of data from 640 origins, as `scripts/bench-ingest.ts` sends.
 * Each checkout's node gets the same rounds in turn (A B A B ...), and a round's figure is the process's CPU
 * per delivery over it, so other processes on the machine shift every checkout's figures alike; the medians of
 * each checkout and of the paired ratios are printed. The CPU includes the harness's own part (the simulated
 * links, and the raw peers parsing the copies forwarded to them), the same for every checkout.
 *
 *   deno run -A scripts/bench/ingest_path.ts [--rounds 12] [--messages 4000] [--rate 8000] DIR ...
 *
 * DIR: a checkout of kith (a git worktree); default the one this script is in.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";

const args = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "12" },
    messages: { type: "string", default: "4000" },
    rate: { type: "string", default: "8000" },
  },
});
const ROUNDS = Number(args.values.rounds);
const MESSAGES = Number(args.values.messages);
const RATE = Number(args.values.rate);
const ORIGINS = 640;
const TOPIC = "ingest";
const dirs = args.positionals.length > 0 ? args.positionals : [new URL("../..", import.meta.url).pathname];

interface Setup {
  dir: string;
  /** Sends `count` messages, pre-signed, and runs the clock until all are delivered; returns CPU µs. */
  round(envelopes: Uint8Array[]): { cpuUs: number; delivered: number };
  /** Signs `count` messages for the next round with this checkout's code. */
  sign(count: number): Uint8Array[];
}

// deno-lint-ignore no-explicit-any
type Any = any;

async function setUp(dir: string): Promise<Setup> {
  const root = `file://${dir.replace(/\/$/, "")}`;
  const sim: Any = await import(`${root}/lib/sim/mod.ts`);
  const { Identity }: Any = await import(`${root}/lib/identity.ts`);
  const protocol: Any = await import(`${root}/lib/protocol/mod.ts`);
  const clock = new sim.VirtualClock(Date.now());
  const network = new sim.SimNetwork(clock, Math.random, { minLatencyMs: 0, maxLatencyMs: 0 });
  const node = await sim.startSimNode(network, 0, Math.random, {
    minPeers: 0,
    outboundSlots: 0,
    maxPeersPerIp: 64,
    maxPeersPerSubnet: 64,
    maxConnectionsPerIp: 64,
    peerRateLimit: 1_000_000,
  });
  let delivered = 0;
  node.node.subscribe(TOPIC, () => delivered++);
  const codec = new protocol.MessageCodec();
  const origins = Array.from({ length: ORIGINS }, () => Identity.generate());
  const connections: Any[] = [];
  for (let i = 0; i < 2; i++) {
    const identity = Identity.generate();
    const transport = network.transport(identity, sim.simAddress(100 + i));
    const dialing = transport.dial(node.address);
    clock.runUntil(clock.now() + 1);
    const connection = await dialing;
    connection.send(
      protocol.createLinkMessage(identity, protocol.MessageType.TOPIC_SUBSCRIPTIONS, {
        full: true,
        all: false,
        join: [TOPIC],
        leave: [],
      }, { timestamp: clock.now() }),
    );
    connections.push(connection);
  }
  clock.runUntil(clock.now() + 100);
  let next = 0;
  // Each message is signed with the (virtual) time it is due, as a publisher sends what it just made.
  const sign = (count: number, rate: number, at = clock.now()) =>
    Array.from({ length: count }, (_, i) => {
      const data = new Uint8Array(256).fill(i & 255);
      new DataView(data.buffer).setUint32(0, next++);
      const message = protocol.createMessage(origins[next % ORIGINS], protocol.MessageType.CUSTOM_DATA, {
        topic: TOPIC,
        data,
      }, { ttl: 16, timestamp: Math.floor(at + (i * 1000) / rate) });
      return codec.encode(message);
    });
  const send = (envelopes: Uint8Array[], rate: number) => {
    const stepMs = 1000 / rate;
    for (let i = 0; i < envelopes.length; i++) {
      connections[i % 2].sendEncoded(envelopes[i]);
      clock.runUntil(clock.now() + stepMs);
    }
    clock.runUntil(clock.now() + 50);
  };
  // Warm-up, not measured: every origin once, slowly (new origins share one origin's rate), then a round.
  send(sign(ORIGINS, 250), 250);
  send(sign(MESSAGES, RATE), RATE);
  return {
    dir,
    sign: (count) => sign(count, RATE),
    round(envelopes) {
      const before = delivered;
      const cpu = process.cpuUsage();
      send(envelopes, RATE);
      const used = process.cpuUsage(cpu);
      return { cpuUs: used.user + used.system, delivered: delivered - before };
    },
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
};

const started = performance.now();
const setups: Setup[] = [];
for (const dir of dirs) setups.push(await setUp(dir));
console.error(`set up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
const perDelivery: number[][] = setups.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  // Signed outside the measured part; the order of checkouts alternates so neither always goes first.
  const order = round % 2 === 0 ? setups.map((_, i) => i) : setups.map((_, i) => setups.length - 1 - i);
  const signed = order.map((i) => setups[i].sign(MESSAGES));
  order.forEach((i, k) => {
    const { cpuUs, delivered } = setups[i].round(signed[k]);
    if (delivered !== MESSAGES) console.error(`${setups[i].dir}: delivered ${delivered} of ${MESSAGES}`);
    perDelivery[i].push(cpuUs / Math.max(1, delivered));
  });
}
const result = {
  rounds: ROUNDS,
  messages_per_round: MESSAGES,
  checkouts: setups.map((setup, i) => ({
    dir: setup.dir,
    cpu_us_per_delivery_median: Number(median(perDelivery[i]).toFixed(1)),
    rounds: perDelivery[i].map((x) => Number(x.toFixed(1))),
    ratio_to_first_median: i === 0 ? 1 : Number(median(perDelivery[i].map((x, r) => x / perDelivery[0][r])).toFixed(3)),
  })),
};
console.log(JSON.stringify(result));
Deno.exit(0);
