import { randomUUID } from "node:crypto";
import { access } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ARTIFACTS,
  FUNCTION_NAMES,
  type FunctionName,
  LOCAL,
  LOCAL_STAGE,
  resourceNames,
} from "../../../functions/contract.js";
import { ExpectedError } from "../../../smoke/errors.js";
import type { LocalLog } from "../local-log.js";
import type { EnvironmentData } from "./environment-protocol.js";
import {
  ExecutionEnvironment,
  failedOutcome,
  InitError,
  type InvocationOutcome,
} from "./execution-environment.js";

export type { InvocationOutcome } from "./execution-environment.js";

/**
 * Runs the built bundles (`dist/<fn>/index.mjs`) the way Lambda does: each function runs in
 * execution environments — worker threads, each with the function's own environment variables in
 * place before the bundle loads (functions read them at cold start) — that take one invocation at
 * a time. An idle environment is reused (a warm start); an invocation that finds them all busy
 * gets a new one (a cold start). Module state is therefore never shared by concurrent
 * invocations, environments of one function really run in parallel, and a handler that blocks
 * its thread (`while (true) {}`) is stopped at its timeout without stalling the stage.
 */

/**
 * At most this many environments per function; further concurrent invocations wait for one to
 * be free. Lambda would scale further, each environment on a machine of its own; here they share
 * this machine's cores, so past two per core (one computing while another waits on I/O) a new
 * one only costs a cold start (0.1–0.3 s of CPU, taken from the gateway's core in a burst of
 * connections) and about 20 MB that stay until the stage stops.
 */
export const MAX_ENVIRONMENTS_PER_FUNCTION = Math.min(16, Math.max(2, 2 * availableParallelism()));

/**
 * The fan-out worker's limit, above the cores. A fan-out splits its throttle budget evenly across
 * its shards on the premise that Lambda runs every shard at once (the account's concurrency is
 * 1,000). Held to MAX_ENVIRONMENTS_PER_FUNCTION, shards beyond it waited their turn while the
 * running ones kept to their share: 20 shards of 250 at a 10,000/s budget took five rounds of
 * 0.5 s. A paced shard spends most of its time waiting on its token bucket and its posts'
 * answers, so more of them cost threads and memory (about 20 MB each), little CPU.
 */
export const FANOUT_WORKER_ENVIRONMENTS = 32;

/** Each function's limit where it differs from MAX_ENVIRONMENTS_PER_FUNCTION. */
const ENVIRONMENT_LIMITS: Partial<Record<FunctionName, number>> = {
  fanout: FANOUT_WORKER_ENVIRONMENTS,
};

/** What Lambda reports as the function's memory; the threads themselves are not limited. */
const MEMORY_LIMIT_MB = "256";

export interface InvokeOptions {
  /** The route key, "sns", or "invoke" (the Lambda Invoke API). */
  readonly trigger: string;
  readonly connectionId?: string;
  readonly timeoutMs: number;
  /** For asynchronous invocations: 1 for the first try, 2 and 3 for Lambda's retries. */
  readonly attempt?: number;
  /** Lambda keeps one request id across the retries of an asynchronous invocation. */
  readonly requestId?: string;
}

/** The bundles are missing: run `npm run bundle`. */
export class BundlesMissingError extends ExpectedError {
  override readonly name = "BundlesMissingError";
}

export function bundlePath(distDir: string, fn: FunctionName): string {
  return join(distDir, fn, ARTIFACTS.bundleFile);
}

/** The ARN Lambda gives fn on the local stage (no version qualifier). */
export function functionArn(fn: FunctionName): string {
  return `arn:aws:lambda:${LOCAL.region}:${LOCAL.accountId}:function:${resourceNames(LOCAL_STAGE).functionName(fn)}`;
}

/** The bundles under distDir that do not exist. */
export async function missingBundles(distDir: string): Promise<string[]> {
  const missing: string[] = [];
  for (const fn of FUNCTION_NAMES) {
    const file = bundlePath(distDir, fn);
    if (
      !(await access(file).then(
        () => true,
        () => false,
      ))
    )
      missing.push(file);
  }
  return missing;
}

/** The execution environments of one function. */
class EnvironmentPool {
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly all = new Set<ExecutionEnvironment>();
  private readonly waiting: Array<{
    resolve: (environment: ExecutionEnvironment) => void;
    reject: (error: unknown) => void;
  }> = [];
  private creating = 0;

  constructor(
    private readonly coldStart: () => Promise<ExecutionEnvironment>,
    private readonly limit: number,
  ) {}

  acquire(): Promise<ExecutionEnvironment> {
    const idle = this.idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.environments < this.limit) return this.create();
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /**
   * The invocation ended: the environment takes the next waiting one, or idles. One that ended
   * (timed out, crashed) is dropped — Lambda never reuses it — and a waiting invocation gets a
   * fresh one.
   */
  release(environment: ExecutionEnvironment): void {
    if (!environment.alive) {
      this.all.delete(environment);
      const next = this.waiting.shift();
      if (next !== undefined) this.create().then(next.resolve, next.reject);
      return;
    }
    const next = this.waiting.shift();
    if (next === undefined) this.idle.push(environment);
    else next.resolve(environment);
  }

  /** Busy and idle environments, and those starting. */
  get environments(): number {
    return this.all.size + this.creating;
  }

  async stop(): Promise<void> {
    for (const waiting of this.waiting.splice(0)) {
      waiting.reject(new Error("The local stage stopped before an environment was free."));
    }
    await Promise.all([...this.all].map((environment) => environment.terminate()));
    this.all.clear();
    this.idle.length = 0;
  }

  private async create(): Promise<ExecutionEnvironment> {
    this.creating += 1;
    try {
      const environment = await this.coldStart();
      this.all.add(environment);
      return environment;
    } finally {
      this.creating -= 1;
    }
  }
}

/** process.env with `overrides` applied (undefined removes a variable): a worker's own env. */
function environmentOf(
  ...overrides: ReadonlyArray<Readonly<Record<string, string | undefined>>>
): Record<string, string> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const values of overrides) Object.assign(env, values);
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

export class Invoker {
  private stopped = false;

  private constructor(
    private readonly pools: ReadonlyMap<FunctionName, EnvironmentPool>,
    private readonly log: LocalLog,
  ) {}

  /**
   * Starts one environment per function under distDir (so a broken bundle fails the start). Each
   * environment gets process.env with `env` and then `functionEnv(fn)` applied; this process's own
   * environment is never changed, so several invokers can run side by side.
   */
  static async start(options: {
    distDir: string;
    env: Readonly<Record<string, string | undefined>>;
    /** Variables whose value differs per function. */
    functionEnv?: (fn: FunctionName) => Readonly<Record<string, string | undefined>>;
    log: LocalLog;
    /**
     * One limit for every function; by default MAX_ENVIRONMENTS_PER_FUNCTION, and
     * FANOUT_WORKER_ENVIRONMENTS for the fan-out worker.
     */
    maxEnvironmentsPerFunction?: number;
  }): Promise<Invoker> {
    const missing = await missingBundles(options.distDir);
    if (missing.length > 0) {
      throw new BundlesMissingError(
        `Missing bundles: ${missing.join(", ")}. Build them with \`npm run bundle\`.`,
      );
    }
    const names = resourceNames(LOCAL_STAGE);
    const pools = new Map<FunctionName, EnvironmentPool>();
    const coldStart = (fn: FunctionName) => {
      const file = bundlePath(options.distDir, fn);
      const functionName = names.functionName(fn);
      const data: EnvironmentData = {
        function: fn,
        bundleFile: file,
        bundleUrl: pathToFileURL(file).href,
        functionName,
        invokedFunctionArn: functionArn(fn),
        logGroupName: names.functionLogGroup(fn),
        memoryLimitInMB: MEMORY_LIMIT_MB,
      };
      const env = environmentOf(options.env, options.functionEnv?.(fn) ?? {});
      return ExecutionEnvironment.start({
        data,
        env,
        onLog: (requestId, stream, line) =>
          options.log.write({ type: "log", function: fn, requestId, stream, line }),
      });
    };
    for (const fn of FUNCTION_NAMES) {
      pools.set(
        fn,
        new EnvironmentPool(
          () => coldStart(fn),
          options.maxEnvironmentsPerFunction ??
            ENVIRONMENT_LIMITS[fn] ??
            MAX_ENVIRONMENTS_PER_FUNCTION,
        ),
      );
    }
    const invoker = new Invoker(pools, options.log);
    try {
      await Promise.all(
        [...pools.values()].map(async (pool) => pool.release(await pool.acquire())),
      );
    } catch (error) {
      await invoker.stop();
      if (error instanceof InitError) {
        throw new ExpectedError(`A bundle failed its cold start: ${error.message}`);
      }
      throw error;
    }
    return invoker;
  }

  /** How many execution environments fn has (busy, idle or starting). */
  environments(fn: FunctionName): number {
    return this.pools.get(fn)?.environments ?? 0;
  }

  /** Invokes fn with event; never throws — the outcome says how it ended. */
  async invoke(
    fn: FunctionName,
    event: unknown,
    options: InvokeOptions,
  ): Promise<InvocationOutcome> {
    const pool = this.pools.get(fn) as EnvironmentPool;
    const requestId = options.requestId ?? randomUUID();
    const started = performance.now();
    let outcome: InvocationOutcome;
    if (this.stopped) {
      outcome = failedOutcome({
        errorType: "ServiceException",
        errorMessage: "The local stage is stopping.",
        trace: [],
      });
    } else {
      try {
        const environment = await pool.acquire();
        outcome = await environment.invoke(requestId, event, options.timeoutMs);
        pool.release(environment);
      } catch (error) {
        outcome = failedOutcome(
          error instanceof InitError
            ? error.functionError
            : {
                errorType: "Runtime.Unknown",
                errorMessage: error instanceof Error ? error.message : String(error),
                trace: [],
              },
        );
      }
    }
    const statusCode = outcome.ok
      ? (outcome.result as { statusCode?: unknown } | null | undefined)?.statusCode
      : undefined;
    this.log.write({
      type: "invocation",
      function: fn,
      requestId,
      trigger: options.trigger,
      ...(options.connectionId === undefined ? {} : { connectionId: options.connectionId }),
      ...(options.attempt === undefined ? {} : { attempt: options.attempt }),
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      result: outcome.ok ? "ok" : outcome.timedOut ? "timeout" : "error",
      ...(typeof statusCode === "number" ? { statusCode } : {}),
      ...(outcome.ok ? {} : { error: outcome.error }),
    });
    return outcome;
  }

  /** Ends every environment; invocations still running fail. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.pools.values()].map((pool) => pool.stop()));
  }
}
