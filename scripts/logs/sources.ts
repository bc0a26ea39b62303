import { FUNCTION_NAMES, type FunctionName } from "../../functions/contract.js";
import { parseFunctionLogLine } from "../local/lambda/function-log-line.js";

/** What `npm run logs` can show: each function's log, and the API's (access log / gateway). */
export type LogSource = FunctionName | "api";
export const LOG_SOURCES: readonly LogSource[] = [...FUNCTION_NAMES, "api"];

export function isLogSource(value: string): value is LogSource {
  return (LOG_SOURCES as readonly string[]).includes(value);
}

/** Lambda's own JSON events carry `time`; the stream line already starts with the event's time. */
const SHOWN_AS_LINE_TIME: ReadonlySet<string> = new Set(["time"]);

const SOURCE_WIDTH = Math.max(...LOG_SOURCES.map((source) => source.length));

/** One line for people: time (UTC), source, text. */
export function logLine(time: Date | string, source: string, text: string): string {
  const iso = typeof time === "string" ? time : time.toISOString();
  return `${iso.slice(11, 23)} ${source.padEnd(SOURCE_WIDTH)}  ${text}`;
}

/**
 * A line a function wrote: Powertools JSON becomes `LEVEL message {other keys}`; Lambda's JSON
 * platform events (the stack sets logFormat JSON) become START / REPORT lines; anything else is
 * shown as it is.
 */
export function functionLogText(line: string): string {
  const parsed = parseFunctionLogLine(line, SHOWN_AS_LINE_TIME);
  if (parsed === undefined) return line.trimEnd();
  const { type, record } = parsed.fields;
  if (typeof type === "string" && type.startsWith("platform.")) {
    return platformText(type, record as PlatformRecord | undefined);
  }
  const level = parsed.level?.padEnd(5) ?? "";
  const message = parsed.message ?? "";
  const extra = Object.keys(parsed.fields).length > 0 ? JSON.stringify(parsed.fields) : "";
  return [level, message, extra].filter((part) => part !== "").join(" ");
}

interface PlatformRecord {
  readonly requestId?: string;
  readonly status?: string;
  readonly metrics?: {
    readonly durationMs?: number;
    readonly billedDurationMs?: number;
    readonly memorySizeMB?: number;
    readonly maxMemoryUsedMB?: number;
    readonly initDurationMs?: number;
  };
}

/** Lambda's platform events, in the words of its text format. */
function platformText(type: string, record: PlatformRecord = {}): string {
  const event = type.slice("platform.".length);
  const id = record.requestId ?? "";
  if (event === "start") return `START ${id}`.trimEnd();
  if (event === "report") {
    const m = record.metrics ?? {};
    const parts = [
      `REPORT ${id}`.trimEnd(),
      m.durationMs === undefined
        ? ""
        : `${m.durationMs} ms (billed ${m.billedDurationMs ?? "?"} ms)`,
      m.maxMemoryUsedMB === undefined
        ? ""
        : `memory ${m.maxMemoryUsedMB}/${m.memorySizeMB ?? "?"} MB`,
      m.initDurationMs === undefined ? "" : `init ${m.initDurationMs} ms`,
      record.status === undefined || record.status === "success" ? "" : record.status,
    ];
    return parts.filter((part) => part !== "").join(" ");
  }
  return `${event} ${JSON.stringify(record)}`;
}
