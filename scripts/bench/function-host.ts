import { pathToFileURL } from "node:url";
import type { Context, Handler } from "aws-lambda";
import { serve } from "./worker.js";

/**
 * One warm Lambda execution environment of a bench bundle, in a process of its own: the bench
 * loads a bundle with the stage's environment and invokes it one event at a time, as Lambda does.
 * Nothing else runs in this process, so the CPU it spends during an invocation
 * (process.cpuUsage before and after, user + system, garbage collection included) is the
 * function's own.
 */

let handler: Handler | undefined;

function context(timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  const unsupported = () => {
    throw new Error("bench: async handlers only");
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: "bench",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:bench",
    memoryLimitInMB: "256",
    awsRequestId: `bench-${Date.now()}`,
    logGroupName: "/aws/lambda/bench",
    logStreamName: "bench",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

serve({
  async load(args) {
    for (const [name, value] of Object.entries(args.env as Record<string, string | undefined>)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    const module = (await import(pathToFileURL(String(args.bundle)).href)) as {
      handler?: Handler;
    };
    if (typeof module.handler !== "function") throw new Error(`${args.bundle}: no handler`);
    handler = module.handler;
    return {};
  },
  async invoke(args) {
    if (handler === undefined) throw new Error("no bundle loaded");
    const run = handler;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const result: unknown = await new Promise((resolve, reject) => {
      const returned = run(args.event, context(Number(args.timeoutMs)), (error, value) =>
        error ? reject(error) : resolve(value),
      );
      if (returned !== undefined) Promise.resolve(returned).then(resolve, reject);
    });
    const used = process.cpuUsage(cpu);
    return {
      result,
      cpuMs: (used.user + used.system) / 1000,
      systemCpuMs: used.system / 1000,
      wallMs: performance.now() - started,
    };
  },
  async stop() {
    return {};
  },
});
