import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { build } from "esbuild";
import type {
  EnvironmentData,
  EnvironmentMessage,
  FunctionError,
  InvokeMessage,
} from "./environment-protocol.js";

/**
 * One execution environment seen from the invoker: a worker thread running environment-runtime.ts
 * with the function's own process.env. It takes one invocation at a time; an invocation that
 * outlives its timeout terminates the thread (Lambda never reuses such an environment), and so
 * does a crash of the runtime (an uncaught exception, process.exit).
 */

export type InvocationOutcome =
  | { readonly ok: true; readonly result: unknown }
  | {
      readonly ok: false;
      /** `Type: message`, for the log. */
      readonly error: string;
      readonly timedOut: boolean;
      /** What the Invoke API returns as the payload of a failed invocation. */
      readonly functionError?: FunctionError;
    };

export function failedOutcome(error: FunctionError, timedOut = false): InvocationOutcome {
  return {
    ok: false,
    error: `${error.errorType}: ${error.errorMessage}`,
    timedOut,
    functionError: error,
  };
}

/** A cold start that failed: the bundle threw at import, or exports no handler. */
export class InitError extends Error {
  override readonly name = "InitError";
  constructor(readonly functionError: FunctionError) {
    super(`${functionError.errorType}: ${functionError.errorMessage}`);
  }
}

const RUNTIME_SOURCE = fileURLToPath(new URL("./environment-runtime.ts", import.meta.url));
let runtime: Promise<URL> | undefined;

/**
 * The runtime compiled to one ES module, once per process. Workers do not inherit a TypeScript
 * loader (vitest's or tsx's), so the thread is given plain JavaScript.
 */
function runtimeModule(): Promise<URL> {
  runtime ??= build({
    entryPoints: [RUNTIME_SOURCE],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "silent",
  }).then(
    (result) =>
      new URL(`data:text/javascript,${encodeURIComponent(result.outputFiles[0]?.text ?? "")}`),
  );
  return runtime;
}

interface Running {
  readonly requestId: string;
  readonly settle: (outcome: InvocationOutcome) => void;
}

export class ExecutionEnvironment {
  private running: Running | undefined;
  private exited = false;

  private constructor(
    private readonly worker: Worker,
    private readonly onLog: (requestId: string, stream: "stdout" | "stderr", line: string) => void,
  ) {
    worker.on("message", (message: EnvironmentMessage) => this.receive(message));
    worker.on("error", (error) => {
      this.end({
        errorType: "Runtime.UnhandledError",
        errorMessage: `${error.name}: ${error.message}`,
        trace: (error.stack ?? "").split("\n"),
      });
    });
    worker.on("exit", (code) => {
      this.end({
        errorType: "Runtime.ExitError",
        errorMessage: `RequestId: ${this.running?.requestId ?? "none"} Error: Runtime exited with error: exit status ${code}`,
        trace: [],
      });
    });
  }

  /** Starts a worker and waits for its cold start; rejects with InitError when it fails. */
  static async start(options: {
    readonly data: EnvironmentData;
    readonly env: Readonly<Record<string, string>>;
    readonly onLog: (requestId: string, stream: "stdout" | "stderr", line: string) => void;
  }): Promise<ExecutionEnvironment> {
    const worker = new Worker(await runtimeModule(), {
      workerData: options.data,
      env: options.env,
      // Not this process's flags: `--import tsx` would load a TypeScript loader (and its hooks
      // thread) into every environment, for a runtime and bundles that are plain JavaScript.
      execArgv: [],
    });
    await new Promise<void>((resolve, reject) => {
      const failed = (error: FunctionError) => {
        cleanup();
        void worker.terminate();
        reject(new InitError(error));
      };
      const onMessage = (message: EnvironmentMessage) => {
        if (message.type === "ready") {
          cleanup();
          resolve();
        } else if (message.type === "init-error") failed(message.error);
      };
      const onError = (error: Error) =>
        failed({ errorType: error.name, errorMessage: error.message, trace: [] });
      const onExit = (code: number) =>
        failed({
          errorType: "Runtime.ExitError",
          errorMessage: `Runtime exited during init: exit status ${code}`,
          trace: [],
        });
      const cleanup = () => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
    });
    return new ExecutionEnvironment(worker, options.onLog);
  }

  /** False once the thread has ended: the pool then drops it. */
  get alive(): boolean {
    return !this.exited;
  }

  /** Runs one invocation; the environment must be idle. Never rejects. */
  invoke(requestId: string, event: unknown, timeoutMs: number): Promise<InvocationOutcome> {
    if (this.running !== undefined || this.exited) {
      throw new Error("An execution environment takes one invocation at a time.");
    }
    return new Promise<InvocationOutcome>((resolve) => {
      const timer = setTimeout(() => {
        // Lambda stops the environment, whatever the handler is doing.
        this.end(
          {
            errorType: "Sandbox.Timedout",
            errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
            trace: [],
          },
          true,
        );
        void this.worker.terminate();
      }, timeoutMs);
      this.running = {
        requestId,
        settle: (outcome) => {
          clearTimeout(timer);
          this.running = undefined;
          resolve(outcome);
        },
      };
      const message: InvokeMessage = {
        type: "invoke",
        requestId,
        event,
        deadline: Date.now() + timeoutMs,
      };
      this.worker.postMessage(message);
    });
  }

  /** Ends the thread; an invocation still running reports a runtime exit. */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private receive(message: EnvironmentMessage): void {
    const running = this.running;
    switch (message.type) {
      case "log":
        this.onLog(message.requestId, message.stream, message.line);
        return;
      case "result":
        if (running?.requestId !== message.requestId) return;
        running.settle({
          ok: true,
          result: message.payload === undefined ? undefined : JSON.parse(message.payload),
        });
        return;
      case "error":
        if (running?.requestId !== message.requestId) return;
        running.settle(failedOutcome(message.error));
        return;
      default:
        return;
    }
  }

  /** The thread is gone or going: whatever it was running fails with `error`. */
  private end(error: FunctionError, timedOut = false): void {
    this.exited = true;
    this.running?.settle(failedOutcome(error, timedOut));
  }
}
