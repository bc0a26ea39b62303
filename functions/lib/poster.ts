import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { LIMITS } from "../contract.js";

/**
 * Posts frames to connections through the API Gateway Management API (@connections): the `Poster`
 * interface delivery uses, and the poster built on the SDK client.
 *
 * Retries are the SDK's standard strategy: throttling (429 / LimitExceededException) and transient
 * errors are retried with jittered exponential backoff up to LIMITS.deliveryMaxAttempts attempts,
 * and the client's retry-token bucket stops retrying when most calls are failing, so one
 * overloaded fan-out cannot multiply its own load. Gone is not retried.
 */

export type PostOutcome =
  | { readonly status: "delivered" }
  | { readonly status: "gone" }
  | {
      readonly status: "failed";
      readonly error: string;
      /**
       * The HTTP status @connections answered with; undefined when no answer arrived (a network
       * error or timeout). Delivery decides from it whether a later pass may succeed.
       */
      readonly statusCode?: number;
    };

export function createManagementClient(endpoint: string): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint,
    retryMode: "standard",
    maxAttempts: LIMITS.deliveryMaxAttempts,
  });
}

interface SdkErrorShape {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/**
 * The connection no longer exists. SDK v3 errors carry `name` and `$metadata.httpStatusCode`
 * (not v2's `statusCode`); a bare 410 without the error type header surfaces as "Unknown".
 */
export function isGone(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const shape = error as SdkErrorShape;
  return shape.name === "GoneException" || shape.$metadata?.httpStatusCode === 410;
}

function describeError(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const shape = error as SdkErrorShape;
  const name = typeof shape.name === "string" ? shape.name : "Error";
  const status = shape.$metadata?.httpStatusCode;
  const message = typeof shape.message === "string" ? shape.message : "";
  return `${name}${typeof status === "number" ? ` (HTTP ${status})` : ""}${message ? `: ${message}` : ""}`;
}

/** What delivery needs from a poster; `FastPoster` (fast-poster.ts) and the SDK's both are one. */
export interface Poster {
  /** Posts one frame; never rejects: the outcome says what happened. */
  post(connectionId: string, frame: string): Promise<PostOutcome>;
}

/** The poster built on the SDK client: the reference the fast poster is measured against. */
export class SdkPoster implements Poster {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  /** Posts one frame; never rejects: the outcome says what happened. */
  async post(connectionId: string, frame: string): Promise<PostOutcome> {
    try {
      await this.client.send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }),
      );
      return { status: "delivered" };
    } catch (error) {
      if (isGone(error)) return { status: "gone" };
      const statusCode = (error as SdkErrorShape | null)?.$metadata?.httpStatusCode;
      return {
        status: "failed",
        error: describeError(error),
        ...(typeof statusCode === "number" ? { statusCode } : {}),
      };
    }
  }
}

/** `new Poster(client)` is the SDK poster, as it always was. */
export const Poster = SdkPoster;
