import type {
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyEventHeaders,
  APIGatewayProxyEventMultiValueHeaders,
  APIGatewayProxyWebsocketEventV2,
  APIGatewayProxyWebsocketEventV2WithRequestContext,
} from "aws-lambda";

/**
 * The WebSocket events API Gateway sends, as documented: @types/aws-lambda's
 * APIGatewayProxyWebsocketEventV2 lacks the fields $connect and $disconnect carry.
 */

export interface WebsocketIdentity {
  readonly sourceIp?: string;
  readonly userAgent?: string;
}

/** $connect and $disconnect carry no messageId (there is no message). */
type LifecycleRequestContext = Omit<APIGatewayEventWebsocketRequestContextV2, "messageId"> & {
  readonly identity?: WebsocketIdentity;
};

export type ConnectEvent =
  APIGatewayProxyWebsocketEventV2WithRequestContext<LifecycleRequestContext> & {
    readonly headers?: APIGatewayProxyEventHeaders;
    readonly multiValueHeaders?: APIGatewayProxyEventMultiValueHeaders;
  };

export type DisconnectEvent = APIGatewayProxyWebsocketEventV2WithRequestContext<
  LifecycleRequestContext & {
    readonly disconnectStatusCode?: number;
    readonly disconnectReason?: string;
  }
> & {
  readonly headers?: APIGatewayProxyEventHeaders;
  readonly multiValueHeaders?: APIGatewayProxyEventMultiValueHeaders;
};

export type MessageEvent = APIGatewayProxyWebsocketEventV2;
