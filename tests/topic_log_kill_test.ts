/**
 * A process holding a SQLite topic log is SIGKILLed: what it flushed is all there after reopening, with the file
 * intact, and what it had only buffered is not (so delivery over the reopened log refuses the first as held and
 * takes the second again when catch-up brings it: tests/topic_delivery_test.ts shows both over one log).
 */
import assert from "node:assert/strict";
import { SqliteTopicLog } from "../lib/catchup/sqlite_log.ts";
import { SqliteStorage } from "../lib/storage/mod.ts";

const WRITER = new URL("./fixtures/topic_log_writer.ts", import.meta.url).pathname;

Deno.test("a SIGKILLed process's topic log holds after reopening exactly what it flushed, and the file is intact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kith-topic-log-kill-" });
  const path = `${dir}/kith.db`;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${dir}`, `--allow-write=${dir}`, WRITER, path, "300", "50", "1000000"],
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let said = "";
    while (!said.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) break;
      said += value;
    }
    assert.match(said, /ready/, "the writer got to its kill point");
    child.kill("SIGKILL");
    const status = await child.status;
    await reader.cancel().catch(() => {});
    assert.equal(status.signal, "SIGKILL");
    const storage = new SqliteStorage(path, { pruneIntervalMs: 0 });
    assert.equal(storage.integrityCheck(), "ok");
    storage.close();
    const log = new SqliteTopicLog(path);
    const summary = log.summary("chat");
    assert.equal(summary.count, 300, "every flushed append, none of the buffered ones");
    assert.equal(summary.bytes, 300 * 100);
    const ids = log.items("chat", 0).map((item) => item.id[0] * 256 + item.id[1]);
    assert.deepEqual(ids, Array.from({ length: 300 }, (_, n) => n));
    log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
