import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { HttpRequest } from "@smithy/core/protocols";
import { DEFAULT_MAX_ATTEMPTS } from "@smithy/core/retry";
import { afterEach, describe, expect, it, vi } from "vitest";
import { stubSenderEnvironment } from "../fixtures/function-environment.js";
import { removePerCallHeaders, signingTime } from "../fixtures/sdk-wire.js";
import { type Received, standInServer } from "../fixtures/stand-in-server.js";
import { bucketAddress, createObjectStore, SignedObjectStore } from "./object-store.js";
import { connectionKey } from "./registrations.js";

/**
 * The signed object store on the wire, against an S3 stand-in on 127.0.0.1: its PutObject,
 * DeleteObject, ListObjectsV2 and DeleteObjects are the requests the SDK's commands send for the
 * same input — method, path and query, every header with the signature and the checksum, the
 * body — what it reads from S3's answers is what the SDK reads, and S3's refusals are retried as
 * the SDK's standard mode retries them.
 */

type Reply = { readonly status: number; readonly code: string; readonly message?: string };

const S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/";
/** A ListObjectsV2 page as S3 documents it: two keys, and more to come. */
const LIST_PAGE = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="${S3_NS}"><Name>b</Name><Prefix>connections/</Prefix><NextContinuationToken>n+1/=</NextContinuationToken><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>connections/YQ</Key><Size>2</Size></Contents><Contents><Key>connections/a&amp;b</Key><Size>2</Size></Contents></ListBucketResult>`;
/** A quiet DeleteObjects answer: one key S3 could not delete. */
const DELETE_RESULT = `<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="${S3_NS}"><Error><Key>connections/a&amp;b</Key><Code>AccessDenied</Code><Message>Access &lt;Denied&gt;</Message></Error></DeleteResult>`;

const BUCKET = "websocket-stages-dev-connections-20261201";
const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "IQoJb3JpZ2luX2VjEXAMPLETOKEN+/=",
};

/** S3's answers: the queued error as S3's XML, else 200 for a put and 204 for a delete. */
const stand = standInServer<Reply>((reply, response, request) => {
  if (reply === undefined) {
    if (request.method === "GET") {
      response.writeHead(200, { "content-type": "application/xml" }).end(LIST_PAGE);
    } else if (request.method === "POST") {
      response.writeHead(200, { "content-type": "application/xml" }).end(DELETE_RESULT);
    } else response.writeHead(request.method === "DELETE" ? 204 : 200, { etag: '"e"' }).end();
    return;
  }
  response.writeHead(reply.status, { "content-type": "application/xml" });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${reply.code}</Code><Message>${reply.message ?? "injected"}</Message><RequestId>r</RequestId></Error>`,
  );
});
const { seen, replies } = stand;

const storeWith = (options: ConstructorParameters<typeof SignedObjectStore>[1] = {}) =>
  new SignedObjectStore(BUCKET, {
    endpoint: stand.endpoint,
    region: "eu-west-1",
    credentials: async () => credentials,
    baseDelayMs: 1,
    ...options,
  });

/** The SDK client, less the headers that change per call (fixtures/sdk-wire.ts). */
function sdkClient(): S3Client {
  const sdk = new S3Client({ endpoint: stand.endpoint.href, region: "eu-west-1", credentials });
  removePerCallHeaders(sdk.middlewareStack);
  return sdk;
}

const wire = ({ method, path, headers, body }: Received) => ({ method, path, headers, body });

const KEYS = {
  "a registry key (prefix and base64url)": connectionKey("connections/", "L0SM9cOFvHcCIhw="),
  "a key needing escapes (space, + = ~ * ' ( ) !, unicode)":
    "pre fix/a+b=c~d*e'f(g)h!i/\u00e9\u{1F600}",
  "a key with empty segments": "a//b/",
};
const BODIES = {
  "a registry entry": JSON.stringify({
    connectionId: "L0SM9cOFvHcCIhw=",
    connectedAt: "2026-12-01T12:00:00.000Z",
    sourceIp: "192.0.2.1",
  }),
  "unicode and an empty-looking body": " \u00e9\u{1F600}\n",
};

describe("SignedObjectStore", () => {
  const puts = Object.entries(KEYS).flatMap(([keyName, key]) =>
    Object.entries(BODIES).map(
      ([bodyName, body]) => [`${keyName}, ${bodyName}`, key, body] as const,
    ),
  );

  it.each(puts)("puts as PutObjectCommand puts: %s", async (_, key, body) => {
    const sdk = sdkClient();
    await sdk.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: body,
        ContentType: "application/json",
      }),
    );
    sdk.destroy();
    const [fromSdk] = seen as [Received];
    const at = signingTime(String(fromSdk.headers["x-amz-date"]));
    const store = storeWith({ now: () => at });
    await store.put(key, body, "application/json");
    store.close();

    expect(seen).toHaveLength(2);
    const [, fromStore] = seen as [Received, Received];
    expect(wire(fromStore)).toEqual(wire(fromSdk));
    // Path-style on an IP endpoint, with the SDK's operation marker; the checksum S3 verifies.
    expect(fromStore.method).toBe("PUT");
    expect(fromStore.path.startsWith(`/${BUCKET}/`)).toBe(true);
    expect(fromStore.path.endsWith("?x-id=PutObject")).toBe(true);
    expect(fromStore.headers["x-amz-checksum-crc32"]).toMatch(/^[A-Za-z0-9+/]{6}==$/);
  });

  it.each(Object.entries(KEYS))("deletes as DeleteObjectCommand deletes: %s", async (_, key) => {
    const sdk = sdkClient();
    await sdk.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    sdk.destroy();
    const [fromSdk] = seen as [Received];
    const at = signingTime(String(fromSdk.headers["x-amz-date"]));
    const store = storeWith({ now: () => at });
    await store.remove(key);
    store.close();

    const [, fromStore] = seen as [Received, Received];
    expect(wire(fromStore)).toEqual(wire(fromSdk));
    expect(fromStore.method).toBe("DELETE");
    expect(fromStore.headers["content-length"]).toBeUndefined();
  });

  const tokens = {
    "the first page": undefined,
    "a continuation (escapes: + / = space)": "1ab+/=c d",
  };

  it.each(Object.entries(tokens))(
    "lists as ListObjectsV2Command lists: %s",
    async (_, continuationToken) => {
      const sdk = sdkClient();
      const fromSdkOutput = await sdk.send(
        new ListObjectsV2Command({
          Bucket: BUCKET,
          Prefix: "connections/",
          MaxKeys: 1000,
          ContinuationToken: continuationToken,
        }),
      );
      sdk.destroy();
      const [fromSdk] = seen as [Received];
      const at = signingTime(String(fromSdk.headers["x-amz-date"]));
      const store = storeWith({ now: () => at });
      const page = await store.listPage("connections/", 1000, continuationToken);
      store.close();

      const [, fromStore] = seen as [Received, Received];
      expect(wire(fromStore)).toEqual(wire(fromSdk));
      expect(fromStore.method).toBe("GET");
      // The page as the SDK read the same answer.
      expect(page).toEqual({
        keys: fromSdkOutput.Contents?.map((object) => object.Key),
        isTruncated: fromSdkOutput.IsTruncated,
        nextContinuationToken: fromSdkOutput.NextContinuationToken,
      });
      expect(page.keys).toEqual(["connections/YQ", "connections/a&b"]);
    },
  );

  it("deletes many as DeleteObjectsCommand does, and reads the keys S3 did not delete", async () => {
    const keys = ["connections/YQ", "connections/a&b<c>\"'", "k\r\n\u2028\u0085"];
    const sdk = sdkClient();
    const fromSdkOutput = await sdk.send(
      new DeleteObjectsCommand({
        Bucket: BUCKET,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    sdk.destroy();
    const [fromSdk] = seen as [Received];
    const at = signingTime(String(fromSdk.headers["x-amz-date"]));
    const store = storeWith({ now: () => at });
    const failures = await store.deleteMany(keys);
    store.close();

    const [, fromStore] = seen as [Received, Received];
    expect(wire(fromStore)).toEqual(wire(fromSdk));
    expect(fromStore.path).toBe(`/${BUCKET}/?delete=`);
    expect(failures).toEqual(
      (fromSdkOutput.Errors ?? []).map((error) => ({
        key: error.Key,
        code: error.Code,
        message: error.Message,
      })),
    );
    expect(failures).toEqual([
      { key: "connections/a&b", code: "AccessDenied", message: "Access <Denied>" },
    ]);
  });

  it("carries a session token as x-amz-security-token, under the signature", async () => {
    const store = storeWith();
    await store.put("k", "{}", "application/json");
    store.close();

    const [request] = seen as [Received];
    expect(request.headers["x-amz-security-token"]).toBe(credentials.sessionToken);
    expect(String(request.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=[^,]*x-amz-security-token/,
    );
  });

  it("retries S3's throttling and server errors, then stores", async () => {
    replies.push(
      { status: 503, code: "SlowDown", message: "Please reduce your request rate." },
      { status: 500, code: "InternalError" },
    );
    const store = storeWith();
    await store.put("k", "{}", "application/json");
    store.close();
    expect(seen.map((request) => request.method)).toEqual(["PUT", "PUT", "PUT"]);
  });

  it("does not retry a refusal no retry can fix, and says which (a retryable one in its place is)", async () => {
    const store = storeWith();
    replies.push({ status: 403, code: "AccessDenied", message: "Access Denied &amp; more" });
    await expect(store.put("k", "{}", "application/json")).rejects.toThrow(
      `S3 refused to store k in bucket ${BUCKET}: AccessDenied (HTTP 403): Access Denied & more`,
    );
    expect(seen).toHaveLength(1);

    seen.length = 0;
    replies.push({ status: 503, code: "SlowDown" });
    await store.remove("k");
    expect(seen).toHaveLength(2);
    store.close();
  });

  it(`gives up after exactly ${DEFAULT_MAX_ATTEMPTS} attempts, the SDK's standard`, async () => {
    expect(DEFAULT_MAX_ATTEMPTS).toBe(3);
    replies.push(
      { status: 500, code: "InternalError" },
      { status: 503, code: "SlowDown" },
      { status: 500, code: "InternalError", message: "the last one" },
    );
    const store = storeWith();
    await expect(store.remove("k")).rejects.toThrow(
      `S3 did not delete k in bucket ${BUCKET} in 3 attempts: InternalError (HTTP 500): the last one`,
    );
    // A fourth attempt would have been answered with success.
    expect(seen).toHaveLength(3);
    store.close();
  });

  it("makes an unanswered attempt again on a fresh connection: both operations are idempotent", async () => {
    replies.push("hold");
    const store = storeWith({ answerTimeoutMs: 50 });
    await store.put("k", "{}", "application/json");
    store.close();
    expect(seen).toHaveLength(2);
    expect(seen[1]?.socket).not.toBe(seen[0]?.socket);
  });

  it("keeps its connection alive from one call to the next", async () => {
    const store = storeWith();
    await store.put("a", "{}", "application/json");
    await store.remove("a");
    await store.put("b", "{}", "application/json");
    store.close();
    expect(new Set(seen.map((request) => request.socket)).size).toBe(1);
  });
});

describe("bucketAddress", () => {
  /** Where the SDK's own endpoint rules send a PutObject for this bucket behind this endpoint. */
  async function sdkAddress(bucket: string, endpoint: string | undefined): Promise<string> {
    const sdk = new S3Client({
      region: "eu-west-1",
      ...(endpoint === undefined ? {} : { endpoint }),
      credentials,
    });
    let url = "";
    sdk.middlewareStack.add(
      (_next) => async (args) => {
        if (HttpRequest.isInstance(args.request)) {
          const { protocol, hostname, port, path } = args.request;
          url = `${protocol}//${hostname}${port === undefined ? "" : `:${port}`}${path}`;
        }
        throw new Error("captured");
      },
      { step: "finalizeRequest", priority: "low", name: "capture" },
    );
    await sdk
      .send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x" }))
      .catch(() => undefined);
    return url;
  }

  const CASES: [string, string, string | undefined][] = [
    ["AWS's regional endpoint", BUCKET, undefined],
    ["a configured IP endpoint (the local stage)", BUCKET, "http://127.0.0.1:4566"],
    ["a configured IPv6 endpoint", BUCKET, "http://[::1]:4566"],
    ["a configured host name", BUCKET, "http://s3.internal.example:9000"],
    ["a configured endpoint with a path", BUCKET, "https://proxy.example/s3"],
    ["a configured endpoint with a path ending in a slash", BUCKET, "https://proxy.example/s3/"],
    ["a configured IP endpoint with a path", BUCKET, "http://10.0.0.1/s3"],
    ["a bucket name with dots, on AWS", "my.bucket.name", undefined],
    ["a bucket name with capitals, configured host", "MyBucket", "http://s3.internal.example"],
  ];

  it.each(CASES)("addresses the bucket as the SDK does: %s", async (_, bucket, endpoint) => {
    const base = new URL(endpoint ?? "https://s3.eu-west-1.amazonaws.com");
    const { origin, pathPrefix } = bucketAddress(bucket, base);
    expect(`${origin.protocol}//${origin.host}${pathPrefix}/k`).toBe(
      await sdkAddress(bucket, endpoint),
    );
  });
});

describe("createObjectStore", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("is built where it is created, as the functions' other clients were: a missing region fails there", () => {
    // Every invocation of every function uses the store, so building it later would only move
    // its cost out of the cold start's import into the first call.
    stubSenderEnvironment("s3");
    expect(() => createObjectStore(BUCKET)).toThrow(
      "No region to reach the connection registry in: AWS_REGION is not set. Set AWS_REGION.",
    );
  });

  it("sends every call over one kept-alive connection", async () => {
    stubSenderEnvironment("s3", stand.endpoint, credentials);
    const store = createObjectStore(BUCKET);
    await store.put("k", "{}", "application/json");
    await store.remove("k");
    expect(seen.map((request) => `${request.method} ${request.path}`)).toEqual([
      `PUT /${BUCKET}/k?x-id=PutObject`,
      `DELETE /${BUCKET}/k?x-id=DeleteObject`,
    ]);
    expect(new Set(seen.map((request) => request.socket)).size).toBe(1);
  });
});
