/**
 * `kith dht find-peer | provide | providers | put | get`: the DHT through a running node's control API
 * (lib/api_dht.ts).
 *
 * @module
 */
import { callApi } from "../api_client.ts";
import { type Flags, UsageError } from "../args.ts";
import { type CliIo, table } from "../output.ts";

const SUBCOMMANDS: Record<string, number> = { "find-peer": 1, provide: 1, providers: 1, put: 2, get: 1 };

/** Runs `kith dht SUBCOMMAND ARGS...`; exits 1 when nothing is found (the API's 404). */
export async function runDht(dataDir: string, flags: Flags, rest: string[], io: CliIo): Promise<number> {
  const [sub, ...args] = rest;
  if (sub === undefined || !(sub in SUBCOMMANDS)) {
    throw new UsageError(`kith dht needs one of ${Object.keys(SUBCOMMANDS).join(", ")}; see kith dht --help`);
  }
  if (args.length !== SUBCOMMANDS[sub]) {
    throw new UsageError(`kith dht ${sub} takes ${SUBCOMMANDS[sub] === 2 ? "NAME VALUE" : "one argument"}`);
  }
  const q = encodeURIComponent;
  const post = (path: string, body: unknown) =>
    callApi(dataDir, flags.api, path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  switch (sub) {
    case "find-peer": {
      const found = await (await callApi(dataDir, flags.api, `/v1/dht/peer?id=${q(args[0])}`)).json();
      io.out(flags.json ? JSON.stringify(found) : found.address);
      return 0;
    }
    case "provide": {
      const done = await (await post("/v1/dht/provide", { key: args[0] })).json();
      io.out(flags.json ? JSON.stringify(done) : `provided ${done.key} at ${done.stored} nodes`);
      return 0;
    }
    case "providers": {
      const found = await (await callApi(dataDir, flags.api, `/v1/dht/providers?key=${q(args[0])}`)).json() as {
        providers: { nodeId: string; address: string; expiresAt: number }[];
      };
      if (flags.json) io.out(JSON.stringify(found));
      else if (found.providers.length === 0) io.out("no providers");
      else {
        io.out(table([
          ["NODE", "ADDRESS", "EXPIRES"],
          ...found.providers.map((p) => [p.nodeId, p.address, new Date(p.expiresAt).toISOString()]),
        ]));
      }
      return found.providers.length === 0 ? 1 : 0;
    }
    case "put": {
      const done = await (await post("/v1/dht/put", { name: args[0], value: args[1] })).json();
      io.out(flags.json ? JSON.stringify(done) : `${done.key} (seq ${done.seq}, stored at ${done.stored} nodes)`);
      return 0;
    }
    default: {
      const record = await (await callApi(dataDir, flags.api, `/v1/dht/get?key=${q(args[0])}`)).json();
      io.out(flags.json ? JSON.stringify(record) : record.value ?? `(binary) ${record.valueBase64}`);
      return 0;
    }
  }
}
