import { LIMITS } from "../contract.js";
import type { Recipients } from "./addressing.js";
import { logger } from "./logger.js";
import type { Poster, PostOutcome } from "./poster.js";
import type { Registry } from "./registry.js";

/**
 * How a fan-out went: every recipient is counted exactly once, in one of four outcomes.
 * - delivered: the gateway accepted the frame;
 * - gone: the connection no longer exists (removed from the registry);
 * - failed: a final failure no retry can fix (e.g. 413 too large, 403 forbidden);
 * - undelivered: still failing with a retryable error after every pass, or never tried because
 *   the deadline came first — the caller hands these ids on for redelivery.
 */
export interface DeliveryResult {
  readonly delivered: number;
  readonly gone: number;
  readonly failed: number;
  readonly undelivered: readonly string[];
}

export interface DeliveryOptions {
  /**
   * Epoch ms after which no post or retry pass starts (the caller's safety margin already taken
   * off). Posts not started by then are reported undelivered.
   */
  readonly deadline: number;
  /** Retry passes and their backoff; defaults from LIMITS. */
  readonly retry?: { readonly passes: number; readonly baseMs: number; readonly capMs: number };
  /** Injected for tests. */
  readonly now?: () => number;
  readonly random?: () => number;
}

/**
 * When a fan-out must stop starting work: the Lambda's remaining time, or for an API Gateway
 * integration the end of its 29 s window if sooner, less a safety margin for handing the rest on
 * (LIMITS.deliverySafetyMarginMs, or a quarter of the budget when the budget is short).
 */
export function fanOutDeadline(
  context: { getRemainingTimeInMillis(): number },
  now: number,
  integrationStartedAt?: number,
): number {
  let end = now + context.getRemainingTimeInMillis();
  if (integrationStartedAt !== undefined) {
    end = Math.min(end, integrationStartedAt + LIMITS.integrationTimeoutMs);
  }
  const budget = Math.max(0, end - now);
  return end - Math.min(LIMITS.deliverySafetyMarginMs, budget / 4);
}

/** Failed connections named in the log, so one bad run does not flood it. */
const LOGGED_FAILURES = 10;

/**
 * Throttling (429), server errors (5xx) and posts that got no answer may succeed later; the
 * SDK's own retries have already been spent on them. Anything else (Gone aside) is final.
 */
export function isRetryable(outcome: PostOutcome): boolean {
  if (outcome.status !== "failed") return false;
  const status = outcome.statusCode;
  return status === undefined || status === 429 || status >= 500;
}

/** Full jitter: uniformly random up to the exponential bound of pass `pass` (1-based). */
export function backoffMs(
  pass: number,
  retry: { readonly baseMs: number; readonly capMs: number },
  random: () => number,
): number {
  return Math.floor(random() * Math.min(retry.capMs, retry.baseMs * 2 ** (pass - 1)));
}

/**
 * Sends `frame` to its recipients: every registered connection (registry pages posted to with at
 * most LIMITS.deliveryConcurrency calls in flight while the next page loads), or exactly the
 * addressed ids (the registry is not consulted: @connections is the authority on who is
 * connected, and an id it answers Gone for — including one never registered — is treated as
 * Gone). Gone connections are removed from the registry in batches, never the sender's.
 *
 * Posts that fail with a retryable error are retried, for those connections only, in later
 * passes after a jittered backoff, while the deadline allows. A connection is posted to again
 * only after a failed post, so none that got the frame gets it twice — except where a post's
 * answer was lost after the gateway took it (a network error), which no sender can tell apart.
 *
 * Rejects only when the registry cannot be listed (after finishing the posts already started).
 */
export async function deliver(
  frame: string,
  recipients: Recipients,
  dependencies: { readonly registry: Registry; readonly poster: Poster },
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const { registry, poster } = dependencies;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const retry = options.retry ?? {
    passes: LIMITS.deliveryRetryPasses,
    baseMs: LIMITS.deliveryRetryBaseMs,
    capMs: LIMITS.deliveryRetryCapMs,
  };
  let delivered = 0;
  let failed = 0;
  let goneCount = 0;
  let stale: string[] = [];
  let retryable: string[] = [];
  const notTried: string[] = [];
  const failures: { connectionId: string; error: string }[] = [];

  const postOne = async (connectionId: string): Promise<void> => {
    if (now() >= options.deadline) {
      notTried.push(connectionId);
      return;
    }
    const outcome = await poster.post(connectionId, frame);
    if (outcome.status === "delivered") delivered += 1;
    else if (outcome.status === "gone") {
      goneCount += 1;
      stale.push(connectionId);
    } else {
      if (isRetryable(outcome)) retryable.push(connectionId);
      else failed += 1;
      if (failures.length < LOGGED_FAILURES) failures.push({ connectionId, error: outcome.error });
    }
  };

  const posts = new Pullers(LIMITS.deliveryConcurrency, postOne);

  const removeStale = async (): Promise<void> => {
    if (stale.length === 0) return;
    const batch = stale;
    stale = [];
    try {
      const kept = await registry.removeMany(batch);
      if (kept.length > 0) {
        logger.warn("Some stale connections could not be removed from the registry", {
          count: kept.length,
          sample: kept.slice(0, LOGGED_FAILURES),
        });
      }
    } catch (error) {
      // The next fan-out finds them gone again and retries the removal.
      logger.warn("Stale connections could not be removed from the registry", {
        count: batch.length,
        error,
      });
    }
  };

  const pages: AsyncIterable<readonly string[]> =
    recipients.kind === "everyone" ? registry.pages() : chunks(recipients.connectionIds);

  // Two pages at most are in flight: page N is queued on the shared limiter before page N-1 has
  // drained, so concurrency stays full across page boundaries and memory stays bounded.
  let previous: Promise<unknown> = Promise.resolve();
  try {
    for await (const page of pages) {
      const current = posts.run(page);
      await previous;
      await removeStale();
      previous = current;
    }
  } finally {
    // Even when a later page cannot be listed, finish the posts already started before returning:
    // a frozen Lambda would otherwise resume them in the next invocation.
    await previous;
    await removeStale();
  }

  for (let pass = 1; pass <= retry.passes && retryable.length > 0; pass += 1) {
    const wait = backoffMs(pass, retry, random);
    if (now() + wait >= options.deadline) break;
    await new Promise((resolve) => setTimeout(resolve, wait));
    const again = retryable;
    retryable = [];
    await posts.run(again);
    await removeStale();
  }

  const undelivered = [...retryable, ...notTried];
  if (failures.length > 0 || undelivered.length > 0) {
    logger.warn("Some connections could not be reached", {
      failed,
      undelivered: undelivered.length,
      notTried: notTried.length,
      // Failed posts, retried or not: the first few, with their errors.
      sample: failures,
    });
  }
  return { delivered, gone: goneCount, failed, undelivered };
}

interface Batch {
  readonly ids: readonly string[];
  /** Ids handed to a puller so far. */
  taken: number;
  /** Ids whose work has not finished yet. */
  left: number;
  failed: boolean;
  readonly done: () => void;
  readonly fail: (error: unknown) => void;
}

/**
 * At most `concurrency` posts in flight over batches of ids, in order: a fixed set of pullers,
 * each taking the next id of the oldest batch with ids left, instead of a queued task, promise and
 * closure per id. run() resolves when every id of its batch has finished; it rejects with the
 * batch's first error once the batch's other ids have finished (unlike Promise.all, nothing is
 * left running behind a rejection). A batch queued while another runs is started as soon as a
 * puller is free, so concurrency stays full across batches.
 */
export class Pullers {
  private readonly queue: Batch[] = [];
  private active = 0;

  constructor(
    private readonly concurrency: number,
    private readonly work: (id: string) => Promise<void>,
  ) {}

  run(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let error: unknown;
      const batch: Batch = {
        ids,
        taken: 0,
        left: ids.length,
        failed: false,
        done: () => (batch.failed ? reject(error) : resolve()),
        fail: (cause) => {
          if (!batch.failed) error = cause;
          batch.failed = true;
        },
      };
      this.queue.push(batch);
      while (this.active < this.concurrency && this.active < this.pending()) {
        this.active += 1;
        void this.pull();
      }
    });
  }

  /** Ids queued and not yet taken. */
  private pending(): number {
    let count = 0;
    for (const batch of this.queue) count += batch.ids.length - batch.taken;
    return count;
  }

  private async pull(): Promise<void> {
    for (;;) {
      const batch = this.queue[0];
      if (batch === undefined) break;
      const id = batch.ids[batch.taken] as string;
      batch.taken += 1;
      if (batch.taken === batch.ids.length) this.queue.shift();
      try {
        await this.work(id);
      } catch (error) {
        batch.fail(error);
      }
      batch.left -= 1;
      if (batch.left === 0) batch.done();
    }
    this.active -= 1;
  }
}

async function* chunks(ids: readonly string[]): AsyncGenerator<readonly string[]> {
  for (let start = 0; start < ids.length; start += LIMITS.s3PageSize) {
    yield ids.slice(start, start + LIMITS.s3PageSize);
  }
}
