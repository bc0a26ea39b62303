import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { LIMITS } from "../contract.js";
import { PostSigner, type SignedPost } from "./post-signer.js";
import type { Poster, PostOutcome } from "./poster.js";
import { NetworkError, SignedAttempts } from "./signed-attempt.js";

export type { SignedPost } from "./post-signer.js";

/**
 * PostToConnection without the SDK client: the same signed request, built with the SDK's own
 * lower layers (SignatureV4 with the SDK's Node sha256, the standard credential chain) and sent
 * over a keep-alive pool of sockets (http1-connections.ts, not Node's http client).
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
 * Timeouts of one attempt, in two phases (signed-attempt.ts). Until the request is written in
 * full, nothing can have been delivered, so a stall there is retried safely after SEND_TIMEOUT_MS.
 * Once it is written, @connections may already have delivered the frame: an answer that is merely
 * late must not make the poster send it again (a second copy), so the wait is far longer — API
 * Gateway answers in milliseconds; only a dead connection stays silent this long. The SDK client
 * has no timeout at all by default.
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

/** `x-amzn-errortype` may carry a suffix (`Name:http://…`), as the SDK's parser knows. */
function errorTypeOf(header: string | undefined, body: string): string | undefined {
  if (header !== undefined && header !== "") return header.split(/[,:]/)[0]?.trim();
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

/** @connections answers a post with an empty body when it succeeds. */
const isSuccess = (status: number): boolean => status >= 200 && status < 300;

export class FastPoster implements Poster {
  private readonly attempts: SignedAttempts;
  private readonly credentials: MemoizedCredentials;
  private readonly postSigner: PostSigner;
  private readonly now: () => number;
  private readonly baseDelayMs: number;
  private readonly sendTimeoutMs: number;
  private readonly answerTimeoutMs: number;
  private retryTokens = RETRY_BUDGET;

  constructor(endpoint: string, options: FastPosterOptions = {}) {
    const url = new URL(endpoint);
    this.now = options.now ?? Date.now;
    this.baseDelayMs = options.baseDelayMs ?? BASE_DELAY_MS;
    this.sendTimeoutMs = options.sendTimeoutMs ?? SEND_TIMEOUT_MS;
    this.answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
    const region = options.region ?? regionOf(url);
    this.credentials = memoizedCredentials(options.credentials ?? defaultProvider(), this.now);
    this.postSigner = new PostSigner(url, region, SERVICE);
    // One pool per poster, reused across invocations of a warm function. Its signer (the SDK's)
    // signs the ids the post signer does not cover (see PostSigner.covers).
    this.attempts = new SignedAttempts(url, {
      maxSockets: LIMITS.deliveryConcurrency,
      signer: new SignatureV4({
        service: SERVICE,
        region,
        credentials: this.credentials,
        sha256: Sha256,
      }),
      discardsBodyOf: isSuccess,
    });
  }

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
        const signed = request instanceof Promise ? await request : request;
        const answer = await this.attempts.attempt(
          signed,
          signed.body,
          this.sendTimeoutMs,
          this.answerTimeoutMs,
        );
        if (isSuccess(answer.status)) {
          this.retryTokens = Math.min(RETRY_BUDGET, this.retryTokens + 1);
          return { status: "delivered" };
        }
        const errorType = errorTypeOf(answer.errorTypeHeader, answer.body);
        if (answer.status === 410 || errorType === "GoneException") return { status: "gone" };
        const message = messageOf(answer.body);
        lastError = `${errorType ?? "Unknown"} (HTTP ${answer.status})${message ? `: ${message}` : ""}`;
        lastStatus = answer.status;
        const retryable =
          answer.status === 429 ||
          answer.status >= 500 ||
          (errorType !== undefined && THROTTLING.has(errorType));
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
        retryCost = error.timeout === undefined ? RETRY_COST : TIMEOUT_RETRY_COST;
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
    const signed = await this.attempts.sign(
      this.postSigner.path(connectionId),
      {},
      frame,
      new Date(now),
    );
    return { path: signed.path, headers: signed.headers, body: frame };
  }

  /** Closes the pooled connections (tests and the bench; a Lambda just freezes). */
  close(): void {
    this.attempts.close();
  }
}

/** The poster the functions use. */
export function createFastPoster(endpoint: string, options?: FastPosterOptions): FastPoster {
  return new FastPoster(endpoint, options);
}
