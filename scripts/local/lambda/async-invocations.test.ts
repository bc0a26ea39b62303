import { describe, expect, it } from "vitest";
import { AsyncInvocations } from "./async-invocations.js";
import type { InvocationOutcome, InvokeOptions } from "./invoker.js";

/** An invoker whose invocations fail `failures` times, then succeed; it records every attempt. */
function flakyInvoker(failures: number) {
  const attempts: (number | undefined)[] = [];
  let attempted: () => void = () => {};
  const firstAttempt = new Promise<void>((resolve) => {
    attempted = resolve;
  });
  return {
    attempts,
    firstAttempt,
    invoke: async (
      _fn: string,
      _event: unknown,
      options: InvokeOptions,
    ): Promise<InvocationOutcome> => {
      attempts.push(options.attempt);
      attempted();
      return attempts.length <= failures
        ? { ok: false, error: "Error: down", timedOut: false }
        : { ok: true, result: undefined };
    },
  };
}

describe("asynchronous invocations", () => {
  it("retries a failed invocation until it succeeds, at most twice", async () => {
    const invoker = flakyInvoker(2);
    const invocations = new AsyncInvocations(invoker, "subscriber", {
      trigger: "sns",
      timeoutMs: 1000,
      retryDelaysMs: [5, 5],
    });
    invocations.send({});
    await invocations.settled();
    expect(invoker.attempts).toEqual([1, 2, 3]);
  });

  it("stops retrying once an attempt succeeds", async () => {
    const invoker = flakyInvoker(1);
    const invocations = new AsyncInvocations(invoker, "subscriber", {
      trigger: "sns",
      timeoutMs: 1000,
      retryDelaysMs: [5, 5],
    });
    invocations.send({});
    await invocations.settled();
    expect(invoker.attempts).toEqual([1, 2]);
  });

  it("gives up after Lambda's two retries", async () => {
    const invoker = flakyInvoker(10);
    const invocations = new AsyncInvocations(invoker, "subscriber", {
      trigger: "sns",
      timeoutMs: 1000,
      retryDelaysMs: [5, 5],
    });
    invocations.send({});
    await invocations.settled();
    expect(invoker.attempts).toEqual([1, 2, 3]);
  });

  it("does not invoke again after drain, even with a retry pending", async () => {
    const invoker = flakyInvoker(10);
    const invocations = new AsyncInvocations(invoker, "subscriber", {
      trigger: "sns",
      timeoutMs: 1000,
      retryDelaysMs: [60_000],
    });
    invocations.send({});
    await invoker.firstAttempt;
    // Waiting out the minute-long retry would exceed the test timeout.
    await invocations.drain();
    expect(invoker.attempts).toEqual([1]);
  });
});
