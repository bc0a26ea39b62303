import type { FunctionName } from "../../../functions/contract.js";

/**
 * What an execution environment (a worker thread running one function's bundle) and the invoker
 * say to each other. Events and results cross as structured clones; results as the JSON text
 * Lambda would serialize them to.
 */

/** What Lambda's runtime reports for a function error, as the Invoke API returns it. */
export interface FunctionError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

/** The worker's `workerData`: which bundle it runs and who it is. */
export interface EnvironmentData {
  readonly function: FunctionName;
  readonly bundleFile: string;
  readonly bundleUrl: string;
  readonly functionName: string;
  readonly invokedFunctionArn: string;
  readonly logGroupName: string;
  readonly memoryLimitInMB: string;
}

/** The invoker asks for one invocation at a time. */
export interface InvokeMessage {
  readonly type: "invoke";
  readonly requestId: string;
  readonly event: unknown;
  /** Epoch milliseconds at which the invocation times out. */
  readonly deadline: number;
}

export type EnvironmentMessage =
  /** The bundle is imported: the cold start is over. */
  | { readonly type: "ready" }
  /** The bundle could not be imported (or has no handler). */
  | { readonly type: "init-error"; readonly error: FunctionError }
  /** A line the function wrote during an invocation. */
  | {
      readonly type: "log";
      readonly requestId: string;
      readonly stream: "stdout" | "stderr";
      readonly line: string;
    }
  /** The invocation ended: `payload` is the result's JSON text (undefined for no result). */
  | { readonly type: "result"; readonly requestId: string; readonly payload: string | undefined }
  | { readonly type: "error"; readonly requestId: string; readonly error: FunctionError };

/** An error as Lambda's Node.js runtime reports it. */
export function functionError(error: unknown): FunctionError {
  if (error instanceof Error) {
    return {
      errorType: error.name,
      errorMessage: error.message,
      trace: (error.stack ?? `${error.name}: ${error.message}`).split("\n"),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}
