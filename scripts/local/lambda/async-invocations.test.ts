import { describe, expect, it } from "vitest";
import { type AsyncFailureRecord, AsyncInvocations } from "./async-invocations.js";
import type { InvocationOutcome, InvokeOptions } from "./invoker.js";

/** An invoker whose invocations fail `failures` times, then succeed; it records every attempt. */
function flakyInvoker(failures: number) {
  const attempts: (number | undefined)[] = [];
  const requestIds: (string | undefined)[] = [];
  let attempted: () => void = () => {};
  const firstAttempt = new Promise<void>((resolve) => {
    attempted = resolve;
  });
  return {
    attempts,
    requestIds,
    firstAttempt,
    invoke: async (
      _fn: string,
      _event: unknown,
      options: InvokeOptions,
    ): Promise<InvocationOutcome> => {
      attempts.push(options.attempt);
      requestIds.push(options.requestId);
      attempted();
      return attempts.length <= failures
        ? {
            ok: false,
            error: "Error: down",
            timedOut: false,
            functionError: { errorType: "Error", errorMessage: "down", trace: [] },
          }
        : { ok: true, result: undefined };
    },
  };
}

type Options = ConstructorParameters<typeof AsyncInvocations>[2];

/** The subscriber's invocations by SNS, retried 5 ms apart unless `options` say otherwise. */
function snsInvocations(invoker: ReturnType<typeof flakyInvoker>, options: Partial<Options> = {}) {
  return new AsyncInvocations(invoker, "subscriber", {
    trigger: "sns",
    timeoutMs: 1000,
    retryDelaysMs: [5, 5],
    ...options,
  });
}

describe("asynchronous invocations", () => {
  it("retries a failed invocation until it succeeds, at most twice", async () => {
    const invoker = flakyInvoker(2);
    const invocations = snsInvocations(invoker);
    invocations.send({});
    await invocations.settled();
    expect(invoker.attempts).toEqual([1, 2, 3]);
  });

  it("stops retrying once an attempt succeeds", async () => {
    const invoker = flakyInvoker(1);
    const invocations = snsInvocations(invoker);
    invocations.send({});
    await invocations.settled();
    expect(invoker.attempts).toEqual([1, 2]);
  });

  it("gives up after Lambda's two retries and hands the event to the failure destination", async () => {
    const invoker = flakyInvoker(10);
    const failures: AsyncFailureRecord[] = [];
    const invocations = snsInvocations(invoker, {
      functionArn: "arn:aws:lambda:us-east-1:000000000000:function:x",
      onFailure: (record) => failures.push(record),
    });
    const requestId = invocations.send({ page: 1 });
    await invocations.settled();
    expect(invoker.attempts).toEqual([1, 2, 3]);
    expect(invoker.requestIds).toEqual([requestId, requestId, requestId]);
    expect(failures).toEqual([
      expect.objectContaining({
        version: "1.0",
        requestContext: {
          requestId,
          functionArn: "arn:aws:lambda:us-east-1:000000000000:function:x:$LATEST",
          condition: "RetriesExhausted",
          approximateInvokeCount: 3,
        },
        requestPayload: { page: 1 },
        responseContext: {
          statusCode: 200,
          executedVersion: "$LATEST",
          functionError: "Unhandled",
        },
        responsePayload: { errorType: "Error", errorMessage: "down", trace: [] },
      }),
    ]);
  });

  it("sends nothing to the failure destination when a retry succeeds", async () => {
    const invoker = flakyInvoker(2);
    const failures: AsyncFailureRecord[] = [];
    const invocations = snsInvocations(invoker, {
      onFailure: (record) => failures.push(record),
    });
    invocations.send({});
    await invocations.settled();
    // Positive control: it did fail twice before succeeding.
    expect(invoker.attempts).toEqual([1, 2, 3]);
    expect(failures).toEqual([]);
  });

  it("does not invoke again after drain, even with a retry pending", async () => {
    const invoker = flakyInvoker(10);
    const invocations = snsInvocations(invoker, { retryDelaysMs: [60_000] });
    invocations.send({});
    await invoker.firstAttempt;
    // Waiting out the minute-long retry would exceed the test timeout.
    await invocations.drain();
    expect(invoker.attempts).toEqual([1]);
  });
});
