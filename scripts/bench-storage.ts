/**
 * Storage under a sustained stream: records N seen-message ids through
 * SqliteStorage's buffered writes, with the prune schedule on, and prints the
 * write throughput and the database size as the stream goes on, showing that
 * the file stops growing once the dedup window is full.
 *
 *   deno task bench:storage -- [--records 1000000] [--rate 200] [--window-ms 600000]
 *
 * `--rate` is the stream's rate in virtual time (records per second of the
 * injected clock); wall-clock throughput is measured separately. Loopback and
 * network are not involved. Prints one JSON line per checkpoint and a summary.
 */
import { parseArgs } from "node:util";
import { ManualClock } from "../lib/clock.ts";
import { SqliteStorage } from "../lib/storage/mod.ts";

const { values } = parseArgs({
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    records: { type: "string", default: "1000000" },
    rate: { type: "string", default: "200" },
    "window-ms": { type: "string", default: "600000" },
  },
});
const records = Number(values.records), rate = Number(values.rate), windowMs = Number(values["window-ms"]);
if (![records, rate, windowMs].every((n) => Number.isSafeInteger(n) && n > 0)) {
  console.error("bench-storage: --records, --rate and --window-ms must be positive integers");
  Deno.exit(2);
}

const dir = await Deno.makeTempDir({ prefix: "kith-bench-storage-" });
const path = `${dir}/kith.db`;
const clock = new ManualClock(1_700_000_000_000);
const storage = new SqliteStorage(path, { clock, seenRetentionMs: windowMs, pruneIntervalMs: 60_000 });
const sizeMb = () => {
  let bytes = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      bytes += Deno.statSync(path + suffix).size;
    } catch { /* not there */ }
  }
  return Number((bytes / 1048576).toFixed(2));
};

const stepMs = 1000 / rate;
const checkpoint = Math.max(1, Math.floor(records / 10));
const messageId = new Uint8Array(32);
const view = new DataView(messageId.buffer);
const started = performance.now();
let virtualElapsed = 0;
for (let i = 0; i < records; i++) {
  view.setUint32(0, i);
  view.setUint32(4, i * 2654435761);
  storage.recordSeen({ messageId, timestamp: clock.now(), senderId: "peer" });
  virtualElapsed += stepMs;
  if (virtualElapsed >= 1) {
    const whole = Math.floor(virtualElapsed);
    clock.advance(whole); // fires flushes and prunes when due
    virtualElapsed -= whole;
  }
  if ((i + 1) % checkpoint === 0) {
    storage.flush();
    console.log(JSON.stringify({ records: i + 1, rows_kept: storage.countSeen(), file_mb: sizeMb() }));
  }
}
storage.flush();
const seconds = (performance.now() - started) / 1000;
const summary = {
  records,
  virtual_rate_per_s: rate,
  window_ms: windowMs,
  wall_s: Number(seconds.toFixed(2)),
  records_per_s: Math.round(records / seconds),
  rows_kept: storage.countSeen(),
  file_mb: sizeMb(),
  integrity: storage.integrityCheck(),
};
storage.close();
await Deno.remove(dir, { recursive: true });
console.log(JSON.stringify(summary));
