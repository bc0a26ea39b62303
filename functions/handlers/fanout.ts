import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { FANOUT_METRICS } from "../contract.js";
import { readConfig } from "../lib/config.js";
import { fanOutDeadline } from "../lib/delivery.js";
import { createFastPoster } from "../lib/fast-poster.js";
import { logger, startInvocationLog } from "../lib/logger.js";
import { createObjectStore } from "../lib/object-store.js";
import { Redelivery } from "../lib/redelivery.js";
import { Registry } from "../lib/registry.js";
import { mustFail, runShard } from "../lib/shard-worker.js";
import { readShardEvent } from "../lib/shards.js";
import { createTopicPublisher } from "../lib/topic-publisher.js";

const config = readConfig("fanout");
const registry = new Registry(
  createObjectStore(config.connectionsBucket),
  config.connectionsPrefix,
);
const poster = createFastPoster(config.managementEndpoint);
const redelivery = new Redelivery(createTopicPublisher(), config.topicArn);
// The service dimension is POWERTOOLS_SERVICE_NAME: the worker's function name on the stage.
const metrics = new Metrics({ namespace: FANOUT_METRICS.namespace });

/**
 * What one shard did. Every id of the shard is counted once among delivered, gone, failed
 * (final errors) and the ids still failing with a retryable error after the worker's retry
 * passes, which are either handed on for redelivery or, when even that Publish fails, lost.
 */
export interface ShardResult {
  readonly shard: number;
  readonly shards: number;
  readonly connections: number;
  readonly delivered: number;
  readonly gone: number;
  readonly failed: number;
  readonly handedOn: number;
  readonly undelivered: number;
}

/** Thrown so Lambda retries the shard and then keeps it in the fan-out failure queue. */
export class ShardNotDeliveredError extends Error {
  override readonly name = "ShardNotDeliveredError";
}

/**
 * The fan-out worker: one shard of a large fan-out per (asynchronous) invocation. One accounting
 * line per shard ("Fan-out shard done", or at error level "… left connections undelivered") and
 * the same counts as EMF metrics (FANOUT_METRICS), which CloudWatch turns into metrics with no
 * API call.
 *
 * Connections still failing after the retry passes are handed on to the stage's topic as an
 * addressed redelivery (the subscriber's REDELIVERY policy), so nobody who already got the
 * message gets it again. It throws only when the shard reached no connection and handed none on:
 * then Lambda's retries cannot send anyone the message twice, and after them the event — message
 * and ids — waits in the failure queue. A malformed event throws too: it lands there for a person
 * to read.
 */
export async function handler(event: unknown, context: Context): Promise<ShardResult> {
  startInvocationLog(context, {});
  const read = readShardEvent(event);
  if (!read.ok) {
    logger.error("Fan-out shard rejected: the event is not a shard", { problem: read.problem });
    throw new ShardNotDeliveredError(`The event is not a fan-out shard: ${read.problem}.`);
  }
  const shard = read.event;
  const started = Date.now();
  const result = await runShard(shard, { registry, poster }, fanOutDeadline(context, started));
  // A shard is always a first attempt: addressed messages (redeliveries) are never sharded.
  const settlement = await redelivery.settle(
    shard.message,
    result.undelivered,
    { attempt: 1, firstAttemptAt: started },
    result.delivered,
  );

  const counts: ShardResult = {
    shard: shard.shard.index,
    shards: shard.shard.count,
    connections: shard.connectionIds.length,
    delivered: result.delivered,
    gone: result.gone,
    failed: result.failed,
    handedOn: settlement.handedOn,
    undelivered: settlement.notHandedOn.length,
  };
  const accounting = {
    ...counts,
    origin: shard.origin,
    postsPerSecond: shard.postsPerSecond,
    durationMs: Date.now() - started,
  };
  metrics.addMetric(FANOUT_METRICS.delivered, MetricUnit.Count, result.delivered);
  metrics.addMetric(FANOUT_METRICS.gone, MetricUnit.Count, result.gone);
  metrics.addMetric(FANOUT_METRICS.failed, MetricUnit.Count, result.failed);
  metrics.addMetric(FANOUT_METRICS.handedOn, MetricUnit.Count, settlement.handedOn);
  metrics.addMetric(FANOUT_METRICS.undelivered, MetricUnit.Count, settlement.notHandedOn.length);
  metrics.publishStoredMetrics();

  if (settlement.notHandedOn.length > 0) {
    logger.error("Fan-out shard left connections undelivered", {
      ...accounting,
      // The only record of who missed the message: every id, not a sample.
      undeliveredIds: settlement.notHandedOn,
    });
  } else {
    logger.info("Fan-out shard done", accounting);
  }
  if (mustFail(result, settlement)) {
    throw new ShardNotDeliveredError(
      `Fan-out shard ${shard.shard.index + 1} of ${shard.shard.count} reached none of its ${shard.connectionIds.length} connections (${result.failed} failed, ${settlement.notHandedOn.length} neither delivered nor handed on); Lambda retries it, then keeps it in the fan-out failure queue.`,
    );
  }
  return counts;
}
