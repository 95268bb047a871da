/**
 * Handshake CPU: an attacker on loopback (one IP) makes a victim pay for handshakes, first by replaying one
 * recorded HANDSHAKE as fast as it can, then by opening fresh handshakes, each phase for a bounded time, while
 * an honest peer (linked before the attack) publishes through the victim. Reports the HANDSHAKE signature
 * verifications the victim was forced into per second (counted by wrapping its transport's codec) and the
 * victim's CPU (this process's user+sys seconds per wall second; the attacker is a process of its own, the honest
 * peer runs here too).
 *
 * @module
 */
import process from "node:process";
import { toHex } from "../../lib/bytes.ts";
import { encodeFrame } from "../../lib/framing.ts";
import { Identity } from "../../lib/identity.ts";
import { KithNode } from "../../lib/node.ts";
import { createMessage, type Envelope, type Message, MessageCodec, MessageType } from "../../lib/protocol/mod.ts";
import type { VerifyOptions } from "../../lib/protocol/codec.ts";
import { TcpTransport } from "../../lib/transport/mod.ts";
import type { AttackOrder, AttackReport } from "./handshake_attacker.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A codec that counts the HANDSHAKE envelopes whose signature it checks. */
class CountingCodec extends MessageCodec {
  handshakeVerifications = 0;
  override verify(envelope: Envelope, now: number, options?: VerifyOptions): Message {
    if (envelope.type === MessageType.HANDSHAKE && envelope.signature.length !== 0) this.handshakeVerifications++;
    return super.verify(envelope, now, options);
  }
}

/** One phase's figures. */
export interface HandshakePhase {
  attempts: number;
  answered: number;
  verifications: number;
  verifications_per_s: number;
  /** User+sys CPU seconds per wall second of this process: the victim's (and the idle honest peer's). */
  victim_cpu_cores: number;
  honest_delivered: boolean;
}

/** The scenario's figures. */
export interface HandshakeResult {
  duration_s: number;
  concurrency: number;
  replay: HandshakePhase;
  fresh: HandshakePhase;
  victim_rate_limited: number;
  victim_replays_refused: number;
  victim_connected_to_honest_peer: boolean;
}

/** Runs the attacker as a process of its own (so the CPU measured here is the victim's) and returns its report. */
async function runAttacker(order: AttackOrder): Promise<AttackReport> {
  const script = new URL("./handshake_attacker.ts", import.meta.url).pathname;
  const args = JSON.stringify({ ...order, frame: order.frame && toHex(order.frame) });
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.0/8", script, args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`the attacker failed (exit ${output.code})`);
  return JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
}

/**
 * The handshake scenario: `durationS` seconds of replays, then as long of fresh handshakes, each from
 * `concurrency` parallel connections of one loopback address. `victimConfig` overrides the victim's settings.
 */
export async function handshake(
  options: { durationS: number; concurrency: number; victimConfig?: Record<string, unknown> },
): Promise<HandshakeResult> {
  let codec: CountingCodec | undefined;
  let transport: TcpTransport | undefined;
  const victim = new KithNode({
    config: {
      listenHost: "127.70.0.1",
      listenPort: 0,
      minPeers: 1,
      maxConnectionsPerIp: 10_000,
      gossipIntervalMs: 500,
      ...options.victimConfig,
    },
    transport: (context) => {
      codec = new CountingCodec(context.codec.limits);
      transport = new TcpTransport({ ...context, codec });
      return transport;
    },
    log: () => {},
  });
  await victim.start();
  const friend = new KithNode({
    config: { listenHost: "127.70.1.1", listenPort: 0, minPeers: 1, bootstrap: [victim.address] },
    log: () => {},
  });
  await friend.start();
  try {
    const deadline = Date.now() + 10_000;
    while (!victim.peers().some((p) => p.state === "active") && Date.now() < deadline) await sleep(20);
    const got = new Set<string>();
    victim.subscribe("", (m) => got.add(m.id));
    const [host, port] = [victim.address.split(":")[0], Number(victim.address.split(":")[1])];
    // The recorded HANDSHAKE: one honest initiator's, delivered once (the victim answers it) before its replays.
    const recorded = encodeFrame(
      new MessageCodec().encode(createMessage(Identity.generate(), MessageType.HANDSHAKE, {
        networkId: "kith-main",
        nonce: crypto.getRandomValues(new Uint8Array(32)),
        ephemeralKey: new Uint8Array(32).fill(9),
        listenAddress: "",
        agent: "recorded",
      }, { ttl: 0 })),
    );
    const first = await Deno.connect({ hostname: host, port });
    await first.write(recorded);
    await first.read(new Uint8Array(4096)).catch(() => null);
    first.close();
    const phase = async (order: AttackOrder): Promise<HandshakePhase> => {
      const before = codec!.handshakeVerifications;
      const processBefore = process.cpuUsage();
      const start = performance.now();
      const report = runAttacker(order);
      await sleep(order.durationMs / 2);
      const id = friend.broadcast(`honest during ${order.mode}`, { topic: "" });
      const result = await report;
      const wall = (performance.now() - start) / 1000;
      const processUsage = process.cpuUsage(processBefore);
      const arrivalDeadline = Date.now() + 3_000;
      while (!got.has(id) && Date.now() < arrivalDeadline) await sleep(20);
      const verifications = codec!.handshakeVerifications - before;
      return {
        attempts: result.attempts,
        answered: result.answered,
        verifications,
        verifications_per_s: Math.round(verifications / wall),
        victim_cpu_cores: Number(((processUsage.user + processUsage.system) / 1e6 / wall).toFixed(3)),
        honest_delivered: got.has(id),
      };
    };
    const base = { host, port, durationMs: options.durationS * 1000, concurrency: options.concurrency };
    const replay = await phase({ ...base, mode: "replay", frame: recorded });
    await sleep(1_000);
    const fresh = await phase({ ...base, mode: "fresh" });
    // deno-lint-ignore no-explicit-any
    const stats = transport!.stats as any;
    return {
      duration_s: options.durationS,
      concurrency: options.concurrency,
      replay,
      fresh,
      victim_rate_limited: stats.rateLimited ?? 0,
      victim_replays_refused: stats.handshakesReplayed ?? 0,
      victim_connected_to_honest_peer: victim.peers().some((p) => p.state === "active" && p.nodeId === friend.nodeId),
    };
  } finally {
    await friend.stop();
    await victim.stop();
  }
}
