import { styleText } from "node:util";
import { parseFunctionLogLine } from "./lambda/function-log-line.js";
import type { LocalLogEntry } from "./local-log.js";

/**
 * The terminal's readable view of the local log: one line per invocation (time, function, trigger,
 * connection, duration, result), connection events, and the functions' own log lines beneath.
 */

type Style = Parameters<typeof styleText>[0];

/** The invocation line beneath shows the connection; request ids only add width. */
const SHOWN_ON_INVOCATION_LINE: ReadonlySet<string> = new Set(["connectionId", "requestId"]);

function clock(iso: string): string {
  return iso.slice(11, 23);
}

/** A Powertools line as level and `message {other fields}`; anything without a message as printed. */
function functionLine(line: string): { level: string; text: string } {
  const parsed = parseFunctionLogLine(line, SHOWN_ON_INVOCATION_LINE);
  if (parsed?.message === undefined) return { level: "", text: line };
  const extra = Object.keys(parsed.fields).length === 0 ? "" : ` ${JSON.stringify(parsed.fields)}`;
  return { level: parsed.level ?? "", text: `${parsed.message}${extra}` };
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
