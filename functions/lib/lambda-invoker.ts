import { extendedEncodeURIComponent } from "@smithy/core/protocols";
import { FANOUT } from "../contract.js";
import { InvokeUnansweredError, type ShardInvoker } from "./shards.js";
import { NetworkError, type SignedAttempts, type SignedRequest } from "./signed-attempt.js";
import {
  type AttemptTiming,
  builtOnFirstUse,
  type ServiceAccess,
  serviceAttempts,
} from "./signed-service.js";

/**
 * Lambda's Invoke with InvocationType "Event", without the SDK client: the same signed
 * `POST /2015-03-31/functions/{name}/invocations` with `X-Amz-Invocation-Type: Event`, built with
 * the SDK's own signer and credential chain (as fast-poster.ts does for @connections).
 *
 * Why: @aws-sdk/client-lambda carries the schema of every Lambda operation, about 110 KB of
 * minified code the message and subscriber bundles would load on every cold start, over the
 * 500 KB bundle budget — for one call. lambda-invoker.wire.test.ts holds it to the SDK's request.
 *
 * The endpoint follows the SDK's configuration (signed-service.ts): AWS_ENDPOINT_URL_LAMBDA (the
 * local stage's Lambda Invoke API), else AWS_ENDPOINT_URL, else Lambda's regional endpoint. Throttling (429) and
 * server errors are retried with full-jitter backoff, FANOUT.invokeMaxAttempts attempts in all.
 *
 * Timeouts, in two phases (signed-attempt.ts). Until the request is written in full, Lambda
 * cannot have queued the shard, so a stall there (SEND_TIMEOUT_MS) is retried safely. Once it is
 * written, Lambda may have queued it: a retry could start the shard a second time and post its
 * whole page twice. So the answer is awaited far longer (ANSWER_TIMEOUT_MS: Lambda answers an
 * Event invoke in milliseconds; only a dead connection stays silent that long), never past the
 * caller's deadline, and when it does not come the invoke fails with InvokeUnansweredError, which
 * is not retried: the dispatcher hands the shard's ids on for redelivery and counts them. A
 * connection error after the request was written (a reset keep-alive socket, typically after the
 * function was frozen) is retried, as the SDK retries it: the server closing the socket almost
 * always means it did not take the request.
 */

const BASE_DELAY_MS = 100;
const SEND_TIMEOUT_MS = 10_000;
const ANSWER_TIMEOUT_MS = 60_000;
/**
 * The shortest wait for an answer, even at the caller's deadline: an invoke started just before
 * it still gets the time Lambda normally takes to answer, out of the deadline's hand-off margin.
 */
const MIN_ANSWER_TIMEOUT_MS = 1_000;

/** The only answer that says Lambda queued the event; its body is empty. */
const ACCEPTED = 202;

export class SignedShardInvoker implements ShardInvoker {
  private readonly attempts: SignedAttempts;
  private readonly sendTimeoutMs: number;
  private readonly answerTimeoutMs: number;
  private readonly minAnswerTimeoutMs: number;
  private readonly baseDelayMs: number;

  constructor(
    options: ServiceAccess & AttemptTiming & { readonly minAnswerTimeoutMs?: number } = {},
  ) {
    this.sendTimeoutMs = options.sendTimeoutMs ?? SEND_TIMEOUT_MS;
    this.answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
    this.minAnswerTimeoutMs = options.minAnswerTimeoutMs ?? MIN_ANSWER_TIMEOUT_MS;
    this.baseDelayMs = options.baseDelayMs ?? BASE_DELAY_MS;
    this.attempts = serviceAttempts("lambda", "invoke the fan-out worker in", options, {
      maxSockets: FANOUT.dispatchConcurrency,
      discardsBodyOf: (status) => status === ACCEPTED,
    });
  }

  async invoke(
    functionName: string,
    payload: string,
    options: { readonly deadline?: number } = {},
  ): Promise<void> {
    const body = Buffer.from(payload, "utf8");
    const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
    for (let attempt = 1; ; attempt += 1) {
      let failure: string;
      try {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `The asynchronous invoke of ${functionName} was not sent: the fan-out's deadline came first${attempt > 1 ? ` (after ${attempt - 1} failed attempts)` : ""}`,
          );
        }
        const answer = await this.attempts.attempt(
          await this.sign(functionName, body),
          body,
          Math.min(this.sendTimeoutMs, left),
          Math.max(this.minAnswerTimeoutMs, Math.min(this.answerTimeoutMs, left)),
        );
        if (answer.status === ACCEPTED) return;
        const errorType = answer.errorTypeHeader?.split(":")[0];
        failure = `${errorType ?? "Unknown"} (HTTP ${answer.status}): ${answer.body.slice(0, 200)}`;
        if (answer.status !== 429 && answer.status < 500) {
          throw new Error(`Lambda refused the asynchronous invoke of ${functionName}: ${failure}`);
        }
      } catch (error) {
        if (error instanceof NetworkError && error.timeout === "answer") {
          throw new InvokeUnansweredError(
            `The asynchronous invoke of ${functionName} was sent but not answered: ${error.message}; Lambda may have queued it, so it is not retried`,
          );
        }
        if (!(error instanceof NetworkError)) throw error;
        failure = error.message;
      }
      if (attempt >= FANOUT.invokeMaxAttempts) {
        throw new Error(
          `Lambda did not accept the asynchronous invoke of ${functionName} in ${attempt} attempts: ${failure}`,
        );
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.random() * this.baseDelayMs * 2 ** attempt),
      );
    }
  }

  /** The signed headers and path of one attempt (signed again each time: the date moves). */
  sign(functionName: string, body: Buffer): Promise<SignedRequest> {
    const path = `/2015-03-31/functions/${extendedEncodeURIComponent(functionName)}/invocations`;
    return this.attempts.sign(path, { "x-amz-invocation-type": "Event" }, body);
  }

  /** Closes the pooled connections (tests; a Lambda just freezes). */
  close(): void {
    this.attempts.close();
  }
}

/** The invoker the dispatchers use, built on its first invoke (most fan-outs never shard). */
export function createShardInvoker(): ShardInvoker {
  const invoker = builtOnFirstUse(() => new SignedShardInvoker());
  return { invoke: async (...call) => invoker().invoke(...call) };
}
