import { MAX_BUNDLE_BYTES } from "../bundle.js";
import type { ColdStart } from "./cold-start.js";
import type { ConnectRate, FanOutPath, FanOutResult, StageCpu } from "./fan-out.js";
import type { PosterResult } from "./poster-comparison.js";
import type { SynthResult } from "./synth.js";

/** What one `npm run bench` measured, its verdict, and the tables the README quotes. */

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly node: string;
  /** 1-minute load average when the run started and when it ended. */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

export interface PathSummary {
  readonly path: FanOutPath;
  /** The emulated round trip of each post's answer (ms, `--rtt`); 0 on loopback. */
  readonly rttMs: number;
  readonly messages: number;
  /** Deliveries per second: clients × messages over the summed time to last client. */
  readonly messagesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Function CPU per delivered message, in microseconds; undefined where not measurable. */
  readonly cpuUsPerMessage: number | undefined;
  /** Of which system (kernel) time. */
  readonly systemCpuUsPerMessage: number | undefined;
  /** Cores the whole machine kept busy while the messages went out; undefined off Linux. */
  readonly coresBusy: number | undefined;
}

export interface ShardSummary {
  readonly clients: number;
  /** FANOUT_PAGE_SIZE: connection ids per shard. */
  readonly pageSize: number;
  readonly shards: number;
  readonly sns: PathSummary | undefined;
}

export interface Goal {
  readonly goal: string;
  readonly met: boolean;
  readonly measured: string;
}

/** The goal for connections per second through `$connect`. */
export const CONNECT_RATE_GOAL = 1000;

/** One connect measurement as the report gives it. */
export interface ConnectFigures {
  readonly connectsPerSecond: number;
  /** The stage's CPU while the clients opened, split by part. */
  readonly connectCpu: StageCpu;
  /** The clients' process CPU per connection (µs): the `ws` client side of a handshake. */
  readonly clientCpuUsPerConnection: number;
}

export function connectFigures(rate: ConnectRate, clients: number): ConnectFigures {
  return {
    connectsPerSecond: rate.perSecond,
    connectCpu: rate.cpu,
    clientCpuUsPerConnection: clients > 0 ? (rate.clientCpuMs * 1000) / clients : Number.NaN,
  };
}

export interface FanOutSummary extends ConnectFigures {
  readonly clients: number;
  /**
   * The same number of clients opened on a fresh stage whose `$connect` is a no-op handler, just
   * before: the rate the rest of the path (gateway, invoker, clients) allows on this machine.
   */
  readonly noOpConnect?: ConnectFigures | undefined;
  readonly paths: readonly PathSummary[];
  readonly audits: FanOutResult["audits"];
}

export interface BenchReport {
  readonly machine: Machine;
  readonly seconds: number;
  readonly fanOut: readonly FanOutSummary[];
  readonly posters?: readonly PosterResult[] | undefined;
  /** Sharded fan-out through the stage's SNS, one fresh stage per shard size. */
  readonly shards?: readonly ShardSummary[] | undefined;
  readonly coldStart: readonly ColdStart[] | undefined;
  readonly synth: readonly SynthResult[] | undefined;
  readonly goals: readonly Goal[];
  /** Lost, duplicated or unknown messages, and anything else that fails the run. */
  readonly failures: readonly string[];
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(result: FanOutResult): PathSummary[] {
  return result.paths.map((run) => {
    const { path, rttMs, latenciesMs, cpuMs, systemCpuMs, delivered } = run;
    const totalMs = latenciesMs.reduce((sum, ms) => sum + ms, 0);
    const deliveredTotal = delivered.reduce((sum, n) => sum + n, 0);
    const cpuTotal = cpuMs.reduce((sum, ms) => sum + ms, 0);
    const systemTotal = systemCpuMs.reduce((sum, ms) => sum + ms, 0);
    return {
      path,
      rttMs: rttMs ?? 0,
      messages: latenciesMs.length,
      messagesPerSecond: (result.clients * latenciesMs.length * 1000) / totalMs,
      p50Ms: percentile(latenciesMs, 50),
      p99Ms: percentile(latenciesMs, 99),
      cpuUsPerMessage: deliveredTotal > 0 ? (cpuTotal * 1000) / deliveredTotal : undefined,
      systemCpuUsPerMessage: deliveredTotal > 0 ? (systemTotal * 1000) / deliveredTotal : undefined,
      coresBusy: run.coresBusy,
    };
  });
}

const LABELS: Record<FanOutPath, string> = {
  raw: "(a) raw `ws` broadcast",
  fast: "(b) the project's fan-out (fast poster)",
  sdk: "(c) the same with the SDK poster",
  sequential: "(d) sequential SDK posts",
  sns: "(b) end to end: SNS Publish to the stage",
};

const fixed = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value) ? "–" : value.toFixed(digits);

/**
 * A measured ratio next to the goal it is judged against: one decimal, or as many more (up to
 * three) as it takes for the figure shown to fall on the same side of the goal as the ratio
 * itself (4.95 against a goal of 5 shows as 4.95, not as a 5.0 that failed).
 */
export function againstGoal(value: number, goal: number): string {
  for (let digits = 1; digits <= 3; digits += 1) {
    const shown = Number(value.toFixed(digits));
    if (value >= goal === shown >= goal) return value.toFixed(digits);
  }
  // Closer to the goal than a thousandth, and under it: cut, never round up to it.
  return (Math.floor(value * 1000) / 1000).toFixed(3);
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/** A path's summary on loopback, or with the emulated round trip `rttMs`. */
export function byPath(
  paths: readonly PathSummary[],
  path: FanOutPath,
  rttMs = 0,
): PathSummary | undefined {
  return paths.find((summary) => summary.path === path && summary.rttMs === rttMs);
}

/** The round trips a run's paths were measured with: 0 (loopback) first. */
function roundTrips(paths: readonly PathSummary[]): number[] {
  return [...new Set([0, ...paths.map((summary) => summary.rttMs)])].sort((a, b) => a - b);
}

/** How a figure's round trip is shown next to it. */
export function rttLabel(rttMs: number): string {
  return rttMs === 0 ? "0 (loopback)" : `${rttMs} ms (emulated)`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

const STAGE_PARTS = ["gateway", "invoker", "function", "S3 stand-in", "gc", "other"];

/**
 * Connections per second through `$connect` with the stage's CPU split by part and the clients'
 * CPU per connection; under each measured row, the same with a no-op `$connect` where measured.
 */
export function connectTable(fanOut: readonly FanOutSummary[]): string {
  const row = (clients: number, handler: string, figures: ConnectFigures) => {
    const total = figures.connectCpu.breakdown?.totalMs ?? 0;
    return [
      String(clients),
      handler,
      fixed(figures.connectsPerSecond),
      `${fixed(figures.connectCpu.cpuMs)} ms`,
      ...STAGE_PARTS.map((part) =>
        total > 0
          ? `${fixed(((figures.connectCpu.breakdown?.ms[part] ?? 0) / total) * 100)}%`
          : "–",
      ),
      `${fixed(figures.clientCpuUsPerConnection)} µs`,
    ];
  };
  return table(
    [
      "N",
      "$connect",
      "connects/s",
      "stage CPU",
      ...STAGE_PARTS.map((part) => `${part} share`),
      "clients' CPU / connection",
    ],
    fanOut.flatMap((run) => [
      row(run.clients, "the connect bundle", run),
      ...(run.noOpConnect === undefined
        ? []
        : [row(run.clients, "no-op handler (fresh stage)", run.noOpConnect)]),
    ]),
  );
}

/**
 * One line per size saying what bounds the connect rate: the rate with a no-op `$connect`, and
 * how much of the machine the clients alone would take at the goal's rate.
 */
export function connectBounds(fanOut: readonly FanOutSummary[], cpus: number): string[] {
  return fanOut.flatMap(({ clients, connectsPerSecond, noOpConnect, clientCpuUsPerConnection }) => {
    if (noOpConnect === undefined) return [];
    const coresAtGoal = (clientCpuUsPerConnection * CONNECT_RATE_GOAL) / 1_000_000;
    return [
      `N=${clients}: $connect ran at ${fixed(connectsPerSecond)}/s; with a no-op handler, ` +
        `${fixed(noOpConnect.connectsPerSecond)}/s (gateway, invoker and clients alone). ` +
        `The \`ws\` clients spent ${fixed(clientCpuUsPerConnection)} µs of CPU per connection: ` +
        `at ${CONNECT_RATE_GOAL.toLocaleString("en-US")}/s, ${fixed(coresAtGoal, 2)} of this ` +
        `machine's ${cpus} cores for the clients alone.`,
    ];
  });
}

/** The run as Markdown tables. */
export function benchTables(report: BenchReport): string {
  const parts: string[] = [];
  const { machine } = report;
  parts.push(
    `Machine: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverage.start.toFixed(2)} at the start, ${machine.loadAverage.end.toFixed(2)} at the end; ${report.seconds.toFixed(0)} s.`,
  );
  if (report.posters !== undefined) {
    const [fast, sdk] = (["fast", "sdk"] as const).map((variant) =>
      report.posters?.find((poster) => poster.variant === variant),
    );
    parts.push(
      table(
        ["poster alone", "posts/s", "CPU / post (of which kernel)"],
        [
          ...report.posters.map((poster) => [
            poster.variant === "fast" ? "fast poster" : "SDK poster",
            fixed(poster.postsPerSecond),
            `${fixed(poster.cpuUsPerPost)} µs (${fixed(poster.systemCpuUsPerPost)})`,
          ]),
          [
            "fast / SDK",
            `${fixed(ratio(fast?.postsPerSecond, sdk?.postsPerSecond), 1)}×`,
            `1/${fixed(ratio(sdk?.cpuUsPerPost, fast?.cpuUsPerPost), 1)}`,
          ],
        ],
      ),
    );
  }
  if (report.fanOut.length > 0) {
    parts.push(
      table(
        [
          "N",
          "path",
          "RTT",
          "msgs/s",
          "last client p50",
          "p99",
          "function CPU / msg (of which kernel)",
          `cores busy (of ${machine.cpus})`,
        ],
        report.fanOut.flatMap(({ clients, paths }) =>
          paths.map((summary) => [
            String(clients),
            LABELS[summary.path],
            rttLabel(summary.rttMs),
            fixed(summary.messagesPerSecond),
            `${fixed(summary.p50Ms, 1)} ms`,
            `${fixed(summary.p99Ms, 1)} ms`,
            summary.cpuUsPerMessage === undefined
              ? "–"
              : `${fixed(summary.cpuUsPerMessage)} µs (${fixed(summary.systemCpuUsPerMessage)})`,
            fixed(summary.coresBusy, 2),
          ]),
        ),
      ),
    );
    parts.push(
      table(
        ["N", "RTT", "b/c msgs/s", "c/b CPU per msg", "b/d msgs/s", "b/a msgs/s"],
        report.fanOut.flatMap(({ clients, paths }) =>
          roundTrips(paths).map((rttMs) => {
            const [b, c, d] = (["fast", "sdk", "sequential"] as const).map((path) =>
              byPath(paths, path, rttMs),
            );
            // The raw broadcast has no posts, hence no round trip: the same limit for every RTT.
            const a = byPath(paths, "raw");
            return [
              String(clients),
              rttLabel(rttMs),
              `${fixed(ratio(b?.messagesPerSecond, c?.messagesPerSecond), 1)}×`,
              `${fixed(ratio(c?.cpuUsPerMessage, b?.cpuUsPerMessage), 1)}×`,
              `${fixed(ratio(b?.messagesPerSecond, d?.messagesPerSecond), 1)}×`,
              fixed(ratio(b?.messagesPerSecond, a?.messagesPerSecond), 3),
            ];
          }),
        ),
      ),
    );
    parts.push(connectTable(report.fanOut), ...connectBounds(report.fanOut, machine.cpus));
  }
  if (report.shards !== undefined && report.shards.length > 0) {
    parts.push(
      table(
        [
          "N",
          "shard size",
          "shards",
          "RTT",
          "msgs/s",
          "last client p50",
          "p99",
          `cores busy (of ${machine.cpus})`,
        ],
        report.shards.map((run) => [
          String(run.clients),
          // No shards: the whole fan-out in the function that received it.
          run.shards === 0 ? "– (in-process)" : String(run.pageSize),
          run.shards === 0 ? "unsharded" : String(run.shards),
          rttLabel(run.sns?.rttMs ?? 0),
          run.sns === undefined ? "–" : fixed(run.sns.messagesPerSecond),
          run.sns === undefined ? "–" : `${fixed(run.sns.p50Ms, 1)} ms`,
          run.sns === undefined ? "–" : `${fixed(run.sns.p99Ms, 1)} ms`,
          fixed(run.sns?.coresBusy, 2),
        ]),
      ),
    );
  }
  if (report.coldStart !== undefined) {
    const commit = report.coldStart.find((cold) => cold.baseline !== undefined)?.baseline?.commit;
    parts.push(
      table(
        [
          "bundle",
          "size (bytes)",
          "cold import (median)",
          "CPU (least)",
          "runs",
          ...(commit === undefined
            ? []
            : [
                `at ${commit.slice(0, 7)}: size`,
                "cold import (median)",
                "CPU (least)",
                "CPU today / then",
              ]),
        ],
        report.coldStart.map(({ fn, bytes, medianMs, leastCpuMs, importMs, baseline }) => [
          fn,
          bytes.toLocaleString("en-US"),
          `${fixed(medianMs)} ms`,
          `${fixed(leastCpuMs)} ms`,
          importMs.map((ms) => fixed(ms)).join(", "),
          ...(commit === undefined
            ? []
            : baseline === undefined
              ? ["– (new since)", "–", "–", "–"]
              : [
                  baseline.bytes.toLocaleString("en-US"),
                  `${fixed(baseline.medianMs)} ms`,
                  `${fixed(baseline.leastCpuMs)} ms`,
                  `${(leastCpuMs / baseline.leastCpuMs).toFixed(2)}`,
                ]),
        ]),
      ),
    );
  }
  if (report.synth !== undefined) {
    parts.push(
      table(
        ["synth", "wall (median)", "peak RSS (median)"],
        report.synth.map(({ mode, medianMs, medianRssMb }) => [
          mode === "deep"
            ? "`npm run synth` (per-resource imports)"
            : "provider package root imported",
          `${fixed(medianMs)} ms`,
          `${fixed(medianRssMb)} MB`,
        ]),
      ),
    );
  }
  if (report.goals.length > 0) {
    parts.push(
      table(
        ["goal", "measured", "met"],
        report.goals.map(({ goal, measured, met }) => [goal, measured, met ? "yes" : "**no**"]),
      ),
    );
  }
  parts.push(
    report.failures.length > 0
      ? `Verdict: FAIL — ${report.failures.join("; ")}`
      : report.fanOut.length > 0
        ? "Verdict: pass — every client received every message exactly once."
        : "Verdict: pass.",
  );
  return parts.join("\n\n");
}

/** The goals, judged on this run (N=1000 for the fan-out ratios). */
export function judgeGoals(report: Omit<BenchReport, "goals" | "failures">): Goal[] {
  const goals: Goal[] = [];
  const at1000 = report.fanOut.find((run) => run.clients === 1000);
  // The goals are judged on loopback; a run with `--rtt` adds the same rows for its emulated
  // round trip, labelled as such (an assumption about the network, not a measurement of AWS).
  for (const rttMs of at1000 === undefined ? [] : roundTrips(at1000.paths)) {
    const paths = at1000?.paths ?? [];
    const b = byPath(paths, "fast", rttMs);
    const c = byPath(paths, "sdk", rttMs);
    const d = byPath(paths, "sequential", rttMs);
    const at = rttMs === 0 ? "N=1000" : `N=1000, emulated RTT ${rttMs} ms`;
    const speed = ratio(b?.messagesPerSecond, c?.messagesPerSecond);
    if (speed !== undefined)
      goals.push({
        goal: `${at}: b ≥ 5× c in msgs/s`,
        measured: `${againstGoal(speed, 5)}×`,
        met: speed >= 5,
      });
    const cpu = ratio(c?.cpuUsPerMessage, b?.cpuUsPerMessage);
    if (cpu !== undefined)
      goals.push({
        goal: `${at}: b's CPU per msg ≤ 1/5 of c's`,
        measured: `1/${againstGoal(cpu, 5)}`,
        met: cpu >= 5,
      });
    const sequential = ratio(b?.messagesPerSecond, d?.messagesPerSecond);
    if (sequential !== undefined)
      goals.push({
        goal: `${at}: b ≥ 10× d in msgs/s`,
        measured: `${againstGoal(sequential, 10)}×`,
        met: sequential >= 10,
      });
  }
  if (report.fanOut.length > 0) {
    const slowest = Math.min(...report.fanOut.map((run) => run.connectsPerSecond));
    goals.push({
      goal: `connect rate ≥ ${CONNECT_RATE_GOAL.toLocaleString("en-US")}/s through $connect`,
      measured: `${fixed(slowest)}/s (slowest N)`,
      met: slowest >= CONNECT_RATE_GOAL,
    });
  }
  if (report.coldStart !== undefined) {
    const largest = Math.max(...report.coldStart.map((cold) => cold.bytes));
    goals.push({
      goal: "every bundle ≤ 500 KB (500,000 bytes)",
      measured: `largest ${largest.toLocaleString("en-US")} bytes`,
      met: largest <= MAX_BUNDLE_BYTES,
    });
    // Judged on CPU time: wall time on a shared machine is mostly the neighbours' load.
    const compared = report.coldStart.flatMap(({ fn, leastCpuMs, baseline }) =>
      baseline === undefined ? [] : [{ fn, ratio: leastCpuMs / baseline.leastCpuMs, baseline }],
    );
    const slowest = compared.sort((a, b) => b.ratio - a.ratio)[0];
    if (slowest !== undefined) {
      goals.push({
        goal: `cold import of every bundle no slower than at ${slowest.baseline.commit.slice(0, 7)}`,
        measured: `slowest ${slowest.fn}: ${slowest.ratio.toFixed(2)}× its import CPU then`,
        met: slowest.ratio <= 1,
      });
    }
  }
  if (report.synth !== undefined) {
    const [deep, root] = (["deep", "root"] as const).map(
      (mode) => report.synth?.find((run) => run.mode === mode)?.medianMs,
    );
    const share = ratio(deep, root);
    if (share !== undefined)
      goals.push({
        goal: "synth ≤ 1/5 of the root-import time",
        measured: `${fixed(share * 100)}%`,
        met: share <= 0.2,
      });
  }
  return goals;
}
