/**
 * Where the CLI writes and how it lays results out: the output sink and the
 * plain-text tables the client commands and devnet print.
 *
 * @module
 */
import type { PeerInfo } from "../peers/mod.ts";

/** Where the CLI writes; defaults to the process's stdout and stderr. */
export interface CliIo {
  /** Normal output (results). */
  out(line: string): void;
  /** Diagnostics and errors. */
  err(line: string): void;
}

/** The process's own stdout and stderr, the sink `main.ts` runs with. */
export const processIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/** Left-aligned columns two spaces apart, sized to the widest cell, so tables read in a terminal. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/**
 * `text` safe to print to a terminal: control characters (which could move the cursor, recolour or clear the
 * operator's screen) shown as `\u` escapes. For names peers choose, such as topics.
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A topic as the CLI prints it: `""` for the network-wide one, else its name, printable. */
export const topicName = (topic: string): string => (topic === "" ? '""' : printable(topic));

/** A node id cut to 16 hex digits: enough to tell peers apart in a table. */
export const short = (id: string): string => id.slice(0, 16);

/** The `kith peers` table, or "no peers". */
export function peersTable(peers: PeerInfo[]): string {
  if (peers.length === 0) return "no peers";
  return table([
    ["NODE", "STATE", "DIR", "LINK", "ADDRESS", "TRUST", "REPUTATION", "RTT", "LAST SEEN"],
    ...peers.map((p) => [
      short(p.nodeId),
      p.state,
      p.direction ?? "-",
      p.linkKind ?? "-",
      p.address || "-",
      p.trust.toFixed(3),
      p.reputation.toFixed(3),
      p.rttMs === undefined ? "-" : `${p.rttMs} ms`,
      p.lastSeen ? new Date(p.lastSeen).toISOString() : "-",
    ]),
  ]);
}
