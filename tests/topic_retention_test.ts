/**
 * The topic log's retention and the causal buffer's bounds in the configuration: node-wide defaults, per-topic
 * overrides in topicSettings, validation naming the key, what reaches the log, and the `kith start` flags.
 */
import assert from "node:assert/strict";
import { DEFAULT_TOPIC_RETENTION } from "../lib/catchup/log.ts";
import { parseCliArgs } from "../lib/cli/args.ts";
import { startConfig } from "../lib/cli/commands/node.ts";
import { componentConfigs, resolveNetworkConfig } from "../lib/config.ts";
import { ConfigError } from "../lib/errors.ts";
import { resolveGossipConfig } from "../lib/gossip/mod.ts";
import { resolveTopicsConfig, topicRetention } from "../lib/topics/mod.ts";

function topicsOf(overrides: Parameters<typeof resolveNetworkConfig>[0]) {
  const parts = componentConfigs(resolveNetworkConfig(overrides));
  return resolveTopicsConfig(parts.topics, resolveGossipConfig(parts.gossip));
}

Deno.test("a topic's log retention is the node's, with the topic's own settings over it; the defaults are the log's", () => {
  const topics = topicsOf({
    topicLogMaxMessages: 500,
    topicSettings: { audit: { logMaxAgeMs: 7 * 86_400_000, logMaxBytes: 1 << 30 }, ephemeral: { logMaxMessages: 0 } },
  });
  assert.deepEqual(topicRetention(topics, "chat"), { ...DEFAULT_TOPIC_RETENTION, maxMessages: 500 });
  assert.deepEqual(topicRetention(topics, "audit"), { maxMessages: 500, maxBytes: 1 << 30, maxAgeMs: 7 * 86_400_000 });
  assert.equal(topicRetention(topics, "ephemeral").maxMessages, 0, "a topic may keep no log");
  assert.deepEqual(topicRetention(topicsOf({}), "any"), DEFAULT_TOPIC_RETENTION);
  const causal = componentConfigs(resolveNetworkConfig({ causalBufferMessages: 400 })).causal;
  assert.deepEqual(causal, {
    causalWaitMs: 10_000,
    causalBufferMessages: 400,
    causalBufferBytes: 8 << 20,
    causalBufferPerPeer: 100,
  });
});

Deno.test("log and causal settings out of range are refused naming the key", () => {
  const cases: [Parameters<typeof resolveNetworkConfig>[0], string][] = [
    [{ topicLogMaxMessages: -1 }, "topicLogMaxMessages"],
    [{ topicLogMaxBytes: 0 }, "topicLogMaxBytes"],
    [{ topicLogMaxAgeMs: 10 }, "topicLogMaxAgeMs"],
    [{ causalWaitMs: 3_600_001 }, "causalWaitMs"],
    [{ causalBufferMessages: 0 }, "causalBufferMessages"],
    [{ causalBufferBytes: 0 }, "causalBufferBytes"],
    [{ topicSettings: { chat: { logMaxBytes: 0 } } }, 'topicSettings."chat".logMaxBytes'],
    [{ topicSettings: { chat: { logMaxMessages: -1 } } }, 'topicSettings."chat".logMaxMessages'],
    [{ topicSettings: { chat: { logMaxAgeMs: 1.5 } } }, 'topicSettings."chat".logMaxAgeMs'],
  ];
  for (const [overrides, key] of cases) {
    assert.throws(
      () => resolveNetworkConfig(overrides),
      (error) => error instanceof ConfigError && error.key === key,
      key,
    );
  }
});

Deno.test("kith start's log and causal flags set their settings", () => {
  const flags = parseCliArgs([
    "start",
    "--topic-log-messages",
    "0",
    "--topic-log-bytes",
    "1048576",
    "--topic-log-age-ms",
    "3600000",
    "--causal-wait-ms",
    "2000",
  ]);
  assert.deepEqual(startConfig(flags.values), {
    topicLogMaxMessages: 0,
    topicLogMaxBytes: 1_048_576,
    topicLogMaxAgeMs: 3_600_000,
    causalWaitMs: 2_000,
  });
});
