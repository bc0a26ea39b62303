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

export type ConnectEvent = APIGatewayProxyWebsocketEventV2WithRequestContext<
  APIGatewayEventWebsocketRequestContextV2 & { readonly identity?: WebsocketIdentity }
> & {
  readonly headers?: APIGatewayProxyEventHeaders;
  readonly multiValueHeaders?: APIGatewayProxyEventMultiValueHeaders;
};

export type DisconnectEvent = APIGatewayProxyWebsocketEventV2WithRequestContext<
  APIGatewayEventWebsocketRequestContextV2 & {
    readonly identity?: WebsocketIdentity;
    readonly disconnectStatusCode?: number;
    readonly disconnectReason?: string;
  }
> & {
  readonly headers?: APIGatewayProxyEventHeaders;
};

export type MessageEvent = APIGatewayProxyWebsocketEventV2;
