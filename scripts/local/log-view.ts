import { styleText } from "node:util";
import type { LocalLogEntry } from "./local-log.js";

/**
 * The terminal's readable view of the local log: one line per invocation (time, function, trigger,
 * connection, duration, result), connection events, and the functions' own log lines beneath.
 */

type Style = Parameters<typeof styleText>[0];

/** Fields of a Powertools log line that the view already shows or that add nothing locally. */
const QUIET_FIELDS = new Set([
  "level",
  "message",
  "timestamp",
  "service",
  "sampling_rate",
  "xray_trace_id",
  "function_arn",
  "function_memory_size",
  "function_name",
  "function_request_id",
  "cold_start",
  // The invocation line beneath shows the connection; request ids only add width.
  "connectionId",
  "requestId",
]);

function clock(iso: string): string {
  return iso.slice(11, 23);
}

function functionLine(line: string): { level: string; text: string } {
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    if (typeof record !== "object" || record === null || typeof record.message !== "string") {
      return { level: "", text: line };
    }
    const rest = Object.fromEntries(
      Object.entries(record).filter(([key]) => !QUIET_FIELDS.has(key)),
    );
    const extra = Object.keys(rest).length === 0 ? "" : ` ${JSON.stringify(rest)}`;
    return { level: String(record.level ?? ""), text: `${record.message}${extra}` };
  } catch {
    return { level: "", text: line };
  }
}

export function renderLogEntry(entry: LocalLogEntry, colour: boolean): string {
  const paint = (style: Style, text: string) => (colour ? styleText(style, text) : text);
  const time = paint("dim", clock(entry.time));
  switch (entry.type) {
    case "invocation": {
      const ok = entry.result === "ok";
      const status = entry.statusCode === undefined ? "" : ` ${entry.statusCode}`;
      const retry =
        entry.attempt !== undefined && entry.attempt > 1 ? ` (retry ${entry.attempt - 1})` : "";
      const result = ok
        ? paint("green", `ok${status}`)
        : paint("red", `${entry.result}${entry.error === undefined ? "" : `: ${entry.error}`}`);
      return `${time}  ${paint("bold", entry.function.padEnd(10))} ${entry.trigger.padEnd(12)} ${(entry.connectionId ?? "").padEnd(16)} ${`${entry.durationMs} ms`.padStart(9)}  ${result}${retry}`;
    }
    case "log": {
      const { level, text } = functionLine(entry.line);
      const styled =
        level === "ERROR" || level === "CRITICAL"
          ? paint("red", text)
          : level === "WARN"
            ? paint("yellow", text)
            : text;
      return `${time}    ${paint("dim", `${entry.function.padEnd(10)} │`)} ${level === "" ? "" : `${level} `}${styled}`;
    }
    case "gateway": {
      const code = entry.code === undefined ? "" : ` ${entry.code}`;
      const reason = entry.reason === undefined ? "" : ` ${entry.reason}`;
      const text = `${entry.event}${code}${reason}`;
      return `${time}  ${paint("cyan", "gateway".padEnd(10))} ${text.padEnd(12)} ${entry.connectionId}`;
    }
  }
}
