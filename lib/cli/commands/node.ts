/**
 * The commands that work on a data directory itself: `kith init` and
 * `kith id` (the identity), and `kith start` (run a node from it).
 *
 * @module
 */
import type { RelayConfig } from "../../relay/config.ts";
import { parseHostPort } from "../../address.ts";
import { ControlApi, loadOrCreateApiToken } from "../../api.ts";
import { toHex } from "../../bytes.ts";
import { type NetworkConfig, type PresetName, PRESETS } from "../../config.ts";
import { ConfigError, KithError } from "../../errors.ts";
import { KEY_FILE_NAME, loadIdentity, loadOrCreateIdentity } from "../../identity.ts";
import { createLogger, isLogLevel, type LogFormat } from "../../log.ts";
import { KithNode } from "../../node.ts";
import { VERSION } from "../../version.ts";
import { DEFAULT_API_ADDRESS, type Flags, listenAddress, UsageError } from "../args.ts";
import type { CliIo } from "../output.ts";
import { waitForSignal } from "../signal.ts";

/** `kith init`: creates the identity in `dataDir` (keeping one that exists) and prints the node id. */
export async function runInit(dataDir: string, flags: Flags, io: CliIo): Promise<number> {
  const { identity, created } = await loadOrCreateIdentity(dataDir);
  if (flags.json) {
    io.out(JSON.stringify({ nodeId: identity.nodeId, publicKey: toHex(identity.publicKey), dataDir, created }));
  } else {
    io.out(identity.nodeId);
    if (!created) io.err(`kith: ${dataDir} was already initialised; kept its identity`);
  }
  return 0;
}

/** `kith id`: prints the node id and public key stored in `dataDir`. */
export async function runId(dataDir: string, flags: Flags, io: CliIo): Promise<number> {
  const keyPath = `${dataDir}/${KEY_FILE_NAME}`;
  const identity = await loadIdentity(keyPath).catch((error) => {
    if (error instanceof KithError && error.cause instanceof Deno.errors.NotFound) {
      throw new KithError("NOT_INITIALISED", `no identity in ${dataDir}; run: kith init --data-dir ${dataDir}`);
    }
    throw error;
  });
  const info = { nodeId: identity.nodeId, publicKey: toHex(identity.publicKey), dataDir };
  io.out(flags.json ? JSON.stringify(info) : `node id     ${info.nodeId}\npublic key  ${info.publicKey}`);
  return 0;
}

async function readConfigFile(path: string): Promise<Partial<NetworkConfig>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new KithError(
        "CONFIG_READ",
        `cannot read config file ${path}: permission denied (run with --allow-read=${path})`,
      );
    }
    throw new UsageError(`cannot read config file ${path}: ${error instanceof Error ? error.message : error}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`config file ${path} is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`config file ${path} must hold a JSON object of settings`);
  }
  return value as Partial<NetworkConfig>;
}

/** The `kith start` flags that are settings, and the `NetworkConfig` key each sets. */
const SETTING_FLAGS = [
  ["address-interval-ms", "addressIntervalMs"],
  ["address-burst", "addressBurst"],
  ["address-cache-ms", "addressCacheMs"],
  ["feeler-interval-ms", "feelerIntervalMs"],
  ["anchors", "anchors"],
  ["max-topics", "maxTopics"],
  ["topic-fanout-peers", "topicFanoutPeers"],
  ["min-topic-peers", "minTopicPeers"],
  ["topic-slots", "topicSlots"],
  ["dht-k", "dhtK"],
  ["dht-alpha", "dhtAlpha"],
  ["dht-paths", "dhtPaths"],
  ["dht-transient-links", "dhtTransientLinks"],
  ["topic-log-messages", "topicLogMaxMessages"],
  ["topic-log-bytes", "topicLogMaxBytes"],
  ["topic-log-age-ms", "topicLogMaxAgeMs"],
  ["causal-wait-ms", "causalWaitMs"],
  ["observed-groups", "observedAddressGroups"],
  ["reachability-peers", "reachabilityPeers"],
  ["reachability-quorum", "reachabilityQuorum"],
  ["reachability-timeout-ms", "reachabilityTimeoutMs"],
  ["reachability-recheck-ms", "reachabilityRecheckMs"],
  ["reachability-retry-ms", "reachabilityRetryMs"],
] as const satisfies readonly (readonly [keyof Flags, keyof NetworkConfig])[];

/**
 * The settings `kith start` runs with: those of the config file (`fromFile`), then the flags over them. A flag
 * that is not a whole number is refused here naming the flag; its range is checked by the config, naming the key.
 *
 * @throws {UsageError} naming the flag at fault
 */
export function startConfig(flags: Flags, fromFile: Partial<NetworkConfig> = {}): Partial<NetworkConfig> {
  const config: Partial<NetworkConfig> = { ...fromFile };
  if (flags.listen !== undefined) {
    const listen = listenAddress(flags.listen, "--listen");
    config.listenHost = listen.host;
    config.listenPort = listen.port;
  }
  if (flags.bootstrap) {
    for (const address of flags.bootstrap) {
      if (!parseHostPort(address)) {
        throw new UsageError(`--bootstrap must be host:port, got ${JSON.stringify(address)}`);
      }
    }
    config.bootstrap = flags.bootstrap;
  }
  if (flags.advertise !== undefined) {
    // A host name or an address, and a port: what peers are told to dial (behind a port forward or a NAT
    // with a known public address), while --listen stays the address bound.
    const advertised = parseHostPort(flags.advertise);
    if (!advertised || advertised.port === 0) {
      throw new UsageError(
        `--advertise must be host:port with a port in 1..65535, got ${JSON.stringify(flags.advertise)}`,
      );
    }
    config.advertisedAddress = flags.advertise;
  }
  if (flags["dial-policy"] !== undefined) config.dialPolicy = flags["dial-policy"] as NetworkConfig["dialPolicy"];
  // Comma-separated and repeatable; the ranges themselves are checked by the config (naming the key).
  const ranges = (values: string[]) => values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v);
  if (flags["dial-allow"]) config.dialAllow = ranges(flags["dial-allow"]);
  if (flags["dial-deny"]) config.dialDeny = ranges(flags["dial-deny"]);
  for (const [flag, key] of SETTING_FLAGS) {
    const value = flags[flag];
    if (value === undefined) continue;
    if (!/^[0-9]{1,15}$/.test(value)) {
      throw new UsageError(`--${flag} must be a whole number, got ${JSON.stringify(value)}`);
    }
    config[key] = Number(value);
  }
  // Only when given: without the flag, the config file's choice stands.
  if (flags["relay-all-topics"]) config.relayAllTopics = true;
  if (flags["no-dht"]) config.dhtEnabled = false;
  if (flags["no-reachability-check"]) config.reachabilityCheck = false;
  return config;
}

/**
 * The relay settings of `kith start`'s flags (`--relay-service`, `--reserve-relays N`, `--private-relays N`,
 * `--no-hole-punching`).
 *
 * @throws {UsageError} naming the flag at fault
 */
export function relayOptions(flags: Flags): Partial<RelayConfig> {
  const relay: Partial<RelayConfig> = {};
  if (flags["relay-service"]) relay.relayService = true;
  if (flags["no-hole-punching"]) relay.holePunching = false;
  for (const [flag, key] of [["reserve-relays", "reserveRelays"], ["private-relays", "privateRelays"]] as const) {
    const value = flags[flag];
    if (value === undefined) continue;
    if (!/^[0-8]$/.test(value)) throw new UsageError(`--${flag} must be 0..8, got ${JSON.stringify(value)}`);
    relay[key] = Number(value);
  }
  return relay;
}

/** `kith start`: runs a node until SIGINT or SIGTERM. */
export async function runNode(dataDir: string, flags: Flags, io: CliIo): Promise<number> {
  const level = flags["log-level"] ?? "info";
  if (!isLogLevel(level)) {
    throw new UsageError(`--log-level must be debug, info, warn or error, got ${JSON.stringify(level)}`);
  }
  const format = flags["log-format"] ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--log-format must be text or json, got ${JSON.stringify(format)}`);
  }
  const log = createLogger(level, format as LogFormat, io.err);
  const config = startConfig(flags, flags.config ? await readConfigFile(flags.config) : {});
  // --api off: a node without a control API (nothing to reach it but its own logs and signals).
  const api = flags.api === "off" ? undefined : listenAddress(flags.api ?? DEFAULT_API_ADDRESS, "--api");
  const profile = flags.profile ?? "default";
  if (!(profile in PRESETS)) {
    throw new UsageError(`--profile must be one of ${Object.keys(PRESETS).join(", ")}, got ${JSON.stringify(profile)}`);
  }
  let node: KithNode;
  try {
    node = new KithNode({ dataDir, config, preset: profile as PresetName, log, relay: relayOptions(flags) });
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new UsageError(`${flags.config ? `config file ${flags.config}: ` : ""}${error.message}`);
    }
    throw error;
  }
  const signal = waitForSignal();
  let server: ControlApi | undefined;
  try {
    await node.start();
    let apiAddress: string | null = null;
    if (api) {
      server = new ControlApi({
        node,
        token: await loadOrCreateApiToken(dataDir),
        hostname: api.host,
        port: api.port,
        log,
      });
      apiAddress = await server.start();
    }
    const info = { nodeId: node.nodeId, address: node.address, api: apiAddress, dataDir, profile };
    io.out(
      flags.json
        ? JSON.stringify(info)
        : `kith ${VERSION} node ${node.nodeId} listening on ${node.address}, ${
          apiAddress ? `control API on ${apiAddress}` : "no control API"
        } (profile ${profile})`,
    );
    await signal.promise;
    log("info", "stopping");
  } finally {
    signal.dispose();
    await server?.stop();
    await node.stop();
  }
  return 0;
}
