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
 * What components log to when given no sink: warnings and errors, as text, on stderr. A library user who
 * passes a sink of their own (every component's `log` option, {@link KithNode}'s included) sees every line
 * there instead.
 */
export function defaultLogSink(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
  stderrWarnings(level, message, fields);
}

/** The failure of a callback the application or another layer gave: what failed and the error's message. */
export function errorFields(error: unknown): Record<string, unknown> {
  return { error: error instanceof Error ? error.message : String(error) };
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

const stderrWarnings: LogSink = createLogger("warn", "text");
