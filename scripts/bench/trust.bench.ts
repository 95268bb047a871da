/**
 * Cost of trust bookkeeping on the message path (every valid message calls
 * recordValid). Run: deno task bench
 */
import { ManualClock } from "../../lib/clock.ts";
import { MemoryStorage, SqliteStorage } from "../../lib/storage/mod.ts";
import { TrustManager } from "../../lib/trust.ts";

const clock = new ManualClock(1_700_000_000_000);
const memory = new TrustManager({ storage: new MemoryStorage({ clock, pruneIntervalMs: 0 }), clock });
const dir = Deno.makeTempDirSync();
const sqliteStorage = new SqliteStorage(`${dir}/kith.db`, { clock, pruneIntervalMs: 0 });
const sqlite = new TrustManager({ storage: sqliteStorage, clock });
const peers = Array.from({ length: 50 }, (_, i) => `peer-${i}`);
let n = 0;

Deno.bench("recordValid, MemoryStorage, 50 peers", { group: "trust", baseline: true }, () => {
  memory.recordValid(peers[n++ % 50]);
});
Deno.bench("recordValid, SqliteStorage (buffered, flushed every 1,000 writes)", { group: "trust" }, () => {
  sqlite.recordValid(peers[n++ % 50]);
  if (sqliteStorage.pendingWrites >= 1000) sqliteStorage.flush();
});
Deno.bench("reputation of a known peer", { group: "trust" }, () => {
  memory.reputation(peers[n++ % 50]);
});
Deno.bench("evictionOrder of 50 peers", { group: "trust" }, () => {
  memory.evictionOrder(peers);
});

globalThis.addEventListener("unload", () => {
  sqliteStorage.close();
  Deno.removeSync(dir, { recursive: true });
});
