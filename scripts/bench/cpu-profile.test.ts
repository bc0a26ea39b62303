import { isMainThread } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { breakdown, threadCpu, withOtherThreads } from "./cpu-profile.js";

const frame = (url: string, functionName = "f") => ({ url, functionName });

describe("CPU breakdown by part of the local stage", () => {
  it("charges each sample to the innermost frame that belongs to a part, idle left out", () => {
    const nodes = [
      { id: 1, callFrame: frame("", "(root)"), children: [2, 5, 7, 8, 9] },
      { id: 2, callFrame: frame("file:///r/scripts/local/s3/listener.ts"), children: [3] },
      // Shared code and Node internals count for the listener that called them.
      { id: 3, callFrame: frame("file:///r/scripts/local/http/request-body.ts"), children: [4] },
      { id: 4, callFrame: frame("node:_http_server") },
      { id: 5, callFrame: frame("file:///r/dist/subscriber/index.mjs?instance=1"), children: [6] },
      { id: 6, callFrame: frame("node:_http_client") },
      { id: 7, callFrame: frame("", "(garbage collector)") },
      { id: 8, callFrame: frame("", "(idle)") },
      { id: 9, callFrame: frame("file:///r/scripts/local/gateway/gateway.ts") },
    ];
    const result = breakdown({
      nodes,
      samples: [4, 3, 6, 7, 8, 9, 1],
      timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
    });

    expect(result.ms).toEqual({
      "S3 stand-in": 2,
      function: 1,
      gc: 1,
      gateway: 1,
      other: 1,
    });
    expect(result.totalMs).toBe(6);
  });
});

describe("the stage's CPU with its other threads", () => {
  it("scales the main thread's profile to its CPU and charges the other threads to the functions", () => {
    const profile = { ms: { gateway: 300, "S3 stand-in": 100, function: 0 }, totalMs: 400 };
    const result = withOtherThreads(
      profile,
      { mainMs: 1000, otherThreadsMs: 5000 },
      { mainMs: 1200, otherThreadsMs: 5600 },
    );
    // 200 ms on the main thread, split 3:1 as the samples were; 600 ms elsewhere.
    expect(result.ms).toEqual({ gateway: 150, "S3 stand-in": 50, function: 600 });
    expect(result.totalMs).toBe(800);
  });

  // The main thread is the process's own; a test pool running this file in a worker thread cannot spin it.
  it.runIf(process.platform === "linux" && isMainThread)(
    "reads this process's threads from /proc",
    async () => {
      const before = threadCpu();
      const started = performance.now();
      // Busy on the main thread until the kernel has counted some of it (10 ms ticks).
      let spins = 0;
      while (threadCpu()?.mainMs === before?.mainMs && performance.now() - started < 5000) spins++;
      const after = threadCpu();
      expect(before).toBeDefined();
      expect(spins).toBeGreaterThan(0);
      expect(after?.mainMs ?? 0).toBeGreaterThan(before?.mainMs ?? 0);
    },
  );
});
