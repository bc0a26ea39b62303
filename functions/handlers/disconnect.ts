import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { readConfig } from "../lib/config.js";
import type { DisconnectEvent } from "../lib/events.js";
import { logger, startInvocationLog } from "../lib/logger.js";
import { createObjectStore } from "../lib/object-store.js";
import { Registrations } from "../lib/registrations.js";

const config = readConfig("disconnect");
const registry = new Registrations(
  createObjectStore(config.connectionsBucket),
  config.connectionsPrefix,
);

/**
 * $disconnect: removes the connection. Removing an absent connection succeeds, so a repeated
 * or late $disconnect is harmless. API Gateway sends $disconnect on a best-effort basis and
 * ignores the result; a connection this misses is removed by the next fan-out, which gets Gone.
 */
export async function handler(
  event: DisconnectEvent,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  const { connectionId, requestId, disconnectStatusCode, disconnectReason } = event.requestContext;
  startInvocationLog(context, { connectionId, requestId });
  try {
    await registry.remove(connectionId);
  } catch (error) {
    logger.error("The connection could not be removed; the next fan-out removes it", { error });
    return { statusCode: 500 };
  }
  logger.info("Connection removed", { disconnectStatusCode, disconnectReason });
  return { statusCode: 200 };
}
