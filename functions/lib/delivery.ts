import pLimit from "p-limit";
import { LIMITS } from "../contract.js";
import { logger } from "./logger.js";
import type { Poster } from "./poster.js";
import type { Registry } from "./registry.js";

/** How a fan-out went: every registered connection is counted exactly once. */
export interface DeliveryResult {
  readonly delivered: number;
  readonly gone: number;
  readonly failed: number;
}

/** Failed connections named in the log, so one bad run does not flood it. */
const LOGGED_FAILURES = 10;

/**
 * Sends `frame` to every registered connection: registry pages are posted to with at most
 * LIMITS.deliveryConcurrency calls in flight while the next page loads; connections the gateway
 * reports gone are removed from the registry (those ids, never the sender's), in batches.
 *
 * Rejects only when the registry cannot be listed; failed posts and failed cleanup are counted
 * and logged.
 */
export async function deliver(
  frame: string,
  dependencies: { readonly registry: Registry; readonly poster: Poster },
): Promise<DeliveryResult> {
  const { registry, poster } = dependencies;
  const limit = pLimit(LIMITS.deliveryConcurrency);
  let delivered = 0;
  let failed = 0;
  let goneCount = 0;
  let stale: string[] = [];
  const failures: { connectionId: string; error: string }[] = [];

  const postOne = async (connectionId: string): Promise<void> => {
    const outcome = await poster.post(connectionId, frame);
    if (outcome.status === "delivered") delivered += 1;
    else if (outcome.status === "gone") {
      goneCount += 1;
      stale.push(connectionId);
    } else {
      failed += 1;
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

  // Two pages at most are in flight: page N is queued on the shared limiter before page N-1 has
  // drained, so concurrency stays full across page boundaries and memory stays bounded.
  let previous: Promise<unknown> = Promise.resolve();
  try {
    for await (const page of registry.pages()) {
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

  if (failures.length > 0) {
    logger.warn("Some connections could not be reached", { failed, sample: failures });
  }
  return { delivered, gone: goneCount, failed };
}
