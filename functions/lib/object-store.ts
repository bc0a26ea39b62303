import { isIP } from "node:net";
import { crc32 } from "node:zlib";
import { XmlNode } from "@aws-sdk/xml-builder";
import { extendedEncodeURIComponent } from "@smithy/core/protocols";
import { type ListPage, parseListPage } from "./list-page.js";
import { retriedCall, xmlText } from "./service-retries.js";
import type { Answer, SignedAttempts, SignedRequest } from "./signed-attempt.js";
import {
  type CallTiming,
  callTiming,
  type SignedSenderOptions,
  serviceAttempts,
  serviceEndpoint,
} from "./signed-service.js";

/**
 * The S3 calls the connection registry makes, for one bucket, without the SDK client: PutObject
 * and DeleteObject ($connect, $disconnect), ListObjectsV2 and DeleteObjects (the dispatchers) —
 * the requests the SDK's commands send (object-store.wire.test.ts holds each to the SDK's,
 * signature included), signed with the SDK's own signer and credential chain.
 *
 * Why: the S3 client was nearly all of $connect's and $disconnect's bundles and about a quarter
 * of the dispatchers' (127 KB, evaluated on every cold start), and most of a registration's CPU
 * (the client's middleware stack and XML serde around one small request: about 1–2 ms per
 * PutObject on the bench's machine). A list page is read by list-page.ts from S3's documented
 * ListBucketResult; a page it does not take fails the call, naming what S3 sent.
 *
 * Where requests go follows the SDK's S3 endpoint rules for the cases a stage meets: the bucket in
 * the host (`bucket.s3.region.amazonaws.com`, or `bucket.` before a configured endpoint's host),
 * except when the endpoint is an IP address (the local stage's 127.0.0.1) or the bucket's name
 * cannot be a host label (dots, capitals), where it goes in the path. Like the SDK, the put carries
 * a CRC32 of the body (`x-amz-checksum-crc32`), which S3 checks before storing.
 *
 * Retries follow the SDK's standard mode (service-retries.ts): throttling (SlowDown), transient
 * and server errors, DEFAULT_MAX_ATTEMPTS (3) attempts in all. Every one of these calls is
 * idempotent, so an attempt whose answer never came is simply made again.
 */

const TIMING = { baseDelayMs: 100, sendTimeoutMs: 5_000, answerTimeoutMs: 5_000 };
/** A list page being read while the next is fetched, and a removal beside them. */
const MAX_SOCKETS = 4;
const S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";

/** Storing and deleting small objects, as the connection registry does. */
export interface ObjectStore {
  put(key: string, body: string, contentType: string): Promise<void>;
  /** Deleting a key that is not there succeeds, as S3's DeleteObject does. */
  remove(key: string): Promise<void>;
}

/** A key S3 did not delete, and why. */
export interface KeyFailure {
  readonly key: string;
  readonly code: string;
  readonly message: string;
}

/** Listing and pruning many objects, as the dispatchers read the registry. */
export interface ObjectListing {
  /** One ListObjectsV2 page of the keys under `prefix`, from `continuationToken` on. */
  listPage(
    prefix: string,
    maxKeys: number,
    continuationToken: string | undefined,
  ): Promise<ListPage>;
  /** One DeleteObjects call (at most 1,000 keys), quiet: the keys S3 reports it did not delete. */
  deleteMany(keys: readonly string[]): Promise<KeyFailure[]>;
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

/** The body of a quiet DeleteObjects, as the SDK's XML serializer writes it. */
export function deleteBody(keys: readonly string[]): string {
  const root = new XmlNode("Delete").addAttribute("xmlns", S3_XMLNS);
  for (const key of keys) {
    root.addChildNode(new XmlNode("Object").addChildNode(XmlNode.of("Key", key)));
  }
  root.addChildNode(XmlNode.of("Quiet", "true"));
  return `<?xml version="1.0" encoding="UTF-8"?>${root.toString()}`;
}

/** The <Error> entries of a DeleteResult; undefined when the body is not one. */
export function deleteFailures(xml: string): KeyFailure[] | undefined {
  if (!xml.includes("<DeleteResult")) return undefined;
  const failures: KeyFailure[] = [];
  for (const [, entry = ""] of xml.matchAll(/<Error>([\s\S]*?)<\/Error>/g)) {
    failures.push({
      key: xmlText(entry, "Key") ?? "(no key)",
      code: xmlText(entry, "Code") ?? "Unknown",
      message: xmlText(entry, "Message") ?? "",
    });
  }
  return failures;
}

/** `name=value&…` in the order given, each part encoded as the SDK encodes query members. */
function queryOf(pairs: readonly (readonly [string, string | undefined])[]): string {
  return pairs
    .filter((pair): pair is readonly [string, string] => pair[1] !== undefined)
    .map(([name, value]) => `${name}=${extendedEncodeURIComponent(value)}`)
    .join("&");
}

export class SignedObjectStore implements ObjectStore, ObjectListing {
  private readonly attempts: SignedAttempts;
  private readonly pathPrefix: string;
  private readonly timing: CallTiming;

  constructor(
    private readonly bucket: string,
    options: SignedSenderOptions = {},
  ) {
    this.timing = callTiming(options, TIMING);
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
      // A put's 200 and a delete's 204 carry nothing; a list's and DeleteObjects' 200 are read.
      { maxSockets: MAX_SOCKETS, discardsBodyOf: (status) => status === 204 },
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
      `store ${key} in bucket ${this.bucket}`,
      (date) => this.attempts.sign(path, headers, body, date, "PUT"),
      body,
      () => undefined,
    );
  }

  async remove(key: string): Promise<void> {
    const path = `${this.pathPrefix}/${keyPath(key)}?x-id=DeleteObject`;
    await this.call(
      `delete ${key} in bucket ${this.bucket}`,
      (date) => this.attempts.sign(path, {}, undefined, date, "DELETE"),
      undefined,
      () => undefined,
    );
  }

  listPage(
    prefix: string,
    maxKeys: number,
    continuationToken: string | undefined,
  ): Promise<ListPage> {
    // The SDK's order: its query members sorted by name.
    const query = queryOf([
      ["continuation-token", continuationToken],
      ["list-type", "2"],
      ["max-keys", String(maxKeys)],
      ["prefix", prefix],
    ]);
    const path = `${this.pathPrefix}/?${query}`;
    return this.call(
      `list ${prefix} in bucket ${this.bucket}`,
      (date) => this.attempts.sign(path, {}, undefined, date, "GET"),
      undefined,
      (answer) => {
        const page = parseListPage(answer.body);
        if (page !== undefined) return page;
        throw new Error(
          `S3 answered ListObjectsV2 on bucket ${this.bucket} with a body that is not a ListBucketResult this reader takes (list-page.ts): ${answer.body.slice(0, 200)}`,
        );
      },
    );
  }

  deleteMany(keys: readonly string[]): Promise<KeyFailure[]> {
    const body = deleteBody(keys);
    const headers = {
      "content-type": "application/xml",
      "x-amz-sdk-checksum-algorithm": "CRC32",
      "x-amz-checksum-crc32": crc32Checksum(body),
    };
    const path = `${this.pathPrefix}/?delete=`;
    return this.call(
      `delete ${keys.length} keys in bucket ${this.bucket}`,
      (date) => this.attempts.sign(path, headers, body, date, "POST"),
      body,
      (answer) => {
        const failures = deleteFailures(answer.body);
        if (failures !== undefined) return failures;
        throw new Error(
          `S3 answered DeleteObjects on bucket ${this.bucket} with a body that is not a DeleteResult: ${answer.body.slice(0, 200)}`,
        );
      },
    );
  }

  /** Closes the pooled connections (tests; a Lambda just freezes). */
  close(): void {
    this.attempts.close();
  }

  /**
   * One call, retried as the SDK's standard mode retries: `read` turns a 2xx answer into the
   * result. `what` completes "S3 refused to …" and "S3 did not …".
   */
  private call<T>(
    what: string,
    sign: (date: Date) => Promise<SignedRequest>,
    body: string | undefined,
    read: (answer: Answer) => T,
  ): Promise<T> {
    return retriedCall(this.attempts, this.timing, {
      sign,
      body,
      succeeded,
      read,
      refused: (refusal) => `S3 refused to ${what}: ${refusal}`,
      gaveUp: (attempts, failure) => `S3 did not ${what} in ${attempts} attempts: ${failure}`,
    });
  }
}

/**
 * The functions' store for the registry's bucket. Built at once, unlike the shard invoker and the
 * topic publisher (built on first use because most invocations need neither): every invocation of
 * every function reaches the registry.
 */
export function createObjectStore(bucket: string): ObjectStore & ObjectListing {
  return new SignedObjectStore(bucket);
}
