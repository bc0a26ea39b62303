import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { beforeEach, describe, expect, it } from "vitest";
import { LIMITS } from "../contract.js";
import { mockS3 } from "../fixtures/aws.js";
import { FIXTURE_BUCKET, FIXTURE_PREFIX } from "../fixtures/events.js";
import { connectionIdFromKey, connectionKey, Registry } from "./registry.js";
import { SdkObjectStore } from "./sdk-object-store.js";

const bucket = mockS3();
const registry = () =>
  new Registry(new SdkObjectStore(new S3Client({}), FIXTURE_BUCKET), FIXTURE_PREFIX);

beforeEach(() => {
  bucket.reset();
});

async function collect(pages: AsyncIterable<string[]>): Promise<string[][]> {
  const all: string[][] = [];
  for await (const page of pages) all.push(page);
  return all;
}

describe("connection keys", () => {
  it("encode ids with + / = and mixed case as base64url under the prefix", () => {
    expect(connectionKey("connections/", "L0SM9cOFvHcCIhw=")).toBe(
      "connections/TDBTTTljT0Z2SGNDSWh3PQ",
    );
    expect(connectionKey("connections/", "ab+c/d=")).toBe("connections/YWIrYy9kPQ");
  });

  it("decode back to the same id", () => {
    for (const id of ["ab+c/d=", "AB+C/D=", "x", "L0SM9cOFvHcCIhw="]) {
      expect(connectionIdFromKey("connections/", connectionKey("connections/", id))).toBe(id);
    }
  });

  it("ignore keys this registry did not write", () => {
    expect(connectionIdFromKey("connections/", "connections/")).toBeUndefined();
    expect(connectionIdFromKey("connections/", "connections/a/b")).toBeUndefined();
    expect(connectionIdFromKey("connections/", "other/YWIrYy9kPQ")).toBeUndefined();
    expect(connectionIdFromKey("connections/", "connections/YWIrYy9kPQ=")).toBeUndefined();
  });
});

describe("registry", () => {
  it("lists more than 1000 connections a ListObjectsV2 page at a time", async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `id${i}+/=`);
    bucket.register(...ids);

    const pages = await collect(registry().pages());

    expect(pages.map((p) => p.length)).toEqual([1000, 1000, 500]);
    expect(pages.flat().sort()).toEqual([...ids].sort());
    const requests = bucket.mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input);
    expect(requests.map((r) => [r.Prefix, r.MaxKeys])).toEqual([
      [FIXTURE_PREFIX, LIMITS.s3PageSize],
      [FIXTURE_PREFIX, LIMITS.s3PageSize],
      [FIXTURE_PREFIX, LIMITS.s3PageSize],
    ]);
    expect(requests[0]?.ContinuationToken).toBeUndefined();
    expect(requests[1]?.ContinuationToken).toBeDefined();
  });

  it("requests the next page before the caller has finished with the current one", async () => {
    bucket.register(...Array.from({ length: 1500 }, (_, i) => `p${i}`));
    const iterator = registry().pages();

    await iterator.next();
    await new Promise((resolve) => setImmediate(resolve));

    expect(bucket.listCalls).toBe(2);
    await iterator.return(undefined);
  });

  it("skips objects under the prefix that are not connection keys", async () => {
    bucket.register("real=");
    bucket.objects.set(`${FIXTURE_PREFIX}not/a/connection`, "{}");

    expect((await collect(registry().pages())).flat()).toEqual(["real="]);
  });

  it("rejects when a page cannot be listed", async () => {
    bucket.register(...Array.from({ length: 1500 }, (_, i) => `p${i}`));
    bucket.failListCall = 2;

    await expect(collect(registry().pages())).rejects.toThrow(/ServiceUnavailable/);
  });

  it("removes many connections in DeleteObjects batches of at most 1000", async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `gone${i}`);
    bucket.register(...ids, "kept");

    const failures = await registry().removeMany(ids);

    expect(failures).toEqual([]);
    expect(bucket.deleteBatchSizes).toEqual([1000, 1000, 500]);
    expect(bucket.connectionIds()).toEqual(["kept"]);
  });

  it("returns the connections S3 reported as not deleted", async () => {
    bucket.mock.on(DeleteObjectsCommand).resolves({
      Errors: [
        { Key: connectionKey(FIXTURE_PREFIX, "ab+c/d="), Code: "AccessDenied", Message: "no" },
      ],
    });

    expect(await registry().removeMany(["ab+c/d=", "other"])).toEqual([
      { connectionId: "ab+c/d=", code: "AccessDenied", message: "no" },
    ]);
  });

  it("does nothing for an empty removal", async () => {
    expect(await registry().removeMany([])).toEqual([]);
    expect(bucket.mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });
});
