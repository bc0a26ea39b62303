import { FUNCTION_NAMES, type FunctionName } from "../../functions/contract.js";

/** What `npm run logs` can show: each function's log, and the API's (access log / gateway). */
export type LogSource = FunctionName | "api";
export const LOG_SOURCES: readonly LogSource[] = [...FUNCTION_NAMES, "api"];

export function isLogSource(value: string): value is LogSource {
  return (LOG_SOURCES as readonly string[]).includes(value);
}

/** Keys of a Powertools log line that say nothing a reader of the stream needs. */
const QUIET_KEYS = new Set([
  "time",
  "level",
  "message",
  "timestamp",
  "service",
  "sampling_rate",
  "xray_trace_id",
  "cold_start",
  "function_name",
  "function_memory_size",
  "function_arn",
  "function_request_id",
]);

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
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return line.trimEnd();
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return line.trimEnd();
  const record = parsed as Record<string, unknown>;
  if (typeof record.type === "string" && record.type.startsWith("platform.")) {
    return platformText(record.type, record.record as PlatformRecord | undefined);
  }
  const rest = Object.fromEntries(Object.entries(record).filter(([key]) => !QUIET_KEYS.has(key)));
  const level = typeof record.level === "string" ? record.level.padEnd(5) : "";
  const message = typeof record.message === "string" ? record.message : "";
  const extra = Object.keys(rest).length > 0 ? JSON.stringify(rest) : "";
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
