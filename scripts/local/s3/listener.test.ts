import { execFile, execFileSync } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LOOPBACK_CREDENTIALS } from "../http/request-signature.js";
import { presignedUrl, signedFetch } from "../http/signed-fetch.js";
import { s3Listener } from "./listener.js";
import { S3Store } from "./store.js";

/** The AWS CLI is on some machines (this project's CI image), not on a user's: test it when present. */
const awsCli = (() => {
  try {
    execFileSync("aws", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

let server: Server;
let endpoint: string;
let client: S3Client;
let bucketNumber = 0;
let bucket: string;
/** content-encoding of every request, to prove which uploads came aws-chunked. */
const encodings: string[] = [];

beforeAll(async () => {
  const listener = s3Listener(new S3Store());
  server = createServer((request, response) => {
    encodings.push(String(request.headers["content-encoding"] ?? ""));
    listener(request, response);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  endpoint = `http://127.0.0.1:${port}`;
  client = new S3Client({
    endpoint,
    region: "us-east-1",
    // The stage's own key: every request below is verified, not merely accepted.
    credentials: LOOPBACK_CREDENTIALS,
  });
});

afterAll(async () => {
  client.destroy();
  server.close();
  await once(server, "close");
});

beforeEach(async () => {
  bucket = `conformance-${++bucketNumber}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
});

async function listAll(prefix?: string, pageSize?: number): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        ContinuationToken: token,
        ...(prefix === undefined ? {} : { Prefix: prefix }),
        ...(pageSize === undefined ? {} : { MaxKeys: pageSize }),
      }),
    );
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ""));
    expect(page.KeyCount).toBe(page.Contents?.length ?? 0);
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    if (page.IsTruncated === true) expect(token).toBeTruthy();
  } while (token !== undefined);
  return keys;
}

function randomKey(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
  let key = "";
  for (let i = 0; i < 16; i++) key += alphabet[Math.floor(Math.random() * alphabet.length)];
  return key;
}

describe("local S3 with the real S3 client", () => {
  it("round-trips an object with mixed-case and +/= in its key", async () => {
    const key = "connections/L0SM9cOFvHcCIhw=/a+b c";
    const put = await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: '{"x":1}',
        ContentType: "application/json",
      }),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await got.Body?.transformToString()).toBe('{"x":1}');
    expect(got.ContentType).toBe("application/json");
    expect(got.ETag).toBe(put.ETag);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(7);
    expect(await listAll()).toEqual([key]);
  });

  it("stores an aws-chunked streaming upload as its payload", async () => {
    const { Readable } = await import("node:stream");
    const body = Buffer.alloc(200_000, "a");
    encodings.length = 0;
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "streamed",
        Body: Readable.from([body.subarray(0, 70_000), body.subarray(70_000)]),
        ContentLength: body.length,
      }),
    );
    expect(encodings).toContain("aws-chunked");
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "streamed" }));
    expect(Buffer.from(await (got.Body?.transformToByteArray() ?? [])).equals(body)).toBe(true);
  });

  it("answers NoSuchKey for a missing key and 404 to HeadObject", async () => {
    await expect(
      client.send(new GetObjectCommand({ Bucket: bucket, Key: "nope" })),
    ).rejects.toBeInstanceOf(NoSuchKey);
    await expect(
      client.send(new HeadObjectCommand({ Bucket: bucket, Key: "nope" })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  // 2,500 signed and verified PutObjects: 19–21 s on a loaded 2-core machine, over vitest's 20 s.
  it("lists more than 1000 random mixed-case keys exactly once each, in order, across pages", async () => {
    const keys = new Set<string>();
    while (keys.size < 2500) keys.add(`connections/${randomKey()}`);
    await Promise.all(
      [...keys].map((Key) =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "{}" })),
      ),
    );
    const listed = await listAll("connections/");
    expect(listed).toHaveLength(2500);
    expect(new Set(listed)).toEqual(keys);
    expect(listed).toEqual(
      [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
    const firstPage = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(firstPage.Contents).toHaveLength(1000);
    expect(firstPage.IsTruncated).toBe(true);
  }, 60_000);

  it("honours Prefix and small MaxKeys pages", async () => {
    for (const Key of ["a/1", "a/2", "a/3", "b/1", "ab"]) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
    }
    expect(await listAll("a/", 2)).toEqual(["a/1", "a/2", "a/3"]);
    expect(await listAll("b/")).toEqual(["b/1"]);
    expect(await listAll("c/")).toEqual([]);
  });

  it("keeps a consistent registry under concurrent puts and deletes", async () => {
    const keys = Array.from({ length: 600 }, (_, i) => `connections/k${i}+=/`);
    await Promise.all(
      keys.map((Key) => client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "{}" }))),
    );
    const doomed = keys.filter((_, i) => i % 2 === 0);
    const added = Array.from({ length: 300 }, (_, i) => `connections/new${i}`);
    const results = await Promise.allSettled([
      ...doomed.map((Key) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key }))),
      ...added.map((Key) => client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "{}" }))),
      listAll("connections/", 100),
    ]);
    expect(results.filter((result) => result.status === "rejected")).toEqual([]);
    const expected = [...keys.filter((_, i) => i % 2 === 1), ...added];
    expect(new Set(await listAll("connections/"))).toEqual(new Set(expected));
  });

  it("deletes a batch with DeleteObjects, missing keys included", async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `batch/${i}=`);
    await Promise.all(
      keys.map((Key) => client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "x" }))),
    );
    const result = await client.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: [...keys, "batch/missing"].slice(1).map((Key) => ({ Key })) },
      }),
    );
    expect(result.Deleted).toHaveLength(1000);
    expect(result.Errors ?? []).toEqual([]);
    expect(await listAll()).toEqual(["batch/0="]);
  });

  it("reports a missing bucket as NoSuchBucket and deletes only empty buckets", async () => {
    await expect(
      client.send(new PutObjectCommand({ Bucket: "missing-bucket", Key: "k", Body: "x" })),
    ).rejects.toMatchObject({ name: "NoSuchBucket", $metadata: { httpStatusCode: 404 } });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x" }));
    await expect(client.send(new DeleteBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({
      name: "BucketNotEmpty",
    });
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "k" }));
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    const headError = await client
      .send(new HeadBucketCommand({ Bucket: bucket }))
      .catch((e: unknown) => e);
    expect(headError).toBeInstanceOf(S3ServiceException);
    expect((headError as S3ServiceException).$metadata.httpStatusCode).toBe(404);
  });

  it.skipIf(!awsCli)(
    "serves the AWS CLI: list-objects-v2 (url-encoded listing) and cp of an escaped key",
    async () => {
      const aws = (...args: string[]) =>
        promisify(execFile)("aws", ["--endpoint-url", endpoint, ...args], {
          env: {
            ...process.env,
            // The stage's key, so botocore's signatures are verified too.
            AWS_ACCESS_KEY_ID: LOOPBACK_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: LOOPBACK_CREDENTIALS.secretAccessKey,
            AWS_DEFAULT_REGION: "us-east-1",
          },
        });
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: "connections/L0SM9cOF+/=x y", Body: "{}" }),
      );
      const listed = JSON.parse(
        (await aws("s3api", "list-objects-v2", "--bucket", bucket)).stdout,
      ) as {
        Contents: { Key: string }[];
      };
      expect(listed.Contents.map((object) => object.Key)).toEqual(["connections/L0SM9cOF+/=x y"]);
      const copied = await aws("s3", "cp", `s3://${bucket}/connections/L0SM9cOF+/=x y`, "-");
      expect(copied.stdout).toBe("{}");
    },
    // Each AWS CLI run starts a Python interpreter: 7–20 s for three on a loaded machine.
    60_000,
  );

  it("answers malformed paths and DeleteObjects bodies with S3's 400 errors, not 500", async () => {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const answer = async (path: string, init?: { method?: string; body?: string }) => {
      const response = await signedFetch(`${endpoint}${path}`, init ?? {}, {
        service: "s3",
        credentials: LOOPBACK_CREDENTIALS,
      });
      const text = await response.text();
      return `${response.status} ${/<Code>([^<]*)<\/Code>/.exec(text)?.[1]}`;
    };
    const deleteWith = (xml: string) => answer(`/${bucket}?delete`, { method: "POST", body: xml });
    expect(await answer(`/${bucket}/bad%ZZkey`)).toBe("400 InvalidURI");
    expect(await answer(`/${bucket}/bad%FFkey`)).toBe("400 InvalidURI");
    expect(await answer("/bad%ZZbucket")).toBe("400 InvalidURI");
    expect(await deleteWith("<Delete><Object><Key>a</Key></Object>")).toBe("400 MalformedXML");
    expect(
      await deleteWith(
        '<!DOCTYPE x [<!ENTITY e "y">]><Delete><Object><Key>&e;</Key></Object></Delete>',
      ),
    ).toBe("400 MalformedXML");
    expect(await deleteWith("<Delete><__proto__><Key>a</Key></__proto__></Delete>")).toBe(
      "400 MalformedXML",
    );
    // Positive control: the same helpers, well-formed, succeed.
    expect(await answer(`/${bucket}/good%2Bkey`)).toBe("404 NoSuchKey");
    expect(await deleteWith("<Delete><Object><Key>a</Key></Object></Delete>")).toBe(
      "200 undefined",
    );
  });

  it("refuses unsigned requests with S3's AccessDenied and changes nothing", async () => {
    const put = await fetch(`${endpoint}/${bucket}/planted`, { method: "PUT", body: "x" });
    expect(put.status).toBe(403);
    expect(await put.text()).toContain("<Code>AccessDenied</Code>");
    const list = await fetch(`${endpoint}/${bucket}?list-type=2`);
    expect(list.status).toBe(403);
    await list.arrayBuffer();
    expect(await listAll()).toEqual([]);
    // Positive control: the same put, signed, stores the object.
    const signed = await signedFetch(
      `${endpoint}/${bucket}/planted`,
      { method: "PUT", body: "x" },
      { service: "s3", credentials: LOOPBACK_CREDENTIALS },
    );
    expect(signed.status).toBe(200);
    expect(await listAll()).toEqual(["planted"]);
  });

  it("refuses the stage's key with a wrong secret: SignatureDoesNotMatch, nothing stored", async () => {
    const wrong = new S3Client({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: LOOPBACK_CREDENTIALS.accessKeyId, secretAccessKey: "wrong" },
      maxAttempts: 1,
    });
    const error = await wrong
      .send(new PutObjectCommand({ Bucket: bucket, Key: "forged", Body: "x" }))
      .catch((e: unknown) => e);
    wrong.destroy();
    expect(error).toMatchObject({
      name: "SignatureDoesNotMatch",
      $metadata: { httpStatusCode: 403 },
    });
    expect(await listAll()).toEqual([]);
  });

  it("serves a presigned GET URL made with the stage's key", async () => {
    const key = "shared/a+b c=";
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "presigned" }));
    const url = await presignedUrl(
      `${endpoint}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`,
      "GET",
      300,
      { service: "s3", credentials: LOOPBACK_CREDENTIALS },
    );
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("presigned");
  });
});
