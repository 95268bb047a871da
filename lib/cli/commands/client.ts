/**
 * The client commands: status, peers, trust, publish, dashboard,
 * subscribe, topics and history, each a request to a running node's control API.
 *
 * @module
 */
import { concatBytes } from "../../bytes.ts";
import type { NatStatus } from "../../nat/mod.ts";
import type { PeerInfo } from "../../peers/mod.ts";
import { callApi } from "../api_client.ts";
import { DEFAULT_API_ADDRESS, type Flags, UsageError } from "../args.ts";
import { type CliIo, peersTable, short, table, topicName } from "../output.ts";
import { waitForSignal } from "../signal.ts";

async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of Deno.stdin.readable) {
    size += chunk.length;
    if (size > 1024 * 1024) throw new UsageError("standard input is over 1 MiB; the message would be refused");
    chunks.push(chunk);
  }
  return concatBytes(...chunks);
}

/** A topic as `GET /v1/topics` lists it. */
interface TopicRow {
  topic: string;
  subscribed: boolean;
  peers: number;
  eager: number;
  delivered: number;
  log?: { count: number; bytes: number };
}

/** A message as the control API gives it. */
interface MessageRow {
  id: string;
  origin: string;
  topic: string;
  timestamp: number;
  data?: string;
  dataBase64: string;
  missing?: string[];
}

/** A message on one line: time, origin, topic, the text (or base64), and any predecessors it lacked. */
function messageLine(message: MessageRow): string {
  const missing = message.missing ? ` (after ${message.missing.length} missing)` : "";
  return `${new Date(message.timestamp).toISOString()} ${short(message.origin)} [${message.topic || "-"}] ${
    message.data ?? `(binary, base64) ${message.dataBase64}`
  }${missing}`;
}

/** A `--since` or `--limit` value: a whole number, or undefined when not given. */
function wholeFlag(flags: Flags, name: "since" | "limit"): number | undefined {
  const value = flags[name];
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,16}$/.test(value)) {
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** `kith history TOPIC [--since MS] [--limit N]`: the messages the node's log holds of TOPIC, oldest first. */
async function runHistory(dataDir: string, flags: Flags, rest: string[], io: CliIo): Promise<number> {
  if (rest.length !== 1 || rest[0] === "") throw new UsageError("kith history takes one TOPIC argument");
  const query = new URLSearchParams({ topic: rest[0] });
  const since = wholeFlag(flags, "since"), limit = wholeFlag(flags, "limit");
  if (since !== undefined) query.set("since", String(since));
  if (limit !== undefined) query.set("limit", String(limit));
  const body = await (await callApi(dataDir, flags.api, `/v1/history?${query}`)).json() as {
    messages: MessageRow[];
  };
  if (flags.json) io.out(JSON.stringify(body));
  else if (body.messages.length === 0) io.out(`the log holds no message of topic ${topicName(rest[0])}`);
  else for (const message of body.messages) io.out(messageLine(message));
  return 0;
}

/** A peer as `GET /v1/topics/peers` lists it. */
interface TopicPeerRow {
  nodeId: string;
  address: string;
  trust: number;
  relaysAll: boolean;
}

/** `kith topics [--peers T]`: the node's topics, or its connected peers in topic T. */
async function runTopics(dataDir: string, flags: Flags, io: CliIo): Promise<number> {
  if (flags.peers !== undefined) {
    const path = `/v1/topics/peers?topic=${encodeURIComponent(flags.peers)}`;
    const body = await (await callApi(dataDir, flags.api, path)).json() as { member: boolean; peers: TopicPeerRow[] };
    if (flags.json) io.out(JSON.stringify(body));
    else if (body.peers.length === 0) io.out(`no connected peer is in topic ${topicName(flags.peers)}`);
    else {
      io.out(table([
        ["NODE", "ADDRESS", "TRUST", "RELAYS ALL"],
        ...body.peers.map((p) => [short(p.nodeId), p.address || "-", p.trust.toFixed(3), p.relaysAll ? "yes" : "no"]),
      ]));
    }
    return 0;
  }
  const body = await (await callApi(dataDir, flags.api, "/v1/topics")).json() as { topics: TopicRow[] };
  if (flags.json) io.out(JSON.stringify(body));
  else if (body.topics.length === 0) io.out("in no topic (besides the network-wide one)");
  else {
    io.out(table([
      ["TOPIC", "IN", "PEERS", "EAGER", "DELIVERED", "LOGGED"],
      ...body.topics.map((t) => [
        topicName(t.topic),
        t.subscribed ? "subscribed" : "relayed",
        String(t.peers),
        String(t.eager),
        String(t.delivered),
        `${t.log?.count ?? 0} (${((t.log?.bytes ?? 0) / 1024).toFixed(1)} KiB)`,
      ]),
    ]));
  }
  return 0;
}

/** The status rows of the node's reachability (`stats.nat` of `GET /v1/status`). */
function reachabilityRows(nat: NatStatus | undefined): string[][] {
  if (nat === undefined) return []; // an older node
  const checked = nat.checkedAddress ? ` at ${nat.checkedAddress}` : "";
  return [
    ["reachability", `${nat.reachability}${checked}${nat.checking ? "" : " (check off)"}`],
    ["observed", nat.observedAddress ?? `- (${nat.observedReports} reports, no agreement)`],
    ["advertised", nat.advertisedAddress || "none"],
  ];
}

/** `kith status | peers | trust | publish | dashboard | subscribe | topics | history`: one request to the running node. */
export async function runClient(
  command: string,
  dataDir: string,
  flags: Flags,
  rest: string[],
  io: CliIo,
): Promise<number> {
  switch (command) {
    case "status": {
      const status = await (await callApi(dataDir, flags.api, "/v1/status")).json();
      if (flags.json) io.out(JSON.stringify(status));
      else {
        const g = status.stats.gossip;
        io.out(table([
          ["node", status.nodeId],
          ["address", status.address],
          ["version", `${status.version} (protocol ${status.protocol})`],
          ["profile", status.profile],
          ["uptime", `${Math.round(status.uptimeMs / 1000)} s`],
          [
            "peers",
            `${status.peers.active} active, ${status.peers.connecting} connecting, ${status.peers.known} known`,
          ],
          [
            "messages",
            `${g.published} published, ${g.delivered} delivered, ${g.duplicates} duplicate, ${g.invalid} invalid`,
          ],
          [
            "dials",
            `${status.stats.peers.dials} attempted, ${status.stats.peers.dialFailures} failed` +
            (status.stats.peers.dialFailures > 0 ? " (reasons in the node's log)" : ""),
          ],
          ["bytes", `${status.stats.transport.bytesIn} in, ${status.stats.transport.bytesOut} out`],
          ...reachabilityRows(status.stats.nat),
        ]));
      }
      return 0;
    }
    case "topics":
      return await runTopics(dataDir, flags, io);
    case "history":
      return await runHistory(dataDir, flags, rest, io);
    case "peers": {
      const peers = await (await callApi(dataDir, flags.api, "/v1/peers")).json() as PeerInfo[];
      io.out(flags.json ? JSON.stringify(peers) : peersTable(peers));
      return 0;
    }
    case "trust": {
      const trust = await (await callApi(dataDir, flags.api, "/v1/trust")).json() as {
        nodeId: string;
        state: string;
        trust: number;
        reputation: number;
        trend: number;
        stats: number;
        events: { eventType: string; trustDelta: number; count: number }[];
      }[];
      if (flags.json) io.out(JSON.stringify(trust));
      else if (trust.length === 0) io.out("no peers");
      else {
        io.out(table([
          ["NODE", "STATE", "TRUST", "REPUTATION", "TREND", "STATS", "LATEST EVENTS"],
          ...trust.map((t) => [
            short(t.nodeId),
            t.state,
            t.trust.toFixed(3),
            t.reputation.toFixed(3),
            t.trend.toFixed(2),
            t.stats.toFixed(2),
            t.events.slice(0, 3).map((e) =>
              `${e.eventType}${e.count > 1 ? ` x${e.count}` : ""} ${e.trustDelta >= 0 ? "+" : ""}${
                e.trustDelta.toFixed(3)
              }`
            ).join(", ") || "-",
          ]),
        ]));
      }
      return 0;
    }
    case "publish": {
      if (rest.length > 1) throw new UsageError("kith publish takes one DATA argument (quote it), or standard input");
      const data = rest.length === 1 ? new TextEncoder().encode(rest[0]) : await readStdin();
      const ttl = flags.ttl === undefined ? undefined : Number(flags.ttl);
      if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 0 && ttl <= 255)) {
        throw new UsageError("--ttl must be an integer in 0..255");
      }
      const response = await callApi(dataDir, flags.api, "/v1/publish", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ dataBase64: btoa(String.fromCharCode(...data)), topic: flags.topic, ttl }),
      });
      const { id } = await response.json();
      io.out(flags.json ? JSON.stringify({ id }) : id);
      return 0;
    }
    case "dashboard": {
      const { code } = await (await callApi(dataDir, flags.api, "/v1/login-code", { method: "POST" })).json();
      const url = `http://${flags.api ?? DEFAULT_API_ADDRESS}/#code=${code}`;
      io.out(flags.json ? JSON.stringify({ url }) : url);
      return 0;
    }
    case "subscribe": {
      const limit = flags.count === undefined ? Infinity : Number(flags.count);
      if (!(limit > 0)) throw new UsageError("--count must be a positive integer");
      const params = new URLSearchParams();
      if (flags.topic !== undefined) params.set("topic", flags.topic);
      const since = wholeFlag(flags, "since");
      if (since !== undefined) {
        if (!flags.topic) throw new UsageError("--since replays a topic's log: give --topic T");
        params.set("since", String(since));
      }
      const query = params.size > 0 ? `?${params}` : "";
      const response = await callApi(dataDir, flags.api, `/v1/subscribe${query}`);
      const signal = waitForSignal();
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "", seen = 0;
      try {
        const stopped = signal.promise.then(() => ({ done: true as const, value: undefined }));
        while (seen < limit) {
          const { value, done } = await Promise.race([reader.read(), stopped]);
          if (done) break;
          buffered += value;
          let end;
          while ((end = buffered.indexOf("\n\n")) >= 0 && seen < limit) {
            const event = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const dataLine = event.split("\n").find((line) => line.startsWith("data: "));
            if (!dataLine) continue;
            if (event.startsWith("event: dropped")) {
              // This client fell behind the node's per-stream bound; say so and carry on.
              io.err(`kith: ${JSON.parse(dataLine.slice(6)).count} messages dropped (reading too slowly)`);
              continue;
            }
            const message = JSON.parse(dataLine.slice(6));
            seen++;
            io.out(flags.json ? JSON.stringify(message) : messageLine(message));
          }
        }
      } finally {
        signal.dispose();
        await reader.cancel().catch(() => {});
      }
      return 0;
    }
  }
  throw new UsageError(`unknown command '${command}'`);
}
