import pLimit from "p-limit";
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
  const limit = pLimit(LIMITS.deliveryConcurrency);
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
      const current = Promise.all(page.map((id) => limit(() => postOne(id))));
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
    await Promise.all(again.map((id) => limit(() => postOne(id))));
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

async function* chunks(ids: readonly string[]): AsyncGenerator<readonly string[]> {
  for (let start = 0; start < ids.length; start += LIMITS.s3PageSize) {
    yield ids.slice(start, start + LIMITS.s3PageSize);
  }
}
