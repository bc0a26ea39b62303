import {
  ForbiddenException,
  LimitExceededException,
  PayloadTooLargeException,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { S3Client } from "@aws-sdk/client-s3";
import { beforeEach, describe, expect, it } from "vitest";
import { LIMITS } from "../contract.js";
import { mockGateway, mockS3, s3Error } from "../fixtures/aws.js";
import { FIXTURE_BUCKET, FIXTURE_ENDPOINT, FIXTURE_PREFIX } from "../fixtures/events.js";
import { captureLogsPerTest } from "../fixtures/logs.js";
import type { Recipients } from "./addressing.js";
import {
  backoffMs,
  type DeliveryOptions,
  deliver,
  fanOutDeadline,
  isRetryable,
  Pullers,
} from "./delivery.js";
import { createManagementClient, Poster } from "./poster.js";
import { Registry } from "./registry.js";
import { SdkObjectStore } from "./sdk-object-store.js";

const bucket = mockS3();
const gateway = mockGateway();
const logs = captureLogsPerTest();

function dependencies() {
  return {
    registry: new Registry(new SdkObjectStore(new S3Client({}), FIXTURE_BUCKET), FIXTURE_PREFIX),
    poster: new Poster(createManagementClient(FIXTURE_ENDPOINT)),
  };
}

const EVERYONE: Recipients = { kind: "everyone" };
/** Fast retry passes, and no deadline in sight. */
const OPTIONS: DeliveryOptions = {
  deadline: Number.MAX_SAFE_INTEGER,
  retry: { passes: 3, baseMs: 2, capMs: 5 },
};

function ids(count: number, tag = "c"): string[] {
  return Array.from({ length: count }, (_, i) => `${tag}${i}+/=`);
}

beforeEach(() => {
  bucket.reset();
  gateway.reset();
});

describe("deliver", () => {
  it("posts to every connection once and counts each outcome", async () => {
    bucket.register(...ids(3, "open"), ...ids(2, "gone"));
    gateway.open(...ids(3, "open"));

    const result = await deliver("frame", EVERYONE, dependencies(), OPTIONS);

    expect(result).toEqual({ delivered: 3, gone: 2, failed: 0, undelivered: [] });
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

    const delivery = deliver("frame", EVERYONE, dependencies(), OPTIONS);
    await expect.poll(() => gateway.postOrder.length, { timeout: 10_000 }).toBe(1000);
    expect(bucket.listCalls).toBe(2);
    releasePage2();

    expect(await delivery).toEqual({ delivered: 1500, gone: 0, failed: 0, undelivered: [] });
  });

  it(`keeps at most ${LIMITS.deliveryConcurrency} posts in flight, and uses them all`, async () => {
    bucket.register(...ids(600));
    gateway.open(...ids(600));
    gateway.delayMs = 2;

    await deliver("frame", EVERYONE, dependencies(), OPTIONS);

    expect(gateway.maxInFlight).toBe(LIMITS.deliveryConcurrency);
  });

  it("removes every stale connection in DeleteObjects batches of at most 1000", async () => {
    bucket.register(...ids(2500, "stale"), ...ids(10, "open"));
    gateway.open(...ids(10, "open"));

    const result = await deliver("frame", EVERYONE, dependencies(), OPTIONS);

    expect(result).toEqual({ delivered: 10, gone: 2500, failed: 0, undelivered: [] });
    expect(bucket.connectionIds()).toEqual(ids(10, "open").sort());
    expect(Math.max(...bucket.deleteBatchSizes)).toBeLessThanOrEqual(1000);
    expect(bucket.deleteBatchSizes.reduce((a, b) => a + b, 0)).toBe(2500);
  });

  it("finishes the posts it started, then rejects, when a later page cannot be listed", async () => {
    bucket.register(...ids(1500));
    gateway.open(...ids(1500));
    gateway.delayMs = 1;
    bucket.failListCall = 2;

    await expect(deliver("frame", EVERYONE, dependencies(), OPTIONS)).rejects.toThrow(
      /ServiceUnavailable/,
    );
    expect(gateway.postOrder).toHaveLength(1000);
    expect(gateway.inFlight).toBe(0);
  });

  it("logs, and does not throw, when stale connections cannot be removed", async () => {
    bucket.register("stale=");
    bucket.failures.set("DeleteObjects", s3Error("AccessDenied", 403));

    expect(await deliver("frame", EVERYONE, dependencies(), OPTIONS)).toEqual({
      delivered: 0,
      gone: 1,
      failed: 0,
      undelivered: [],
    });
    expect(logs.withMessage(/could not be removed/)).toEqual([
      expect.objectContaining({ level: "WARN", count: 1 }),
    ]);
  });

  it("returns zeros for an empty registry", async () => {
    expect(await deliver("frame", EVERYONE, dependencies(), OPTIONS)).toEqual({
      delivered: 0,
      gone: 0,
      failed: 0,
      undelivered: [],
    });
  });

  it("posts to exactly the addressed connections, without listing the registry", async () => {
    bucket.register(...ids(5));
    gateway.open(...ids(5));
    const [first, second] = ids(5);

    const result = await deliver(
      "frame",
      { kind: "connections", connectionIds: [first as string, second as string] },
      dependencies(),
      OPTIONS,
    );

    expect(result).toEqual({ delivered: 2, gone: 0, failed: 0, undelivered: [] });
    expect(bucket.listCalls).toBe(0);
    expect(gateway.postOrder.sort()).toEqual([first, second].sort());
  });

  it("treats an addressed id the gateway does not know as Gone, and removes it", async () => {
    bucket.register("known=", "left=");
    gateway.open("known=");

    const result = await deliver(
      "frame",
      { kind: "connections", connectionIds: ["left=", "never-registered="] },
      dependencies(),
      OPTIONS,
    );

    expect(result).toEqual({ delivered: 0, gone: 2, failed: 0, undelivered: [] });
    expect(bucket.connectionIds()).toEqual(["known="]);
  });
});

const throttled = () =>
  new LimitExceededException({ message: "Rate exceeded", $metadata: { httpStatusCode: 429 } });

describe("deliver: retry passes", () => {
  it("retries only the connection that failed, until it succeeds: everyone gets exactly one copy", async () => {
    bucket.register(...ids(20));
    gateway.open(...ids(20));
    const flaky = ids(20)[7] as string;
    gateway.failuresThenSuccess.set(flaky, [throttled(), throttled()]);

    const result = await deliver("frame", EVERYONE, dependencies(), OPTIONS);

    expect(result).toEqual({ delivered: 20, gone: 0, failed: 0, undelivered: [] });
    for (const id of ids(20)) expect(gateway.framesOf(id)).toEqual(["frame"]);
    expect(gateway.postOrder.filter((id) => id === flaky)).toHaveLength(3);
    expect(gateway.postOrder).toHaveLength(22);
  });

  it("hands back the ids still failing after every pass, and only those", async () => {
    bucket.register(...ids(4));
    gateway.open(...ids(4));
    const [stuck] = ids(4);
    gateway.failures.set(stuck as string, throttled());

    const result = await deliver("frame", EVERYONE, dependencies(), OPTIONS);

    expect(result).toEqual({ delivered: 3, gone: 0, failed: 0, undelivered: [stuck] });
    expect(gateway.postOrder.filter((id) => id === stuck)).toHaveLength(4);
  });

  it("does not retry a final failure (413, 403)", async () => {
    bucket.register("big=", "denied=");
    gateway.open("big=", "denied=");
    gateway.failures.set(
      "big=",
      new PayloadTooLargeException({ message: "too big", $metadata: { httpStatusCode: 413 } }),
    );
    gateway.failures.set(
      "denied=",
      new ForbiddenException({ message: "Forbidden", $metadata: { httpStatusCode: 403 } }),
    );

    const result = await deliver("frame", EVERYONE, dependencies(), OPTIONS);

    expect(result).toEqual({ delivered: 0, gone: 0, failed: 2, undelivered: [] });
    expect(gateway.postOrder).toHaveLength(2);
  });

  it("starts no post after the deadline and reports those connections undelivered", async () => {
    bucket.register(...ids(3));
    gateway.open(...ids(3));

    const result = await deliver("frame", EVERYONE, dependencies(), {
      ...OPTIONS,
      deadline: 1000,
      now: () => 1000,
    });

    expect(result.delivered).toBe(0);
    expect([...result.undelivered].sort()).toEqual(ids(3).sort());
    expect(gateway.postOrder).toHaveLength(0);
  });

  it("skips a retry pass whose backoff would end after the deadline", async () => {
    bucket.register("busy=");
    gateway.open("busy=");
    gateway.failures.set("busy=", throttled());

    const result = await deliver("frame", EVERYONE, dependencies(), {
      deadline: 100,
      retry: { passes: 3, baseMs: 1000, capMs: 1000 },
      now: () => 0,
      random: () => 0.5,
    });

    expect(result.undelivered).toEqual(["busy="]);
    expect(gateway.postOrder).toEqual(["busy="]);
  });
});

describe("retry policy", () => {
  it.each([
    [429, true],
    [500, true],
    [503, true],
    [undefined, true],
    [403, false],
    [413, false],
    [400, false],
  ])("a post failing with HTTP %s is retryable: %s", (statusCode, expected) => {
    expect(
      isRetryable({
        status: "failed",
        error: "e",
        ...(statusCode === undefined ? {} : { statusCode }),
      }),
    ).toBe(expected);
  });

  it("backs off exponentially up to the cap, with full jitter", () => {
    const retry = { baseMs: 100, capMs: 1000 };
    expect([1, 2, 3, 4, 5].map((pass) => backoffMs(pass, retry, () => 0.999_999))).toEqual([
      99, 199, 399, 799, 999,
    ]);
    expect(backoffMs(3, retry, () => 0)).toBe(0);
  });

  it("leaves a safety margin before the Lambda deadline and the integration's 29 s", () => {
    const context = (remaining: number) => ({ getRemainingTimeInMillis: () => remaining });
    expect(fanOutDeadline(context(60_000), 0)).toBe(60_000 - LIMITS.deliverySafetyMarginMs);
    expect(fanOutDeadline(context(60_000), 5_000, 1_000)).toBe(
      1_000 + LIMITS.integrationTimeoutMs - LIMITS.deliverySafetyMarginMs,
    );
    // A short budget keeps three quarters of itself.
    expect(fanOutDeadline(context(4_000), 0)).toBe(3_000);
  });
});

describe("Pullers", () => {
  /** Work that finishes only when the test releases it, recording what runs at once. */
  function heldWork() {
    const release = new Map<string, () => void>();
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const work = (id: string) =>
      new Promise<void>((resolve) => {
        started.push(id);
        running += 1;
        most = Math.max(most, running);
        release.set(id, () => {
          running -= 1;
          resolve();
        });
      });
    return { work, release, started, most: () => most };
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it("runs at most `concurrency` ids at once, in order, and fills up across batches", async () => {
    const held = heldWork();
    const pullers = new Pullers(3, held.work);
    let firstDone = false;
    const first = pullers.run(["a", "b"]).then(() => {
      firstDone = true;
    });
    const second = pullers.run(["c", "d", "e"]);
    await settle();
    // The second batch starts while the first is in flight: a, b and c at once, no more.
    expect(held.started).toEqual(["a", "b", "c"]);
    expect(held.most()).toBe(3);
    held.release.get("b")?.();
    await settle();
    expect(held.started).toEqual(["a", "b", "c", "d"]);
    expect(firstDone).toBe(false);
    held.release.get("a")?.();
    await first;
    for (const id of ["c", "d", "e"]) {
      await settle();
      held.release.get(id)?.();
    }
    await second;
    expect(held.started).toEqual(["a", "b", "c", "d", "e"]);
    expect(held.most()).toBe(3);
  });

  it("rejects a batch with its first error only after its other ids finished", async () => {
    const finished: string[] = [];
    const pullers = new Pullers(2, async (id) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (id.startsWith("bad")) throw new Error(id);
      finished.push(id);
    });
    await expect(pullers.run(["bad1", "ok1", "bad2", "ok2"])).rejects.toThrow("bad1");
    expect(finished).toEqual(["ok1", "ok2"]);
    // Positive control: a batch without errors resolves, and the pullers still work.
    await expect(pullers.run(["ok3"])).resolves.toBeUndefined();
    expect(finished).toEqual(["ok1", "ok2", "ok3"]);
  });
});
