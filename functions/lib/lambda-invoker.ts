import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { Sha256 } from "@smithy/core/checksum";
import { extendedEncodeURIComponent } from "@smithy/core/protocols";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { FANOUT } from "../contract.js";
import type { ShardInvoker } from "./shards.js";

/**
 * Lambda's Invoke with InvocationType "Event", without the SDK client: the same signed
 * `POST /2015-03-31/functions/{name}/invocations` with `X-Amz-Invocation-Type: Event`, built with
 * the SDK's own signer and credential chain (as fast-poster.ts does for @connections).
 *
 * Why: @aws-sdk/client-lambda carries the schema of every Lambda operation, about 110 KB of
 * minified code the message and subscriber bundles would load on every cold start, over the
 * 500 KB bundle budget — for one call. lambda-invoker.wire.test.ts holds it to the SDK's request.
 *
 * The endpoint follows the SDK's configuration: AWS_ENDPOINT_URL_LAMBDA (the local stage's Lambda
 * Invoke API), else AWS_ENDPOINT_URL, else Lambda's regional endpoint. Throttling (429) and
 * server errors are retried with full-jitter backoff, FANOUT.invokeMaxAttempts attempts in all.
 */

const BASE_DELAY_MS = 100;
const REQUEST_TIMEOUT_MS = 10_000;

/** Where the SDK would send a Lambda call, from the same variables it reads. */
export function lambdaEndpoint(env: NodeJS.ProcessEnv = process.env): URL {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const configured =
    env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === "true"
      ? undefined
      : (env.AWS_ENDPOINT_URL_LAMBDA ?? env.AWS_ENDPOINT_URL);
  if (configured !== undefined && configured !== "") return new URL(configured);
  if (region === undefined || region === "") {
    throw new Error(
      "No region to invoke the fan-out worker in: AWS_REGION is not set. Set AWS_REGION.",
    );
  }
  return new URL(`https://lambda.${region}.amazonaws.com`);
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly errorType: string | undefined;
}

export class SignedShardInvoker implements ShardInvoker {
  private readonly url: URL;
  private readonly secure: boolean;
  private readonly agent: HttpAgent;
  private readonly signer: SignatureV4;

  constructor(
    options: {
      readonly endpoint?: URL;
      readonly region?: string;
      readonly credentials?: AwsCredentialIdentityProvider;
    } = {},
  ) {
    this.url = options.endpoint ?? lambdaEndpoint();
    this.secure = this.url.protocol === "https:";
    this.agent = this.secure
      ? new HttpsAgent({ keepAlive: true, maxSockets: FANOUT.dispatchConcurrency })
      : new HttpAgent({ keepAlive: true, maxSockets: FANOUT.dispatchConcurrency });
    this.signer = new SignatureV4({
      service: "lambda",
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "",
      credentials: options.credentials ?? defaultProvider(),
      sha256: Sha256,
    });
  }

  async invoke(functionName: string, payload: string): Promise<void> {
    const body = Buffer.from(payload, "utf8");
    for (let attempt = 1; ; attempt += 1) {
      let failure: string;
      try {
        const answer = await this.send(await this.sign(functionName, body), body);
        if (answer.status === 202) return;
        failure = `${answer.errorType ?? "Unknown"} (HTTP ${answer.status}): ${answer.body.slice(0, 200)}`;
        if (answer.status !== 429 && answer.status < 500) {
          throw new Error(`Lambda refused the asynchronous invoke of ${functionName}: ${failure}`);
        }
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        failure = error.message;
      }
      if (attempt >= FANOUT.invokeMaxAttempts) {
        throw new Error(
          `Lambda did not accept the asynchronous invoke of ${functionName} in ${attempt} attempts: ${failure}`,
        );
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.random() * BASE_DELAY_MS * 2 ** attempt),
      );
    }
  }

  /** The signed headers and path of one attempt (signed again each time: the date moves). */
  async sign(
    functionName: string,
    body: Buffer,
  ): Promise<{ path: string; headers: Record<string, string> }> {
    const path = `/2015-03-31/functions/${extendedEncodeURIComponent(functionName)}/invocations`;
    const signed = await this.signer.sign({
      method: "POST",
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      ...(this.url.port === "" ? {} : { port: Number(this.url.port) }),
      path,
      query: {},
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(body.length),
        "x-amz-invocation-type": "Event",
        host: this.url.host,
      },
      body,
    });
    return { path, headers: signed.headers };
  }

  private send(
    request: { path: string; headers: Record<string, string> },
    body: Buffer,
  ): Promise<Answer> {
    const send = this.secure ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      const outgoing = send(
        {
          method: "POST",
          host: this.url.hostname,
          port: this.url.port === "" ? undefined : Number(this.url.port),
          path: request.path,
          headers: request.headers,
          agent: this.agent,
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", (error) => reject(new NetworkError(error.message)));
          response.on("end", () => {
            const header = response.headers["x-amzn-errortype"];
            const raw = Array.isArray(header) ? header[0] : header;
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              errorType: raw?.split(":")[0],
            });
          });
        },
      );
      outgoing.on("timeout", () =>
        outgoing.destroy(new NetworkError(`no answer within ${REQUEST_TIMEOUT_MS} ms`)),
      );
      outgoing.on("error", (error: Error) =>
        reject(error instanceof NetworkError ? error : new NetworkError(error.message)),
      );
      outgoing.end(body);
    });
  }

  /** Closes the pooled connections (tests; a Lambda just freezes). */
  close(): void {
    this.agent.destroy();
  }
}

class NetworkError extends Error {
  override readonly name = "NetworkError";
}

/** The invoker the dispatchers use. */
export function createShardInvoker(): ShardInvoker {
  return new SignedShardInvoker();
}
