import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import { LIMITS } from "../../../functions/contract.js";
import { type FaultInjector, NO_FAULTS } from "../faults.js";
import { BodyTooLargeError, readBody } from "../http/request-body.js";
import {
  checkSignature,
  LOOPBACK_SIGNATURES,
  type SignatureSettings,
} from "../http/request-signature.js";

/**
 * The API Gateway Management API (`@connections`) at `/{stage}/@connections/{id}`: POST sends a
 * message, GET describes the connection, DELETE closes it. Ids arrive URL-encoded (`+/=` are
 * escaped by the SDK). Answers and errors are shaped as AWS's, so the SDK raises GoneException etc.
 * Every request must be SigV4-signed for execute-api, as AWS requires (see request-signature.ts).
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
  /** Ends the connection without a close handshake, as a client that vanished. */
  drop(): void;
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
  faults: FaultInjector,
  signatures: SignatureSettings,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  // The body is read before anything else: the signature covers its hash.
  let data: Buffer;
  try {
    data = await readBody(request, LIMITS.messageBytes);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    sendJson(response, 413, { message: error.message }, "PayloadTooLargeException");
    return;
  }
  const rejected = await checkSignature(request, data, { ...signatures, service: "execute-api" });
  if (rejected !== undefined) {
    response.writeHead(rejected.status, rejected.headers).end(rejected.body);
    return;
  }
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
  if (faults.slowMs > 0) await delay(faults.slowMs);
  const fault = connection === undefined ? undefined : faults.connections();
  if (connection === undefined || fault === "gone") {
    // An injected 410 is a client that vanished: the connection goes too, as on AWS.
    if (fault === "gone") connection?.drop();
    sendJson(response, 410, { message: null }, "GoneException");
    return;
  }
  if (fault === "throttle") {
    sendJson(response, 429, { message: "Too Many Requests" }, "LimitExceededException");
    return;
  }
  if (fault === "error") {
    sendJson(response, 500, { message: "Internal server error" }, "InternalServerErrorException");
    return;
  }
  switch (method) {
    case "POST": {
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
  faults: FaultInjector = NO_FAULTS,
  signatures: SignatureSettings = LOOPBACK_SIGNATURES,
): RequestListener {
  return (request, response) => {
    handle(directory, stage, faults, signatures, request, response).catch((error: unknown) => {
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
