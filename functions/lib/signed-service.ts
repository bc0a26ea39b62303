import { partition } from "@aws-sdk/core/client";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { Sha256 } from "@smithy/core/checksum";
import { DEFAULT_MAX_ATTEMPTS } from "@smithy/core/retry";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { SignedAttempts, type SignedAttemptsOptions } from "./signed-attempt.js";

/**
 * How the functions reach an AWS service they call without its SDK client (lambda-invoker.ts,
 * topic-publisher.ts, object-store.ts): where the SDK would send the call and how it would sign it.
 *
 * The endpoint is read from the variables the SDK reads: the service-specific
 * AWS_ENDPOINT_URL_<SERVICE> (the local stage sets one per service), else AWS_ENDPOINT_URL, else
 * the service's regional endpoint. AWS_IGNORE_CONFIGURED_ENDPOINT_URLS set to "true" skips both
 * variables, as it does for the SDK. The regional endpoint's domain is the region's partition's, from
 * the SDK's own partition table (amazonaws.com, amazonaws.com.cn in China, …). Requests are signed with the SDK's own SignatureV4 and its
 * default credential chain (environment, then the rest, refreshed before they expire).
 */

/** The services the functions call without an SDK client, by the SDK's endpoint prefix. */
export type SignedService = "lambda" | "sns" | "s3";

/** The variable naming `service`'s endpoint alone, as the SDK reads it. */
export function endpointVariable(service: SignedService): string {
  return `AWS_ENDPOINT_URL_${service.toUpperCase()}`;
}

/**
 * `purpose` completes "No region to …" in the error a missing region gives, e.g. "invoke the
 * fan-out worker in".
 */
export function serviceEndpoint(
  service: SignedService,
  purpose: string,
  env: NodeJS.ProcessEnv = process.env,
): URL {
  const configured =
    env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === "true"
      ? undefined
      : (env[endpointVariable(service)] ?? env.AWS_ENDPOINT_URL);
  if (configured !== undefined && configured !== "") return new URL(configured);
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region === undefined || region === "") {
    throw new Error(`No region to ${purpose}: AWS_REGION is not set. Set AWS_REGION.`);
  }
  return new URL(`https://${service}.${region}.${partition(region).dnsSuffix}`);
}

/** Where and as whom a sender calls its service; each defaults to what the SDK would use. */
export interface ServiceAccess {
  readonly endpoint?: URL;
  readonly region?: string;
  readonly credentials?: AwsCredentialIdentityProvider;
}

/** How long each attempt of a call may take, and how long to back off between them. */
export interface AttemptTiming {
  /** Timeouts of an attempt before and after its request is written (tests shorten them). */
  readonly sendTimeoutMs?: number;
  readonly answerTimeoutMs?: number;
  /** Backoff base between attempts. */
  readonly baseDelayMs?: number;
}

/** How a sender's calls are timed: each attempt, the backoff, how many attempts, the signing clock. */
export type CallTiming = Required<AttemptTiming> & {
  readonly maxAttempts: number;
  readonly now: () => number;
};

/** What a sender that signs its own calls is built with. */
export type SignedSenderOptions = ServiceAccess &
  AttemptTiming & {
    /** The signing clock (tests fix it to compare signatures). */
    readonly now?: () => number;
  };

/**
 * `options`' timing, each value not given taken from the sender's `defaults`; attempts as the
 * SDK's standard retry mode makes them.
 */
export function callTiming(
  options: SignedSenderOptions,
  defaults: Required<AttemptTiming>,
): CallTiming {
  return {
    sendTimeoutMs: options.sendTimeoutMs ?? defaults.sendTimeoutMs,
    answerTimeoutMs: options.answerTimeoutMs ?? defaults.answerTimeoutMs,
    baseDelayMs: options.baseDelayMs ?? defaults.baseDelayMs,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    now: options.now ?? Date.now,
  };
}

/** Signed POSTs to `service`, through one keep-alive pool. */
export function serviceAttempts(
  service: SignedService,
  purpose: string,
  access: ServiceAccess,
  pool: Omit<SignedAttemptsOptions, "signer">,
): SignedAttempts {
  return new SignedAttempts(access.endpoint ?? serviceEndpoint(service, purpose), {
    ...pool,
    signer: new SignatureV4({
      service,
      region: access.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "",
      credentials: access.credentials ?? defaultProvider(),
      sha256: Sha256,
      // As the SDK's S3 client: S3 signs the path as sent, every other service escapes it again.
      uriEscapePath: service !== "s3",
    }),
  });
}

/**
 * `build()` on the first call, the same value on every call after. The senders of rare calls (the
 * shard invoker, the topic publisher) are built this way: most invocations never need them, and
 * building one (endpoint, partition lookup, signer) was about 0.7 M instructions of a cold start.
 */
export function builtOnFirstUse<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => {
    built ??= build();
    return built;
  };
}
