/**
 * Sums the self time of V8 CPU profiles (`.cpuprofile`, as `deno run --cpu-prof` writes them) by function and
 * by file, per second of profile and per process: where a process's main thread spends its time.
 *
 *   deno run --allow-read scripts/bench/cpuprofile.ts DIR [DIR2] [--top 25]
 *
 * Each DIR holds the profiles of one run (`deno task bench:network -- --procs ... --profile DIR`). When a
 * `window-<pid>-*.json` file sits beside a profile, only the samples of that window count (the benchmark's
 * measured window); otherwise the whole profile does. With two DIRs the columns compare them. Figures are
 * means over a DIR's profiles, in ms of main-thread time per second of window; `(idle)` is the thread waiting,
 * `(program)` native work outside JavaScript (the event loop, I/O, ops), `(garbage collector)` the collector's
 * work on the main thread. V8's compiler and collector threads and the kernel are not in a profile.
 *
 * @module
 */
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one run's profiles: totals by function and file, µs, and the window length summed, µs. */
interface Sums {
  profiles: number;
  windowUs: number;
  byFunction: Map<string, number>;
  byFile: Map<string, number>;
  /** By the outermost kith function on the stack (lib/ or scripts/): the event, timer or callback that ran. */
  byEntry: Map<string, number>;
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/** A short name for a script: the path inside the repository, or the module specifier as it is. */
function shortUrl(url: string): string {
  if (url === "") return "(native)";
  const at = url.indexOf("/lib/");
  if (at >= 0) return url.slice(at + 1);
  const scripts = url.indexOf("/scripts/");
  if (scripts >= 0) return url.slice(scripts + 1);
  const jsr = url.match(/jsr\.io\/(@[^/]+\/[^/]+)\/[^/]+\/(.*)$/);
  if (jsr) return `jsr:${jsr[1]}/${jsr[2]}`;
  const npm = url.match(/node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\/(.*)$/);
  if (npm) return `npm:${npm[1]}/${npm[2]}`;
  return url;
}

function addTo(map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us);
}

/** Adds one profile's samples within [from, to] (µs on the profile's clock) to `sums`. */
function addProfile(sums: Sums, profile: CpuProfile, from: number, to: number): void {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const label = (frame: CallFrame) =>
    `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
  const entries = new Map<number, string>();
  const entryOf = (id: number): string => {
    let entry = entries.get(id);
    if (entry !== undefined) return entry;
    const frame = frames.get(id)!;
    const own = /^(lib|scripts)\//.test(shortUrl(frame.url)) ? label(frame) : undefined;
    const parent = parents.get(id);
    entry = (parent !== undefined ? entryOf(parent) : "") || own || "";
    entries.set(id, entry);
    return entry;
  };
  let at = profile.startTime;
  const times: number[] = [];
  for (const delta of profile.timeDeltas) times.push(at += delta);
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample stands for the time until the next one.
    const start = times[i], end = i + 1 < times.length ? times[i + 1] : profile.endTime;
    const us = Math.max(0, Math.min(end, to) - Math.max(start, from));
    if (us <= 0) continue;
    const frame = frames.get(profile.samples[i]);
    if (!frame) continue;
    const name = frame.functionName || "(anonymous)";
    const file = SPECIAL.has(name) ? name : shortUrl(frame.url);
    addTo(sums.byFunction, SPECIAL.has(name) ? name : `${name} ${file}:${frame.lineNumber + 1}`, us);
    addTo(sums.byFile, file, us);
    addTo(sums.byEntry, SPECIAL.has(name) ? name : entryOf(profile.samples[i]) || `(outside kith) ${file}`, us);
  }
  sums.windowUs += to - from;
  sums.profiles++;
}

/** Reads every profile in `dir`, each cut to its window file's window when there is one. */
async function readRun(dir: string): Promise<Sums> {
  const sums: Sums = { profiles: 0, windowUs: 0, byFunction: new Map(), byFile: new Map(), byEntry: new Map() };
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  for (const name of names.filter((n) => n.endsWith(".cpuprofile")).sort()) {
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${name}`)) as CpuProfile;
    const pid = name.split(".").at(-2);
    const windowFile = names.find((n) => n.startsWith(`window-${pid}-`));
    let [from, to] = [profile.startTime, profile.endTime];
    if (windowFile) {
      const window = JSON.parse(await Deno.readTextFile(`${dir}/${windowFile}`));
      [from, to] = [profile.endTime - window.fromBeforeEndMs * 1000, profile.endTime - window.toBeforeEndMs * 1000];
    }
    addProfile(sums, profile, from, to);
  }
  if (sums.profiles === 0) throw new Error(`no .cpuprofile files in ${dir}`);
  return sums;
}

/** ms of main-thread time per second of window, mean over the run's profiles. */
const perSecond = (sums: Sums, us: number) => us / (sums.windowUs / 1000);

function table(title: string, runs: Sums[], pick: (sums: Sums) => Map<string, number>, top: number): string {
  const keys = new Map<string, number>();
  for (const run of runs) for (const [key, us] of pick(run)) addTo(keys, key, perSecond(run, us));
  const busy = runs.map((run) =>
    [...pick(run)].filter(([key]) => key !== "(idle)").reduce((n, [, us]) => n + perSecond(run, us), 0)
  );
  const rows = [...keys].sort((a, b) => b[1] - a[1]).slice(0, top).map(([key]) => {
    const cells = runs.map((run, i) => {
      const value = perSecond(run, pick(run).get(key) ?? 0);
      return key === "(idle)" ? value.toFixed(2) : `${value.toFixed(2)} (${(100 * value / busy[i]).toFixed(1)}%)`;
    });
    return `| ${key} | ${cells.join(" | ")} |`;
  });
  const header = `| ${title} | ${runs.map((_, i) => `run ${i + 1}: ms/s (share of busy)`).join(" | ")} |`;
  const rule = `| --- | ${runs.map(() => "---").join(" | ")} |`;
  const total = `| busy (all but idle) | ${busy.map((b) => b.toFixed(2)).join(" | ")} |`;
  return [header, rule, total, ...rows].join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { top: { type: "string", default: "25" } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    console.error("usage: deno run --allow-read scripts/bench/cpuprofile.ts DIR [DIR2] [--top N]");
    Deno.exit(2);
  }
  const runs = await Promise.all(positionals.map(readRun));
  const top = Number(values.top);
  runs.forEach((run, i) =>
    console.log(
      `run ${i + 1}: ${positionals[i]}, ${run.profiles} profiles, ${
        (run.windowUs / run.profiles / 1e6).toFixed(1)
      } s each`,
    )
  );
  console.log("\n" + table("by function", runs, (run) => run.byFunction, top));
  console.log("\n" + table("by file", runs, (run) => run.byFile, top));
  console.log("\n" + table("by entry (outermost kith frame)", runs, (run) => run.byEntry, top));
}
