import { AsyncLocalStorage } from "node:async_hooks";
import type { FunctionName } from "../../../functions/contract.js";

/**
 * Lambda captures what a function writes to stdout and stderr into its log stream. Inside an
 * execution environment (environment-runtime.ts) this tells the output apart by the invocation each
 * write happens in (an async context, so a write after an await still counts), and passes anything
 * written outside an invocation (at import) through.
 */

export interface Invocation {
  readonly function: FunctionName;
  readonly requestId: string;
}

export type OutputLine = Invocation & { stream: "stdout" | "stderr"; line: string };

const current = new AsyncLocalStorage<Invocation>();

/** Runs `body` as part of `invocation`: its writes are attributed to it. */
export function withinInvocation<T>(invocation: Invocation, body: () => T): T {
  return current.run(invocation, body);
}

/** Routes function output to `onLine` until the returned function is called. */
export function captureFunctionOutput(onLine: (line: OutputLine) => void): () => void {
  const streams = { stdout: process.stdout, stderr: process.stderr } as const;
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const name of ["stdout", "stderr"] as const) {
    const stream = streams[name];
    const original = originals[name];
    const write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      const invocation = current.getStore();
      if (invocation === undefined) {
        return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      }
      const text =
        typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
      // Outside the invocation's context, so whatever onLine prints is not captured again.
      current.exit(() => {
        for (const line of text.split("\n")) {
          if (line.trim() !== "") onLine({ ...invocation, stream: name, line });
        }
      });
      const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
      callback?.();
      return true;
    };
    stream.write = write as typeof stream.write;
  }
  return () => {
    streams.stdout.write = originals.stdout;
    streams.stderr.write = originals.stderr;
  };
}
