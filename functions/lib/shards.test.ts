import { S3Client } from "@aws-sdk/client-s3";
import { beforeEach, describe, expect, it } from "vitest";
import { FANOUT, LIMITS } from "../contract.js";
import { mockS3 } from "../fixtures/aws.js";
import { ManualClock } from "../fixtures/clock.js";
import { FIXTURE_BUCKET, FIXTURE_PREFIX } from "../fixtures/events.js";
import { captureLogsPerTest } from "../fixtures/logs.js";
import { ConfigurationError } from "./config.js";
import type { Poster, PostOutcome } from "./poster.js";
import { byteLength } from "./protocol.js";
import { Registry } from "./registry.js";
import { SdkObjectStore } from "./sdk-object-store.js";
import {
  fanOut,
  InvokeUnansweredError,
  readShardEvent,
  type ShardEvent,
  type ShardInvoker,
  shardSettings,
  shardsOf,
} from "./shards.js";

const bucket = mockS3();
const logs = captureLogsPerTest();
beforeEach(() => bucket.reset());

class Invocations implements ShardInvoker {
  readonly events: ShardEvent[] = [];
  refuse = new Set<number>();
  unanswered = new Set<number>();
  async invoke(_name: string, payload: string): Promise<void> {
    const event = JSON.parse(payload) as ShardEvent;
    if (this.refuse.has(event.shard.index)) throw new Error("TooManyRequestsException");
    if (this.unanswered.has(event.shard.index)) {
      throw new InvokeUnansweredError("sent but not answered");
    }
    this.events.push(event);
  }
}

class Delivering implements Poster {
  readonly posted: string[] = [];
  async post(id: string): Promise<PostOutcome> {
    this.posted.push(id);
    return { status: "delivered" };
  }
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `d${String(i).padStart(4, "0")}`);
const origin = { function: "subscriber" as const, requestId: "req" };

function run(
  settings: { pageSize: number; postsPerSecond: number; inProcessMax?: number },
  deadline = Number.MAX_SAFE_INTEGER,
  clock?: ManualClock,
) {
  const invoker = new Invocations();
  const poster = new Delivering();
  const registry = new Registry(
    new SdkObjectStore(new S3Client({}), FIXTURE_BUCKET),
    FIXTURE_PREFIX,
  );
  const result = fanOut(
    "frame",
    { kind: "everyone" },
    { registry, poster, invoker },
    { functionName: "fanout", inProcessMax: settings.pageSize, ...settings },
    { deadline, origin, ...(clock === undefined ? {} : { clock }) },
  );
  return { invoker, poster, result };
}

describe("fanOut", () => {
  it("delivers a fan-out of one page in-process, with no invocation", async () => {
    bucket.register(...ids(100));
    const { invoker, poster, result } = run({ pageSize: 100, postsPerSecond: 1000 });
    expect(await result).toMatchObject({ delivered: 100, shards: 0, dispatched: 0 });
    expect(invoker.events).toEqual([]);
    expect(poster.posted).toHaveLength(100);
  });

  it("keeps a fan-out of up to the in-process maximum in-process, paced at the whole budget", async () => {
    bucket.register(...ids(250));
    const clock = new ManualClock(0);
    const times: number[] = [];
    const { invoker, poster, result } = run(
      { pageSize: 100, postsPerSecond: 50, inProcessMax: 250 },
      Number.MAX_SAFE_INTEGER,
      clock,
    );
    const posting = poster.post.bind(poster);
    poster.post = async (id: string) => {
      times.push(clock.now());
      return posting(id);
    };
    // Listing and posting interleave with the clock's timers: run it until the last post starts.
    for (let turn = 0; turn < 1000 && times.length < 250; turn += 1) await clock.run();
    expect(await result).toMatchObject({ delivered: 250, shards: 0, dispatched: 0 });
    expect(invoker.events).toEqual([]);
    expect(new Set(poster.posted)).toEqual(new Set(ids(250)));
    // 50 posts a second, the first at once: the 250th starts 249 intervals of 20 ms later.
    expect(Math.max(...times)).toBe(249 * 20);
    expect(times.filter((t) => t < 1000)).toHaveLength(50);
  });

  it("shards one connection more than the in-process maximum", async () => {
    bucket.register(...ids(251));
    const { invoker, poster, result } = run({
      pageSize: 100,
      postsPerSecond: 900,
      inProcessMax: 250,
    });
    expect(await result).toMatchObject({ delivered: 0, shards: 3, dispatched: 251 });
    expect(poster.posted).toEqual([]);
    expect(invoker.events.map((e) => e.connectionIds.length)).toEqual([100, 100, 51]);
  });

  it("shards a larger one by the page size, splitting the budget evenly", async () => {
    bucket.register(...ids(250));
    const { invoker, poster, result } = run({ pageSize: 100, postsPerSecond: 900 });
    expect(await result).toEqual({
      delivered: 0,
      gone: 0,
      failed: 0,
      undelivered: [],
      shards: 3,
      dispatched: 250,
    });
    expect(poster.posted).toEqual([]);
    expect(invoker.events.map((e) => [e.shard, e.connectionIds.length, e.postsPerSecond])).toEqual([
      [{ index: 0, count: 3 }, 100, 300],
      [{ index: 1, count: 3 }, 100, 300],
      [{ index: 2, count: 3 }, 50, 300],
    ]);
    expect(invoker.events.flatMap((e) => e.connectionIds)).toEqual(ids(250));
    expect(invoker.events.every((e) => e.message === "frame" && e.origin.requestId === "req")).toBe(
      true,
    );
  });

  it("returns the ids of a refused shard, and of shards the deadline stopped, as undelivered", async () => {
    bucket.register(...ids(250));
    const refused = run({ pageSize: 100, postsPerSecond: 900 });
    refused.invoker.refuse.add(1);
    const result = await refused.result;
    expect(result.undelivered).toEqual(ids(200).slice(100));
    expect(result.dispatched).toBe(150);
    expect(logs.withMessage(/some shards not accepted/)).toHaveLength(1);

    const late = run({ pageSize: 100, postsPerSecond: 900 }, 0);
    expect(await late.result).toMatchObject({ dispatched: 0, shards: 3 });
    expect(late.invoker.events).toEqual([]);
  });

  it("hands on the ids of a shard whose invoke went unanswered, saying they may arrive twice", async () => {
    bucket.register(...ids(250));
    const unanswered = run({ pageSize: 100, postsPerSecond: 900 });
    unanswered.invoker.unanswered.add(2);
    const result = await unanswered.result;
    expect(result.undelivered).toEqual(ids(250).slice(200));
    expect(result.dispatched).toBe(200);
    expect(logs.withMessage(/never answered.*may receive the message twice/)).toEqual([
      expect.objectContaining({ level: "ERROR", unanswered: 50, undelivered: 50 }),
    ]);
    // Positive control: a refusal is reported as one, without the warning about second copies.
    bucket.reset();
    bucket.register(...ids(250));
    logs.stop();
    logs.start();
    const refused = run({ pageSize: 100, postsPerSecond: 900 });
    refused.invoker.refuse.add(2);
    expect((await refused.result).undelivered).toHaveLength(50);
    expect(logs.withMessage(/some shards not accepted/)).toEqual([
      expect.objectContaining({ unanswered: 0 }),
    ]);
    expect(logs.withMessage(/never answered/)).toEqual([]);
  });

  it("warns when the budget cannot post the fan-out within a worker's timeout", async () => {
    bucket.register(...ids(250));
    // 250 connections at 0.25 per second would take 1,000 s, over the worker's 900.
    const { result } = run({ pageSize: 100, postsPerSecond: 0.25 });
    await result;
    expect(logs.withMessage(/larger than the budget can post/)).toEqual([
      expect.objectContaining({ level: "ERROR", expectedSeconds: 1000 }),
    ]);
    bucket.reset();
    bucket.register(...ids(250));
    logs.stop();
    logs.start();
    await run({ pageSize: 100, postsPerSecond: 900 }).result;
    expect(logs.withMessage(/^Fan-out dispatched$/)).toHaveLength(1);
    expect(logs.withMessage(/larger than the budget can post/)).toEqual([]);
  });
});

describe("shard payload", () => {
  it("fits the asynchronous invoke limit at the worst case: a full page of the longest ids and a message that escapes sixfold", () => {
    const event: ShardEvent = {
      // Control characters are the costliest to JSON-escape: \\u0001 is 6 bytes for 1.
      message: "\u0001".repeat(LIMITS.messageBytes),
      connectionIds: Array.from({ length: FANOUT.pageSizeMax }, (_, i) =>
        String(i).padStart(LIMITS.connectionIdMaxChars, "A"),
      ),
      postsPerSecond: 1 / 3,
      shard: { index: 999_999, count: 1_000_000 },
      origin: { function: "subscriber", requestId: "x".repeat(64), messageId: "y".repeat(64) },
    };
    const bytes = byteLength(JSON.stringify(event));
    expect(bytes).toBeGreaterThan(6 * LIMITS.messageBytes);
    expect(bytes).toBeLessThanOrEqual(FANOUT.asyncPayloadBytes);
  });

  it("reads back only well-formed shards", () => {
    const good = {
      message: "m",
      connectionIds: ["a+/="],
      postsPerSecond: 2.5,
      shard: { index: 0, count: 1 },
      origin: { function: "message", requestId: "r" },
    };
    expect(readShardEvent(good)).toEqual({ ok: true, event: good });
    for (const [change, problem] of [
      [{ message: 1 }, /message/],
      [{ connectionIds: [] }, /connectionIds/],
      [{ connectionIds: ["bad id"] }, /connectionIds/],
      [{ postsPerSecond: 0 }, /postsPerSecond/],
      [{ shard: { index: 1, count: 1 } }, /shard/],
      [{ origin: {} }, /origin/],
    ] as const) {
      const read = readShardEvent({ ...good, ...change });
      expect(read.ok ? "accepted" : read.problem).toMatch(problem);
    }
    expect(readShardEvent("text")).toEqual({
      ok: false,
      problem: "the payload is not a JSON object",
    });
  });
});

describe("shardSettings and shardsOf", () => {
  it("reads the page size, in-process maximum and budget, refusing values outside their limits", () => {
    const strings = {
      fanoutFunction: "f",
      fanoutPageSize: "1000",
      fanoutInProcessMax: "1000",
      postsPerSecond: "1000",
    };
    expect(shardSettings({ ...strings, fanoutInProcessMax: "5000" })).toEqual({
      functionName: "f",
      pageSize: 1000,
      inProcessMax: 5000,
      postsPerSecond: 1000,
    });
    expect(() => shardSettings({ ...strings, fanoutPageSize: "1001" })).toThrow(
      /FANOUT_PAGE_SIZE must be a whole number from 1 to 1000 \(got "1001"\)/,
    );
    expect(() => shardSettings({ ...strings, postsPerSecond: "0.5" })).toThrow(
      /FANOUT_POSTS_PER_SECOND/,
    );
    for (const bad of ["0", "10001", "1e3x", "", "2.5"]) {
      expect(() => shardSettings({ ...strings, fanoutInProcessMax: bad })).toThrow(
        new ConfigurationError(
          `FANOUT_IN_PROCESS_MAX must be a whole number from 1 to ${FANOUT.inProcessMaxLimit} (got ${JSON.stringify(bad)}). Set it in the function's environment (stacks/stages.ts sets it on AWS).`,
        ),
      );
    }
  });

  it("cuts ids into shards of at most the size, in order", () => {
    expect(shardsOf(["a", "b", "c", "d", "e"], 2)).toEqual([["a", "b"], ["c", "d"], ["e"]]);
    expect(shardsOf([], 2)).toEqual([]);
  });
});
