import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { APIGatewayEventWebsocketRequestContextV2 } from "aws-lambda";
import type { ConnectEvent, DisconnectEvent, MessageEvent } from "../../../functions/lib/events.js";

/**
 * The events the gateway sends its integrations, typed as the handlers accept them
 * (functions/lib/events.ts): the compiler checks what the local stage builds against what the
 * functions read.
 */
export type GatewayEvent = ConnectEvent | DisconnectEvent | MessageEvent;

/** Every event's requestContext; API Gateway adds identity to each, messageId only to MESSAGE. */
type RequestContext = Omit<APIGatewayEventWebsocketRequestContextV2, "messageId"> & {
  readonly identity: { readonly sourceIp: string; readonly userAgent?: string };
};

/** What the gateway knows about a connection, from its handshake. */
export interface ConnectionInfo {
  readonly connectionId: string;
  /** Epoch milliseconds. */
  readonly connectedAt: number;
  readonly sourceIp: string;
  readonly userAgent?: string;
}

/** Where the API lives, as API Gateway reports it in every event. */
export interface ApiInfo {
  readonly apiId: string;
  readonly stage: string;
  readonly domainName: string;
}

/** API Gateway's ids are base64 of 11 random bytes, e.g. `L0SM9cOFvHcCIhw=`. */
export function newConnectionId(): string {
  return randomBytes(11).toString("base64");
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** API Gateway's requestTime, e.g. `23/Nov/2026:10:01:02 +0000`. */
function requestTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

/** API Gateway's request ids look like `Ab3dEfGhIAMEbZQ=`. */
function requestId(): string {
  return randomBytes(11).toString("base64");
}

function requestContext(
  api: ApiInfo,
  connection: ConnectionInfo,
  routeKey: string,
  eventType: RequestContext["eventType"],
): RequestContext {
  const now = new Date();
  const id = requestId();
  return {
    routeKey,
    eventType,
    extendedRequestId: id,
    requestTime: requestTime(now),
    messageDirection: "IN",
    stage: api.stage,
    connectedAt: connection.connectedAt,
    requestTimeEpoch: now.getTime(),
    identity: {
      sourceIp: connection.sourceIp,
      ...(connection.userAgent === undefined ? {} : { userAgent: connection.userAgent }),
    },
    requestId: id,
    domainName: api.domainName,
    connectionId: connection.connectionId,
    apiId: api.apiId,
  };
}

function append(values: Record<string, string[]>, name: string, value: string): void {
  const existing = values[name];
  if (existing === undefined) values[name] = [value];
  else existing.push(value);
}

/** The $connect event: the handshake's headers (as sent, plus X-Forwarded-*) and query string. */
export function connectEvent(
  api: ApiInfo,
  connection: ConnectionInfo,
  request: IncomingMessage,
): ConnectEvent {
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i] as string;
    append(multiValueHeaders, name, request.rawHeaders[i + 1] as string);
  }
  multiValueHeaders["X-Forwarded-For"] = [connection.sourceIp];
  multiValueHeaders["X-Forwarded-Port"] = [String(request.socket.localPort ?? "")];
  multiValueHeaders["X-Forwarded-Proto"] = ["http"];
  const headers = Object.fromEntries(
    Object.entries(multiValueHeaders).map(([name, values]) => [name, values.join(",")]),
  );
  const event: ConnectEvent & {
    multiValueQueryStringParameters?: Record<string, string[]>;
    queryStringParameters?: Record<string, string>;
  } = {
    headers,
    multiValueHeaders,
    requestContext: requestContext(api, connection, "$connect", "CONNECT"),
    isBase64Encoded: false,
  };
  const query = new URL(request.url ?? "/", "http://gateway.local").searchParams;
  if (query.size > 0) {
    const multi: Record<string, string[]> = {};
    for (const [name, value] of query) append(multi, name, value);
    event.multiValueQueryStringParameters = multi;
    event.queryStringParameters = Object.fromEntries(
      Object.entries(multi).map(([name, values]) => [name, values.at(-1) as string]),
    );
  }
  return event;
}

/** A MESSAGE event: text frames as they came, binary frames base64-encoded. */
export function messageEvent(
  api: ApiInfo,
  connection: ConnectionInfo,
  routeKey: string,
  data: Buffer,
  isBinary: boolean,
): MessageEvent {
  return {
    requestContext: {
      ...requestContext(api, connection, routeKey, "MESSAGE"),
      messageId: randomUUID().replace(/-/g, "").slice(0, 16),
    },
    body: isBinary ? data.toString("base64") : data.toString("utf8"),
    isBase64Encoded: isBinary,
  };
}

export function disconnectEvent(
  api: ApiInfo,
  connection: ConnectionInfo,
  statusCode: number,
  reason: string,
): DisconnectEvent {
  return {
    headers: { Host: api.domainName, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": "" },
    multiValueHeaders: {
      Host: [api.domainName],
      "x-api-key": [""],
      "X-Forwarded-For": [""],
      "x-restapi": [""],
    },
    requestContext: {
      ...requestContext(api, connection, "$disconnect", "DISCONNECT"),
      disconnectStatusCode: statusCode,
      disconnectReason: reason,
    },
    isBase64Encoded: false,
  };
}
