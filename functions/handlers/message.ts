import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { ROUTE_KEYS } from "../contract.js";
import { readConfig } from "../lib/config.js";
import { fanOutDeadline } from "../lib/delivery.js";
import type { MessageEvent } from "../lib/events.js";
import { createFastPoster } from "../lib/fast-poster.js";
import { createShardInvoker } from "../lib/lambda-invoker.js";
import { logger, startInvocationLog } from "../lib/logger.js";
import { createObjectStore } from "../lib/object-store.js";
import {
  ERROR_CODES,
  echoFrame,
  errorFrame,
  type ProtocolError,
  parseFrame,
} from "../lib/protocol.js";
import { Redelivery } from "../lib/redelivery.js";
import { Registry } from "../lib/registry.js";
import { type FanOutResult, fanOut, shardSettings } from "../lib/shards.js";
import { createTopicPublisher } from "../lib/topic-publisher.js";

const config = readConfig("message");
const sharding = shardSettings(config);
const invoker = createShardInvoker();
const registry = new Registry(
  createObjectStore(config.connectionsBucket),
  config.connectionsPrefix,
);
const poster = createFastPoster(config.managementEndpoint);
const redelivery = new Redelivery(createTopicPublisher(), config.topicArn);

const OK: APIGatewayProxyStructuredResultV2 = { statusCode: 200 };

/** Tells the sender alone what was wrong; the connection stays open. */
async function reply(connectionId: string, error: ProtocolError): Promise<void> {
  const outcome = await poster.post(connectionId, errorFrame(error));
  if (outcome.status !== "delivered") {
    logger.warn("The error frame could not be sent to the sender", { outcome });
  }
}

/**
 * broadcast, sendmessage, echo and $default: every frame is parsed here, whatever route API
 * Gateway picked, so all bad input gets the same precise error. Nothing throws out of this
 * handler: a throw would make API Gateway answer the client with a bare "Internal server error".
 *
 * A fan-out stops starting posts before the 29 s integration timeout (fanOutDeadline); the
 * connections it could not reach by then, or that still fail with a retryable error, are handed
 * on to the stage's topic as an addressed message, which the subscriber delivers.
 */
export async function handler(
  event: MessageEvent,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  const { connectionId, requestId, routeKey, requestTimeEpoch } = event.requestContext;
  const started = Date.now();
  startInvocationLog(context, { connectionId, requestId });
  try {
    const parsed = parseFrame(event.body, event.isBase64Encoded);
    if (!parsed.ok) {
      logger.info("Frame rejected", { routeKey, code: parsed.error.code });
      await reply(connectionId, parsed.error);
      return OK;
    }
    const { command } = parsed;
    if (command.action === ROUTE_KEYS.echo) {
      const outcome = await poster.post(connectionId, echoFrame(command.message, connectionId));
      logger.info("Frame echoed", { action: command.action, outcome: outcome.status });
      return OK;
    }
    await broadcast(connectionId, command.action, command.frame, {
      deadline: fanOutDeadline(context, started, requestTimeEpoch),
      started,
      requestId: context.awsRequestId,
    });
  } catch (error) {
    logger.error("Unexpected failure while handling a frame", { routeKey, error });
    await reply(connectionId, {
      code: ERROR_CODES.internal,
      message:
        "The server failed while handling this frame; it may not have reached everyone. Try again shortly.",
    }).catch(() => undefined);
  }
  return OK;
}

async function broadcast(
  sender: string,
  action: string,
  frame: string,
  timing: { readonly deadline: number; readonly started: number; readonly requestId: string },
): Promise<void> {
  let result: FanOutResult;
  try {
    result = await fanOut(frame, { kind: "everyone" }, { registry, poster, invoker }, sharding, {
      deadline: timing.deadline,
      origin: { function: "message", requestId: timing.requestId },
    });
  } catch (error) {
    logger.error("The connection registry could not be read", { action, error });
    await reply(sender, {
      code: ERROR_CODES.deliveryFailed,
      message:
        "The message was not delivered to everyone: the server could not read its list of connections. Try again shortly.",
    });
    return;
  }
  const { undelivered, ...counts } = result;
  logger.info("Frame delivered", { action, ...counts, undelivered: undelivered.length });

  const settlement = await redelivery.settle(
    frame,
    undelivered,
    { attempt: 1, firstAttemptAt: timing.started },
    // Connections handed to workers are progress too.
    result.delivered + result.dispatched,
  );
  if (settlement.notHandedOn.length > 0) {
    await reply(sender, {
      code: ERROR_CODES.deliveryFailed,
      message: `The message did not reach ${settlement.notHandedOn.length} connection(s), and could not be queued for them. Try again shortly.`,
    });
  }
}
