/**
 * A relay under abuse on the network lab (issue 23): a public relay (`maxBytes` a circuit, 4 reservations an IP),
 * a target behind a symmetric NAT reserved at it, an honest node behind another symmetric NAT linked to the target
 * through the relay and sending to it every 500 ms; then, from one public host, `attempts` RELAY_RESERVE over one
 * link, and, from a third NATed host, a circuit to the target pushing ten times `maxBytes`. Reports what the relay
 * held and cut, and whether the honest circuit still delivered after both. Hole punching is off so that circuits
 * stay relayed. Run as `deno task netlab -- abuse`; everything is removed at the end, on failure too.
 *
 * @module
 */
import { NetLab } from "./lab.ts";

/** The figures of a run. */
export interface AbuseRun {
  /** RELAY_RESERVE requests the abuser sent before the relay cut its link. */
  attemptsSent: number;
  /** Time from the first attempt to the cut, ms (-1: not cut). */
  cutMs: number;
  /** The relay's counters at the end. */
  relay: Record<string, number>;
  /** Bytes the flooder handed its circuit. */
  flooderPushed: number;
  /** Whether the flooder's circuit was still open at its end. */
  flooderOpen: boolean;
  /** Honest messages the target received before the abuse, and after it. */
  honestBefore: number;
  /** ... after both attacks ended. */
  honestAfter: number;
  /** The byte limit of a circuit. */
  maxBytes: number;
  /** Why the run stopped short, or "". */
  error: string;
}

const NODE = new URL("./abuse_node.ts", import.meta.url).pathname;

/** Reads `child`'s stdout as JSON lines, each to `onLine`; settles when the stream ends. */
async function readLines(child: Deno.ChildProcess, onLine: (value: Record<string, unknown>) => void): Promise<void> {
  let text = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    let at;
    while ((at = text.indexOf("\n")) >= 0) {
      const line = text.slice(0, at);
      text = text.slice(at + 1);
      try {
        onLine(JSON.parse(line));
      } catch {
        // Not a line of ours.
      }
    }
  }
}

/** Waits until `check` holds or `ms` pass; returns whether it held. */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Runs the abuse (`attempts` reservation requests, a flood of ten times `maxBytes`), bounded to about 2 minutes. */
export async function runRelayAbuse(attempts = 1000, maxBytes = 48 * 1024): Promise<AbuseRun> {
  const deno = Deno.execPath();
  const hold = 120_000;
  const run: AbuseRun = {
    attemptsSent: 0,
    cutMs: -1,
    relay: {},
    flooderPushed: 0,
    flooderOpen: true,
    honestBefore: 0,
    honestAfter: 0,
    maxBytes,
    error: "",
  };
  const lab = await NetLab.create([
    { name: "relay" },
    { name: "target", nat: "symmetric" },
    { name: "honest", nat: "symmetric" },
    { name: "abuser" },
    { name: "flooder", nat: "symmetric" },
  ], { tag: "ab" });
  const readers: Promise<void>[] = [];
  const node = (host: string, args: string[], onLine: (v: Record<string, unknown>) => void) => {
    const child = lab.spawn(host, deno, [
      "run",
      "-A",
      NODE,
      args[0],
      `${lab.host(host).address}:7400`,
      ...args.slice(1),
    ]);
    readers.push(readLines(child, onLine).catch(() => {}));
    child.stderr.cancel().catch(() => {});
    return child;
  };
  try {
    let relayInfo: Record<string, unknown> | undefined;
    node("relay", ["relay", String(maxBytes), String(hold)], (v) => {
      if (v.relay) run.relay = v.relay as Record<string, number>;
      else relayInfo = v;
    });
    if (!await until(() => relayInfo !== undefined, 30_000)) throw new Error("the relay did not start");
    const relayAt = String(relayInfo!.address);
    let target: Record<string, unknown> | undefined;
    let honestSeen = 0;
    let honestId = "";
    node("target", ["target", relayAt, String(hold)], (v) => {
      if (v.nodeId) target = v;
      else if (v.from === honestId && String(v.text).startsWith("honest")) honestSeen++;
    });
    if (!await until(() => target !== undefined, 30_000)) throw new Error("the target did not reserve");
    let honest: Record<string, unknown> | undefined;
    node("honest", ["honest", relayAt, String(target!.nodeId), String(target!.address), String(hold)], (v) => {
      honest = v;
      honestId = String(v.nodeId);
    });
    if (!await until(() => honest !== undefined, 40_000) || !honest!.linked) {
      throw new Error("the honest circuit failed");
    }
    if (!await until(() => honestSeen > 0, 10_000)) throw new Error("the honest circuit delivered nothing");
    run.honestBefore = honestSeen;
    let reserve: Record<string, unknown> | undefined;
    node("abuser", ["reserve", relayAt, String(attempts), "30000"], (v) => reserve = v);
    if (!await until(() => reserve !== undefined, 45_000)) throw new Error("the abuser did not report");
    run.attemptsSent = Number(reserve!.sent);
    run.cutMs = Number(reserve!.cutMs);
    let flood: Record<string, unknown> | undefined;
    node(
      "flooder",
      ["flood", relayAt, String(target!.nodeId), String(target!.address), String(10 * maxBytes), "40000"],
      (v) => flood = v,
    );
    if (!await until(() => flood !== undefined, 55_000)) throw new Error("the flooder did not report");
    if (!flood!.linked) throw new Error("the flooder's circuit was not granted");
    run.flooderPushed = Number(flood!.pushed);
    run.flooderOpen = Boolean(flood!.open);
    const afterAbuse = honestSeen;
    await until(() => honestSeen >= afterAbuse + 3, 10_000);
    run.honestAfter = honestSeen - afterAbuse;
    await new Promise((r) => setTimeout(r, 600)); // one more counters line from the relay
  } catch (error) {
    run.error = (error as Error).message;
  } finally {
    await lab.close();
    await Promise.all(readers);
  }
  return run;
}
