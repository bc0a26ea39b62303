import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { LIMITS } from "../../../functions/contract.js";
import { BodyTooLargeError, readBody } from "../http/request-body.js";

/**
 * The API Gateway Management API (`@connections`) at `/{stage}/@connections/{id}`: POST sends a
 * message, GET describes the connection, DELETE closes it. Ids arrive URL-encoded (`+/=` are
 * escaped by the SDK). Answers and errors are shaped as AWS's, so the SDK raises GoneException etc.
 */

/** A connection as the Management API sees it. */
export interface ManagedConnection {
  readonly connectedAt: number;
  readonly lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent?: string;
  /** False when the client is not reading fast enough (its buffer is full). */
  post(data: Buffer): boolean;
  disconnect(): void;
}

export interface ConnectionDirectory {
  /** Undefined for unknown ids, and for connections whose $connect has not finished. */
  connection(connectionId: string): ManagedConnection | undefined;
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  errorType?: string,
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...(errorType === undefined ? {} : { "x-amzn-errortype": errorType }),
  });
  response.end(text);
}

async function handle(
  directory: ConnectionDirectory,
  stage: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = new URL(request.url ?? "/", "http://gateway.local").pathname;
  const prefix = `/${stage}/@connections/`;
  if (!path.startsWith(prefix) || path.length === prefix.length) {
    sendJson(response, 403, { message: "Forbidden" }, "ForbiddenException");
    return;
  }
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(path.slice(prefix.length));
  } catch {
    sendJson(response, 400, { message: "Invalid connection id" }, "BadRequestException");
    return;
  }
  const connection = directory.connection(connectionId);
  const method = request.method ?? "GET";
  if (!["POST", "GET", "DELETE"].includes(method)) {
    sendJson(response, 403, { message: "Forbidden" }, "ForbiddenException");
    return;
  }
  if (connection === undefined) {
    request.resume();
    sendJson(response, 410, { message: null }, "GoneException");
    return;
  }
  switch (method) {
    case "POST": {
      let data: Buffer;
      try {
        data = await readBody(request, LIMITS.messageBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        sendJson(response, 413, { message: error.message }, "PayloadTooLargeException");
        return;
      }
      if (!connection.post(data)) {
        sendJson(response, 429, { message: "Client buffer is full" }, "LimitExceededException");
        return;
      }
      response.writeHead(200).end();
      return;
    }
    case "GET":
      sendJson(response, 200, {
        connectedAt: new Date(connection.connectedAt).toISOString(),
        identity: {
          sourceIp: connection.sourceIp,
          ...(connection.userAgent === undefined ? {} : { userAgent: connection.userAgent }),
        },
        lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
      });
      return;
    default:
      connection.disconnect();
      response.writeHead(204).end();
  }
}

/** An HTTP request listener serving the Management API for `stage`'s connections. */
export function connectionsListener(
  directory: ConnectionDirectory,
  stage: string,
): RequestListener {
  return (request, response) => {
    handle(directory, stage, request, response).catch((error: unknown) => {
      if (response.headersSent) response.destroy();
      else
        sendJson(
          response,
          500,
          { message: `The local gateway failed: ${String(error)}` },
          "InternalServerErrorException",
        );
    });
  };
}
