import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import type { FunctionName } from "../../functions/contract.js";

/**
 * The local stage's log: one JSON line per entry in `<stateDir>/local.log` (what `npm run logs --
 * local` follows), and the same entries handed to a listener (the terminal's readable view).
 */

interface Entry {
  /** ISO timestamp. */
  readonly time: string;
}

/** One function invocation: what triggered it, how long it took, how it ended. */
export interface InvocationEntry extends Entry {
  readonly type: "invocation";
  readonly function: FunctionName;
  readonly requestId: string;
  /** The route key, or "sns" for the topic subscriber. */
  readonly trigger: string;
  readonly connectionId?: string;
  /** Asynchronous invocations (SNS): 1 for the first try, then Lambda's retries. */
  readonly attempt?: number;
  readonly durationMs: number;
  readonly result: "ok" | "error" | "timeout";
  /** The statusCode the function returned, when it returned one. */
  readonly statusCode?: number;
  readonly error?: string;
}

/** One line a function wrote to stdout or stderr (its logger's JSON, usually). */
export interface FunctionLogEntry extends Entry {
  readonly type: "log";
  readonly function: FunctionName;
  readonly requestId: string;
  readonly stream: "stdout" | "stderr";
  readonly line: string;
}

/** A connection opened, was refused, or closed at the gateway. */
export interface GatewayEntry extends Entry {
  readonly type: "gateway";
  readonly event: "connected" | "rejected" | "closed";
  readonly connectionId: string;
  /** HTTP status of a rejected handshake, close code of a closed connection. */
  readonly code?: number;
  readonly reason?: string;
}

export type LocalLogEntry = InvocationEntry | FunctionLogEntry | GatewayEntry;

/** Distributes an entry type over its union members, so `type` stays a discriminant. */
type Unstamped<T> = T extends LocalLogEntry ? Omit<T, "time"> : never;

/**
 * Entries written in one turn of the event loop go to the file in one write: a burst of
 * connections logs three or four entries each, and a write per entry (a file-system request per
 * line) cost more of the stage's CPU than the S3 stand-in's whole PutObject.
 */
export class LocalLog {
  private readonly stream: WriteStream;
  private closed = false;
  private pending: string[] = [];
  private flushScheduled = false;

  constructor(
    readonly file: string,
    private readonly listener?: (entry: LocalLogEntry) => void,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    this.stream = createWriteStream(file, { flags: "a" });
  }

  /** Entries after close (a late $disconnect during shutdown) are dropped. */
  write(entry: Unstamped<LocalLogEntry>): void {
    if (this.closed) return;
    const stamped = { time: new Date().toISOString(), ...entry } as LocalLogEntry;
    this.pending.push(JSON.stringify(stamped));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    this.listener?.(stamped);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.stream.write(`${lines.join("\n")}\n`);
  }
}
