import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { LIMITS } from "../contract.js";
import { PostSigner, type SignedPost } from "./post-signer.js";
import type { Poster, PostOutcome } from "./poster.js";

export type { SignedPost } from "./post-signer.js";

/**
 * PostToConnection without the SDK client: the same signed request, built with the SDK's own
 * lower layers (SignatureV4 with the SDK's Node sha256, the standard credential chain) and sent
 * over a keep-alive agent.
 *
 * Why: the client's per-call cost is its middleware stack (endpoint rule evaluation, serde schema
 * walk, user-agent and checksum middleware, retry bookkeeping, response parsing), about ten times
 * the cost of signing and sending. Fan-out makes thousands of identical calls per invocation, so
 * that is the function's CPU bill. Only what the wire needs is kept:
 * - POST {endpoint}/@connections/{id}, the id encoded as the SDK encodes path labels (`+/=` →
 *   %2B %2F %3D), body = the frame's UTF-8 bytes, content-type application/octet-stream;
 * - SigV4 for service execute-api, headers signed exactly as the SDK signs them (the test holds a
 *   vector the SDK client produced);
 * - Gone from `x-amzn-errortype: GoneException` or status 410; throttling (429,
 *   LimitExceededException, ThrottlingException), 5xx and network errors retried with full-jitter
 *   exponential backoff, at most LIMITS.deliveryMaxAttempts attempts and only while the poster's
 *   retry budget lasts (the SDK's standard token bucket: a failing endpoint is not hammered);
 *   everything else (PayloadTooLarge, Forbidden, other 4xx) is final.
 */

const SERVICE = "execute-api";
/** The SDK's standard retry quota: a retry costs 5 tokens (10 after a timeout), a success refunds 1. */
const RETRY_BUDGET = 500;
const RETRY_COST = 5;
const TIMEOUT_RETRY_COST = 10;
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 20_000;
/**
 * Timeouts of one attempt, in two phases. Until the request is written in full, nothing can have
 * been delivered, so a stall there is retried safely after SEND_TIMEOUT_MS. Once it is written,
 * @connections may already have delivered the frame: an answer that is merely late must not make
 * the poster send it again (a second copy), so the wait is far longer — API Gateway answers in
 * milliseconds; only a dead connection stays silent this long. The SDK client has no timeout at
 * all by default.
 */
const SEND_TIMEOUT_MS = 10_000;
const ANSWER_TIMEOUT_MS = 60_000;
/** Refresh credentials this long before they expire, as the SDK does. */
const CREDENTIAL_REFRESH_MS = 5 * 60 * 1000;

const THROTTLING = new Set([
  "LimitExceededException",
  "ThrottlingException",
  "TooManyRequestsException",
  "Throttling",
]);

export interface FastPosterOptions {
  /** Credentials; the SDK's default chain when omitted (Lambda: the environment, with its session token). */
  readonly credentials?: AwsCredentialIdentityProvider;
  /** Signing region; from the endpoint's host when it names one, else AWS_REGION. */
  readonly region?: string;
  /** The clock, for signing and credential expiry. */
  readonly now?: () => number;
  /** Backoff base in milliseconds (the SDK's 100 ms when omitted). */
  readonly baseDelayMs?: number;
  /** Timeouts of an attempt before and after its request is written (SEND_/ANSWER_TIMEOUT_MS). */
  readonly sendTimeoutMs?: number;
  readonly answerTimeoutMs?: number;
}

/** The signing region: `{api}.execute-api.{region}.amazonaws.com` names it; otherwise AWS_REGION. */
export function regionOf(endpoint: URL, env: NodeJS.ProcessEnv = process.env): string {
  const fromHost = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(
    endpoint.hostname,
  )?.[1];
  const region = fromHost ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region === undefined || region === "") {
    throw new Error(
      `No signing region for ${endpoint.origin}: the host names none and AWS_REGION is not set. Set AWS_REGION.`,
    );
  }
  return region;
}

/** A credential provider that also says, without waiting, which credentials are still fresh. */
export interface MemoizedCredentials {
  (): Promise<AwsCredentialIdentity>;
  /** The credentials in hand while they are fresh; undefined when a call must fetch new ones. */
  current(): AwsCredentialIdentity | undefined;
}

/**
 * A credential provider that calls `provider` once and again only when the credentials are about
 * to expire (Lambda's rotate; static ones never do); concurrent callers share one refresh.
 */
export function memoizedCredentials(
  provider: AwsCredentialIdentityProvider,
  now: () => number = Date.now,
): MemoizedCredentials {
  let current: AwsCredentialIdentity | undefined;
  let pending: Promise<AwsCredentialIdentity> | undefined;
  const fresh = (c: AwsCredentialIdentity): boolean =>
    c.expiration === undefined || c.expiration.getTime() - now() > CREDENTIAL_REFRESH_MS;
  const memoized = async () => {
    if (current !== undefined && fresh(current)) return current;
    pending ??= Promise.resolve(provider()).then(
      (credentials) => {
        current = credentials;
        pending = undefined;
        return credentials;
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };
  return Object.assign(memoized, {
    current: () => (current !== undefined && fresh(current) ? current : undefined),
  });
}

interface Answer {
  readonly status: number;
  readonly errorType: string | undefined;
  readonly message: string;
}

/** `x-amzn-errortype` may carry a suffix (`Name:http://…`), as the SDK's parser knows. */
function errorTypeOf(header: string | string[] | undefined, body: string): string | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw !== undefined && raw !== "") return raw.split(/[,:]/)[0]?.trim();
  if (body === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null) {
      const { __type: type, code } = parsed as { __type?: unknown; code?: unknown };
      const name = typeof type === "string" ? type : typeof code === "string" ? code : undefined;
      return name?.split("#").pop()?.split(/[,:]/)[0];
    }
  } catch {
    // Not JSON: the status alone tells.
  }
  return undefined;
}

function messageOf(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null) {
      const { message, Message } = parsed as { message?: unknown; Message?: unknown };
      if (typeof message === "string") return message;
      if (typeof Message === "string") return Message;
    }
  } catch {
    // Not JSON.
  }
  return body.slice(0, 200);
}

class NetworkError extends Error {
  override readonly name = "NetworkError";
  constructor(
    message: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

export class FastPoster implements Poster {
  private readonly send: typeof httpRequest;
  private readonly agent: HttpAgent;
  /** The request options every post shares; path and headers are added per attempt. */
  private readonly target: { readonly hostname: string; readonly port: number | undefined };
  private readonly credentials: MemoizedCredentials;
  private readonly postSigner: PostSigner;
  /** The SDK's signer, for ids the post signer does not cover (see PostSigner.covers). */
  private readonly signer: SignatureV4;
  private readonly now: () => number;
  private readonly baseDelayMs: number;
  private readonly sendTimeoutMs: number;
  private readonly answerTimeoutMs: number;
  private retryTokens = RETRY_BUDGET;

  constructor(endpoint: string, options: FastPosterOptions = {}) {
    const url = new URL(endpoint);
    const secure = url.protocol === "https:";
    this.send = secure ? httpsRequest : httpRequest;
    // One pool per poster, reused across invocations of a warm function.
    this.agent = secure
      ? new HttpsAgent({ keepAlive: true, maxSockets: LIMITS.deliveryConcurrency })
      : new HttpAgent({ keepAlive: true, maxSockets: LIMITS.deliveryConcurrency });
    this.target = { hostname: url.hostname, port: url.port === "" ? undefined : Number(url.port) };
    this.now = options.now ?? Date.now;
    this.baseDelayMs = options.baseDelayMs ?? BASE_DELAY_MS;
    this.sendTimeoutMs = options.sendTimeoutMs ?? SEND_TIMEOUT_MS;
    this.answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
    const region = options.region ?? regionOf(url);
    this.credentials = memoizedCredentials(options.credentials ?? defaultProvider(), this.now);
    this.postSigner = new PostSigner(url, region, SERVICE);
    this.signer = new SignatureV4({
      service: SERVICE,
      region,
      credentials: this.credentials,
      sha256: Sha256,
    });
    this.url = url;
  }

  private readonly url: URL;

  /** Posts one frame; never rejects: the outcome says what happened. */
  async post(connectionId: string, frame: string): Promise<PostOutcome> {
    let lastError = "";
    // The last HTTP status answered; undefined when the last attempt got no answer. Delivery reads
    // it to decide whether a later pass may succeed.
    let lastStatus: number | undefined;
    const failed = (): PostOutcome => ({
      status: "failed",
      error: lastError,
      ...(lastStatus === undefined ? {} : { statusCode: lastStatus }),
    });
    for (let attempt = 1; ; attempt += 1) {
      let retryCost: number;
      try {
        // Signed again for every attempt, as the SDK does: the date moves, credentials may rotate.
        const request = this.signedRequest(connectionId, frame);
        const answer = await this.attempt(request instanceof Promise ? await request : request);
        if (answer.status >= 200 && answer.status < 300) {
          this.retryTokens = Math.min(RETRY_BUDGET, this.retryTokens + 1);
          return { status: "delivered" };
        }
        if (answer.status === 410 || answer.errorType === "GoneException")
          return { status: "gone" };
        lastError = `${answer.errorType ?? "Unknown"} (HTTP ${answer.status})${answer.message ? `: ${answer.message}` : ""}`;
        lastStatus = answer.status;
        const retryable =
          answer.status === 429 ||
          answer.status >= 500 ||
          (answer.errorType !== undefined && THROTTLING.has(answer.errorType));
        if (!retryable) return failed();
        retryCost = RETRY_COST;
      } catch (error) {
        if (!(error instanceof NetworkError)) {
          return {
            status: "failed",
            error: `${(error as Error).name}: ${(error as Error).message}`,
          };
        }
        lastError = `${error.name}: ${error.message}`;
        lastStatus = undefined;
        retryCost = error.timedOut ? TIMEOUT_RETRY_COST : RETRY_COST;
      }
      if (attempt >= LIMITS.deliveryMaxAttempts || this.retryTokens < retryCost) return failed();
      this.retryTokens -= retryCost;
      const ceiling = Math.min(MAX_DELAY_MS, this.baseDelayMs * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }

  /**
   * The request one attempt sends: path, signed headers and body. Synchronous while the
   * credentials and the day's signing key are in hand (every post of a fan-out after its first).
   */
  signedRequest(connectionId: string, frame: string): SignedPost | Promise<SignedPost> {
    const now = this.now();
    const credentials = this.credentials.current();
    if (credentials !== undefined && this.postSigner.covers(connectionId)) {
      const signed = this.postSigner.signWithCachedKey(connectionId, frame, credentials, now);
      if (signed !== undefined) return signed;
    }
    return this.signAfresh(connectionId, frame, now);
  }

  private async signAfresh(connectionId: string, frame: string, now: number): Promise<SignedPost> {
    if (!this.postSigner.covers(connectionId)) return this.sdkSigned(connectionId, frame, now);
    const credentials = this.credentials.current() ?? (await this.credentials());
    return this.postSigner.sign(connectionId, frame, credentials, now);
  }

  private async sdkSigned(connectionId: string, frame: string, now: number): Promise<SignedPost> {
    const path = this.postSigner.path(connectionId);
    const signed = await this.signer.sign(
      {
        method: "POST",
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        ...(this.url.port === "" ? {} : { port: Number(this.url.port) }),
        path,
        query: {},
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(Buffer.byteLength(frame, "utf8")),
          host: this.url.host,
        },
        body: frame,
      },
      { signingDate: new Date(now) },
    );
    return { path, headers: signed.headers, body: frame };
  }

  private attempt({ path, headers, body }: SignedPost): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const request = this.send(
        {
          method: "POST",
          host: this.target.hostname,
          port: this.target.port,
          path,
          headers,
          agent: this.agent,
          timeout: this.sendTimeoutMs,
        },
        (response: IncomingMessage) => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            response.resume();
            response.once("end", () => resolve({ status, errorType: undefined, message: "" }));
            response.on("error", (error) => reject(new NetworkError(error.message, false)));
            return;
          }
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", (error) => reject(new NetworkError(error.message, false)));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({
              status,
              errorType: errorTypeOf(response.headers["x-amzn-errortype"], text),
              message: messageOf(text),
            });
          });
        },
      );
      let written = false;
      request.once("finish", () => {
        written = true;
        request.setTimeout(this.answerTimeoutMs);
      });
      request.on("timeout", () =>
        request.destroy(
          new NetworkError(
            written
              ? `no answer within ${this.answerTimeoutMs} ms of the request`
              : `the request could not be sent within ${this.sendTimeoutMs} ms`,
            true,
          ),
        ),
      );
      request.on("error", (error: Error) =>
        reject(error instanceof NetworkError ? error : new NetworkError(error.message, false)),
      );
      // A string body goes out with the headers in one write (a Buffer would take a writev).
      request.end(body, "utf8");
    });
  }

  /** Closes the pooled connections (tests and the bench; a Lambda just freezes). */
  close(): void {
    this.agent.destroy();
  }
}

/** The poster the functions use. */
export function createFastPoster(endpoint: string, options?: FastPosterOptions): FastPoster {
  return new FastPoster(endpoint, options);
}
