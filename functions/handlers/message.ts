import { S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { readConfig } from "../lib/config.js";
import { deliver } from "../lib/delivery.js";
import type { MessageEvent } from "../lib/events.js";
import { createFastPoster } from "../lib/fast-poster.js";
import { logger, startInvocationLog } from "../lib/logger.js";
import { ERROR_CODES, errorFrame, type ProtocolError, parseFrame } from "../lib/protocol.js";
import { Registry } from "../lib/registry.js";

const config = readConfig("message", [
  "connectionsBucket",
  "connectionsPrefix",
  "managementEndpoint",
]);
const registry = new Registry(new S3Client({}), config.connectionsBucket, config.connectionsPrefix);
const poster = createFastPoster(config.managementEndpoint);

const OK: APIGatewayProxyStructuredResultV2 = { statusCode: 200 };

/** Tells the sender alone what was wrong; the connection stays open. */
async function reply(connectionId: string, error: ProtocolError): Promise<void> {
  const outcome = await poster.post(connectionId, errorFrame(error));
  if (outcome.status !== "delivered") {
    logger.warn("The error frame could not be sent to the sender", { outcome });
  }
}

/**
 * broadcast, sendmessage and $default: every frame is parsed here, whatever route API Gateway
 * picked, so all bad input gets the same precise error. Nothing throws out of this handler: a
 * throw would make API Gateway answer the client with a bare "Internal server error".
 */
export async function handler(
  event: MessageEvent,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  const { connectionId, requestId, routeKey } = event.requestContext;
  startInvocationLog(context, { connectionId, requestId });
  try {
    const parsed = parseFrame(event.body, event.isBase64Encoded);
    if (!parsed.ok) {
      logger.info("Frame rejected", { routeKey, code: parsed.error.code });
      await reply(connectionId, parsed.error);
      return OK;
    }
    const { action, frame } = parsed.command;
    try {
      const result = await deliver(frame, { registry, poster });
      logger.info("Frame delivered", { action, ...result });
    } catch (error) {
      logger.error("The connection registry could not be read", { action, error });
      await reply(connectionId, {
        code: ERROR_CODES.deliveryFailed,
        message:
          "The message was not delivered to everyone: the server could not read its list of connections. Try again shortly.",
      });
    }
  } catch (error) {
    logger.error("Unexpected failure while handling a frame", { routeKey, error });
  }
  return OK;
}
