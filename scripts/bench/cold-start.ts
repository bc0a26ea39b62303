import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import {
  CONNECTIONS_PREFIX,
  ENV,
  FUNCTION_NAMES,
  type FunctionName,
  LOCAL,
} from "../../functions/contract.js";
import { bundlePath } from "../local/lambda/invoker.js";

/**
 * Cold start: each bundle imported in a fresh `node` process (what Lambda's init phase does with
 * it), timed inside that process from just before the import to its end; the median of several
 * processes. Nothing is called: the handlers only build their clients at import.
 */

export interface ColdStart {
  readonly fn: FunctionName;
  readonly bytes: number;
  readonly importMs: readonly number[];
  readonly medianMs: number;
}

/** Values the functions validate at cold start (config.ts); nothing is contacted. */
function coldStartEnvironment(): NodeJS.ProcessEnv {
  const values: Record<string, string> = {
    [ENV.connectionsBucket]: "bench-connections",
    [ENV.connectionsPrefix]: CONNECTIONS_PREFIX,
    [ENV.managementEndpoint]: "http://127.0.0.1:9/local",
    [ENV.topicArn]: `arn:aws:sns:${LOCAL.region}:${LOCAL.accountId}:bench`,
    [ENV.serviceName]: "bench",
    [ENV.logLevel]: "INFO",
  };
  return {
    ...process.env,
    ...values,
    AWS_REGION: LOCAL.region,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}

const IMPORT_TIMER = `
const started = performance.now();
await import(process.argv[1]);
process.stdout.write(JSON.stringify({ ms: performance.now() - started }));
process.exit(0);
`;

function importOnce(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", IMPORT_TIMER, pathToFileURL(file).href],
      { env: coldStartEnvironment(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`importing ${file} failed (exit ${code}): ${err.trim()}`));
      else resolve((JSON.parse(out) as { ms: number }).ms);
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export async function coldStarts(
  distDir: string,
  runs: number,
  onProgress: (line: string) => void = () => undefined,
): Promise<ColdStart[]> {
  const results: ColdStart[] = [];
  for (const fn of FUNCTION_NAMES) {
    const file = bundlePath(distDir, fn);
    const importMs: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      onProgress(`cold start: ${fn} ${run + 1}/${runs}`);
      importMs.push(await importOnce(file));
    }
    results.push({ fn, bytes: (await stat(file)).size, importMs, medianMs: median(importMs) });
  }
  return results;
}
