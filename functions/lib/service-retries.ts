import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import type { SdkError } from "@smithy/types";
import {
  type Answer,
  NetworkError,
  type SignedAttempts,
  type SignedRequest,
} from "./signed-attempt.js";
import type { CallTiming } from "./signed-service.js";

/**
 * What the senders that call AWS without an SDK client (topic-publisher.ts, object-store.ts) share
 * about a refusal: reading the error an XML service (SNS, S3) answers with, deciding as the SDK's
 * standard retry mode would whether another attempt may succeed, and attempting again with
 * full-jitter backoff until it does or the attempts run out (retriedCall puts these together).
 */

/** The text of the first `<tag>` in an XML answer, its entities decoded. */
export function xmlText(xml: string, tag: string): string | undefined {
  const text = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
  return text?.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number(entity.slice(1)));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[entity] ?? "";
  });
}

/** A service's refusal: its error code, and a line saying what it was. */
export interface Refusal {
  readonly code: string;
  /** `Code (HTTP status): Message`. */
  readonly text: string;
  /** Whether the SDK's standard retry strategy would try again. */
  readonly retryable: boolean;
}

/**
 * Reads an XML service's error answer. `modeledNames` maps codes whose modeled exception the
 * SDK's retry classification knows by another name (SNS sends `Throttled` and the SDK throws and
 * retries ThrottledException); any other code is classified as the name it is.
 */
export function refusalOf(
  answer: Answer,
  modeledNames: Readonly<Record<string, string>> = {},
): Refusal {
  const code = xmlText(answer.body, "Code") ?? "Unknown";
  const error: SdkError = Object.assign(new Error(code), {
    name: modeledNames[code] ?? code,
    $metadata: { httpStatusCode: answer.status },
    cause: undefined,
  });
  return {
    code,
    text: `${code} (HTTP ${answer.status}): ${xmlText(answer.body, "Message") ?? answer.body.slice(0, 200)}`,
    retryable: isThrottlingError(error) || isTransientError(error) || isServerError(error),
  };
}

/** One attempt's outcome: the result, or why another attempt is worth making. */
export type Attempted<T> = { readonly done: T } | { readonly retry: string };

export interface RetryPolicy {
  readonly maxAttempts: number;
  /** The backoff before attempt n+1 is random in [0, baseDelayMs × 2^n). */
  readonly baseDelayMs: number;
  /** The error message once every attempt asked for another, given the count and the last reason. */
  readonly gaveUp: (attempts: number, lastFailure: string) => string;
}

/** Runs `attempt` until it is done, throws, or has asked for a retry `maxAttempts` times. */
export async function withRetries<T>(
  attempt: () => Promise<Attempted<T>>,
  policy: RetryPolicy,
): Promise<T> {
  for (let n = 1; ; n += 1) {
    const outcome = await attempt();
    if ("done" in outcome) return outcome.done;
    if (n >= policy.maxAttempts) throw new Error(policy.gaveUp(n, outcome.retry));
    await new Promise((resolve) =>
      setTimeout(resolve, Math.random() * policy.baseDelayMs * 2 ** n),
    );
  }
}

/** One call of an XML service through a pool of signed attempts. */
export interface XmlServiceCall<T> {
  /** Signs the request at `date`: each attempt is signed again, since the date moves. */
  readonly sign: (date: Date) => Promise<SignedRequest>;
  readonly body: string | Buffer | undefined;
  /** Whether an answer's status is the call's success. */
  readonly succeeded: (status: number) => boolean;
  /** The result, from a successful answer. */
  readonly read: (answer: Answer) => T;
  /** The error message for a refusal no retry can fix, given the refusal's text. */
  readonly refused: (refusal: string) => string;
  /** RetryPolicy's gaveUp. */
  readonly gaveUp: (attempts: number, lastFailure: string) => string;
  /** refusalOf's modeledNames. */
  readonly modeledNames?: Readonly<Record<string, string>>;
}

/**
 * Makes `call` through `attempts` as the SDK's standard mode would: network errors (an attempt
 * not written, or not answered) and retryable refusals are attempted again, up to `maxAttempts`
 * in all; any other refusal fails at once, naming the service's error.
 */
export function retriedCall<T>(
  attempts: SignedAttempts,
  timing: CallTiming,
  call: XmlServiceCall<T>,
): Promise<T> {
  return withRetries<T>(
    async () => {
      try {
        const answer = await attempts.attempt(
          await call.sign(new Date(timing.now())),
          call.body,
          timing.sendTimeoutMs,
          timing.answerTimeoutMs,
        );
        if (call.succeeded(answer.status)) return { done: call.read(answer) };
        const refusal = refusalOf(answer, call.modeledNames);
        if (!refusal.retryable) throw new Error(call.refused(refusal.text));
        return { retry: refusal.text };
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        return { retry: error.message };
      }
    },
    { maxAttempts: timing.maxAttempts, baseDelayMs: timing.baseDelayMs, gaveUp: call.gaveUp },
  );
}
