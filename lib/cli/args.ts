/**
 * Argument parsing for the `kith` command line: the flag set, the usage error
 * that maps to exit code 2, and the checks on flag values shared by commands.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseHostPort } from "../address.ts";
import { KithError } from "../errors.ts";

/** Default data directory when neither `--data-dir` nor `$KITH_DATA_DIR` is set. */
export const DEFAULT_DATA_DIR = "./.kith";
/** Default control API address. */
export const DEFAULT_API_ADDRESS = "127.0.0.1:7401";

/** A mistake in the command line or configuration: reported on one line, exit code 2. */
export class UsageError extends KithError {
  /** `message` is the whole line shown after `kith: `. */
  constructor(message: string) {
    super("USAGE", message);
  }
}

/** The parsed flags every command reads from; each command uses its own few. */
export interface Flags {
  /** `--data-dir DIR`. */
  "data-dir"?: string;
  /** `--api HOST:PORT` (devnet also takes `off`). */
  api?: string;
  /** `--json`: machine-readable output. */
  json: boolean;
  /** `--listen HOST:PORT` (start). */
  listen?: string;
  /** `--bootstrap HOST:PORT`, repeatable (start). */
  bootstrap?: string[];
  /** `--advertise HOST:PORT` (start): the address announced to peers, when it is not the one bound. */
  advertise?: string;
  /** `--dial-policy NAME` (start). */
  "dial-policy"?: string;
  /** `--dial-allow CIDR,...`, repeatable (start). */
  "dial-allow"?: string[];
  /** `--dial-deny CIDR,...`, repeatable (start). */
  "dial-deny"?: string[];
  /** `--address-interval-ms N` (start): `addressIntervalMs`. */
  "address-interval-ms"?: string;
  /** `--address-burst N` (start): `addressBurst`. */
  "address-burst"?: string;
  /** `--address-cache-ms N` (start): `addressCacheMs`. */
  "address-cache-ms"?: string;
  /** `--feeler-interval-ms N` (start): `feelerIntervalMs`. */
  "feeler-interval-ms"?: string;
  /** `--anchors N` (start): `anchors`. */
  anchors?: string;
  /** `--max-topics N` (start): `maxTopics`. */
  "max-topics"?: string;
  /** `--topic-fanout-peers N` (start): `topicFanoutPeers`. */
  "topic-fanout-peers"?: string;
  /** `--relay-all-topics` (start): `relayAllTopics` on. */
  "relay-all-topics"?: boolean;
  /** `--topic-log-messages N` (start): `topicLogMaxMessages`. */
  "topic-log-messages"?: string;
  /** `--topic-log-bytes N` (start): `topicLogMaxBytes`. */
  "topic-log-bytes"?: string;
  /** `--topic-log-age-ms N` (start): `topicLogMaxAgeMs`. */
  "topic-log-age-ms"?: string;
  /** `--causal-wait-ms N` (start): `causalWaitMs`. */
  "causal-wait-ms"?: string;
  /** `--since MS` (history, subscribe): from this timestamp, ms since the epoch. */
  since?: string;
  /** `--limit N` (history): at most this many messages. */
  limit?: string;
  /** `--min-topic-peers N` (start): `minTopicPeers`. */
  "min-topic-peers"?: string;
  /** `--observed-groups N` (start): `observedAddressGroups`. */
  "observed-groups"?: string;
  /** `--reachability-peers N` (start): `reachabilityPeers`. */
  "reachability-peers"?: string;
  /** `--reachability-quorum N` (start): `reachabilityQuorum`. */
  "reachability-quorum"?: string;
  /** `--reachability-timeout-ms N` (start): `reachabilityTimeoutMs`. */
  "reachability-timeout-ms"?: string;
  /** `--reachability-recheck-ms N` (start): `reachabilityRecheckMs`. */
  "reachability-recheck-ms"?: string;
  /** `--reachability-retry-ms N` (start): `reachabilityRetryMs`. */
  "reachability-retry-ms"?: string;
  /** `--no-reachability-check` (start): `reachabilityCheck` off. */
  "no-reachability-check"?: boolean;
  /** `--topic-slots N` (start): `topicSlots`. */
  "topic-slots"?: string;
  /** `--no-dht` (start): `dhtEnabled` off. */
  "no-dht"?: boolean;
  /** `--dht-k N` (start): `dhtK`. */
  "dht-k"?: string;
  /** `--dht-alpha N` (start): `dhtAlpha`. */
  "dht-alpha"?: string;
  /** `--dht-paths N` (start): `dhtPaths`. */
  "dht-paths"?: string;
  /** `--dht-transient-links N` (start): `dhtTransientLinks`. */
  "dht-transient-links"?: string;
  /** `--relay-service` (start): serve relay circuits. */
  "relay-service"?: boolean;
  /** `--reserve-relays N` (start): reserve at N relays. */
  "reserve-relays"?: string;
  /** `--private-relays N` (start): reserve at N relays while the reachability verdict is private. */
  "private-relays"?: string;
  /** `--no-hole-punching` (start): keep relayed links relayed. */
  "no-hole-punching"?: boolean;
  /** `--profile NAME` (start). */
  profile?: string;
  /** `--config FILE.json` (start). */
  config?: string;
  /** `--log-level` (start). */
  "log-level"?: string;
  /** `--log-format` (start). */
  "log-format"?: string;
  /** `--topic T` (publish, subscribe). */
  topic?: string;
  /** `--peers T` (topics): the connected peers in topic T instead of the node's topics. */
  peers?: string;
  /** `--ttl N` (publish). */
  ttl?: string;
  /** `--count N` (subscribe). */
  count?: string;
  /** `--nodes N` (devnet). */
  nodes?: string;
  /** `--traffic R` (devnet). */
  traffic?: string;
  /** `--duration S` (devnet). */
  duration?: string;
}

/** The parsed command line: flags plus the CLI-wide switches, and the positionals. */
export interface ParsedArgs {
  /** All flags, with `--debug`, `--help` and `--version` besides the command flags. */
  values: Flags & { debug: boolean; help: boolean; version: boolean };
  /** The command and its arguments. */
  positionals: string[];
}

/** The command named in `args` (the first word that is not a flag or a flag's value), for pointing at its help. */
function commandIn(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("-")) return arg;
    if (!arg.includes("=") && STRING_FLAGS.has(arg.slice(2))) i++;
  }
  return undefined;
}

/** `--help` for the command in `args` when there is one, else the overview. */
function helpFor(args: string[]): string {
  const command = commandIn(args);
  return command !== undefined && /^[a-z]+$/.test(command) ? `kith ${command} --help` : "kith --help";
}

/**
 * Parses `args` strictly. node:util's own messages (with their quoting) are replaced by one line naming the
 * flag and the `--help` to read, as a {@link UsageError}.
 */
export function parseCliArgs(args: string[]): ParsedArgs {
  try {
    return parseStrict(args);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (!(error instanceof TypeError) || !code?.startsWith("ERR_PARSE_ARGS")) throw error;
    const flag = /'(-{1,2}[^' <]+)/.exec(error.message)?.[1];
    const where = commandIn(args);
    const help = helpFor(args);
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      throw new UsageError(`unknown option ${flag ?? ""} for kith${where ? ` ${where}` : ""}; see ${help}`);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const name = flag?.replace(/^-+/, "") ?? "";
      throw new UsageError(
        STRING_FLAGS.has(name) ? `${flag} needs a value; see ${help}` : `${flag} takes no value; see ${help}`,
      );
    }
    throw new UsageError(`cannot read the command line; see ${help}`);
  }
}

const STRING_FLAGS = new Set([
  "data-dir",
  "api",
  "listen",
  "bootstrap",
  "advertise",
  "dial-policy",
  "dial-allow",
  "dial-deny",
  "profile",
  "config",
  "log-level",
  "log-format",
  "topic",
  "peers",
  "max-topics",
  "topic-fanout-peers",
  "topic-log-messages",
  "topic-log-bytes",
  "topic-log-age-ms",
  "causal-wait-ms",
  "since",
  "limit",
  "observed-groups",
  "reachability-peers",
  "reachability-quorum",
  "reachability-timeout-ms",
  "reachability-recheck-ms",
  "reachability-retry-ms",
  "ttl",
  "count",
  "nodes",
  "traffic",
  "duration",
]);

function parseStrict(args: string[]): ParsedArgs {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      "data-dir": { type: "string" },
      api: { type: "string" },
      listen: { type: "string" },
      bootstrap: { type: "string", multiple: true },
      "dial-policy": { type: "string" },
      "dial-allow": { type: "string", multiple: true },
      "dial-deny": { type: "string", multiple: true },
      advertise: { type: "string" },
      "address-interval-ms": { type: "string" },
      "address-burst": { type: "string" },
      "address-cache-ms": { type: "string" },
      "feeler-interval-ms": { type: "string" },
      anchors: { type: "string" },
      "max-topics": { type: "string" },
      "topic-fanout-peers": { type: "string" },
      "relay-all-topics": { type: "boolean" },
      "min-topic-peers": { type: "string" },
      "topic-slots": { type: "string" },
      "no-dht": { type: "boolean" },
      "dht-k": { type: "string" },
      "dht-alpha": { type: "string" },
      "dht-paths": { type: "string" },
      "dht-transient-links": { type: "string" },
      "topic-log-messages": { type: "string" },
      "topic-log-bytes": { type: "string" },
      "topic-log-age-ms": { type: "string" },
      "causal-wait-ms": { type: "string" },
      since: { type: "string" },
      limit: { type: "string" },
      "relay-service": { type: "boolean" },
      "reserve-relays": { type: "string" },
      "private-relays": { type: "string" },
      "no-hole-punching": { type: "boolean" },
      "observed-groups": { type: "string" },
      "reachability-peers": { type: "string" },
      "reachability-quorum": { type: "string" },
      "reachability-timeout-ms": { type: "string" },
      "reachability-recheck-ms": { type: "string" },
      "reachability-retry-ms": { type: "string" },
      "no-reachability-check": { type: "boolean" },
      profile: { type: "string" },
      config: { type: "string" },
      "log-level": { type: "string" },
      "log-format": { type: "string" },
      topic: { type: "string" },
      peers: { type: "string" },
      ttl: { type: "string" },
      count: { type: "string" },
      nodes: { type: "string" },
      traffic: { type: "string" },
      duration: { type: "string" },
      json: { type: "boolean", default: false },
      debug: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      version: { type: "boolean", short: "V", default: false },
    },
  });
}

/** The data directory: `--data-dir`, else `$KITH_DATA_DIR` (when readable), else the default. */
export function dataDirFrom(flag: string | undefined): string {
  if (flag !== undefined) {
    if (flag === "") throw new UsageError("--data-dir needs a directory path");
    return flag;
  }
  try {
    const fromEnv = Deno.env.get("KITH_DATA_DIR");
    if (fromEnv) return fromEnv;
  } catch {
    // No --allow-env for it: the default applies.
  }
  return DEFAULT_DATA_DIR;
}

/** `host:port` where port 0 (any free port) is allowed, for listening. */
export function listenAddress(flag: string, name: string): { host: string; port: number } {
  const anyPort = flag.endsWith(":0");
  const portText = /:(\d+)$/.exec(flag)?.[1];
  if (portText !== undefined && Number(portText) > 65535) {
    throw new UsageError(`${name} port ${portText} is out of range (1..65535, or 0 for any free port)`);
  }
  const parsed = parseHostPort(anyPort ? `${flag.slice(0, -2)}:1` : flag);
  if (!parsed) throw new UsageError(`${name} must be host:port, got ${JSON.stringify(flag)}`);
  return { host: parsed.host, port: anyPort ? 0 : parsed.port };
}
