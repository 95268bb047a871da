/**
 * Logging for the CLI and the node: one line per event on stderr, with a
 * timestamp, as text for people or JSON for log pipelines.
 *
 * @module
 */

/** Log levels, from most to least verbose. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Log line formats. */
export type LogFormat = "text" | "json";

/** Something that takes log events (the node calls it; the CLI provides one). */
export type LogSink = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Whether `value` names a log level. */
export function isLogLevel(value: string): value is LogLevel {
  return value in ORDER;
}

/**
 * A sink that writes lines of at least `minLevel` to `write` (default: stderr).
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger("info", "json", (line) => lines.push(line));
 * log("debug", "hidden");
 * log("info", "peer connected", { nodeId: "ab12" });
 * console.log(lines.length); // 1
 * ```
 */
export function createLogger(
  minLevel: LogLevel,
  format: LogFormat,
  write: (line: string) => void = (line) => console.error(line),
): LogSink {
  return (level, message, fields = {}) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const time = new Date().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level, message, ...fields }));
      return;
    }
    const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
    write(`${time} ${level.toUpperCase().padEnd(5)} ${message}${extra.length ? " " + extra.join(" ") : ""}`);
  };
}
