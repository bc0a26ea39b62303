import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../fixtures/clock.js";
import { TokenBucket } from "./token-bucket.js";

/**
 * The pacing bound, proved on a clock the test drives (no sleeps): whatever the arrival pattern,
 * concurrency and throttling, a bucket of rate r grants at most ⌈r · w⌉ tokens in any window of w
 * seconds, and shards splitting a budget stay within budget · w + shards.
 */

/** Most grants in any half-open window [g, g + windowMs) starting at a grant. */
function busiestWindow(grants: readonly number[], windowMs: number): number {
  const sorted = [...grants].sort((a, b) => a - b);
  let most = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start += 1) {
    const from = sorted[start] ?? 0;
    end = Math.max(end, start);
    // A microsecond of slack for the floating-point sum of intervals.
    while (end < sorted.length && (sorted[end] ?? 0) < from + windowMs - 1e-3) end += 1;
    most = Math.max(most, end - start);
  }
  return most;
}

/** Requests arriving at `arrivals` (ms after start), each acquiring once; the grant times. */
async function grantTimes(
  clock: ManualClock,
  bucket: TokenBucket,
  arrivals: readonly number[],
  afterGrant: (index: number) => void = () => undefined,
): Promise<number[]> {
  const grants: number[] = [];
  const requests = arrivals.map(async (offset, index) => {
    await clock.sleep(offset);
    await bucket.acquire();
    grants.push(clock.now());
    afterGrant(index);
  });
  await clock.run();
  await Promise.all(requests);
  return grants;
}

const rate = fc.double({ min: 0.2, max: 5000, noNaN: true });
const arrivals = fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 300 });
const windowMs = fc.integer({ min: 1, max: 5_000 });

describe("TokenBucket", () => {
  it("never grants more than ⌈rate · w⌉ tokens in any window of w, whatever the arrivals", async () => {
    await fc.assert(
      fc.asyncProperty(rate, arrivals, windowMs, async (r, times, w) => {
        const clock = new ManualClock();
        const grants = await grantTimes(clock, new TokenBucket(r, clock), times);
        expect(grants).toHaveLength(times.length);
        expect(busiestWindow(grants, w)).toBeLessThanOrEqual(Math.ceil((r * w) / 1000));
        expect(busiestWindow(grants, 1000)).toBeLessThanOrEqual(Math.ceil(r));
      }),
      { numRuns: 200 },
    );
  });

  it("keeps the bound while backing off and recovering from throttling", async () => {
    await fc.assert(
      fc.asyncProperty(
        rate,
        arrivals,
        fc.array(fc.boolean(), { minLength: 300, maxLength: 300 }),
        async (r, times, throttles) => {
          const clock = new ManualClock();
          const bucket = new TokenBucket(r, clock);
          const grants = await grantTimes(clock, bucket, times, (index) => {
            if (throttles[index] === true) bucket.throttled();
            else bucket.accepted();
            expect(bucket.currentRate).toBeLessThanOrEqual(r);
            expect(bucket.currentRate).toBeGreaterThanOrEqual(r / 16);
          });
          expect(busiestWindow(grants, 1000)).toBeLessThanOrEqual(Math.ceil(r));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("keeps shards that split a budget within budget · w + shards together", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 60 }), {
          minLength: 12,
          maxLength: 12,
        }),
        windowMs,
        async (budget, shards, arrivalsPerShard, w) => {
          const clock = new ManualClock();
          const grants: number[] = [];
          const work = Array.from({ length: shards }, async (_, shard) => {
            const bucket = new TokenBucket(budget / shards, clock);
            for (const offset of arrivalsPerShard[shard] ?? []) {
              void clock.sleep(offset).then(async () => {
                await bucket.acquire();
                grants.push(clock.now());
              });
            }
          });
          await Promise.all(work);
          await clock.run();
          const expected = arrivalsPerShard.slice(0, shards).flat().length;
          expect(grants).toHaveLength(expected);
          expect(busiestWindow(grants, w)).toBeLessThanOrEqual(
            Math.floor((budget * w) / 1000) + shards,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it("spaces a burst of concurrent callers evenly: 10 at 5 per second take 1.8 s", async () => {
    const clock = new ManualClock(0);
    const grants = await grantTimes(clock, new TokenBucket(5, clock), Array(10).fill(0));
    expect(grants).toEqual([0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]);
  });

  it("halves its rate on a throttle and wins it back as posts go through", () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket(100, clock);
    bucket.throttled();
    expect(bucket.currentRate).toBe(50);
    for (let i = 0; i < 10; i += 1) bucket.throttled();
    expect(bucket.currentRate).toBe(100 / 16);
    for (let i = 0; i < 200; i += 1) bucket.accepted();
    expect(bucket.currentRate).toBe(100);
  });

  it("waits one slowed interval after a throttle before the next grant", async () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket(10, clock);
    await bucket.acquire();
    bucket.throttled();
    const next = bucket.acquire().then(() => clock.now());
    await clock.run();
    // 10 per second is 100 ms apart; halved, 200 ms.
    expect(await next).toBe(200);
  });

  it("refuses, without reserving, a token that would come after the deadline", async () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket(1, clock);
    expect(await bucket.acquire(0)).toBe(true);
    // The next token is at 1000 ms.
    expect(await bucket.acquire(999)).toBe(false);
    const granted = bucket.acquire(1000);
    await clock.run();
    expect(await granted).toBe(true);
    expect(clock.now()).toBe(1000);
  });

  it("rejects a rate that is not positive", () => {
    expect(() => new TokenBucket(0)).toThrow(/positive rate/);
    expect(() => new TokenBucket(Number.NaN)).toThrow(/positive rate/);
  });
});
