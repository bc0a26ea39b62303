import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { FunctionName } from "../../../functions/contract.js";
import type { FunctionError } from "./environment-protocol.js";
import type { InvocationOutcome, Invoker } from "./invoker.js";

/**
 * Lambda's asynchronous invocation, as SNS and the Invoke API's `Event` type use it: the caller
 * does not wait, and a failed invocation is retried twice (same request id) before the event goes
 * to the on-failure destination. Lambda waits about one and then two minutes between attempts;
 * locally the waits are seconds.
 */
export const ASYNC_RETRY_DELAYS_MS = [1_000, 2_000] as const;

/** What Lambda sends an on-failure destination once an event's retries are exhausted. */
export interface AsyncFailureRecord {
  readonly version: "1.0";
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: "RetriesExhausted";
    readonly approximateInvokeCount: number;
  };
  readonly requestPayload: unknown;
  readonly responseContext: {
    readonly statusCode: 200;
    readonly executedVersion: "$LATEST";
    readonly functionError: "Unhandled";
  };
  readonly responsePayload: FunctionError;
}

export class AsyncInvocations {
  private readonly running = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly invoker: Pick<Invoker, "invoke">,
    private readonly fn: FunctionName,
    private readonly options: {
      trigger: string;
      timeoutMs: number;
      retryDelaysMs?: readonly number[];
      /** The function's ARN, as the failure record names it. */
      functionArn?: string;
      /** The on-failure destination: receives every event whose retries are exhausted. */
      onFailure?: (record: AsyncFailureRecord) => void;
    },
  ) {}

  /** Queues an invocation with event and returns at once, with its request id. */
  send(event: unknown): string {
    const requestId = randomUUID();
    const work = this.attempt(event, requestId);
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
    return requestId;
  }

  /** Waits until every queued invocation has ended, its retries included. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Cancels pending retries and waits for invocations already running. */
  async drain(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.running]);
  }

  private async attempt(event: unknown, requestId: string): Promise<void> {
    const delays = this.options.retryDelaysMs ?? ASYNC_RETRY_DELAYS_MS;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.invoker.invoke(this.fn, event, {
        trigger: this.options.trigger,
        timeoutMs: this.options.timeoutMs,
        attempt,
        requestId,
      });
      if (outcome.ok || this.stopping.signal.aborted) return;
      const wait = delays[attempt - 1];
      if (wait === undefined) {
        this.options.onFailure?.(this.failureRecord(event, requestId, attempt, outcome));
        return;
      }
      try {
        await delay(wait, undefined, { signal: this.stopping.signal });
      } catch {
        return;
      }
    }
  }

  private failureRecord(
    event: unknown,
    requestId: string,
    attempts: number,
    outcome: Extract<InvocationOutcome, { ok: false }>,
  ): AsyncFailureRecord {
    return {
      version: "1.0",
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId,
        functionArn: `${this.options.functionArn ?? this.fn}:$LATEST`,
        condition: "RetriesExhausted",
        approximateInvokeCount: attempts,
      },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: outcome.functionError ?? {
        errorType: "Error",
        errorMessage: outcome.error,
        trace: [],
      },
    };
  }
}
