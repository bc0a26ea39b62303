import { describe, expect, it } from "vitest";
import { ENV, FANOUT } from "../../functions/contract.js";
import type { PathSummary, ShardSummary } from "./report.js";
import { shardConfigurations, shardEnvironment, shardGoals } from "./shards.js";

const sns = (p50Ms: number, rttMs = 0): PathSummary => ({
  path: "sns",
  messages: 4,
  messagesPerSecond: (5000 * 1000) / p50Ms,
  p50Ms,
  p99Ms: p50Ms,
  cpuUsPerMessage: undefined,
  systemCpuUsPerMessage: undefined,
  coresBusy: undefined,
  rttMs,
});
const row = (
  shards: number,
  pageSize: number,
  p50Ms: number | undefined,
  rttMs = 0,
): ShardSummary => ({
  clients: 5000,
  pageSize,
  shards,
  sns: p50Ms === undefined ? undefined : sns(p50Ms, rttMs),
});

describe("the bench's shards section", () => {
  it("runs unsharded first, with the in-process maximum at N, then each shard size", () => {
    const { configurations, skipped } = shardConfigurations(5000);
    expect(skipped).toBeUndefined();
    expect(configurations.map((c) => [c.label, c.pageSize, c.inProcessMax, c.shards])).toEqual([
      ["unsharded", 1000, 5000, 0],
      ["shards of 1000", 1000, 1000, 5],
      ["shards of 500", 500, 500, 10],
      ["shards of 250", 250, 250, 20],
    ]);
    const [unsharded] = configurations;
    expect(unsharded && shardEnvironment(unsharded, "10000")).toEqual({
      [ENV.postsPerSecond]: "10000",
      [ENV.fanoutPageSize]: "1000",
      [ENV.fanoutInProcessMax]: "5000",
    });
  });

  it("leaves unsharded out, saying why, above the in-process maximum's limit", () => {
    const { configurations, skipped } = shardConfigurations(FANOUT.inProcessMaxLimit + 1);
    expect(configurations.map((c) => c.label)).toEqual([
      "shards of 1000",
      "shards of 500",
      "shards of 250",
    ]);
    expect(skipped).toMatch(/FANOUT_IN_PROCESS_MAX's limit of 10000/);
  });

  it("compares every shard size with unsharded: met only when faster by median and by mean", () => {
    const goals = shardGoals([row(0, 1000, 2000), row(5, 1000, 1000), row(20, 250, 2500)]);
    expect(goals).toEqual([
      {
        goal: "N=5000: sharded (5 × 1000) faster than unsharded",
        measured: "last client p50 1000 vs 2000 ms (2.00×); 5000 vs 2500 msgs/s (2.00×)",
        met: true,
      },
      {
        goal: "N=5000: sharded (20 × 250) faster than unsharded",
        measured: "last client p50 2500 vs 2000 ms (0.80×); 2000 vs 2500 msgs/s (0.80×)",
        met: false,
      },
    ]);
  });

  it("does not call a faster median alone faster", () => {
    const unsharded = row(0, 1000, 2000);
    const mixed: ShardSummary = {
      ...row(5, 1000, 1900),
      sns: { ...sns(1900), messagesPerSecond: 2400 },
    };
    expect(shardGoals([unsharded, mixed])).toEqual([
      expect.objectContaining({
        met: false,
        measured: expect.stringMatching(/\(1\.05×\).*\(0\.96×\)/),
      }),
    ]);
  });

  it("compares each emulated round trip with unsharded at the same round trip, labelled", () => {
    const goals = shardGoals([
      row(0, 1000, 1000),
      row(5, 1000, 2000),
      row(0, 1000, 4000, 25),
      row(5, 1000, 2000, 25),
    ]);
    expect(goals.map(({ goal, met }) => [goal, met])).toEqual([
      // Loopback: slower than unsharded on loopback, although faster than unsharded at 25 ms.
      ["N=5000: sharded (5 × 1000) faster than unsharded", false],
      ["N=5000, emulated RTT 25 ms: sharded (5 × 1000) faster than unsharded", true],
    ]);
    // No unsharded row at that round trip: nothing to compare with.
    expect(shardGoals([row(0, 1000, 4000), row(5, 1000, 2000, 25)])).toEqual([]);
  });

  it("judges nothing without an unsharded row or a sharded measurement", () => {
    expect(shardGoals([row(5, 1000, 1000)])).toEqual([]);
    expect(shardGoals([row(0, 1000, 1000), row(5, 1000, undefined)])).toEqual([]);
  });
});
