import { describe, expect, it } from "vitest";
import type { FanOutResult } from "./fan-out.js";
import {
  againstGoal,
  type BenchReport,
  benchTables,
  connectBounds,
  connectFigures,
  connectTable,
  type FanOutSummary,
  judgeGoals,
  percentile,
  summarize,
} from "./report.js";

const clean = { expected: 0, lost: 0, duplicated: 0, unknown: 0, examples: [] };

function run(clients: number, paths: FanOutResult["paths"]): FanOutResult {
  return {
    clients,
    messages: paths[0]?.latenciesMs.length ?? 0,
    connect: {
      ms: 1000,
      perSecond: clients,
      cpu: { cpuMs: 10, breakdown: undefined },
      clientCpuMs: clients * 0.9,
    },
    paths,
    audits: { stage: clean, raw: clean },
    ok: true,
  };
}

describe("bench report", () => {
  it("puts the no-op $connect under the measured one and says what bounds the rate", () => {
    const measured = connectFigures(
      {
        ms: 4000,
        perSecond: 250,
        cpu: {
          cpuMs: 3000,
          breakdown: { ms: { gateway: 600, invoker: 300, function: 1800, gc: 300 }, totalMs: 3000 },
        },
        clientCpuMs: 950,
      },
      1000,
    );
    const noOp = connectFigures(
      { ms: 1250, perSecond: 800, cpu: { cpuMs: 900, breakdown: undefined }, clientCpuMs: 900 },
      1000,
    );
    const fanOut: FanOutSummary[] = [
      {
        clients: 1000,
        ...measured,
        noOpConnect: noOp,
        paths: [],
        audits: { stage: clean, raw: clean },
      },
    ];

    expect(measured.clientCpuUsPerConnection).toBe(950);
    expect(connectTable(fanOut).split("\n").slice(2)).toEqual([
      "| 1000 | the connect bundle | 250 | 3000 ms | 20% | 10% | 60% | 0% | 10% | 0% | 950 µs |",
      "| 1000 | no-op handler (fresh stage) | 800 | 900 ms | – | – | – | – | – | – | 900 µs |",
    ]);
    expect(connectBounds(fanOut, 2)).toEqual([
      "N=1000: $connect ran at 250/s; with a no-op handler, 800/s (gateway, invoker and clients alone). The `ws` clients spent 950 µs of CPU per connection: at 1,000/s, 0.95 of this machine's 2 cores for the clients alone.",
    ]);
    // Without a no-op measurement: the measured row alone, and no line.
    const alone: FanOutSummary[] = [
      { clients: 1000, ...measured, paths: [], audits: { stage: clean, raw: clean } },
    ];
    expect(connectTable(alone).split("\n")).toHaveLength(3);
    expect(connectBounds(alone, 2)).toEqual([]);
  });

  it("takes nearest-rank percentiles", () => {
    const values = [5, 1, 4, 2, 3];
    expect(percentile(values, 50)).toBe(3);
    expect(percentile(values, 99)).toBe(5);
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("turns times to last client into deliveries per second, and CPU into µs per delivery", () => {
    const [fast, raw] = summarize(
      run(1000, [
        {
          path: "fast",
          latenciesMs: [100, 300],
          cpuMs: [80, 120],
          systemCpuMs: [40, 40],
          delivered: [1000, 1000],
        },
        { path: "raw", latenciesMs: [10, 10], cpuMs: [], systemCpuMs: [], delivered: [] },
      ]),
    );

    expect(fast).toMatchObject({ messagesPerSecond: 5000, p50Ms: 100, p99Ms: 300 });
    expect(fast?.cpuUsPerMessage).toBe(100);
    expect(fast?.systemCpuUsPerMessage).toBe(40);
    expect(raw).toMatchObject({ messagesPerSecond: 100_000, cpuUsPerMessage: undefined });
  });

  it("judges the issue's goals at N=1000 and says which were missed", () => {
    const fanOut = [
      run(1000, [
        { path: "fast", latenciesMs: [100], cpuMs: [100], systemCpuMs: [0], delivered: [1000] },
        { path: "sdk", latenciesMs: [400], cpuMs: [600], systemCpuMs: [0], delivered: [1000] },
        {
          path: "sequential",
          latenciesMs: [2000],
          cpuMs: [700],
          systemCpuMs: [0],
          delivered: [1000],
        },
      ]),
    ].map((result) => ({
      clients: result.clients,
      ...connectFigures(result.connect, result.clients),
      paths: summarize(result),
      audits: result.audits,
    }));
    const partial = {
      machine: { cpus: 2, cpuModel: "test", node: "20", loadAverage: { start: 1, end: 1 } },
      seconds: 1,
      fanOut,
      coldStart: undefined,
      synth: [
        { mode: "deep" as const, ms: [1], maxRssMb: [1], medianMs: 100, medianRssMb: 100 },
        { mode: "root" as const, ms: [1], maxRssMb: [1], medianMs: 1000, medianRssMb: 700 },
      ],
    };

    const goals = judgeGoals(partial);

    expect(goals.map(({ goal, met }) => [goal, met])).toEqual([
      ["N=1000: b ≥ 5× c in msgs/s", false],
      ["N=1000: b's CPU per msg ≤ 1/5 of c's", true],
      ["N=1000: b ≥ 10× d in msgs/s", true],
      ["connect rate ≥ 1,000/s through $connect", true],
      ["synth ≤ 1/5 of the root-import time", true],
    ]);
    const report: BenchReport = { ...partial, goals, failures: [] };
    const tables = benchTables(report);
    expect(tables).toContain("| 1000 | 0 (loopback) | 4.0× | 6.0× | 20.0× | – |");
    expect(tables).toContain("| N=1000: b ≥ 5× c in msgs/s | 4.0× | **no** |");
    expect(tables).toMatch(/Verdict: pass/);
    expect(benchTables({ ...report, failures: ["N=1000 stage: 1 lost"] })).toMatch(
      /Verdict: FAIL — N=1000 stage: 1 lost/,
    );
  });

  it("judges the goals on loopback and adds rows for an emulated round trip, labelled as such", () => {
    const result = run(1000, [
      {
        path: "fast",
        latenciesMs: [100],
        cpuMs: [100],
        systemCpuMs: [0],
        delivered: [1000],
        coresBusy: 1.875,
      },
      { path: "sdk", latenciesMs: [400], cpuMs: [600], systemCpuMs: [0], delivered: [1000] },
      {
        path: "sequential",
        latenciesMs: [2000],
        cpuMs: [700],
        systemCpuMs: [0],
        delivered: [1000],
      },
      ...(["fast", "sdk", "sequential"] as const).map((path) => ({
        path,
        rttMs: 5,
        latenciesMs: [path === "fast" ? 150 : path === "sdk" ? 1500 : 6000],
        cpuMs: [path === "fast" ? 100 : 300],
        systemCpuMs: [0],
        delivered: [1000],
      })),
    ]);
    const partial = {
      machine: { cpus: 2, cpuModel: "test", node: "20", loadAverage: { start: 1, end: 1 } },
      seconds: 1,
      fanOut: [
        {
          clients: 1000,
          ...connectFigures(result.connect, result.clients),
          paths: summarize(result),
          audits: result.audits,
        },
      ],
      coldStart: undefined,
      synth: undefined,
    };

    const goals = judgeGoals(partial);

    expect(goals.map(({ goal, measured, met }) => [goal, measured, met])).toEqual([
      // Loopback: exactly as without the round trip.
      ["N=1000: b ≥ 5× c in msgs/s", "4.0×", false],
      ["N=1000: b's CPU per msg ≤ 1/5 of c's", "1/6.0", true],
      ["N=1000: b ≥ 10× d in msgs/s", "20.0×", true],
      ["N=1000, emulated RTT 5 ms: b ≥ 5× c in msgs/s", "10.0×", true],
      ["N=1000, emulated RTT 5 ms: b's CPU per msg ≤ 1/5 of c's", "1/3.0", false],
      ["N=1000, emulated RTT 5 ms: b ≥ 10× d in msgs/s", "40.0×", true],
      ["connect rate ≥ 1,000/s through $connect", "1000/s (slowest N)", true],
    ]);
    const tables = benchTables({ ...partial, goals, failures: [] });
    expect(tables).toContain(
      "| 1000 | (b) the project's fan-out (fast poster) | 5 ms (emulated) |",
    );
    expect(tables).toContain(
      "| 1000 | (b) the project's fan-out (fast poster) | 0 (loopback) | 10000 | 100.0 ms | 100.0 ms | 100 µs (0) | 1.88 |",
    );
    expect(tables).toContain("| 1000 | 5 ms (emulated) | 10.0× | 3.0× | 40.0× | – |");
  });

  it("lists sharded fan-out by shard size, one row per stage run", () => {
    const sharded = (pageSize: number, latencyMs: number, coresBusy?: number) => {
      const [sns] = summarize(
        run(5000, [
          {
            path: "sns",
            latenciesMs: [latencyMs],
            cpuMs: [],
            systemCpuMs: [],
            delivered: [],
            coresBusy,
          },
        ]),
      );
      return { clients: 5000, pageSize, shards: Math.ceil(5000 / pageSize), sns };
    };
    const report: BenchReport = {
      machine: { cpus: 2, cpuModel: "test", node: "20", loadAverage: { start: 1, end: 1 } },
      seconds: 1,
      fanOut: [],
      shards: [sharded(1000, 2000, 1.5), sharded(250, 1000)],
      coldStart: undefined,
      synth: undefined,
      goals: [],
      failures: [],
    };

    const tables = benchTables(report);

    expect(tables).toContain(
      "| N | shard size | shards | RTT | msgs/s | last client p50 | p99 | cores busy (of 2) |",
    );
    expect(tables).toContain(
      "| 5000 | 1000 | 5 | 0 (loopback) | 2500 | 2000.0 ms | 2000.0 ms | 1.50 |",
    );
    // Not counted (no /proc/stat): shown as such, not as an idle machine.
    expect(tables).toContain(
      "| 5000 | 250 | 20 | 0 (loopback) | 5000 | 1000.0 ms | 1000.0 ms | – |",
    );
  });
  it("judges cold import against the baseline on CPU time, and shows functions new since", () => {
    const cold = (bytes: number, cpuMs: number, wallMs = 400) => ({
      bytes,
      importMs: [wallMs],
      medianMs: wallMs,
      importCpuMs: [cpuMs],
      leastCpuMs: cpuMs,
    });
    const commit = "fffd7c6f00000000000000000000000000000000";
    const report = (messageCpuMs: number) => ({
      machine: { cpus: 2, cpuModel: "test", node: "20", loadAverage: { start: 1, end: 1 } },
      seconds: 1,
      fanOut: [],
      // Wall time twice as long as then: noise that must not decide the goal.
      coldStart: [
        {
          fn: "connect" as const,
          ...cold(1000, 180, 800),
          baseline: { commit, ...cold(900, 200) },
        },
        {
          fn: "message" as const,
          ...cold(1000, messageCpuMs),
          baseline: { commit, ...cold(900, 200) },
        },
        { fn: "fanout" as const, ...cold(1000, 300) },
      ],
      synth: undefined,
    });

    const faster = judgeGoals(report(190));
    const slower = judgeGoals(report(230));

    expect(faster).toContainEqual({
      goal: "cold import of every bundle no slower than at fffd7c6",
      measured: "slowest message: 0.95× its import CPU then",
      met: true,
    });
    expect(slower).toContainEqual({
      goal: "cold import of every bundle no slower than at fffd7c6",
      measured: "slowest message: 1.15× its import CPU then",
      met: false,
    });
    const tables = benchTables({ ...report(190), goals: faster, failures: [] });
    expect(tables).toContain(
      "| connect | 1,000 | 800 ms | 180 ms | 800 | 900 | 400 ms | 200 ms | 0.90 |",
    );
    expect(tables).toContain(
      "| fanout | 1,000 | 400 ms | 300 ms | 400 | – (new since) | – | – | – |",
    );
  });
});

describe("againstGoal", () => {
  it("shows one decimal unless rounding would carry the figure across the goal", () => {
    expect(againstGoal(8.54, 5)).toBe("8.5");
    expect(againstGoal(5.04, 5)).toBe("5.0");
    expect(againstGoal(4.951, 5)).toBe("4.95");
    expect(againstGoal(8.97, 10)).toBe("9.0");
    expect(againstGoal(9.96, 10)).toBe("9.96");
    expect(againstGoal(4.9996, 5)).toBe("4.999");
    expect(againstGoal(4.99999, 5)).toBe("4.999");
  });
});
