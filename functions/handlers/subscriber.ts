import type { Context, SNSEvent, SNSEventRecord } from "aws-lambda";
import { LIMITS } from "../contract.js";
import { readAddressing } from "../lib/addressing.js";
import { readConfig } from "../lib/config.js";
import { fanOutDeadline } from "../lib/delivery.js";
import { createFastPoster } from "../lib/fast-poster.js";
import { createShardInvoker } from "../lib/lambda-invoker.js";
import { logger, startInvocationLog } from "../lib/logger.js";
import { createObjectStore } from "../lib/object-store.js";
import { byteLength } from "../lib/protocol.js";
import { isExpired, Redelivery } from "../lib/redelivery.js";
import { Registry } from "../lib/registry.js";
import { type FanOutResult, fanOut, shardSettings } from "../lib/shards.js";
import { createTopicPublisher } from "../lib/topic-publisher.js";

const config = readConfig("subscriber");
const sharding = shardSettings(config);
const invoker = createShardInvoker();
const registry = new Registry(
  createObjectStore(config.connectionsBucket),
  config.connectionsPrefix,
);
const poster = createFastPoster(config.managementEndpoint);
const redelivery = new Redelivery(createTopicPublisher(), config.topicArn);

/** What one invocation did with its records. */
export interface SubscriberResult {
  readonly records: number;
  readonly delivered: number;
  readonly gone: number;
  /** Final failures (e.g. 403, 413): logged, not retried. */
  readonly failed: number;
  /** Connections still failing with a retryable error, published back to the topic for redelivery. */
  readonly handedOn: number;
  /** Connections handed to fan-out workers, in shards (they account for them). */
  readonly dispatched: number;
  readonly shards: number;
  /** Records larger than a WebSocket message: reported in the log, sent to no one. */
  readonly tooLarge: number;
  /** Records whose address attributes were malformed: reported in the log, sent to no one. */
  readonly misaddressed: number;
}

/** Thrown so Lambda retries the invocation and, after that, hands it to the on-failure destination. */
export class UndeliveredMessageError extends Error {
  override readonly name = "UndeliveredMessageError";
}

type Totals = { -readonly [K in keyof SubscriberResult]: SubscriberResult[K] };

/**
 * Fans every SNS record's Message out, verbatim, to every registered connection — or, when the
 * record carries the `connectionIds` attribute, to exactly those connections.
 *
 * What "nothing is lost" means here. Posts failing with a retryable error are retried within the
 * invocation (delivery's passes); ids still failing are published back to the topic as an
 * addressed copy (Redelivery), so only they are tried again. The handler throws — making Lambda
 * retry the invocation (twice) and then keep the event, with its ids, in the on-failure queue —
 * only when that duplicates nothing, i.e. when the record reached no connection:
 * - the registry could not be listed (S3 unavailable or denied);
 * - every post failed for good (endpoint or permission broken) and nothing was handed on;
 * - an addressed copy is past REDELIVERY.maxAgeMs, or at REDELIVERY.maxAttempts made no progress;
 * - the hand-off itself could not be published and nothing was delivered.
 * A message over LIMITS.messageBytes, or with a malformed address, can never be delivered: an
 * error-level log line with its MessageId, counted; retrying could not change the outcome.
 * SNS invokes with one record per invocation, so a throw never re-sends another record.
 */
export async function handler(event: SNSEvent, context: Context): Promise<SubscriberResult> {
  startInvocationLog(context, {});
  const totals: Totals = {
    records: event.Records.length,
    delivered: 0,
    gone: 0,
    failed: 0,
    handedOn: 0,
    dispatched: 0,
    shards: 0,
    tooLarge: 0,
    misaddressed: 0,
  };
  const kept: string[] = [];

  for (const record of event.Records) {
    const outcome = await handleRecord(record, context, totals);
    if (outcome !== undefined) kept.push(`${record.Sns.MessageId} (${outcome})`);
  }

  if (kept.length > 0) {
    throw new UndeliveredMessageError(
      `SNS message(s) ${kept.join(", ")} reached no connection; Lambda retries the invocation, then sends it to the on-failure destination.`,
    );
  }
  return totals;
}

/** Delivers one record; returns why it must be kept (thrown for), or undefined. */
async function handleRecord(
  record: SNSEventRecord,
  context: Context,
  totals: Totals,
): Promise<string | undefined> {
  const { MessageId: messageId, Message: message, TopicArn: topicArn } = record.Sns;
  const bytes = byteLength(message);
  if (bytes > LIMITS.messageBytes) {
    totals.tooLarge += 1;
    logger.error("SNS message not delivered: too large for a WebSocket message", {
      messageId,
      topicArn,
      bytes,
      limit: LIMITS.messageBytes,
    });
    return undefined;
  }
  const read = readAddressing(record.Sns.MessageAttributes);
  if (!read.ok) {
    totals.misaddressed += 1;
    logger.error("SNS message not delivered to anyone: its address is malformed", {
      messageId,
      problem: read.problem,
    });
    return undefined;
  }
  const { addressing } = read;
  const addressed =
    addressing.recipients.kind === "connections"
      ? { addressedTo: addressing.recipients.connectionIds.length, attempt: addressing.attempt }
      : {};
  if (isExpired(addressing, Date.now())) {
    logger.error("Redelivery given up: the message is older than the redelivery policy allows", {
      messageId,
      ...addressed,
      firstAttemptAt: addressing.firstAttemptAt,
    });
    return "expired";
  }

  let result: FanOutResult;
  try {
    result = await fanOut(message, addressing.recipients, { registry, poster, invoker }, sharding, {
      deadline: fanOutDeadline(context, Date.now()),
      origin: { function: "subscriber", requestId: context.awsRequestId, messageId },
    });
  } catch (error) {
    logger.error("SNS message not delivered: the connection registry could not be read", {
      messageId,
      error,
    });
    return "registry unreadable";
  }
  totals.delivered += result.delivered;
  totals.gone += result.gone;
  totals.failed += result.failed;
  totals.dispatched += result.dispatched;
  totals.shards += result.shards;
  const { undelivered, ...counts } = result;
  logger.info("SNS message delivered", {
    messageId,
    ...addressed,
    ...counts,
    undelivered: undelivered.length,
  });

  const settlement = await redelivery.settle(
    message,
    undelivered,
    {
      attempt: addressing.attempt,
      firstAttemptAt: addressing.firstAttemptAt ?? publishedAt(record),
    },
    // Connections handed to workers are progress too.
    result.delivered + result.dispatched,
  );
  totals.handedOn += settlement.handedOn;
  if (settlement.exhausted) return "redelivery attempts exhausted";
  // Throwing re-sends to every id of the record: safe only if none has it, a handed-on copy or a
  // shard with a worker.
  const reached = result.delivered + result.dispatched;
  if (settlement.notHandedOn.length > 0 && reached === 0 && settlement.handedOn === 0) {
    return "hand-off failed";
  }
  if (undelivered.length > 0) return undefined;
  if (result.failed > 0 && reached === 0) return "every post failed";
  return undefined;
}

function publishedAt(record: SNSEventRecord): number {
  const time = Date.parse(record.Sns.Timestamp);
  return Number.isNaN(time) ? Date.now() : time;
}
