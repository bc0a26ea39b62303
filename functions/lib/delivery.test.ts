import { S3Client } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LIMITS } from "../contract.js";
import { mockGateway, mockS3, s3Error } from "../fixtures/aws.js";
import { FIXTURE_BUCKET, FIXTURE_ENDPOINT, FIXTURE_PREFIX } from "../fixtures/events.js";
import { LogCapture } from "../fixtures/logs.js";
import { deliver } from "./delivery.js";
import { createManagementClient, Poster } from "./poster.js";
import { Registry } from "./registry.js";

const bucket = mockS3();
const gateway = mockGateway();
const logs = new LogCapture();

function dependencies() {
  return {
    registry: new Registry(new S3Client({}), FIXTURE_BUCKET, FIXTURE_PREFIX),
    poster: new Poster(createManagementClient(FIXTURE_ENDPOINT)),
  };
}

function ids(count: number, tag = "c"): string[] {
  return Array.from({ length: count }, (_, i) => `${tag}${i}+/=`);
}

beforeEach(() => {
  bucket.reset();
  gateway.reset();
  logs.start();
});
afterEach(() => logs.stop());

describe("deliver", () => {
  it("posts to every connection once and counts each outcome", async () => {
    bucket.register(...ids(3, "open"), ...ids(2, "gone"));
    gateway.open(...ids(3, "open"));

    const result = await deliver("frame", dependencies());

    expect(result).toEqual({ delivered: 3, gone: 2, failed: 0 });
    expect(gateway.postOrder).toHaveLength(5);
    for (const id of ids(3, "open")) expect(gateway.framesOf(id)).toEqual(["frame"]);
  });

  it("starts posting to page 1 while page 2 is still loading", async () => {
    bucket.register(...ids(1500));
    gateway.open(...ids(1500));
    let releasePage2 = () => {};
    bucket.heldPages.set(
      2,
      new Promise<void>((resolve) => {
        releasePage2 = resolve;
      }),
    );

    const delivery = deliver("frame", dependencies());
    await expect.poll(() => gateway.postOrder.length, { timeout: 10_000 }).toBe(1000);
    expect(bucket.listCalls).toBe(2);
    releasePage2();

    expect(await delivery).toEqual({ delivered: 1500, gone: 0, failed: 0 });
  });

  it(`keeps at most ${LIMITS.deliveryConcurrency} posts in flight, and uses them all`, async () => {
    bucket.register(...ids(600));
    gateway.open(...ids(600));
    gateway.delayMs = 2;

    await deliver("frame", dependencies());

    expect(gateway.maxInFlight).toBe(LIMITS.deliveryConcurrency);
  });

  it("removes every stale connection in DeleteObjects batches of at most 1000", async () => {
    bucket.register(...ids(2500, "stale"), ...ids(10, "open"));
    gateway.open(...ids(10, "open"));

    const result = await deliver("frame", dependencies());

    expect(result).toEqual({ delivered: 10, gone: 2500, failed: 0 });
    expect(bucket.connectionIds()).toEqual(ids(10, "open").sort());
    expect(Math.max(...bucket.deleteBatchSizes)).toBeLessThanOrEqual(1000);
    expect(bucket.deleteBatchSizes.reduce((a, b) => a + b, 0)).toBe(2500);
  });

  it("finishes the posts it started, then rejects, when a later page cannot be listed", async () => {
    bucket.register(...ids(1500));
    gateway.open(...ids(1500));
    gateway.delayMs = 1;
    bucket.failListCall = 2;

    await expect(deliver("frame", dependencies())).rejects.toThrow(/ServiceUnavailable/);
    expect(gateway.postOrder).toHaveLength(1000);
    expect(gateway.inFlight).toBe(0);
  });

  it("logs, and does not throw, when stale connections cannot be removed", async () => {
    bucket.register("stale=");
    bucket.failures.set("DeleteObjects", s3Error("AccessDenied", 403));

    expect(await deliver("frame", dependencies())).toEqual({ delivered: 0, gone: 1, failed: 0 });
    expect(logs.withMessage(/could not be removed/)).toEqual([
      expect.objectContaining({ level: "WARN", count: 1 }),
    ]);
  });

  it("returns zeros for an empty registry", async () => {
    expect(await deliver("frame", dependencies())).toEqual({ delivered: 0, gone: 0, failed: 0 });
  });
});
