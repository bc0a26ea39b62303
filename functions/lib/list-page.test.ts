import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
} from "@aws-sdk/client-s3";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseListPage, xmlText } from "./list-page.js";
import { SignedObjectStore } from "./object-store.js";
import { connectionKey, Registry } from "./registry.js";

/**
 * The page reader against S3's documented ListObjectsV2 answer (a ListBucketResult document, as
 * the S3 API reference shows it), compared with the SDK's own deserializer on the same bytes, and
 * the registry listing through the functions' signed store against a local server speaking that
 * wire.
 */

const NS = "http://s3.amazonaws.com/doc/2006-03-01/";

interface Page {
  readonly keys: readonly string[];
  readonly token?: string;
  readonly writeText?: (text: string) => string;
}

/** Escapes as S3 does: the markup characters, and the quotes in ETags. */
function s3Escape(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** A ListObjectsV2 answer shaped like the S3 API reference's examples. */
function listBucketResult({ keys, token, writeText = s3Escape }: Page): string {
  const contents = keys
    .map(
      (key) => `<Contents>
        <Key>${writeText(key)}</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
        <ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm>
        <ChecksumType>FULL_OBJECT</ChecksumType>
        <Size>434234</Size>
        <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>mtd@amazon.com</DisplayName></Owner>
        <StorageClass>STANDARD</StorageClass>
    </Contents>`,
    )
    .join("\n    ");
  return `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="${NS}">
    <Name>example-bucket</Name>
    <Prefix>connections/</Prefix>
    ${token === undefined ? "" : `<NextContinuationToken>${s3Escape(token)}</NextContinuationToken>`}
    <KeyCount>${keys.length}</KeyCount>
    <MaxKeys>1000</MaxKeys>
    <IsTruncated>${token === undefined ? "false" : "true"}</IsTruncated>
    ${contents}
</ListBucketResult>`;
}

describe("parseListPage", () => {
  it("reads the keys, IsTruncated and NextContinuationToken of S3's documented answer", () => {
    const token = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=";
    expect(
      parseListPage(listBucketResult({ keys: ["my-image.jpg", "my-third-image.jpg"], token })),
    ).toEqual({
      keys: ["my-image.jpg", "my-third-image.jpg"],
      isTruncated: true,
      nextContinuationToken: token,
    });
    expect(parseListPage(listBucketResult({ keys: [] }))).toEqual({
      keys: [],
      isTruncated: false,
      nextContinuationToken: undefined,
    });
  });

  it("decodes the predefined entities and character references in keys", () => {
    expect(xmlText("a&amp;b&lt;c&gt;d&quot;e&apos;f&#38;g&#x3C;h&#x1F600;")).toBe(
      "a&b<c>d\"e'f&g<h😀",
    );
    expect(parseListPage(listBucketResult({ keys: ["p&q/<x>"] }))?.keys).toEqual(["p&q/<x>"]);
  });

  it("takes no page it cannot read exactly", () => {
    const page = listBucketResult({ keys: ["a", "b"] });
    // Positive control: the page itself is read.
    expect(parseListPage(page)?.keys).toEqual(["a", "b"]);
    const unread = [
      page.replace("<KeyCount>2</KeyCount>", "<KeyCount>3</KeyCount>"),
      page.replace("<Key>a</Key>", "<Key><![CDATA[a]]></Key>"),
      page.replace("<Contents>", '<Contents xmlns="x">'),
      page.replace("<Key>a</Key>", "<Key>a&nbsp;</Key>"),
      page.replace("<Key>a</Key>", "<Key>a&#xD800;</Key>"),
      page.replace("<Key>a</Key>", "<Key>a\r</Key>"),
      page.replace("<Key>a</Key>", ""),
      page.replace("<MaxKeys>", "<EncodingType>url</EncodingType><MaxKeys>"),
      page.replace("<IsTruncated>false</IsTruncated>", "<IsTruncated>true</IsTruncated>"),
      page.replace("<IsTruncated>false</IsTruncated>", ""),
      page.replace("</ListBucketResult>", ""),
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`,
    ];
    for (const body of unread) expect(parseListPage(body), body).toBeUndefined();
  });
});

/** A local server answering ListObjectsV2 with the next queued answer. */
let server: Server;
let endpoint: string;
const answers: { status: number; body: string }[] = [];
const requests: URL[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    requests.push(new URL(request.url ?? "/", "http://s3.local"));
    const answer = answers.shift() ?? { status: 500, body: "no answer queued" };
    response
      .writeHead(answer.status, { "content-type": "application/xml", "x-amz-request-id": "REQ1" })
      .end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  answers.length = 0;
  requests.length = 0;
});

function s3(): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  });
}

/** One ListObjectsV2 answered with `body`, deserialized by the SDK's own deserializer. */
async function sdkList(client: S3Client, body: string): Promise<ListObjectsV2CommandOutput> {
  answers.push({ status: 200, body });
  return client.send(
    new ListObjectsV2Command({ Bucket: "example-bucket", Prefix: "connections/" }),
  );
}

/** The functions' signed store against the same server (path-style: an IP endpoint). */
function store(): SignedObjectStore {
  return new SignedObjectStore("example-bucket", {
    endpoint: new URL(endpoint),
    region: "us-east-1",
    credentials: async () => ({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }),
    baseDelayMs: 1,
  });
}

describe("parseListPage against the SDK's deserializer", () => {
  it("reads the same keys and continuation, for any keys", async () => {
    const client = s3();
    const keyChar = fc.constantFrom(..."aZ09-_/.+=&<>\"' é😀~%");
    const escapes = fc.constantFrom<(text: string) => string>(
      s3Escape,
      // Every character as a reference, decimal or hex: what an XML writer may send. Characters
      // beyond the BMP stay literal here: the SDK's XML parser drops a reference to one (the
      // reader decodes it, as XML says: see "decodes the predefined entities…").
      (text) => [...text].map((c) => (c.length > 1 ? c : `&#${c.codePointAt(0)};`)).join(""),
      (text) =>
        [...text].map((c) => (c.length > 1 ? c : `&#x${c.codePointAt(0)?.toString(16)};`)).join(""),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: keyChar, minLength: 1, maxLength: 12 }), { maxLength: 20 }),
        fc.option(fc.string({ unit: keyChar, minLength: 1, maxLength: 20 }), { nil: undefined }),
        escapes,
        async (keys, token, writeText) => {
          const body = listBucketResult({
            keys,
            writeText,
            ...(token === undefined ? {} : { token }),
          });
          const sdk = await sdkList(client, body);
          const page = parseListPage(body);
          expect(page?.keys).toEqual(sdk.Contents?.map((c) => c.Key) ?? []);
          expect(page?.isTruncated).toBe(sdk.IsTruncated);
          expect(page?.nextContinuationToken).toBe(sdk.NextContinuationToken);
        },
      ),
      { numRuns: 40 },
    );
    client.destroy();
  });
});

describe("Registry.pages over the wire, through the signed store", () => {
  it("lists every page, following the continuation token", async () => {
    const bucket = store();
    const prefix = "connections/";
    const ids = ["ab+c/d=", "L0SM9cOFvHcCIhw=", "x"];
    answers.push(
      {
        status: 200,
        body: listBucketResult({ keys: [connectionKey(prefix, ids[0] as string)], token: "t&1" }),
      },
      {
        status: 200,
        body: listBucketResult({ keys: ids.slice(1).map((id) => connectionKey(prefix, id)) }),
      },
    );
    const pages: string[][] = [];
    for await (const page of new Registry(bucket, prefix).pages()) pages.push(page);
    bucket.close();
    expect(pages).toEqual([[ids[0]], ids.slice(1)]);
    expect(requests.map((r) => r.searchParams.get("continuation-token"))).toEqual([null, "t&1"]);
    expect(requests.every((r) => r.searchParams.get("list-type") === "2")).toBe(true);
    expect(requests.some((r) => r.searchParams.has("encoding-type"))).toBe(false);
  });

  it("fails a listing whose page the reader does not take, saying what S3 sent (a readable one passes)", async () => {
    const bucket = store();
    const readable = listBucketResult({ keys: ["connections/YQ"] });
    answers.push(
      { status: 200, body: readable },
      {
        status: 200,
        body: readable.replace("<Key>connections/YQ</Key>", "<Key><![CDATA[a]]></Key>"),
      },
    );
    expect((await bucket.listPage("connections/", 1000, undefined)).keys).toEqual([
      "connections/YQ",
    ]);
    await expect(bucket.listPage("connections/", 1000, undefined)).rejects.toThrow(
      /^S3 answered ListObjectsV2 on bucket example-bucket with a body that is not a ListBucketResult this reader takes \(list-page.ts\): <\?xml/,
    );
    // Not retried: the same body would come back.
    expect(requests).toHaveLength(2);
    bucket.close();
  });

  it("refuses S3's errors with S3's code and message, a 200 carrying an Error document too", async () => {
    const bucket = store();
    const denied = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>REQ1</RequestId></Error>`;
    answers.push({ status: 403, body: denied }, { status: 200, body: denied });
    await expect(bucket.listPage("connections/", 1000, undefined)).rejects.toThrow(
      "S3 refused to list connections/ in bucket example-bucket: AccessDenied (HTTP 403): Access Denied",
    );
    await expect(bucket.listPage("connections/", 1000, undefined)).rejects.toThrow(
      /not a ListBucketResult this reader takes/,
    );
    bucket.close();
  });
});
