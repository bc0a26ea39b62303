import { S3Client } from "@aws-sdk/client-s3";
import type { Context, SNSEvent } from "aws-lambda";
import { LIMITS } from "../contract.js";
import { readConfig } from "../lib/config.js";
import { type DeliveryResult, deliver } from "../lib/delivery.js";
import { createFastPoster } from "../lib/fast-poster.js";
import { logger, startInvocationLog } from "../lib/logger.js";
import { byteLength } from "../lib/protocol.js";
import { Registry } from "../lib/registry.js";

const config = readConfig("subscriber", [
  "connectionsBucket",
  "connectionsPrefix",
  "managementEndpoint",
]);
const registry = new Registry(new S3Client({}), config.connectionsBucket, config.connectionsPrefix);
const poster = createFastPoster(config.managementEndpoint);

/** What one invocation did with its records. */
export interface SubscriberResult extends DeliveryResult {
  readonly records: number;
  /** Records larger than a WebSocket message: reported in the log, sent to no one. */
  readonly tooLarge: number;
}

/** Thrown so Lambda retries the invocation and, after that, hands it to the on-failure destination. */
export class UndeliveredMessageError extends Error {
  override readonly name = "UndeliveredMessageError";
}

/**
 * Fans every SNS record's Message out to every connection, verbatim.
 *
 * What "nothing is lost" means here. SNS invokes this function asynchronously: a thrown error makes
 * Lambda retry the whole invocation (twice) and then pass it to the on-failure destination / DLQ,
 * where the message is kept. Retrying re-sends to every connection already reached, so the handler
 * throws only when retrying can help and the message reached no one for a systemic reason:
 * - the registry could not be listed (S3 unavailable or denied): throw;
 * - every post failed with a non-Gone error (endpoint or permission broken): throw;
 * - some posts failed after the SDK's retries while others succeeded: logged and counted, not
 *   thrown — those connections are individually unreachable, and a retry would duplicate the
 *   message for everyone else;
 * - a message over LIMITS.messageBytes can never be posted: an error-level log line with its
 *   MessageId and size, counted in `tooLarge`; retrying could not change the outcome.
 * SNS invokes with one record per invocation, so a throw never re-sends another record.
 */
export async function handler(event: SNSEvent, context: Context): Promise<SubscriberResult> {
  startInvocationLog(context, {});
  const totals = { delivered: 0, gone: 0, failed: 0, tooLarge: 0 };
  const undelivered: string[] = [];

  for (const record of event.Records) {
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
      continue;
    }
    let result: DeliveryResult;
    try {
      result = await deliver(message, { registry, poster });
    } catch (error) {
      logger.error("SNS message not delivered: the connection registry could not be read", {
        messageId,
        error,
      });
      undelivered.push(messageId);
      continue;
    }
    totals.delivered += result.delivered;
    totals.gone += result.gone;
    totals.failed += result.failed;
    logger.info("SNS message delivered", { messageId, ...result });
    if (result.failed > 0 && result.delivered === 0) undelivered.push(messageId);
  }

  const summary: SubscriberResult = { records: event.Records.length, ...totals };
  if (undelivered.length > 0) {
    throw new UndeliveredMessageError(
      `SNS message(s) ${undelivered.join(", ")} reached no connection; Lambda retries the invocation, then sends it to the on-failure destination.`,
    );
  }
  return summary;
}
