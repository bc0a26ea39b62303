import type { APIGatewayProxyResultV2 } from "aws-lambda";

/**
 * Bench variant of `$connect` that does nothing and accepts: what is left of a connection's cost
 * is the gateway's, the invoker's and the client's, which bounds the connect rate from above.
 */
export const handler = async (): Promise<APIGatewayProxyResultV2> => ({ statusCode: 200 });
