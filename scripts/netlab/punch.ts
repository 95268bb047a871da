/**
 * Relay and hole-punching tries on the network lab: one public relay, two hosts behind NATs of one kind,
 * a node on one of them reserved at the relay, and on the other, `tries` times, a fresh node that dials the
 * first's relayed address and waits for hole punching to move the link to a direct socket. Returns the
 * count of tries that connected (through the relay or directly) and of those that ended hole-punched, with
 * the time each took. Run from the CLI as `deno task netlab -- punch`, and by tests/netlab_relay_test.ts.
 *
 * @module
 */
import { type NatKind, NetLab } from "./lab.ts";

/** The outcome of one try. */
export interface PunchTry {
  /** Whether the dialer ended with a link to the target. */
  connected: boolean;
  /** That link's kind. */
  linkKind: string;
  /** Time to the relayed link, ms (-1: none). */
  relayedMs: number;
  /** Time to the punched link, ms (-1: none). */
  punchedMs: number;
  /** Why it failed, when it did. */
  error: string;
}

/** The figures of a run. */
export interface PunchRun {
  /** The NAT kind both hosts were behind. */
  nat: NatKind;
  /** Each try. */
  tries: PunchTry[];
  /** Tries that connected. */
  connected: number;
  /** Tries that ended hole-punched. */
  punched: number;
}

const NODE = new URL("./punch_node.ts", import.meta.url).pathname;

async function firstLine(child: Deno.ChildProcess, timeoutMs: number): Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => reader.cancel().catch(() => {}), timeoutMs);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  if (!text.includes("\n")) throw new Error("netlab: a lab node printed nothing in time");
  return text.split("\n")[0];
}

/** Runs `tries` tries behind NATs of kind `nat` (each bounded to `tryMs`); the lab is removed after. */
export async function runPunchTries(nat: NatKind, tries: number, tryMs = 15_000): Promise<PunchRun> {
  const deno = Deno.execPath();
  const hold = tries * (tryMs + 5_000) + 30_000;
  const lab = await NetLab.create([{ name: "relay" }, { name: "a", nat }, { name: "b", nat }], { tag: "p" });
  try {
    const relayAt = `${lab.host("relay").address}:7400`;
    const relay = lab.spawn("relay", deno, ["run", "-A", NODE, "relay", relayAt, String(hold)]);
    await firstLine(relay, 30_000);
    const target = lab.spawn("b", deno, [
      "run",
      "-A",
      NODE,
      "target",
      `${lab.host("b").address}:7400`,
      relayAt,
      String(hold),
    ]);
    const { nodeId, address } = JSON.parse(await firstLine(target, 60_000));
    const results: PunchTry[] = [];
    for (let i = 0; i < tries; i++) {
      // Every try's node is behind the same router, so the relay sees one IP: paced under its request rate per IP
      // (2 a second), or the relay refuses a circuit now and then (RATE_LIMITED), which is its limit working.
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 600));
      const out = await lab.exec("a", deno, [
        "run",
        "-A",
        NODE,
        "dial",
        `${lab.host("a").address}:${7500 + i}`,
        relayAt,
        nodeId,
        address,
        String(tryMs),
      ], tryMs + 20_000);
      results.push(JSON.parse(out.trim().split("\n").at(-1)!));
    }
    return {
      nat,
      tries: results,
      connected: results.filter((r) => r.connected).length,
      punched: results.filter((r) => r.linkKind === "hole-punched").length,
    };
  } finally {
    await lab.close();
  }
}
