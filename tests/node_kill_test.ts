/**
 * A real node, a child process on SQLite storage (tests/fixtures/topic_subscriber.ts), is SIGKILLed while
 * subscribed to a topic, and restarted from the same data directory; its one peer, this process, publishes
 * before, during and after the kill. Loopback only.
 *
 * "Delivered twice" means: an id handed to the application (the subscription's callback, a stdout line) in the
 * second life that was in the topic log when the first was killed. An id handed on in the first life but not
 * yet flushed when the kill came (the log's writes are buffered, `storageFlushIntervalMs`) is in no log, and is
 * taken again: at least once, not twice for what the node had made durable. "Lost" means: an id in the log at
 * the kill, or any id published, missing from the log after the restart has caught up.
 */
import assert from "node:assert/strict";
import { SqliteTopicLog } from "../lib/catchup/sqlite_log.ts";
import { toHex } from "../lib/bytes.ts";
import { KithNode } from "../lib/node.ts";

const SUBSCRIBER = new URL("./fixtures/topic_subscriber.ts", import.meta.url).pathname;
const TOPIC = "chat";

/** A child node and the ids its application was handed, as it printed them. */
class Child {
  readonly delivered: string[] = [];
  readonly replayed: string[] = [];
  address = "";
  readonly #process: Deno.ChildProcess;
  readonly #reading: Promise<void>;

  constructor(dir: string, peer: string) {
    this.#process = new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${dir}`, `--allow-write=${dir}`, "--allow-net=127.0.0.1", SUBSCRIBER, dir, peer],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    let rest = "";
    for await (const chunk of this.#process.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const [word, value, replayed] = line.split(" ");
        if (word === "ready") this.address = value;
        else if (word === "delivered") (replayed === "true" ? this.replayed : this.delivered).push(value);
      }
    }
  }

  async kill(): Promise<Deno.CommandStatus> {
    this.#process.kill("SIGKILL");
    const status = await this.#process.status;
    await this.#reading;
    return status;
  }
}

/** Waits (bounded) until `condition` holds. */
async function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The ids (hex) in the topic log of the database at `path` (read while the child may be writing). */
function loggedIds(path: string): Set<string> {
  const log = new SqliteTopicLog(path);
  try {
    return new Set(log.items(TOPIC, 0).map((item) => toHex(item.id)));
  } finally {
    log.close();
  }
}

Deno.test("a SIGKILLed node restarted from its data dir delivers nothing twice that it had logged, and loses nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kith-node-kill-" });
  const db = `${dir}/kith.db`;
  const publisher = new KithNode({
    config: { listenHost: "127.0.0.1", listenPort: 0, minPeers: 0, dhtEnabled: false },
  });
  let child: Child | undefined;
  try {
    await publisher.start();
    publisher.subscribe(TOPIC);
    const published: string[] = [];
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) {
        published.push(publisher.broadcast(`message ${published.length}`, { topic: TOPIC }));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    // First life: 40 messages delivered and flushed, then 10 more delivered, then the kill.
    child = new Child(dir, publisher.address);
    await until(() => child!.address !== "", "the child to start");
    await publisher.waitForTopicPeers(TOPIC, 1, { timeout: 20_000 });
    await publish(40);
    await until(() => child!.delivered.length >= 40, "40 deliveries");
    await until(() => loggedIds(db).size >= 40, "40 flushed to the log");
    await publish(10);
    await until(() => child!.delivered.length >= 50, "50 deliveries");
    const first = child;
    child = undefined;
    assert.equal((await first.kill()).signal, "SIGKILL");
    const atKill = loggedIds(db);
    const firstLife = new Set(first.delivered);
    assert.equal(firstLife.size, first.delivered.length, "once each in the first life");
    for (const id of published.slice(0, 40)) assert.ok(atKill.has(id), "what was flushed before the kill is kept");
    for (const id of atKill) assert.ok(firstLife.has(id), "only what was delivered is logged");

    // While it is down, 20 more; then it restarts from the same data directory.
    await publish(20);
    child = new Child(dir, publisher.address);
    const second = child;
    await until(() => published.every((id) => firstLife.has(id) || second.delivered.includes(id)), "every message");
    await until(() => loggedIds(db).size >= published.length, "every message in the log");
    await new Promise((resolve) => setTimeout(resolve, 500)); // room for a late duplicate to show
    const secondLife = second.delivered;
    assert.equal(new Set(secondLife).size, secondLife.length, "once each in the second life");
    const twice = secondLife.filter((id) => atKill.has(id));
    assert.deepEqual(twice, [], "nothing logged at the kill is delivered again");
    for (const id of published.slice(50)) assert.ok(secondLife.includes(id), "what came while it was down");
    for (const id of secondLife) assert.ok(!atKill.has(id) && published.includes(id));
    const after = loggedIds(db);
    for (const id of published) assert.ok(after.has(id), "nothing lost");
    assert.equal(after.size, published.length);
  } finally {
    await child?.kill();
    await publisher.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
