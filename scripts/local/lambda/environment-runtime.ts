import { parentPort, workerData } from "node:worker_threads";
import type { Context, Handler } from "aws-lambda";
import {
  type EnvironmentData,
  type EnvironmentMessage,
  functionError,
  type InvokeMessage,
} from "./environment-protocol.js";
import { captureFunctionOutput, withinInvocation } from "./function-output.js";

/**
 * The inside of one execution environment: a worker thread that imports one function's bundle
 * once (its cold start, with the function's own process.env already in place) and then runs one
 * invocation at a time, as Lambda's runtime does. The invoker enforces the timeout by terminating
 * the thread, so a handler that never yields (`while (true) {}`) stops only this environment.
 */

const data = workerData as EnvironmentData;
if (parentPort === null) throw new Error("environment-runtime runs only as a worker thread");
const port = parentPort;
const send = (message: EnvironmentMessage) => port.postMessage(message);

// Only writes made during an invocation are its log; what the bundle prints at import goes to the
// stage's own output, as before.
captureFunctionOutput(({ requestId, stream, line }) =>
  send({ type: "log", requestId, stream, line }),
);

function lambdaContext(requestId: string, deadline: number): Context {
  const unsupported = () => {
    throw new Error("The local stage supports async handlers only, not context.done/fail/succeed.");
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: data.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: data.invokedFunctionArn,
    memoryLimitInMB: data.memoryLimitInMB,
    awsRequestId: requestId,
    logGroupName: data.logGroupName,
    logStreamName: `${new Date().toISOString().slice(0, 10).replaceAll("-", "/")}/[$LATEST]local`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

function run(handler: Handler, event: unknown, context: Context): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const returned = handler(event, context, (error, result) =>
      error ? reject(error) : resolve(result),
    );
    if (returned !== undefined) Promise.resolve(returned).then(resolve, reject);
  });
}

async function serve(handler: Handler, message: InvokeMessage): Promise<void> {
  const { requestId } = message;
  try {
    const result = await withinInvocation({ function: data.function, requestId }, () =>
      run(handler, message.event, lambdaContext(requestId, message.deadline)),
    );
    send({
      type: "result",
      requestId,
      payload: result === undefined ? undefined : JSON.stringify(result),
    });
  } catch (error) {
    send({ type: "error", requestId, error: functionError(error) });
  }
}

async function coldStart(): Promise<Handler> {
  const module = (await import(data.bundleUrl)) as { handler?: unknown };
  if (typeof module.handler !== "function") {
    throw new Error(
      `${data.bundleFile} does not export a handler function: rebuild with \`npm run bundle\`.`,
    );
  }
  return module.handler as Handler;
}

coldStart().then(
  (handler) => {
    port.on("message", (message: InvokeMessage) => void serve(handler, message));
    send({ type: "ready" });
  },
  (error: unknown) => send({ type: "init-error", error: functionError(error) }),
);
