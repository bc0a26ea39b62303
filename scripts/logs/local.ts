import { open, stat } from "node:fs/promises";
import type { LocalLogEntry } from "../local/local-log.js";
import { functionLogText, LOG_SOURCES, type LogSource, logLine } from "./sources.js";

/**
 * `npm run logs -- local`: follows the local stage's JSON-lines log (`<stateDir>/local.log`) like
 * `tail -f`, printing each entry as one readable line.
 */

export function localEntrySource(entry: LocalLogEntry): LogSource {
  return entry.type === "gateway" ? "api" : entry.function;
}

export function formatLocalEntry(entry: LocalLogEntry): string {
  switch (entry.type) {
    case "invocation": {
      const status = entry.statusCode === undefined ? "" : ` ${entry.statusCode}`;
      const connection =
        entry.connectionId === undefined ? "" : ` connection ${entry.connectionId}`;
      const error = entry.error === undefined ? "" : `: ${entry.error}`;
      return logLine(
        entry.time,
        entry.function,
        `${entry.trigger} → ${entry.result}${status} in ${Math.round(entry.durationMs)} ms${connection}${error}`,
      );
    }
    case "log":
      return logLine(
        entry.time,
        entry.function,
        `${entry.stream === "stderr" ? "(stderr) " : ""}${functionLogText(entry.line)}`,
      );
    case "gateway": {
      const detail =
        entry.code === undefined && entry.reason === undefined
          ? ""
          : ` (${[entry.code, entry.reason].filter((part) => part !== undefined && part !== "").join(" ")})`;
      return logLine(entry.time, "api", `${entry.event} ${entry.connectionId}${detail}`);
    }
  }
}

/** A line of the log file: an entry, or the raw text when it is not one. */
export function parseLocalLine(line: string): LocalLogEntry | string {
  try {
    const parsed = JSON.parse(line) as Partial<LocalLogEntry> | null;
    if (
      parsed !== null &&
      typeof parsed.time === "string" &&
      (parsed.type === "invocation" || parsed.type === "log" || parsed.type === "gateway")
    ) {
      return parsed as LocalLogEntry;
    }
  } catch {
    // Not JSON: shown as it is.
  }
  return line;
}

/** Keeps the lines of `sources`; lines that are not entries only when every source is wanted. */
export function localLineFilter(sources: readonly LogSource[]): (line: string) => boolean {
  const all = LOG_SOURCES.every((source) => sources.includes(source));
  return (line) => {
    const entry = parseLocalLine(line);
    return typeof entry === "string" ? all : sources.includes(localEntrySource(entry));
  };
}

export interface FollowOptions {
  /** Lines already in the file to show first (like tail -n). */
  readonly lines: number;
  readonly signal: AbortSignal;
  readonly onLine: (line: string) => void;
  /** Only lines it accepts are passed on (and counted in `lines`). */
  readonly select?: (line: string) => boolean;
  /** How often the file is checked for more. */
  readonly pollMs?: number;
}

/** Bytes read back from the end to find the last lines. */
const TAIL_WINDOW_BYTES = 256 * 1024;

/**
 * Follows `file` until the signal aborts. A file that does not exist yet is waited for; one that
 * shrinks (deleted and written anew) is read again from its start.
 */
export async function followLocalLog(file: string, options: FollowOptions): Promise<void> {
  const pollMs = options.pollMs ?? 200;
  let offset = await initialOffset(file, options);
  while (!options.signal.aborted) {
    const size = await fileSize(file);
    if (size !== undefined && size < offset) offset = 0;
    if (size !== undefined && size > offset) {
      // Only whole lines: a line being written is read once its newline is there.
      const bytes = await readRange(file, offset, size);
      const end = bytes.lastIndexOf(NEWLINE);
      if (end >= 0) {
        offset += end + 1;
        emit(bytes.subarray(0, end), options);
      }
    }
    await sleep(pollMs, options.signal);
  }
}

const NEWLINE = 0x0a;

function emit(bytes: Buffer, options: FollowOptions, last = Number.POSITIVE_INFINITY) {
  const lines = bytes
    .toString("utf8")
    .split("\n")
    .filter((line) => line.trim() !== "" && (options.select?.(line) ?? true));
  for (const line of lines.slice(-last)) options.onLine(line);
}

async function initialOffset(file: string, options: FollowOptions): Promise<number> {
  const size = await fileSize(file);
  if (size === undefined) return 0;
  const start = Math.max(0, size - TAIL_WINDOW_BYTES);
  const bytes = await readRange(file, start, size);
  const end = bytes.lastIndexOf(NEWLINE);
  if (end < 0) return start;
  // Read from the middle of the file, the first line may be cut: skip it.
  const first = start === 0 ? 0 : bytes.indexOf(NEWLINE) + 1;
  if (options.lines > 0 && first <= end) emit(bytes.subarray(first, end), options, options.lines);
  return start + end + 1;
}

async function fileSize(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function readRange(file: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(end - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, milliseconds);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
