import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ARTIFACTS, ENV, type EnvName, FANOUT, LOCAL_STAGE } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { parseCommandLine, runCommand, UsageError } from "../cli.js";
import { LOOPBACK_CREDENTIALS } from "../local/http/request-signature.js";
import { buildBundles, bundlesOutdated } from "../local/lambda/bundles.js";
import {
  type LocalStageOutputs,
  functionEnvironment as stageFunctionEnvironment,
} from "../local/stage.js";
import { type BaselineBundles, buildBaselineBundles } from "./baseline-bundles.js";
import {
  buildNoOpConnect,
  buildVariants,
  POSTER_VARIANTS,
  type PosterVariant,
} from "./bundle-variants.js";
import { type ColdStart, coldStarts } from "./cold-start.js";
import {
  Arrivals,
  type ConnectRate,
  type FanOutPath,
  type FanOutResult,
  fanOutScenario,
  openThroughConnect,
} from "./fan-out.js";
import { posterComparison } from "./poster-comparison.js";
import { passed } from "./receipts.js";
import { type BenchReport, benchTables, connectFigures, judgeGoals, summarize } from "./report.js";
import {
  SHARD_PAGE_SIZES,
  type ShardRun,
  shardConfigurations,
  shardEnvironment,
  shardGoals,
} from "./shards.js";
import { synthComparison } from "./synth.js";
import { Worker } from "./worker.js";

const usage = `
Usage: npm run bench [-- options]

Measures, side by side in one run on 127.0.0.1 (never against fixed times: machines are noisy):
  posters    the fast poster against the SDK poster alone, each in its own process posting to a
             bare keep-alive server at delivery's concurrency, in turns: posts/s, CPU per post
  fan-out    N clients on a fresh local stage and N on a raw \`ws\` server; each message fanned
             out along every path in turn: (a) raw ws broadcast, (b) the project's fan-out (the
             subscriber bundle with the fast poster), (c) the same with the SDK poster, (d)
             sequential SDK posts, and (b) end to end through the stage's SNS. Messages/s, time to
             last client p50/p99, function CPU per message; every client's receipts audited
  connect    connections per second through $connect (registry write included) while the fan-out
             clients open, with the stage's CPU split by part (gateway, invoker, function, S3)
             and the clients' CPU per connection; just before, the same on a fresh stage whose
             $connect is a no-op handler: the rate everything but the function allows
  cold-start each bundle imported in fresh processes: wall time (median), CPU (least), size;
             with --baseline, next to its bundle from that commit
  synth      \`npm run synth\`'s per-resource imports against the provider's package root: wall
             time and peak memory, in fresh processes
  shards     fan-out at N = --shard-clients through the stage's SNS, one fresh stage each:
             unsharded (FANOUT_IN_PROCESS_MAX = N, the subscriber posts to everyone) and sharded
             per shard size (FANOUT_PAGE_SIZE ${SHARD_PAGE_SIZES.join(", ")}): time to last client
             against the number of shards and against unsharded, every receipt audited
A lost, duplicated or unknown message fails the run (exit 1); goals missed are reported, not
failed (they are ratios on a shared machine). Progress goes to stderr.

  --clients <list>     fan-out sizes                          (default 100,1000,5000)
  --messages <n>       measured messages per path and size    (default 20, 10, 4 for 100, 1000, 5000+)
  --paths <list>       raw,fast,sdk,sequential,sns            (default all)
  --sections <list>    posters,fanout,cold-start,synth,shards (default all; connect is part of fanout)
  --shard-clients <n>  clients in the shards section          (default 5000)
  --posts <n>          posts per poster and round             (default 5000; 5 rounds)
  --cold-runs <n>      fresh processes per bundle             (default 11)
  --baseline <ref>     also bundle functions/ as it was at this commit and import each of its
                       bundles in turn with today's, for "no slower than before" in one run
  --synth-runs <n>     synths of each kind                    (default 2)
  --timeout <s>        stop and fail after this long          (default 1800)
  --rtt <ms>           also run the fan-out paths (b) (c) (d), and every shards configuration,
                       with every @connections answer held this long, as a network round trip
                       would (default 0: loopback only). An assumption about the network, not a
                       measurement of AWS; the report shows the RTT next to every figure and
                       labels the goals judged with it
  --cpu-prof <dir>     write a V8 CPU profile of each helper process into dir (stage, clients,
                       function hosts), for where the time goes
  --json               the report as JSON on stdout

Example: npm run bench -- --clients 1000 --sections fanout --json
`;

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ALL_PATHS: readonly FanOutPath[] = ["raw", "fast", "sdk", "sequential", "sns"];
const SECTIONS = ["posters", "fanout", "cold-start", "synth", "shards"] as const;

type Section = (typeof SECTIONS)[number];

function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(",").map((item) => item.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UsageError(
        `--${flag} takes a comma-separated list of ${allowed.join(", ")} (got "${item}").\n\n${usage.trim()}`,
      );
    }
  }
  return items as T[];
}

function count(flag: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    throw new UsageError(
      `--${flag} takes a whole number from ${min} (got "${value}").\n\n${usage.trim()}`,
    );
  }
  return parsed;
}

function defaultMessages(clients: number): number {
  return clients <= 100 ? 20 : clients <= 1000 ? 10 : 4;
}

/**
 * The bench's throttle budget: the account's whole limit, so that pacing never hides what a
 * poster costs (a stage's default spends a tenth of it). Fan-outs above one page are sharded to
 * the stage's fan-out workers, which get the same budget.
 */
const BENCH_POSTS_PER_SECOND = String(FANOUT.accountRequestsPerSecond);
/** What the bench's stage and function hosts run with instead of the stage's defaults. */
const BENCH_FUNCTION_SETTINGS: Partial<Record<EnvName, string>> = {
  [ENV.postsPerSecond]: BENCH_POSTS_PER_SECOND,
};

/**
 * What the function hosts get: what the stage gives its own functions (the bench's stages listen
 * on loopback, so they sign with the loopback credentials), with the bench's settings.
 */
function hostEnvironment(outputs: LocalStageOutputs): Record<string, string | undefined> {
  return {
    ...stageFunctionEnvironment(outputs, LOOPBACK_CREDENTIALS),
    ...BENCH_FUNCTION_SETTINGS,
    [ENV.serviceName]: "bench-subscriber",
  };
}

class BenchTimeoutError extends ExpectedError {
  override readonly name = "BenchTimeoutError";
}

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), {
    usage,
    options: {
      clients: { type: "string" },
      messages: { type: "string" },
      paths: { type: "string" },
      sections: { type: "string" },
      "shard-clients": { type: "string" },
      posts: { type: "string" },
      "cold-runs": { type: "string" },
      baseline: { type: "string" },
      "synth-runs": { type: "string" },
      timeout: { type: "string" },
      "cpu-prof": { type: "string" },
      rtt: { type: "string" },
      json: { type: "boolean" },
    },
  });
  if (args === undefined) return 0;
  const sizes = (args.values.clients ?? "100,1000,5000").split(",").map((value) => {
    const parsed = count("clients", value.trim());
    if (parsed === undefined) throw new UsageError(`--clients needs sizes.\n\n${usage.trim()}`);
    return parsed;
  });
  const messages = count("messages", args.values.messages);
  const paths = list("paths", args.values.paths ?? ALL_PATHS.join(","), ALL_PATHS);
  const shardClients = count("shard-clients", args.values["shard-clients"]) ?? 5000;
  const sections = new Set<Section>(
    list("sections", args.values.sections ?? SECTIONS.join(","), SECTIONS),
  );
  const posts = count("posts", args.values.posts) ?? 5000;
  const coldRuns = count("cold-runs", args.values["cold-runs"]) ?? 11;
  const baselineRef = args.values.baseline;
  const synthRuns = count("synth-runs", args.values["synth-runs"]) ?? 2;
  const timeoutS = count("timeout", args.values.timeout) ?? 1800;
  const profileDir = args.values["cpu-prof"];
  const rttMs = count("rtt", args.values.rtt, 0) ?? 0;

  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const progress = (line: string) => {
    if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (performance.now() - lastLine > 5_000) {
      lastLine = performance.now();
      process.stderr.write(`${line}\n`);
    }
  };

  const distDir = join(ROOT, ARTIFACTS.dir);
  const outdated = await bundlesOutdated(ROOT, distDir);
  if (outdated !== undefined) {
    process.stderr.write(`Building the bundles (${outdated}): npm run bundle …\n`);
    await buildBundles(ROOT);
  }

  const started = performance.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const workers: Worker[] = [];
  let variantsDir: string | undefined;
  let baselineDir: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new BenchTimeoutError(
            `The bench ran past --timeout ${timeoutS} s and was stopped: try fewer --clients or --messages.`,
          ),
        ),
      timeoutS * 1000,
    );
  });

  const errors: string[] = [];
  /**
   * A fresh local stage (with these function settings, and the bundles of `bundles`) and a
   * clients process, both tracked.
   */
  const startStage = async (
    label: string,
    functionEnvironment: Partial<Record<EnvName, string>>,
    bundles = distDir,
  ) => {
    const stage = Worker.start(label, new URL("./stage-host.ts", import.meta.url), {}, profileDir);
    const clients = Worker.start(
      "clients",
      new URL("./clients.ts", import.meta.url),
      {},
      profileDir,
    );
    workers.push(stage, clients);
    const { outputs, rawUrl } = await stage.request<{
      outputs: LocalStageOutputs;
      rawUrl: string;
    }>("start", { distDir: bundles, functionEnvironment });
    return { stage, clients, outputs, rawUrl };
  };

  /**
   * The --rtt relay (round-trip-host.ts) in a process of its own, tracked: to `target`, or to no
   * stage until its "forward" names one.
   */
  const startRelay = async (label: string, rttMs: number, target?: string) => {
    const worker = Worker.start(
      label,
      new URL("./round-trip-host.ts", import.meta.url),
      {},
      profileDir,
    );
    workers.push(worker);
    const { url } = await worker.request<{ url: string }>("start", {
      rttMs,
      ...(target === undefined ? {} : { target }),
    });
    return { worker, url };
  };

  const measure = async () => {
    const posters = sections.has("posters")
      ? await posterComparison(posts, 5, progress, profileDir)
      : undefined;
    const fanOut: FanOutResult[] = [];
    /** By size: the connect rate of a fresh stage whose $connect does nothing. */
    const noOpConnect = new Map<number, ConnectRate>();
    if (sections.has("fanout")) {
      progress("building the poster variants of the subscriber and a no-op $connect");
      variantsDir = await mkdtemp(join(tmpdir(), "bench-variants-"));
      const variants = await buildVariants("subscriber", variantsDir);
      const noOpDist = await buildNoOpConnect(distDir, join(variantsDir, "no-op-connect"));
      /** Opens `size` clients on a stage of its own with the no-op $connect, then stops it. */
      const noOpConnectRate = async (size: number) => {
        progress(`N=${size}: opening ${size} connections through a no-op $connect`);
        const { stage, clients, outputs } = await startStage(
          "stage (no-op $connect)",
          BENCH_FUNCTION_SETTINGS,
          noOpDist,
        );
        try {
          return await openThroughConnect(
            { stage, clients },
            outputs.websocketUrl,
            `no-op-${size}`,
            size,
          );
        } finally {
          await Promise.all([stage.stop(), clients.stop()]);
        }
      };
      progress("starting the local stage");
      const { stage, clients, outputs, rawUrl } = await startStage(
        "stage",
        BENCH_FUNCTION_SETTINGS,
      );
      const hosts = new Map<PosterVariant, Worker>();
      for (const variant of POSTER_VARIANTS) {
        if (!paths.includes(variant)) continue;
        const host = Worker.start(
          `function host (${variant})`,
          new URL("./function-host.ts", import.meta.url),
          {},
          profileDir,
        );
        workers.push(host);
        const bundle = variants.find((built) => built.variant === variant)?.file;
        await host.request("load", { bundle, env: hostEnvironment(outputs) });
        hosts.set(variant, host);
      }
      let roundTrip: { rttMs: number; hosts: Map<PosterVariant, Worker> } | undefined;
      if (rttMs > 0) {
        // The same bundles in hosts of their own, posting through the round-trip relay.
        const { url } = await startRelay("round-trip relay", rttMs, outputs.managementEndpoint);
        roundTrip = { rttMs, hosts: new Map() };
        for (const variant of hosts.keys()) {
          const host = Worker.start(
            `function host (${variant}, RTT ${rttMs} ms)`,
            new URL("./function-host.ts", import.meta.url),
            {},
            profileDir,
          );
          workers.push(host);
          const bundle = variants.find((built) => built.variant === variant)?.file;
          await host.request("load", {
            bundle,
            env: { ...hostEnvironment(outputs), [ENV.managementEndpoint]: url },
          });
          roundTrip.hosts.set(variant, host);
        }
      }
      const bench = {
        stage,
        clients,
        hosts,
        ...(roundTrip === undefined ? {} : { roundTrip }),
        outputs,
        rawUrl,
        arrivals: new Arrivals(clients),
      };
      for (const [index, size] of sizes.entries()) {
        try {
          // Just before the real one, so both see the machine in the same state.
          noOpConnect.set(size, await noOpConnectRate(size));
          fanOut.push(
            await fanOutScenario(bench, {
              clients: size,
              messages: messages ?? defaultMessages(size),
              paths,
              drain: index < sizes.length - 1,
              onProgress: progress,
            }),
          );
        } catch (error) {
          // The sizes after a stalled one would start from a dirty stage: report what was measured.
          if (!(error instanceof ExpectedError)) throw error;
          errors.push(`N=${size}: ${error.message}`);
          break;
        }
      }
    }
    const shards: ShardRun[] = [];
    if (sections.has("shards")) {
      const { configurations, skipped } = shardConfigurations(shardClients);
      if (skipped !== undefined) progress(`shards: no ${skipped}`);
      // With --rtt, every configuration once more with each post's answer held that long: there
      // the in-process fan-out is bound by the posts it keeps in flight, and shards add theirs.
      const runs = [0, ...(rttMs > 0 ? [rttMs] : [])].flatMap((shardRttMs) =>
        configurations.map((configuration) => ({ configuration, rttMs: shardRttMs })),
      );
      for (const { configuration, rttMs: shardRttMs } of runs) {
        const along =
          shardRttMs > 0 ? `${configuration.label}, RTT ${shardRttMs} ms` : configuration.label;
        // The functions are given the relay's address before the stage behind it exists.
        let relay: { worker: Worker; managementEndpoint: string } | undefined;
        if (shardRttMs > 0) {
          const { worker, url } = await startRelay(`round-trip relay (${along})`, shardRttMs);
          relay = { worker, managementEndpoint: `${url}/${LOCAL_STAGE}` };
        }
        // A fresh stage each: the fan-out settings are read at the functions' cold start.
        progress(`shards: starting a local stage, ${along}`);
        const { stage, clients, outputs, rawUrl } = await startStage(`stage (${along})`, {
          ...shardEnvironment(configuration, BENCH_POSTS_PER_SECOND),
          ...(relay === undefined ? {} : { [ENV.managementEndpoint]: relay.managementEndpoint }),
        });
        const bench = {
          stage,
          clients,
          hosts: new Map(),
          outputs,
          rawUrl,
          arrivals: new Arrivals(clients),
        };
        try {
          if (relay !== undefined) {
            const { url } = await relay.worker.request<{ url: string }>("forward", {
              target: outputs.managementEndpoint,
            });
            if (url !== relay.managementEndpoint) {
              throw new Error(
                `the relay forwards to ${url}, not to the ${relay.managementEndpoint} the functions were given`,
              );
            }
          }
          const loadBefore = loadavg()[0] ?? 0;
          const result = await fanOutScenario(bench, {
            clients: shardClients,
            messages: messages ?? defaultMessages(shardClients),
            paths: ["sns"],
            drain: false,
            onProgress: progress,
          });
          shards.push({
            configuration,
            rttMs: shardRttMs,
            result,
            loadAverage: { start: loadBefore, end: loadavg()[0] ?? 0 },
          });
        } catch (error) {
          if (!(error instanceof ExpectedError)) throw error;
          errors.push(`${along}: ${error.message}`);
          break;
        } finally {
          await Promise.all([
            stage.stop(),
            clients.stop(),
            ...(relay === undefined ? [] : [relay.worker.stop()]),
          ]);
        }
      }
    }
    let coldStart: ColdStart[] | undefined;
    if (sections.has("cold-start")) {
      let baseline: BaselineBundles | undefined;
      if (baselineRef !== undefined) {
        progress(`cold start: bundling the functions of ${baselineRef}`);
        baselineDir = await mkdtemp(join(tmpdir(), "bench-baseline-"));
        baseline = await buildBaselineBundles(ROOT, baselineRef, baselineDir);
      }
      coldStart = await coldStarts(distDir, coldRuns, progress, baseline);
    }
    const synth = sections.has("synth") ? await synthComparison(synthRuns, progress) : undefined;
    return { posters, fanOut, noOpConnect, shards, coldStart, synth };
  };

  let measured: Awaited<ReturnType<typeof measure>>;
  try {
    measured = await Promise.race([measure(), timedOut]);
  } finally {
    clearTimeout(timer);
    progress("stopping");
    await Promise.all(
      workers.map((worker) =>
        Promise.race([
          worker.stop(),
          new Promise<void>((resolve) => setTimeout(resolve, 15_000).unref()),
        ]).then(() => worker.kill()),
      ),
    );
    if (variantsDir !== undefined) await rm(variantsDir, { recursive: true, force: true });
    if (baselineDir !== undefined) await rm(baselineDir, { recursive: true, force: true });
    if (tty) process.stderr.write("\r\x1b[K");
  }

  const failures: string[] = [...errors];
  for (const run of measured.fanOut) {
    for (const [channel, audit] of Object.entries(run.audits)) {
      if (!passed(audit)) {
        failures.push(
          `N=${run.clients} ${channel}: ${audit.lost} lost, ${audit.duplicated} duplicated, ${audit.unknown} unknown (${audit.examples.join("; ")})`,
        );
      }
    }
  }
  for (const run of measured.shards) {
    for (const [channel, audit] of Object.entries(run.result.audits)) {
      if (!passed(audit)) {
        failures.push(
          `${run.configuration.label} ${channel}: ${audit.lost} lost, ${audit.duplicated} duplicated, ${audit.unknown} unknown (${audit.examples.join("; ")})`,
        );
      }
    }
  }
  const cpu = cpus();
  const partial = {
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? "unknown",
      node: process.versions.node,
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
    },
    seconds: (performance.now() - started) / 1000,
    fanOut: measured.fanOut.map((run) => {
      const noOp = measured.noOpConnect.get(run.clients);
      return {
        clients: run.clients,
        ...connectFigures(run.connect, run.clients),
        ...(noOp === undefined ? {} : { noOpConnect: connectFigures(noOp, run.clients) }),
        paths: summarize(run),
        audits: run.audits,
      };
    }),
    posters: measured.posters,
    shards: measured.shards.map((run) => ({
      clients: run.result.clients,
      pageSize: run.configuration.pageSize,
      shards: run.configuration.shards,
      // The machine is shared: each row's own load, to judge the rows against each other.
      loadAverage: run.loadAverage,
      sns: summarize(run.result)
        .map((path) => ({ ...path, rttMs: run.rttMs }))
        .find((path) => path.path === "sns"),
    })),
    coldStart: measured.coldStart,
    synth: measured.synth,
  };
  const report: BenchReport = {
    ...partial,
    goals: [...judgeGoals(partial), ...shardGoals(partial.shards)],
    failures,
  };
  process.stdout.write(
    args.values.json === true ? `${JSON.stringify(report)}\n` : `${benchTables(report)}\n`,
  );
  return failures.length === 0 ? 0 : 1;
});
