import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { FaultInjector } from "../local/faults.js";
import { startLocalStage } from "../local/stage.js";
import { type FaultReport, runFaultScenarios } from "./fault-scenarios.js";
import { sampleFrames } from "./frames.js";
import { type FuzzReport, fuzzFrames } from "./fuzz.js";
import { type LoadReport, loadRun } from "./load.js";
import { LogWatch } from "./log-watch.js";
import {
  type InterruptReport,
  interruptScenario,
  shutdownFailures,
  type TimeoutsReport,
  timeoutsScenario,
} from "./shutdown.js";
import { StageAccess } from "./stage-access.js";
import { hasUtilLinuxScript } from "./terminal-stage.js";

/** One reliability run against a fresh local stage on 127.0.0.1 (any free ports). */

export interface ReliabilityOptions {
  readonly distDir: string;
  readonly frames: number;
  readonly seed: number;
  /** Deepest nesting the fuzzer sends. */
  readonly maxDepth: number;
  readonly clients: number;
  readonly messages: number;
  readonly killShare: number;
  /**
   * Connections opened at once (default 50). Under vitest every new execution environment's
   * bundle goes through vite's transform, so a burst of connects makes slow cold starts.
   */
  readonly connectConcurrency?: number;
  /** Connections and messages of each fault scenario; 0 clients skips the fault scenarios. */
  readonly faultClients: number;
  readonly faultMessages: number;
  /** Clients connected when Ctrl-C reaches `npm start` in a pseudo-terminal; 0 skips both. */
  readonly interruptClients: number;
  /** Broadcasts must come out byte for byte as sent (issue 12 finding 4). */
  readonly requireVerbatim: boolean;
  /**
   * Whether heap growth fails the run (default true). A short run in a shared test worker is too
   * small and too noisy for a verdict on memory; `npm run reliability` always judges it.
   */
  readonly judgeHeap?: boolean;
  readonly onProgress?: (line: string) => void;
}

export interface MemoryReport {
  readonly heapBeforeMb: number;
  readonly heapAfterMb: number;
  /** The heap grew by more than the tolerance between before and after. */
  readonly leaked: boolean;
}

export interface ReliabilityReport {
  readonly fuzz: FuzzReport;
  readonly load: LoadReport;
  readonly memory: MemoryReport;
  readonly faults: FaultReport;
  /** Timeouts and Ctrl-C through `npm start`; undefined without util-linux `script`. */
  readonly shutdown:
    | { readonly timeouts: TimeoutsReport; readonly interrupt: InterruptReport }
    | undefined;
  /** Function invocations that threw or timed out during the fuzz and the load (no faults on). */
  readonly failedInvocations: number;
  readonly failures: readonly string[];
}

const NO_FAULT_SCENARIOS: FaultReport = {
  scenarios: [],
  injected: { gone: 0, throttle: 0, error: 0, s3: 0, throws: 0, timeout: 0, slow: 0 },
  sent: 0,
  expected: 0,
  received: 0,
  lost: 0,
  duplicated: 0,
};

/** A heap this much above the baseline after the run counts as a leak. */
const HEAP_TOLERANCE_MB = 48;

/** V8's collector, also when node was started without --expose-gc (vitest, npm run). */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

async function heapMb(): Promise<number> {
  const gc = collector();
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return Math.round(process.memoryUsage().heapUsed / 1024 / 1024);
}

export function failuresOf(
  fuzz: FuzzReport,
  load: LoadReport,
  memory: MemoryReport,
  faults: Pick<FaultReport, "scenarios">,
  requireVerbatim: boolean,
): string[] {
  const failures: string[] = [];
  if (fuzz.unanswered > 0) {
    failures.push(
      `${fuzz.unanswered} fuzzed frames got no answer (${JSON.stringify(fuzz.unansweredKinds)})`,
    );
  }
  if (fuzz.leaked > 0) failures.push(`${fuzz.leaked} frames reached a client they were not for`);
  if (fuzz.missed > 0) failures.push(`${fuzz.missed} fuzzed deliveries missed a watching client`);
  if (fuzz.closed > 0) failures.push(`${fuzz.closed} connections closed below the size limits`);
  if (requireVerbatim && fuzz.verbatimMismatched > 0) {
    failures.push(`${fuzz.verbatimMismatched} broadcasts not delivered verbatim`);
  }
  if (load.refused > 0) failures.push(`${load.refused} connections refused during the load`);
  if (load.lost > 0) failures.push(`${load.lost} messages lost`);
  if (load.duplicated > 0) failures.push(`${load.duplicated} messages duplicated`);
  if (load.staleAfterNextFanOut !== 0) {
    failures.push(
      `the registry differs from the live connections by ${load.staleAfterNextFanOut} after the next fan-out`,
    );
  }
  if (load.registryAfterAllLeft > 0) {
    failures.push(`${load.registryAfterAllLeft} registry entries left after every client left`);
  }
  for (const scenario of faults.scenarios) {
    if (scenario.problems.length > 0) {
      failures.push(`fault scenario "${scenario.name}": ${scenario.problems.join(", ")}`);
    }
  }
  if (memory.leaked) {
    failures.push(`the heap grew from ${memory.heapBeforeMb} MB to ${memory.heapAfterMb} MB`);
  }
  return failures;
}

export async function runReliability(options: ReliabilityOptions): Promise<ReliabilityReport> {
  const progress = options.onProgress ?? (() => {});
  const stateDir = await mkdtemp(join(tmpdir(), "reliability-"));
  const ledger = { closed: 0, disconnects: 0, failedInvocations: 0 };
  const log = new LogWatch();
  // Off until a fault scenario arms it; evenly spread, so each scenario knows what it gets.
  const injector = FaultInjector.evenly({});
  let settle: (() => void) | undefined;
  const stage = await startLocalStage({
    port: 0,
    stateDir,
    distDir: options.distDir,
    faults: injector,
    onLog: (entry) => {
      log.push(entry);
      if (entry.type === "gateway" && entry.event === "closed") ledger.closed += 1;
      if (entry.type !== "invocation") return;
      if (entry.result !== "ok") ledger.failedInvocations += 1;
      if (entry.function === "disconnect") ledger.disconnects += 1;
      if (ledger.disconnects >= ledger.closed) settle?.();
    },
  });
  const disconnectsSettled = () =>
    ledger.disconnects >= ledger.closed
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          settle = resolve;
        });
  try {
    const url = stage.outputs.websocketUrl;
    const frames = sampleFrames(options.frames, options.seed, options.maxDepth);
    const loadOptions = {
      killShare: options.killShare,
      inFlight: 4,
      connectConcurrency: options.connectConcurrency ?? 50,
      // The stage's own credentials, as the functions use them.
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      disconnectsSettled,
    };
    // The baseline is a warm stage: Lambda keeps up to 16 execution environments per function,
    // each with its own copy of the bundle, and a first burst of load creates them. The warm-up
    // has the run's clients (the same bursts of connects and of kills), so the pools and the
    // keep-alive sockets reach the run's size before the baseline; fewer messages suffice.
    await fuzzFrames(url, sampleFrames(20, options.seed + 1, 3), () => {});
    await loadRun(
      stage.outputs,
      { ...loadOptions, clients: options.clients, messages: Math.min(options.messages, 4) },
      () => progress("warming up"),
    );
    await disconnectsSettled();
    const heapBeforeMb = await heapMb();
    const fuzz = await fuzzFrames(url, frames, (done) =>
      progress(`fuzz: ${done}/${frames.length} frames`),
    );
    const load = await loadRun(
      stage.outputs,
      { ...loadOptions, clients: options.clients, messages: options.messages },
      progress,
    );
    await disconnectsSettled();
    const heapAfterMb = await heapMb();
    const memory = {
      heapBeforeMb,
      heapAfterMb,
      leaked: (options.judgeHeap ?? true) && heapAfterMb - heapBeforeMb > HEAP_TOLERANCE_MB,
    };
    const failedInvocations = ledger.failedInvocations;
    const access = new StageAccess(stage.outputs, loadOptions.credentials);
    let faults: FaultReport = NO_FAULT_SCENARIOS;
    try {
      if (options.faultClients > 0)
        faults = await runFaultScenarios({
          url,
          clients: options.faultClients,
          messages: options.faultMessages,
          connectConcurrency: Math.min(options.connectConcurrency ?? 50, 20),
          injector,
          access,
          log,
          disconnectsSettled,
          onProgress: progress,
        });
    } finally {
      access.close();
    }
    await stage.stop();
    let shutdown: ReliabilityReport["shutdown"];
    const failures = failuresOf(fuzz, load, memory, faults, options.requireVerbatim);
    if (options.interruptClients > 0 && hasUtilLinuxScript()) {
      progress("npm start: idle timeout and maximum duration");
      const timeouts = await timeoutsScenario(options.distDir);
      progress("npm start: Ctrl-C in a terminal");
      const interrupt = await interruptScenario(options.distDir, options.interruptClients);
      shutdown = { timeouts, interrupt };
      failures.push(...shutdownFailures(timeouts, interrupt));
    }
    return { fuzz, load, memory, faults, shutdown, failedInvocations, failures };
  } finally {
    await stage.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}
