import { setTimeout as delay } from "node:timers/promises";
import type { FunctionName } from "../../../functions/contract.js";
import type { Invoker } from "./invoker.js";

/**
 * Lambda's asynchronous invocation, as SNS uses it: the caller does not wait, and a failed
 * invocation is retried twice before the event goes to the on-failure destination. Lambda waits
 * about one and then two minutes between attempts; locally the waits are seconds.
 */
export const ASYNC_RETRY_DELAYS_MS = [1_000, 2_000] as const;

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
    },
  ) {}

  /** Queues an invocation with event and returns at once. */
  send(event: unknown): void {
    const work = this.attempt(event);
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
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

  private async attempt(event: unknown): Promise<void> {
    const delays = this.options.retryDelaysMs ?? ASYNC_RETRY_DELAYS_MS;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.invoker.invoke(this.fn, event, {
        trigger: this.options.trigger,
        timeoutMs: this.options.timeoutMs,
        attempt,
      });
      const wait = delays[attempt - 1];
      if (outcome.ok || wait === undefined || this.stopping.signal.aborted) return;
      try {
        await delay(wait, undefined, { signal: this.stopping.signal });
      } catch {
        return;
      }
    }
  }
}
