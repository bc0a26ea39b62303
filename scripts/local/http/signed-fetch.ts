import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import type { HttpRequest } from "@smithy/types";
import type { SignedService, StageCredentials } from "./request-signature.js";

/**
 * Raw HTTP requests to the local stage's endpoints, signed as an AWS SDK signs them
 * (@smithy/signature-v4): for requests no SDK client would send (malformed paths, oversized
 * bodies, form posts), which the stage answers only when they carry a signature.
 */

export interface SigningOptions {
  readonly service: SignedService;
  readonly credentials: StageCredentials;
  readonly region?: string;
  /** When the signature is made; now by default. */
  readonly signingDate?: Date;
}

function signerFor(options: SigningOptions): SignatureV4 {
  return new SignatureV4({
    service: options.service,
    region: options.region ?? "us-east-1",
    credentials: options.credentials,
    sha256: Sha256,
    // As the SDK's S3 client: the path is signed as sent.
    uriEscapePath: options.service !== "s3",
    applyChecksum: options.service === "s3",
  });
}

function queryOf(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const pair of url.search.slice(1).split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    query[decodeURIComponent(equals < 0 ? pair : pair.slice(0, equals))] =
      equals < 0 ? "" : decodeURIComponent(pair.slice(equals + 1));
  }
  return query;
}

function requestFor(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): HttpRequest {
  return {
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port === "" ? {} : { port: Number(url.port) }),
    path: url.pathname,
    query: queryOf(url),
    headers: { ...headers, host: url.host },
    ...(body === undefined ? {} : { body }),
  };
}

/** `fetch`, with the request signed by SigV4 in its Authorization header. */
export async function signedFetch(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer },
  options: SigningOptions,
): Promise<Response> {
  const target = new URL(url);
  const method = init.method ?? "GET";
  const signed = await signerFor(options).sign(
    requestFor(target, method, init.headers ?? {}, init.body),
    options.signingDate === undefined ? {} : { signingDate: options.signingDate },
  );
  const { host: _host, ...headers } = signed.headers;
  return fetch(url, {
    method,
    headers,
    ...(init.body === undefined ? {} : { body: init.body }),
  });
}

/**
 * A presigned URL, made as @aws-sdk/s3-request-presigner makes one: the payload is
 * UNSIGNED-PAYLOAD (its header hoisted into the query) and only `host` is signed.
 */
export async function presignedUrl(
  url: string,
  method: string,
  expiresIn: number,
  options: SigningOptions,
): Promise<string> {
  const target = new URL(url);
  const presigned = await signerFor(options).presign(
    requestFor(target, method, { "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }),
    {
      expiresIn,
      ...(options.signingDate === undefined ? {} : { signingDate: options.signingDate }),
    },
  );
  const query = Object.entries(presigned.query ?? {})
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`)
    .join("&");
  return `${target.origin}${target.pathname}?${query}`;
}
