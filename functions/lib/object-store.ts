import { isIP } from "node:net";
import { crc32 } from "node:zlib";
import { extendedEncodeURIComponent } from "@smithy/core/protocols";
import { DEFAULT_MAX_ATTEMPTS } from "@smithy/core/retry";
import { refusalOf, withRetries } from "./service-retries.js";
import { NetworkError, type SignedAttempts, type SignedRequest } from "./signed-attempt.js";
import {
  type AttemptTiming,
  builtOnFirstUse,
  type ServiceAccess,
  serviceAttempts,
  serviceEndpoint,
} from "./signed-service.js";

/**
 * S3's PutObject and DeleteObject for one bucket without the SDK client: the requests the SDK's
 * PutObjectCommand and DeleteObjectCommand send (object-store.wire.test.ts holds them to the
 * SDK's, signature included), signed with the SDK's own signer and credential chain.
 *
 * Why: $connect and $disconnect do one of these each and nothing else, and the S3 client was
 * nearly all of their bundles (about 450 KB, loaded on every cold start) and most of their CPU per
 * invocation (the client's middleware stack and XML serde around one small request: about 2 ms
 * per PutObject on the bench's machine). The dispatchers still list the registry through the S3
 * client (registry.ts).
 *
 * Where requests go follows the SDK's S3 endpoint rules for the cases a stage meets: the bucket in
 * the host (`bucket.s3.region.amazonaws.com`, or `bucket.` before a configured endpoint's host),
 * except when the endpoint is an IP address (the local stage's 127.0.0.1) or the bucket's name
 * cannot be a host label (dots, capitals), where it goes in the path. Like the SDK, the put carries
 * a CRC32 of the body (`x-amz-checksum-crc32`), which S3 checks before storing.
 *
 * Retries follow the SDK's standard mode (service-retries.ts): throttling (SlowDown), transient
 * and server errors, DEFAULT_MAX_ATTEMPTS (3) attempts in all. Both operations are idempotent, so
 * an attempt whose answer never came is simply made again.
 */

const BASE_DELAY_MS = 100;
const SEND_TIMEOUT_MS = 5_000;
const ANSWER_TIMEOUT_MS = 5_000;
/** One registration per invocation; a second socket for a retry while the first is stuck. */
const MAX_SOCKETS = 2;

/** Storing and deleting small objects, as the connection registry does. */
export interface ObjectStore {
  put(key: string, body: string, contentType: string): Promise<void>;
  /** Deleting a key that is not there succeeds, as S3's DeleteObject does. */
  remove(key: string): Promise<void>;
}

/** PutObject answers 200 and DeleteObject 204; any 2xx is success, as for the SDK. */
function succeeded(status: number): boolean {
  return status >= 200 && status < 300;
}

/** A bucket name the SDK would put in a host: one DNS label, lowercase. */
const HOST_LABEL = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/**
 * The origin and path prefix of `bucket`'s objects behind `base` (S3's endpoint, or a configured
 * one): virtual-hosted where the SDK would address the bucket so, path-style otherwise.
 */
export function bucketAddress(bucket: string, base: URL): { origin: URL; pathPrefix: string } {
  // As the SDK: a configured path is kept as written, a trailing slash too ("/s3/" gives "/s3//key").
  const basePath = base.pathname === "/" ? "" : base.pathname;
  const host = base.hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(host) !== 0 || !HOST_LABEL.test(bucket)) {
    return { origin: new URL(base.origin), pathPrefix: `${basePath}/${bucket}` };
  }
  const origin = new URL(base.origin);
  origin.hostname = `${bucket}.${base.hostname}`;
  return { origin, pathPrefix: basePath };
}

/** A key in a request path, encoded as the SDK encodes S3's greedy `{Key+}` label. */
export function keyPath(key: string): string {
  return key.split("/").map(extendedEncodeURIComponent).join("/");
}

/** `x-amz-checksum-crc32`: the body's CRC32, big-endian, in base64. */
export function crc32Checksum(body: string): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc32(body));
  return bytes.toString("base64");
}

export class SignedObjectStore implements ObjectStore {
  private readonly attempts: SignedAttempts;
  private readonly pathPrefix: string;
  private readonly sendTimeoutMs: number;
  private readonly answerTimeoutMs: number;
  private readonly baseDelayMs: number;
  private readonly now: () => number;

  constructor(
    private readonly bucket: string,
    options: ServiceAccess &
      AttemptTiming & {
        /** The signing clock (tests fix it to compare signatures). */
        readonly now?: () => number;
      } = {},
  ) {
    this.sendTimeoutMs = options.sendTimeoutMs ?? SEND_TIMEOUT_MS;
    this.answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
    this.baseDelayMs = options.baseDelayMs ?? BASE_DELAY_MS;
    this.now = options.now ?? Date.now;
    const purpose = "reach the connection registry in";
    const { origin, pathPrefix } = bucketAddress(
      bucket,
      options.endpoint ?? serviceEndpoint("s3", purpose),
    );
    this.pathPrefix = pathPrefix;
    this.attempts = serviceAttempts(
      "s3",
      purpose,
      { ...options, endpoint: origin },
      { maxSockets: MAX_SOCKETS, discardsBodyOf: succeeded },
    );
  }

  async put(key: string, body: string, contentType: string): Promise<void> {
    const headers = {
      "content-type": contentType,
      "x-amz-sdk-checksum-algorithm": "CRC32",
      "x-amz-checksum-crc32": crc32Checksum(body),
    };
    const path = `${this.pathPrefix}/${keyPath(key)}?x-id=PutObject`;
    await this.call(
      "store",
      key,
      (date) => this.attempts.sign(path, headers, body, date, "PUT"),
      body,
    );
  }

  async remove(key: string): Promise<void> {
    const path = `${this.pathPrefix}/${keyPath(key)}?x-id=DeleteObject`;
    await this.call(
      "delete",
      key,
      (date) => this.attempts.sign(path, {}, undefined, date, "DELETE"),
      undefined,
    );
  }

  /** Closes the pooled connections (tests; a Lambda just freezes). */
  close(): void {
    this.attempts.close();
  }

  private call(
    verb: "store" | "delete",
    key: string,
    sign: (date: Date) => Promise<SignedRequest>,
    body: string | undefined,
  ): Promise<void> {
    const what = `${key} in bucket ${this.bucket}`;
    return withRetries<void>(
      async () => {
        try {
          // Signed again for each attempt: the date moves.
          const request = await sign(new Date(this.now()));
          const answer = await this.attempts.attempt(
            request,
            body,
            this.sendTimeoutMs,
            this.answerTimeoutMs,
          );
          if (succeeded(answer.status)) return { done: undefined };
          const refusal = refusalOf(answer);
          if (!refusal.retryable) throw new Error(`S3 refused to ${verb} ${what}: ${refusal.text}`);
          return { retry: refusal.text };
        } catch (error) {
          if (!(error instanceof NetworkError)) throw error;
          return { retry: error.message };
        }
      },
      {
        maxAttempts: DEFAULT_MAX_ATTEMPTS,
        baseDelayMs: this.baseDelayMs,
        gaveUp: (attempts, failure) =>
          `S3 did not ${verb} ${what} in ${attempts} attempts: ${failure}`,
      },
    );
  }
}

/** The store $connect and $disconnect register with, built on first use. */
export function createObjectStore(bucket: string): ObjectStore {
  const store = builtOnFirstUse(() => new SignedObjectStore(bucket));
  return {
    put: async (...call) => store().put(...call),
    remove: async (...call) => store().remove(...call),
  };
}
