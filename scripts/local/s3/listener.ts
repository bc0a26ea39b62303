import { randomUUID } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { LIMITS } from "../../../functions/contract.js";
import { type FaultInjector, NO_FAULTS } from "../faults.js";
import { readBody } from "../http/request-body.js";
import {
  checkSignature,
  LOOPBACK_SIGNATURES,
  type SignatureSettings,
} from "../http/request-signature.js";
import { decodeAwsChunked, isAwsChunked } from "./aws-chunked.js";
import {
  BucketNotEmptyError,
  NoSuchBucketError,
  type S3Store,
  type StoredObject,
} from "./store.js";

/**
 * The S3 REST subset the registry and its tools use, served path-style (`/{bucket}/{key}`) over an
 * S3Store: buckets (create, head, delete, list), objects (put, get, head, delete), DeleteObjects and
 * ListObjectsV2. Requests must be SigV4-signed, by header or presigned URL (see
 * request-signature.ts).
 */

const MAX_OBJECT_BYTES = 64 * 1024 * 1024;
const XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail: Record<string, string> = {},
  ) {
    super(message);
  }
}

function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function element(name: string, value: string | number | boolean): string {
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

function sendXml(response: ServerResponse, status: number, body: string): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  response.writeHead(status, {
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(xml),
  });
  response.end(xml);
}

function sendError(response: ServerResponse, error: S3Error, method: string): void {
  if (method === "HEAD") {
    response.writeHead(error.status, { "x-amz-error-code": error.code });
    response.end();
    return;
  }
  const detail = Object.entries(error.detail)
    .map(([name, value]) => element(name, value))
    .join("");
  sendXml(
    response,
    error.status,
    `<Error>${element("Code", error.code)}${element("Message", error.message)}${detail}${element("RequestId", String(response.getHeader("x-amz-request-id")))}</Error>`,
  );
}

function objectHeaders(object: StoredObject): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    "content-type": object.contentType,
    "content-length": object.body.length,
    etag: object.etag,
    "last-modified": object.lastModified.toUTCString(),
    "accept-ranges": "bytes",
  };
  for (const [name, value] of Object.entries(object.metadata))
    headers[`x-amz-meta-${name}`] = value;
  return headers;
}

/** The object bytes of a request body: aws-chunked framing removed. */
function payload(request: IncomingMessage, body: Buffer): Buffer {
  if (!isAwsChunked(request.headers)) return body;
  try {
    return decodeAwsChunked(body);
  } catch (error) {
    throw new S3Error(400, "IncompleteBody", (error as Error).message);
  }
}

const deleteParser = new XMLParser({
  // Keys are strings as written: no number parsing, no trimming.
  parseTagValue: false,
  trimValues: false,
  isArray: (name) => name === "Object",
});

const malformedXml = () =>
  new S3Error(
    400,
    "MalformedXML",
    "The XML you provided was not well-formed or did not validate against our published schema.",
  );

/**
 * The keys of a DeleteObjects body. Anything but a plain well-formed document is S3's
 * MalformedXML: a DOCTYPE (entities are never expanded), or an element named like an object's
 * own properties, which the parser would refuse with an exception.
 */
function parseDeleteRequest(xml: string): { keys: string[]; quiet: boolean } {
  if (XMLValidator.validate(xml) !== true || /<!DOCTYPE/i.test(xml)) throw malformedXml();
  let parsed: { Delete?: { Object?: { Key?: unknown }[]; Quiet?: unknown } };
  try {
    parsed = deleteParser.parse(xml);
  } catch {
    throw malformedXml();
  }
  const objects = parsed.Delete?.Object;
  if (objects === undefined) {
    throw new S3Error(
      400,
      "MalformedXML",
      "The DeleteObjects body must list <Object><Key> entries.",
    );
  }
  if (objects.length > LIMITS.s3PageSize) {
    throw new S3Error(
      400,
      "MalformedXML",
      `DeleteObjects accepts at most ${LIMITS.s3PageSize} keys.`,
    );
  }
  const keys = objects.map((object) => {
    if (typeof object.Key !== "string" || object.Key === "") {
      throw new S3Error(400, "MalformedXML", "Every <Object> in DeleteObjects needs a <Key>.");
    }
    return object.Key;
  });
  return { keys, quiet: String(parsed.Delete?.Quiet ?? "").trim() === "true" };
}

function listObjectsV2(store: S3Store, bucket: string, query: URLSearchParams): string {
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? undefined;
  const startAfter = query.get("start-after") ?? undefined;
  const token = query.get("continuation-token") ?? undefined;
  const maxKeysText = query.get("max-keys");
  const maxKeys = maxKeysText === null ? LIMITS.s3PageSize : Number(maxKeysText);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) {
    throw new S3Error(
      400,
      "InvalidArgument",
      `max-keys must be a non-negative integer, got "${maxKeysText}".`,
    );
  }
  let after = startAfter;
  if (token !== undefined) {
    after = Buffer.from(token, "base64url").toString("utf8");
    if (token === "" || Buffer.from(after, "utf8").toString("base64url") !== token) {
      throw new S3Error(400, "InvalidArgument", "The continuation token provided is incorrect.");
    }
  }
  const page = store.list(bucket, {
    prefix,
    maxKeys: Math.min(maxKeys, LIMITS.s3PageSize),
    ...(after === undefined ? {} : { after }),
    ...(delimiter === undefined ? {} : { delimiter }),
  });
  const urlEncoded = query.get("encoding-type") === "url";
  const show = (value: string) => (urlEncoded ? encodeURIComponent(value) : value);
  const parts = [
    element("Name", bucket),
    element("Prefix", show(prefix)),
    element("KeyCount", page.objects.length + page.commonPrefixes.length),
    element("MaxKeys", maxKeys),
    element("IsTruncated", page.continueAfter !== undefined),
  ];
  if (delimiter !== undefined) parts.push(element("Delimiter", show(delimiter)));
  if (urlEncoded) parts.push(element("EncodingType", "url"));
  if (token !== undefined) parts.push(element("ContinuationToken", token));
  if (startAfter !== undefined) parts.push(element("StartAfter", show(startAfter)));
  if (page.continueAfter !== undefined) {
    parts.push(
      element(
        "NextContinuationToken",
        Buffer.from(page.continueAfter, "utf8").toString("base64url"),
      ),
    );
  }
  for (const { key, object } of page.objects) {
    parts.push(
      `<Contents>${element("Key", show(key))}${element("LastModified", object.lastModified.toISOString())}${element("ETag", object.etag)}${element("Size", object.body.length)}${element("StorageClass", "STANDARD")}</Contents>`,
    );
  }
  for (const commonPrefix of page.commonPrefixes) {
    parts.push(`<CommonPrefixes>${element("Prefix", show(commonPrefix))}</CommonPrefixes>`);
  }
  return `<ListBucketResult xmlns="${XMLNS}">${parts.join("")}</ListBucketResult>`;
}

/** A path segment's text; a bad escape (`%ZZ`, or bytes that are not UTF-8) is S3's InvalidURI. */
function decodeUriPart(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new S3Error(400, "InvalidURI", "Couldn't parse the specified URI.");
  }
}

async function handle(
  store: S3Store,
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  response: ServerResponse,
): Promise<void> {
  const method = request.method ?? "GET";
  const [bucketSegment = "", ...keySegments] = url.pathname.slice(1).split("/");
  const bucket = decodeUriPart(bucketSegment);
  const key = decodeUriPart(keySegments.join("/"));
  const query = url.searchParams;

  if (bucket === "") {
    if (method !== "GET")
      throw new S3Error(405, "MethodNotAllowed", `${method} / is not supported.`);
    const buckets = store
      .listBuckets()
      .map(
        (b) =>
          `<Bucket>${element("Name", b.name)}${element("CreationDate", b.createdAt.toISOString())}</Bucket>`,
      )
      .join("");
    sendXml(
      response,
      200,
      `<ListAllMyBucketsResult xmlns="${XMLNS}"><Owner><ID>local</ID></Owner><Buckets>${buckets}</Buckets></ListAllMyBucketsResult>`,
    );
    return;
  }

  if (keySegments.length === 0 || key === "") {
    switch (method) {
      case "PUT":
        store.createBucket(bucket);
        response.writeHead(200, { location: `/${bucket}` }).end();
        return;
      case "HEAD":
        if (!store.hasBucket(bucket)) throw new NoSuchBucketError(bucket);
        response.writeHead(200, { "x-amz-bucket-region": "us-east-1" }).end();
        return;
      case "DELETE":
        store.deleteBucket(bucket);
        response.writeHead(204).end();
        return;
      case "GET":
        if (query.get("list-type") !== "2") {
          throw new S3Error(
            501,
            "NotImplemented",
            "Only ListObjectsV2 (list-type=2) is supported.",
          );
        }
        sendXml(response, 200, listObjectsV2(store, bucket, query));
        return;
      case "POST": {
        if (!query.has("delete"))
          throw new S3Error(501, "NotImplemented", `POST /${bucket} supports only ?delete.`);
        const { keys, quiet } = parseDeleteRequest(payload(request, body).toString("utf8"));
        for (const k of keys) store.delete(bucket, k);
        const deleted = quiet
          ? ""
          : keys.map((k) => `<Deleted>${element("Key", k)}</Deleted>`).join("");
        sendXml(response, 200, `<DeleteResult xmlns="${XMLNS}">${deleted}</DeleteResult>`);
        return;
      }
      default:
        throw new S3Error(405, "MethodNotAllowed", `${method} /${bucket} is not supported.`);
    }
  }

  if (query.has("uploads") || query.has("uploadId")) {
    throw new S3Error(
      501,
      "NotImplemented",
      "The local stage's S3 does not support multipart uploads: upload in one PutObject (the AWS CLI switches to multipart above 8 MB).",
    );
  }
  switch (method) {
    case "PUT": {
      if (request.headers["x-amz-copy-source"] !== undefined) {
        throw new S3Error(501, "NotImplemented", "CopyObject is not supported by the local stage.");
      }
      const object = payload(request, body);
      if (object.length > MAX_OBJECT_BYTES) {
        throw new S3Error(
          400,
          "EntityTooLarge",
          `The local stage stores objects up to ${MAX_OBJECT_BYTES} bytes.`,
        );
      }
      const metadata: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (name.startsWith("x-amz-meta-") && typeof value === "string") {
          metadata[name.slice("x-amz-meta-".length)] = value;
        }
      }
      const contentType = request.headers["content-type"];
      const stored = store.put(bucket, key, object, {
        metadata,
        ...(contentType === undefined ? {} : { contentType }),
      });
      response.writeHead(200, { etag: stored.etag }).end();
      return;
    }
    case "GET":
    case "HEAD": {
      const object = store.get(bucket, key);
      if (object === undefined) {
        throw new S3Error(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
      }
      response.writeHead(200, objectHeaders(object));
      response.end(method === "GET" ? object.body : undefined);
      return;
    }
    case "DELETE":
      store.delete(bucket, key);
      response.writeHead(204).end();
      return;
    default:
      throw new S3Error(405, "MethodNotAllowed", `${method} on an object is not supported.`);
  }
}

/** PutObject, ListObjectsV2, DeleteObject and DeleteObjects: the calls faults may hit. */
function isRegistryCall(request: IncomingMessage, url: URL): boolean {
  if (request.method === "GET") return url.searchParams.get("list-type") === "2";
  return true;
}

/** An HTTP request listener serving `store` as S3. */
export function s3Listener(
  store: S3Store,
  faults: FaultInjector = NO_FAULTS,
  signatures: SignatureSettings = LOOPBACK_SIGNATURES,
): RequestListener {
  return (request, response) => {
    response.setHeader(
      "x-amz-request-id",
      randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase(),
    );
    const serve = async () => {
      // The body is read before anything else: the signature covers its hash.
      const body = await readBody(request, MAX_OBJECT_BYTES * 2);
      const rejected = await checkSignature(request, body, { ...signatures, service: "s3" });
      if (rejected !== undefined) {
        response.writeHead(rejected.status, rejected.headers).end(rejected.body);
        return;
      }
      const url = new URL(request.url ?? "/", "http://s3.local");
      // Writes, lists and deletes are what the registry does; reads stay reliable.
      if (
        ["PUT", "POST", "DELETE", "GET"].includes(request.method ?? "") &&
        isRegistryCall(request, url) &&
        faults.s3()
      ) {
        throw new S3Error(
          503,
          "SlowDown",
          "Please reduce your request rate. (fault injected by the local stage)",
        );
      }
      await handle(store, request, url, body, response);
    };
    serve().catch((error: unknown) => {
      let s3Error: S3Error;
      if (error instanceof S3Error) s3Error = error;
      else if (error instanceof NoSuchBucketError) {
        s3Error = new S3Error(404, "NoSuchBucket", error.message, { BucketName: error.bucket });
      } else if (error instanceof BucketNotEmptyError) {
        s3Error = new S3Error(409, "BucketNotEmpty", error.message, { BucketName: error.bucket });
      } else if (error instanceof Error && error.name === "BodyTooLargeError") {
        s3Error = new S3Error(400, "EntityTooLarge", error.message);
      } else {
        s3Error = new S3Error(500, "InternalError", `The local S3 failed: ${String(error)}`);
      }
      if (response.headersSent) response.destroy();
      else sendError(response, s3Error, request.method ?? "GET");
    });
  };
}
