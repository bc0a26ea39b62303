import { randomUUID } from "node:crypto";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Context, Handler } from "aws-lambda";
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
import { captureFunctionOutput, withinInvocation } from "./function-output.js";

/**
 * Runs the built bundles (`dist/<fn>/index.mjs`) the way Lambda does: the environment is in place
 * before the module loads (functions read it at cold start), each call gets a Lambda-like context,
 * and what the function prints becomes its log.
 *
 * Like Lambda, each function runs in execution environments that take one invocation at a time:
 * an idle environment is reused (a warm start), and an invocation that finds them all busy gets a
 * new one (a cold start: a fresh instance of the bundle's module). Module state, such as the keys a
 * logger carries for the current request, is therefore never shared by concurrent invocations.
 *
 * `process.env` is shared by the whole process, so one invoker at a time may be active in it.
 */

/**
 * At most this many environments per function; further concurrent invocations wait for one to
 * be free. Lambda would scale further (or throttle with 429), but every environment here is a
 * module instance that stays in memory until the process exits.
 */
export const MAX_ENVIRONMENTS_PER_FUNCTION = 16;

export interface InvokeOptions {
  /** The route key, or "sns". */
  readonly trigger: string;
  readonly connectionId?: string;
  readonly timeoutMs: number;
  /** For asynchronous invocations: 1 for the first try, 2 and 3 for Lambda's retries. */
  readonly attempt?: number;
}

export type InvocationOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: string; readonly timedOut: boolean };

/** The bundles are missing: run `npm run bundle`. */
export class BundlesMissingError extends ExpectedError {
  override readonly name = "BundlesMissingError";
}

/** Only one environment per process: the functions read process.env. */
let active: Invoker | undefined;
let loads = 0;

export function bundlePath(distDir: string, fn: FunctionName): string {
  return join(distDir, fn, ARTIFACTS.bundleFile);
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

function lambdaContext(fn: FunctionName, requestId: string, timeoutMs: number): Context {
  const names = resourceNames(LOCAL_STAGE);
  const functionName = names.functionName(fn);
  const deadline = Date.now() + timeoutMs;
  const unsupported = () => {
    throw new Error("The local stage supports async handlers only, not context.done/fail/succeed.");
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${LOCAL.region}:${LOCAL.accountId}:function:${functionName}`,
    memoryLimitInMB: "256",
    awsRequestId: requestId,
    logGroupName: names.functionLogGroup(fn),
    logStreamName: `${new Date().toISOString().slice(0, 10).replaceAll("-", "/")}/[$LATEST]local`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/** The execution environments of one function. */
class EnvironmentPool {
  private readonly idle: Handler[] = [];
  private readonly waiting: Array<{
    resolve: (handler: Handler) => void;
    reject: (error: unknown) => void;
  }> = [];
  private size = 0;

  constructor(private readonly coldStart: () => Promise<Handler>) {}

  acquire(): Promise<Handler> {
    const idle = this.idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.size < MAX_ENVIRONMENTS_PER_FUNCTION) return this.create();
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** The invocation ended: the environment takes the next waiting one, or idles. */
  release(handler: Handler): void {
    const next = this.waiting.shift();
    if (next === undefined) this.idle.push(handler);
    else next.resolve(handler);
  }

  /** Lambda never reuses an environment whose invocation timed out. */
  discard(): void {
    this.size -= 1;
    const next = this.waiting.shift();
    if (next !== undefined) this.create().then(next.resolve, next.reject);
  }

  get environments(): number {
    return this.size;
  }

  private async create(): Promise<Handler> {
    this.size += 1;
    try {
      return await this.coldStart();
    } catch (error) {
      this.size -= 1;
      throw error;
    }
  }
}

export class Invoker {
  private constructor(
    private readonly pools: ReadonlyMap<FunctionName, EnvironmentPool>,
    private readonly log: LocalLog,
    private readonly restore: () => void,
  ) {}

  /**
   * Sets `env` in process.env, loads every bundle under distDir (a fresh module instance, so a
   * second stage in the same process gets its own cold start) and starts capturing their output.
   */
  static async start(options: {
    distDir: string;
    env: Readonly<Record<string, string | undefined>>;
    /** Variables whose value differs per function, set just before that function's cold start. */
    functionEnv?: (fn: FunctionName) => Readonly<Record<string, string | undefined>>;
    log: LocalLog;
  }): Promise<Invoker> {
    if (active !== undefined) {
      throw new ExpectedError(
        "A local stage is already running in this process: stop it first (the functions share process.env).",
      );
    }
    const missing = await missingBundles(options.distDir);
    if (missing.length > 0) {
      throw new BundlesMissingError(
        `Missing bundles: ${missing.join(", ")}. Build them with \`npm run bundle\`.`,
      );
    }
    const names = new Set(Object.keys(options.env));
    for (const fn of FUNCTION_NAMES) {
      for (const name of Object.keys(options.functionEnv?.(fn) ?? {})) names.add(name);
    }
    const previous = Object.fromEntries([...names].map((name) => [name, process.env[name]]));
    const setEnv = (values: Readonly<Record<string, string | undefined>>) => {
      for (const [name, value] of Object.entries(values)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    };
    setEnv(options.env);
    const stopCapture = captureFunctionOutput((line) =>
      options.log.write({ type: "log", ...line }),
    );
    const restore = () => {
      stopCapture();
      setEnv(previous);
      active = undefined;
    };
    const instance = ++loads;
    let coldStarts: Promise<unknown> = Promise.resolve();
    let environments = 0;
    // One cold start at a time: each must see its own function's variables in process.env.
    const coldStart = (fn: FunctionName) => {
      const started = coldStarts.then(async () => {
        setEnv(options.functionEnv?.(fn) ?? {});
        environments += 1;
        const file = bundlePath(options.distDir, fn);
        const url = `${pathToFileURL(file).href}?instance=${instance}&environment=${environments}`;
        const module = (await import(url)) as { handler?: unknown };
        if (typeof module.handler !== "function") {
          throw new ExpectedError(
            `${file} does not export a handler function: rebuild with \`npm run bundle\`.`,
          );
        }
        return module.handler as Handler;
      });
      coldStarts = started.catch(() => undefined);
      return started;
    };
    try {
      const pools = new Map<FunctionName, EnvironmentPool>();
      for (const fn of FUNCTION_NAMES) {
        const pool = new EnvironmentPool(() => coldStart(fn));
        // Warm one environment per function now, so a broken bundle fails the start.
        pool.release(await pool.acquire());
        pools.set(fn, pool);
      }
      active = new Invoker(pools, options.log, restore);
      return active;
    } catch (error) {
      restore();
      throw error;
    }
  }

  /** How many execution environments fn has (busy or idle). */
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
    const requestId = randomUUID();
    const context = lambdaContext(fn, requestId, options.timeoutMs);
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const run = withinInvocation({ function: fn, requestId }, async () => {
      const environment = await pool.acquire();
      try {
        return await new Promise<unknown>((resolve, reject) => {
          const returned = environment(event, context, (error, result) =>
            error ? reject(error) : resolve(result),
          );
          if (returned !== undefined) Promise.resolve(returned).then(resolve, reject);
        });
      } finally {
        // Settled only when the handler really ends, even after the caller stopped waiting.
        if (timedOut) pool.discard();
        else pool.release(environment);
      }
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new TimeoutError(options.timeoutMs));
      }, options.timeoutMs);
    });
    let outcome: InvocationOutcome;
    try {
      outcome = { ok: true, result: await Promise.race([run, timeout]) };
    } catch (error) {
      outcome = {
        ok: false,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        timedOut: error instanceof TimeoutError,
      };
    } finally {
      clearTimeout(timer);
    }
    const statusCode = outcome.ok
      ? (outcome.result as { statusCode?: unknown } | undefined)?.statusCode
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

  /** Restores process.env and stops capturing output. */
  stop(): void {
    this.restore();
  }
}

class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  constructor(timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
  }
}
