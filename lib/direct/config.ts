/**
 * Settings of direct messages and requests: the sizes a node takes and sends, its per-peer rate and
 * concurrency bounds, and its timeouts.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/** Settings of direct messages and request/response. Every field bounds what a peer can make the node do. */
export interface DirectConfig {
  /** Largest DIRECT_MESSAGE data sent or taken, bytes. Default 65,536. */
  maxDirectMessageBytes: number;
  /** Largest REQUEST data sent or served, bytes. Default 65,536. */
  maxRequestBytes: number;
  /** Largest RESPONSE data sent or taken, bytes. Default 262,144 minus 1 KiB (fits the envelope payload limit). */
  maxResponseBytes: number;
  /** DIRECT_MESSAGEs and REQUESTs a peer may send per second, steadily (each way). Default 50. */
  messagesPerSecond: number;
  /** ... and in a burst. Default 100. */
  messageBurst: number;
  /** Requests this node keeps in flight to one peer; more are refused (`TOO_MANY_REQUESTS`). Default 16. */
  maxOutgoingRequestsPerPeer: number;
  /** Requests from one peer this node serves at once; more are answered BUSY. Default 16. */
  maxServedRequestsPerPeer: number;
  /** How long a request waits for its response unless the call says otherwise, ms. Default 10,000. */
  requestTimeoutMs: number;
  /** How long a handler may take before the request is answered HANDLER_FAILED, ms. Default 30,000. */
  handlerTimeoutMs: number;
  /**
   * Handlers running at once over all peers, counting those still running after their request was answered
   * (timed out, requester gone: a handler that ignores its `AbortSignal` goes on); more requests are answered
   * BUSY. Default 256. Without it, a peer that reconnects could start `maxServedRequestsPerPeer` new handlers
   * each time while the old ones still run.
   */
  maxRunningHandlers: number;
}

/** The default {@link DirectConfig}. */
export const DEFAULT_DIRECT_CONFIG: Readonly<DirectConfig> = Object.freeze({
  maxDirectMessageBytes: 65_536,
  maxRequestBytes: 65_536,
  maxResponseBytes: 256 * 1024 - 1024,
  messagesPerSecond: 50,
  messageBurst: 100,
  maxOutgoingRequestsPerPeer: 16,
  maxServedRequestsPerPeer: 16,
  requestTimeoutMs: 10_000,
  handlerTimeoutMs: 30_000,
  maxRunningHandlers: 256,
});

/**
 * {@link DEFAULT_DIRECT_CONFIG} with `overrides`, checked: every field a positive integer, and every size
 * at least 1 KiB below `maxPayloadBytes` (the envelope payload limit the codec decodes under; default sizes
 * shrink to fit it).
 *
 * @throws {ConfigError} naming the first invalid key
 */
export function resolveDirectConfig(overrides: Partial<DirectConfig>, maxPayloadBytes: number): DirectConfig {
  const room = maxPayloadBytes - 1024;
  // A size left at its default shrinks to fit a smaller frame; one set explicitly is checked.
  const config = {
    ...DEFAULT_DIRECT_CONFIG,
    maxDirectMessageBytes: Math.min(DEFAULT_DIRECT_CONFIG.maxDirectMessageBytes, room),
    maxRequestBytes: Math.min(DEFAULT_DIRECT_CONFIG.maxRequestBytes, room),
    maxResponseBytes: Math.min(DEFAULT_DIRECT_CONFIG.maxResponseBytes, room),
    ...overrides,
  };
  for (const [key, value] of Object.entries(config)) {
    if (!(key in DEFAULT_DIRECT_CONFIG)) throw new ConfigError(`direct.${key}`, `direct.${key} is not a setting`);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigError(`direct.${key}`, `direct.${key} must be a positive integer, got ${value}`);
    }
  }
  for (const key of ["maxDirectMessageBytes", "maxRequestBytes", "maxResponseBytes"] as const) {
    if (config[key] > room) {
      throw new ConfigError(
        `direct.${key}`,
        `direct.${key} must be at least 1 KiB below the envelope payload limit (${maxPayloadBytes} bytes)`,
      );
    }
  }
  return config;
}
