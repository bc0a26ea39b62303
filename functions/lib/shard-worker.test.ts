import { S3Client } from "@aws-sdk/client-s3";
import { beforeEach, describe, expect, it } from "vitest";
import { mockS3 } from "../fixtures/aws.js";
import { ManualClock } from "../fixtures/clock.js";
import { FIXTURE_BUCKET, FIXTURE_PREFIX } from "../fixtures/events.js";
import { captureLogsPerTest } from "../fixtures/logs.js";
import { PacedPoster } from "./paced-poster.js";
import type { Poster, PostOutcome } from "./poster.js";
import { Registry } from "./registry.js";
import { SdkObjectStore } from "./sdk-object-store.js";
import { mustFail, runShard } from "./shard-worker.js";
import type { ShardEvent } from "./shards.js";
import { TokenBucket } from "./token-bucket.js";

const bucket = mockS3();
const _logs = captureLogsPerTest();
beforeEach(() => bucket.reset());

/** Answers every post at once with `answer(id)`, noting the clock time of each. */
class RecordingPoster implements Poster {
  readonly times: number[] = [];
  readonly posted: string[] = [];
  constructor(
    private readonly clock: ManualClock,
    private readonly answer: (id: string) => PostOutcome = () => ({ status: "delivered" }),
  ) {}
  async post(connectionId: string): Promise<PostOutcome> {
    this.times.push(this.clock.now());
    this.posted.push(connectionId);
    return this.answer(connectionId);
  }
}

function shard(connectionIds: string[], postsPerSecond: number): ShardEvent {
  return {
    message: "m",
    connectionIds,
    postsPerSecond,
    shard: { index: 0, count: 1 },
    origin: { function: "subscriber", requestId: "r" },
  };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `w${i}+/=`);
const registry = () =>
  new Registry(new SdkObjectStore(new S3Client({}), FIXTURE_BUCKET), FIXTURE_PREFIX);

describe("runShard", () => {
  it("posts at its share of the budget: 100 posts at 20 per second, never more than 20 in a second", async () => {
    const clock = new ManualClock(0);
    const poster = new RecordingPoster(clock);

    const running = runShard(shard(ids(100), 20), { registry: registry(), poster, clock }, 60_000);
    await clock.run();
    const result = await running;

    expect(result).toEqual({ delivered: 100, gone: 0, failed: 0, undelivered: [] });
    expect(new Set(poster.posted).size).toBe(100);
    for (const start of poster.times) {
      expect(poster.times.filter((t) => t >= start && t < start + 1000).length).toBeLessThanOrEqual(
        20,
      );
    }
    // Positive control: the pace is the budget, not slower: 100 posts span 4.95 s.
    expect(Math.max(...poster.times) - Math.min(...poster.times)).toBe(4950);
  });

  it("stops at its deadline and reports the rest undelivered, without failing what it reached", async () => {
    const clock = new ManualClock(0);
    const poster = new RecordingPoster(clock);

    const running = runShard(shard(ids(50), 10), { registry: registry(), poster, clock }, 2_000);
    await clock.run();
    const result = await running;

    // Tokens at 0, 100, …, 2000 ms: 21 posts; the other 29 were never sent.
    expect(result.delivered).toBe(21);
    expect(result.undelivered).toHaveLength(29);
    expect(new Set([...poster.posted, ...result.undelivered]).size).toBe(50);
  });

  it("removes the connections @connections answered Gone for from the registry", async () => {
    const clock = new ManualClock(0);
    const all = ids(10);
    bucket.register(...all);
    const gone = new Set(all.slice(0, 4));
    const poster = new RecordingPoster(clock, (id) =>
      gone.has(id) ? { status: "gone" } : { status: "delivered" },
    );

    const running = runShard(shard(all, 1000), { registry: registry(), poster, clock }, 60_000);
    await clock.run();
    const result = await running;

    expect(result).toMatchObject({ delivered: 6, gone: 4 });
    expect(bucket.connectionIds()).toEqual(all.slice(4).sort());
  });
});

describe("mustFail", () => {
  const settled = (handedOn: number, notHandedOn: string[] = []) => ({
    handedOn,
    notHandedOn,
    exhausted: false,
  });
  it("fails a shard that reached no one and handed no one on, never one that did either", () => {
    expect(mustFail({ delivered: 0, gone: 0, failed: 3, undelivered: [] }, settled(0))).toBe(true);
    const publishFailed = settled(0, ["a"]);
    expect(mustFail({ delivered: 0, gone: 1, failed: 0, undelivered: ["a"] }, publishFailed)).toBe(
      true,
    );
    // A retry would repeat what was delivered or handed on: the shard must not fail.
    expect(mustFail({ delivered: 1, gone: 0, failed: 3, undelivered: ["a"] }, settled(1))).toBe(
      false,
    );
    expect(mustFail({ delivered: 0, gone: 0, failed: 1, undelivered: ["a"] }, settled(1))).toBe(
      false,
    );
    // Nothing left to try: all Gone.
    expect(mustFail({ delivered: 0, gone: 5, failed: 0, undelivered: [] }, settled(0))).toBe(false);
  });
});

describe("PacedPoster", () => {
  it("slows its bucket when a post comes back throttled, and not otherwise", async () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket(100, clock);
    const answers: PostOutcome[] = [
      { status: "delivered" },
      { status: "failed", error: "LimitExceededException", statusCode: 429 },
    ];
    const paced = new PacedPoster(
      { post: async () => answers.shift() ?? { status: "delivered" } },
      bucket,
      Number.POSITIVE_INFINITY,
    );
    await paced.post("a", "m");
    expect(bucket.currentRate).toBe(100);
    const throttled = paced.post("b", "m");
    await clock.run();
    await throttled;
    expect(bucket.currentRate).toBe(50);
  });
});
