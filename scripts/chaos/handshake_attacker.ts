/**
 * The attacker of the handshake scenario (scripts/chaos/handshake.ts), run as a process of its own so its CPU
 * (signing fresh HANDSHAKEs, the socket work of its side) is not counted as the victim's. It opens connections to the
 * victim from one loopback address for a bounded time: either replaying one recorded HANDSHAKE, or sending a
 * fresh one each time. Each connection is closed once the victim answers or closes (or after 2 s).
 *
 *   deno run --allow-net=127.0.0.0/8 scripts/chaos/handshake_attacker.ts '<AttackOrder as JSON, frame in hex>'
 *
 * prints its {@link AttackReport} as one JSON line.
 *
 * @module
 */
import { fromHex } from "../../lib/bytes.ts";
import { encodeFrame } from "../../lib/framing.ts";
import { Identity } from "../../lib/identity.ts";
import { createMessage, MessageCodec, MessageType } from "../../lib/protocol/mod.ts";

/** What the scenario asks the worker to do. */
export interface AttackOrder {
  mode: "replay" | "fresh";
  host: string;
  port: number;
  durationMs: number;
  concurrency: number;
  /** The recorded HANDSHAKE frame (mode `replay`); hex on the command line. */
  frame?: Uint8Array;
}

/** What the worker reports. */
export interface AttackReport {
  /** Connections opened. */
  attempts: number;
  /** Connections the victim answered with any bytes (an ACK or a DISCONNECT). */
  answered: number;
}

const codec = new MessageCodec();

/** A fresh, validly signed HANDSHAKE frame from a throwaway identity. */
function freshHello(identity: Identity): Uint8Array {
  return encodeFrame(codec.encode(createMessage(identity, MessageType.HANDSHAKE, {
    networkId: "kith-main",
    nonce: crypto.getRandomValues(new Uint8Array(32)),
    ephemeralKey: new Uint8Array(32).fill(9), // the X25519 base point: a usable key
    listenAddress: "",
    agent: "attacker",
  }, { ttl: 0 })));
}

async function once(order: AttackOrder, frame: Uint8Array): Promise<boolean> {
  const conn = await Deno.connect({ hostname: order.host, port: order.port }).catch(() => undefined);
  if (!conn) return false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await conn.write(frame);
    const buffer = new Uint8Array(4096);
    const read = conn.read(buffer).catch(() => null);
    const timeout = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 2_000));
    const n = await Promise.race([read, timeout]);
    return n !== null && n > 0;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Runs one order to its end. */
export async function attack(order: AttackOrder): Promise<AttackReport> {
  const identity = Identity.generate();
  const end = Date.now() + order.durationMs;
  const report: AttackReport = { attempts: 0, answered: 0 };
  const loop = async () => {
    while (Date.now() < end) {
      const frame = order.mode === "replay" ? order.frame! : freshHello(identity);
      report.attempts++;
      if (await once(order, frame)) report.answered++;
    }
  };
  await Promise.all(Array.from({ length: order.concurrency }, loop));
  return report;
}

if (import.meta.main) {
  const order = JSON.parse(Deno.args[0]) as AttackOrder & { frame?: string };
  const frame = order.frame === undefined ? undefined : fromHex(order.frame);
  console.log(JSON.stringify(await attack({ ...order, frame })));
}
