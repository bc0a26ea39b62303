import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { readConfig } from "../lib/config.js";
import type { ConnectEvent } from "../lib/events.js";
import { logger, startInvocationLog } from "../lib/logger.js";
import { createObjectStore } from "../lib/object-store.js";
import { Registrations, type RegistryEntry } from "../lib/registrations.js";

const config = readConfig("connect");
const registry = new Registrations(
  createObjectStore(config.connectionsBucket),
  config.connectionsPrefix,
);

/**
 * $connect: registers the connection, or refuses it. Registration is a single PutObject, which
 * stores the whole object or nothing, so a refused connection is never half-registered. (If S3
 * stored it but the answer was lost, the object is stale: the next fan-out gets Gone for it and
 * removes it. This function therefore needs s3:PutObject alone.)
 */
export async function handler(
  event: ConnectEvent,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  const { connectionId, requestId, connectedAt, identity } = event.requestContext;
  startInvocationLog(context, { connectionId, requestId });
  const entry: RegistryEntry = {
    connectionId,
    connectedAt: new Date(Number.isFinite(connectedAt) ? connectedAt : Date.now()).toISOString(),
    ...(identity?.sourceIp ? { sourceIp: identity.sourceIp } : {}),
  };
  try {
    await registry.add(entry);
  } catch (error) {
    logger.error("Connection refused: it could not be registered", { error });
    return {
      statusCode: 503,
      body: "The connection could not be registered. Try connecting again.",
    };
  }
  logger.info("Connection registered", { sourceIp: entry.sourceIp });
  return { statusCode: 200 };
}
