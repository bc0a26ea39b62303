/**
 * A line a function wrote, read as Powertools' JSON: its level, its message and the keys left once
 * the ones every line carries are dropped. Both log views (`npm start`'s terminal, `npm run logs`)
 * read function output through this, each adding the keys it shows elsewhere.
 */

/** Keys Powertools puts on every line: the views show level and message themselves; the rest is noise. */
const POWERTOOLS_KEYS: ReadonlySet<string> = new Set([
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

export interface FunctionLogLine {
  /** undefined when the line has no string level. */
  readonly level: string | undefined;
  /** undefined when the line has no string message. */
  readonly message: string | undefined;
  /** Every other key of the line, in the order written. */
  readonly fields: Readonly<Record<string, unknown>>;
}

const NO_KEYS: ReadonlySet<string> = new Set();

/**
 * undefined when the line is not a JSON object (plain text, an array, a number): the caller shows
 * it as written. `alsoQuiet` names keys the caller leaves out of `fields` on top of Powertools' own.
 */
export function parseFunctionLogLine(
  line: string,
  alsoQuiet: ReadonlySet<string> = NO_KEYS,
): FunctionLogLine | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const record = parsed as Record<string, unknown>;
  return {
    level: typeof record.level === "string" ? record.level : undefined,
    message: typeof record.message === "string" ? record.message : undefined,
    fields: Object.fromEntries(
      Object.entries(record).filter(([key]) => !POWERTOOLS_KEYS.has(key) && !alsoQuiet.has(key)),
    ),
  };
}
