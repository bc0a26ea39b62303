import { randomUUID } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import {
  FUNCTION_NAMES,
  type FunctionName,
  LOCAL,
  LOCAL_STAGE,
  resourceNames,
} from "../../../functions/contract.js";
import { BodyTooLargeError, readBody } from "../http/request-body.js";
import {
  checkSignature,
  LOOPBACK_SIGNATURES,
  type SignatureSettings,
} from "../http/request-signature.js";
import type { InvocationOutcome } from "./invoker.js";

/**
 * Lambda's Invoke API (`POST /2015-03-31/functions/{FunctionName}/invocations`, what
 * `@aws-sdk/client-lambda`'s InvokeCommand calls), for the stage's own functions: the functions
 * reach it through AWS_ENDPOINT_URL_LAMBDA. `RequestResponse` (the default) waits and answers 200
 * with the function's result, or with its error payload and `X-Amz-Function-Error`; `Event`
 * queues the event (retries, then the failure destination) and answers 202; `DryRun` answers 204.
 */

/** Lambda's payload limits: 6 MB for RequestResponse, 1 MB for Event. */
export const INVOKE_PAYLOAD_BYTES = { RequestResponse: 6 * 1024 * 1024, Event: 1024 * 1024 };

export interface InvokeApi {
  /** Runs fn now and returns how it ended (RequestResponse). */
  invoke(fn: FunctionName, event: unknown, requestId: string): Promise<InvocationOutcome>;
  /** Queues fn's asynchronous invocation and returns its request id (Event). */
  queue(fn: FunctionName, event: unknown): string;
}

const INVOCATIONS_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
const FUNCTION_ARN = /^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:)?(?:(\d{12}):)?function:(.+)$/;

/**
 * The function a FunctionName names: its contract name ("fanout"), its stage name
 * ("websocket-stages-local-fanout"), or the ARN / partial ARN of the latter, with an optional
 * `$LATEST` qualifier (the only version the local stage has).
 */
export function resolveFunction(name: string, qualifier?: string | null): FunctionName | undefined {
  let rest = name;
  const arn = FUNCTION_ARN.exec(name);
  if (arn !== null) {
    if (arn[1] !== undefined && arn[1] !== LOCAL.accountId) return undefined;
    rest = arn[2] ?? "";
  }
  const [bare, arnQualifier, ...extra] = rest.split(":");
  if (extra.length > 0) return undefined;
  for (const version of [arnQualifier, qualifier ?? undefined]) {
    if (version !== undefined && version !== "$LATEST") return undefined;
  }
  const stageName = resourceNames(LOCAL_STAGE).functionName;
  return FUNCTION_NAMES.find((fn) => fn === bare || stageName(fn) === bare);
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: string | undefined,
  headers: Readonly<Record<string, string>> = {},
): void {
  response.writeHead(status, {
    ...(body === undefined ? {} : { "content-type": "application/json" }),
    "content-length": body === undefined ? 0 : Buffer.byteLength(body),
    ...headers,
  });
  response.end(body);
}

/** An error of the Lambda API itself, in its JSON shape (the SDK reads the type header). */
function sendApiError(
  response: ServerResponse,
  status: number,
  type: string,
  message: string,
  requestId: string,
): void {
  sendJson(response, status, JSON.stringify({ Type: "User", message }), {
    "x-amzn-errortype": type,
    "x-amzn-requestid": requestId,
  });
}

export function invokeApiListener(
  api: InvokeApi,
  signatures: SignatureSettings = LOOPBACK_SIGNATURES,
): RequestListener {
  return (request, response) => {
    void handle(api, signatures, request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      sendApiError(
        response,
        500,
        "ServiceException",
        `The local Lambda API failed: ${error instanceof Error ? error.message : String(error)}`,
        randomUUID(),
      );
    });
  };
}

async function handle(
  api: InvokeApi,
  signatures: SignatureSettings,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const requestId = randomUUID();
  // The body is read first, up to the largest payload any invocation type takes: the signature
  // covers its hash, and AWS authenticates a request before it says anything about it.
  let body: Buffer;
  try {
    body = await readBody(request, INVOKE_PAYLOAD_BYTES.RequestResponse);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    return sendApiError(
      response,
      413,
      "RequestTooLargeException",
      `Request must be smaller than ${INVOKE_PAYLOAD_BYTES.RequestResponse} bytes for the RequestResponse invocation type`,
      requestId,
    );
  }
  const rejected = await checkSignature(request, body, { ...signatures, service: "lambda" });
  if (rejected !== undefined) {
    response.writeHead(rejected.status, rejected.headers).end(rejected.body);
    return;
  }

  const url = new URL(request.url ?? "/", "http://lambda.local");
  const match = INVOCATIONS_PATH.exec(url.pathname);
  if (match === null || request.method !== "POST") {
    return sendApiError(
      response,
      404,
      "UnknownOperationException",
      `The local Lambda API serves only Invoke (POST /2015-03-31/functions/{FunctionName}/invocations), not ${request.method} ${url.pathname}.`,
      requestId,
    );
  }
  const name = decodeURIComponent(match[1] ?? "");
  const fn = resolveFunction(name, url.searchParams.get("Qualifier"));
  if (fn === undefined) {
    const arn = name.startsWith("arn:")
      ? name
      : `arn:aws:lambda:${LOCAL.region}:${LOCAL.accountId}:function:${name}`;
    return sendApiError(
      response,
      404,
      "ResourceNotFoundException",
      `Function not found: ${arn}`,
      requestId,
    );
  }
  const invocationType = request.headers["x-amz-invocation-type"] ?? "RequestResponse";
  if (
    invocationType !== "RequestResponse" &&
    invocationType !== "Event" &&
    invocationType !== "DryRun"
  ) {
    return sendApiError(
      response,
      400,
      "InvalidParameterValueException",
      `X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, not ${String(invocationType)}.`,
      requestId,
    );
  }
  const limit =
    invocationType === "Event" ? INVOKE_PAYLOAD_BYTES.Event : INVOKE_PAYLOAD_BYTES.RequestResponse;
  if (body.length > limit) {
    return sendApiError(
      response,
      413,
      "RequestTooLargeException",
      `Request must be smaller than ${limit} bytes for the ${invocationType} invocation type`,
      requestId,
    );
  }
  let event: unknown;
  try {
    event = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
  } catch (error) {
    return sendApiError(
      response,
      400,
      "InvalidRequestContentException",
      `Could not parse request body into json: ${error instanceof Error ? error.message : String(error)}`,
      requestId,
    );
  }
  if (invocationType === "DryRun") {
    return sendJson(response, 204, undefined, { "x-amzn-requestid": requestId });
  }
  if (invocationType === "Event") {
    const queued = api.queue(fn, event);
    return sendJson(response, 202, undefined, { "x-amzn-requestid": queued });
  }
  const outcome = await api.invoke(fn, event, requestId);
  const headers = { "x-amzn-requestid": requestId, "x-amz-executed-version": "$LATEST" };
  if (outcome.ok) {
    return sendJson(response, 200, JSON.stringify(outcome.result ?? null), headers);
  }
  const payload = outcome.functionError ?? {
    errorType: "Error",
    errorMessage: outcome.error,
    trace: [],
  };
  return sendJson(response, 200, JSON.stringify(payload), {
    ...headers,
    "x-amz-function-error": "Unhandled",
  });
}
