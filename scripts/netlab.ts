/**
 * The network lab from the command line (as root): build hosts in network namespaces, some behind NAT routers,
 * print them, hold them for a bounded time (or until Ctrl-C), and remove everything.
 *
 *   deno task netlab -- up --host pub --host a:port-preserving --host b:symmetric:5 --duration 600
 *   deno task netlab -- clean        # remove namespaces left by labs whose process died
 *   deno task netlab -- punch --nat port-preserving --tries 20 [--try-ms 15000]   # relay and hole-punching tries
 *                                     (scripts/netlab/punch.ts): prints each try and the counts
 *   deno task netlab -- abuse [--attempts 1000]   # a relay under abuse (scripts/netlab/abuse.ts): prints its figures
 *   deno task netlab -- mixed --hosts 20 [--relays 3] [--limit-s 300]   # half the hosts behind NATs of mixed
 *                                     kinds, kith on each (scripts/netlab/mixed.ts): prints each node and the figures
 *
 * A host is NAME[:KIND[:LOSS_PERCENT[:KBIT]]], KIND one of none, port-preserving, symmetric, firewall. While it
 * holds, run commands in a host with `ip netns exec <netns> ...` (the printed netns names). See
 * scripts/netlab/lab.ts for the topology and what each kind does.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type HostSpec, labUnavailable, type NatKind, NetLab, removeStaleLabs } from "./netlab/lab.ts";
import { runPunchTries } from "./netlab/punch.ts";
import { runMixedLab } from "./netlab/mixed.ts";
import { runRelayAbuse } from "./netlab/abuse.ts";

const KINDS: NatKind[] = ["none", "port-preserving", "symmetric", "firewall"];

function fail(message: string): never {
  console.error(`netlab: ${message}`);
  Deno.exit(1);
}

const argv = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
const [command, ...rest] = argv;
let values;
try {
  values = parseArgs({
    args: rest,
    options: {
      host: { type: "string", multiple: true },
      duration: { type: "string", default: "600" },
      nat: { type: "string", default: "port-preserving" },
      tries: { type: "string", default: "20" },
      "try-ms": { type: "string", default: "15000" },
      hosts: { type: "string", default: "20" },
      relays: { type: "string" },
      "limit-s": { type: "string", default: "300" },
      attempts: { type: "string", default: "1000" },
    },
  }).values;
} catch (error) {
  fail(`${(error as Error).message.replaceAll("'", "")}; see the header of scripts/netlab.ts`);
}
const why = await labUnavailable();
if (why) fail(why);
if (command === "clean") {
  const removed = await removeStaleLabs();
  console.log(removed.length ? `removed ${removed.join(" ")}` : "nothing to remove");
} else if (command === "punch") {
  const nat = values.nat as NatKind;
  if (!KINDS.includes(nat) || nat === "none") fail(`--nat must be one of ${KINDS.slice(1).join(", ")}`);
  const tries = Number(values.tries);
  if (!Number.isInteger(tries) || tries < 1 || tries > 100) fail("--tries must be 1-100");
  const started = Date.now();
  const tryMs = Number(values["try-ms"]);
  if (!Number.isInteger(tryMs) || tryMs < 1000 || tryMs > 60_000) fail("--try-ms must be 1000-60000");
  const run = await runPunchTries(nat, tries, tryMs).catch((error) =>
    fail((error as Error).message.replace(/^netlab: /, ""))
  );
  const times = run.tries.filter((t) => t.punchedMs >= 0).map((t) => t.punchedMs).sort((a, b) => a - b);
  console.log(JSON.stringify(run.tries));
  console.log(
    `${nat}: connected ${run.connected}/${tries}, hole-punched ${run.punched}/${tries}` +
      (times.length ? `, time to the punched link p50 ${times[Math.floor(times.length / 2)]} ms` : "") +
      ` (${new Date().toISOString().slice(0, 10)}, ${Math.round((Date.now() - started) / 1000)} s)`,
  );
} else if (command === "abuse") {
  const attempts = Number(values.attempts);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 10_000) fail("--attempts must be 1-10000");
  const run = await runRelayAbuse(attempts).catch((error) => fail((error as Error).message.replace(/^netlab: /, "")));
  console.log(JSON.stringify(run));
  const r = run.relay;
  console.log(
    `relay abuse: ${run.attemptsSent} reservation attempts from one IP, link cut after ${run.cutMs} ms; ` +
      `reservations held ${r.reservations} (granted ${r.reservationsGranted}, refused ${r.reservationsRefused}); ` +
      `flood pushed ${run.flooderPushed} bytes over a ${run.maxBytes}-byte circuit, cut at bytes ${r.circuitsCutAtBytes}, ` +
      `bytes relayed ${r.bytesRelayed}; honest messages ${run.honestBefore} before, ${run.honestAfter} after ` +
      `(${new Date().toISOString().slice(0, 10)})` + (run.error ? `; stopped short: ${run.error}` : ""),
  );
  if (run.error) Deno.exit(1);
} else if (command === "mixed") {
  const hosts = Number(values.hosts);
  if (!Number.isInteger(hosts) || hosts < 4 || hosts > 40) fail("--hosts must be 4-40");
  const limitS = Number(values["limit-s"]);
  if (!Number.isInteger(limitS) || limitS < 30 || limitS > 1800) fail("--limit-s must be 30-1800");
  const relays = values.relays === undefined ? undefined : Number(values.relays);
  // Ctrl-C ends the checks; the run then removes its processes and namespaces before this exits.
  const interrupted = new AbortController();
  const abort = () => interrupted.abort();
  Deno.addSignalListener("SIGINT", abort);
  const run = await runMixedLab({
    hosts,
    relays,
    signal: interrupted.signal,
    limitMs: limitS * 1000,
    progress: (line) => console.error(`netlab mixed: ${line}`),
  }).catch((error) => fail((error as Error).message.replace(/^netlab: /, "")));
  Deno.removeSignalListener("SIGINT", abort);
  for (const node of run.nodes) console.log(JSON.stringify(node));
  console.log(
    `mixed ${hosts} hosts (${run.privateNodes} behind NATs): connected ${run.connectedNodes}/${run.nodes.length}, classified ${run.classifiedCorrectly}/${run.nodes.length}, ` +
      `private with a relayed address ${run.relayedAdvertised}/${run.privateNodes}, ` +
      `delivery ${
        run.deliveryRatio.toFixed(3)
      }, verdicts in ${run.verdictMs} ms, deliveries in ${run.deliveryMs} ms, ` +
      `${Math.round(run.totalMs / 1000)} s in all (${new Date().toISOString().slice(0, 10)})` +
      (run.error ? `; stopped short: ${run.error}` : ""),
  );
  if (run.error) Deno.exit(1);
} else if (command === "up") {
  const specs: HostSpec[] = (values.host ?? []).map((text) => {
    const [name, kind = "none", loss = "0", kbit] = text.split(":");
    if (!KINDS.includes(kind as NatKind)) fail(`--host ${text}: kind must be one of ${KINDS.join(", ")}`);
    return { name, nat: kind as NatKind, lossPercent: Number(loss), rateKbit: kbit ? Number(kbit) : undefined };
  });
  if (specs.length === 0) fail("up needs at least one --host");
  const duration = Number(values.duration);
  if (!(duration > 0 && duration <= 86_400)) fail("--duration must be 1-86400 seconds");
  const lab = await NetLab.create(specs).catch((error) => fail((error as Error).message.replace(/^netlab: /, "")));
  let done: () => void = () => {};
  const held = new Promise<void>((resolve) => done = resolve);
  const timer = setTimeout(done, duration * 1000);
  Deno.addSignalListener("SIGINT", done);
  Deno.addSignalListener("SIGTERM", done);
  console.log(JSON.stringify([...lab.hosts.values()], null, 2));
  console.error(`netlab: holding for ${duration} s; Ctrl-C removes it`);
  await held;
  clearTimeout(timer);
  await lab.close();
  console.error("netlab: removed");
  Deno.exit(0);
} else {
  fail("usage: netlab.ts up --host NAME[:KIND[:LOSS[:KBIT]]]... [--duration S] | clean");
}
