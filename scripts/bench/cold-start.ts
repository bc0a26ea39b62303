import { stat } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import {
  CONNECTIONS_PREFIX,
  ENV,
  type EnvName,
  FANOUT,
  FUNCTION_NAMES,
  type FunctionName,
  LOCAL,
} from "../../functions/contract.js";
import { bundlePath } from "../local/lambda/invoker.js";
import { measureInProcess } from "./measured-process.js";

/**
 * Cold start: each bundle imported in a fresh `node` process (what Lambda's init phase does with
 * it), timed inside that process from just before the import to its end; the median of several
 * processes. Nothing is called: the handlers only build their clients at import.
 */

export interface ColdImport {
  readonly bytes: number;
  /** Wall time of each import, and their median. */
  readonly importMs: readonly number[];
  readonly medianMs: number;
  /**
   * CPU time of each import, and the least of them: what the code costs. A shared machine only
   * ever adds to it (cache misses, a neighbour's load), so the least run is the cleanest reading;
   * medians of five swung by 30% between near-identical bundles.
   */
  readonly importCpuMs: readonly number[];
  readonly leastCpuMs: number;
}

export interface ColdStart extends ColdImport {
  readonly fn: FunctionName;
  /** The same function's bundle built from the --baseline commit, when it existed there. */
  readonly baseline?: ColdImport & { readonly commit: string };
}

/**
 * A valid value for every variable any function reads at cold start (config.ts validates them;
 * nothing is contacted). Typed by the contract's ENV, so a variable added there fails the
 * typecheck here until it has a value, instead of failing the bench's imports.
 */
const COLD_START_VALUES: Record<EnvName, string> = {
  [ENV.connectionsBucket]: "bench-connections",
  [ENV.connectionsPrefix]: CONNECTIONS_PREFIX,
  [ENV.managementEndpoint]: "http://127.0.0.1:9/local",
  [ENV.topicArn]: `arn:aws:sns:${LOCAL.region}:${LOCAL.accountId}:bench`,
  [ENV.fanoutFunction]: "bench-fanout",
  [ENV.fanoutPageSize]: String(FANOUT.pageSizeDefault),
  [ENV.postsPerSecond]: String(FANOUT.postsPerSecondDefault),
  [ENV.fanoutInProcessMax]: String(FANOUT.inProcessMaxDefault),
  [ENV.serviceName]: "bench",
  [ENV.logLevel]: "INFO",
};

function coldStartEnvironment(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...COLD_START_VALUES,
    AWS_REGION: LOCAL.region,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}

const IMPORT_TIMER = `
const cpu = process.cpuUsage();
const started = performance.now();
await import(process.argv[1]);
const used = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify({ ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 }));
process.exit(0);
`;

interface ImportTime {
  /** Wall time of the import. */
  readonly ms: number;
  /** CPU time of the import: what the code costs, less the noise of a shared machine. */
  readonly cpuMs: number;
}

function importOnce(file: string): Promise<ImportTime> {
  return measureInProcess<ImportTime>(
    `importing ${file}`,
    ["--input-type=module", "-e", IMPORT_TIMER, pathToFileURL(file).href],
    { env: coldStartEnvironment() },
  );
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function summary(file: string, times: readonly ImportTime[]): Promise<ColdImport> {
  const importMs = times.map((time) => time.ms);
  const importCpuMs = times.map((time) => time.cpuMs);
  return {
    bytes: (await stat(file)).size,
    importMs,
    medianMs: median(importMs),
    importCpuMs,
    leastCpuMs: Math.min(...importCpuMs),
  };
}

/**
 * Imports each bundle `runs` times; with a baseline, its earlier bundle is imported in turn with
 * it (current, baseline, current, …), so both see the same moments of a noisy machine.
 */
export async function coldStarts(
  distDir: string,
  runs: number,
  onProgress: (line: string) => void = () => undefined,
  baseline?: { readonly commit: string; readonly files: ReadonlyMap<FunctionName, string> },
): Promise<ColdStart[]> {
  const results: ColdStart[] = [];
  for (const fn of FUNCTION_NAMES) {
    const file = bundlePath(distDir, fn);
    const earlier = baseline?.files.get(fn);
    const today: ImportTime[] = [];
    const then: ImportTime[] = [];
    for (let run = 0; run < runs; run += 1) {
      onProgress(`cold start: ${fn} ${run + 1}/${runs}`);
      today.push(await importOnce(file));
      if (earlier !== undefined) then.push(await importOnce(earlier));
    }
    results.push({
      fn,
      ...(await summary(file, today)),
      ...(earlier === undefined || baseline === undefined
        ? {}
        : { baseline: { commit: baseline.commit, ...(await summary(earlier, then)) } }),
    });
  }
  return results;
}
