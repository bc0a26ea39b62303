import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocketServer } from "ws";
import type { EnvName } from "../../functions/contract.js";
import { type RunningLocalStage, startLocalStage } from "../local/stage.js";
import {
  type CpuBreakdown,
  Profiler,
  type ThreadCpu,
  threadCpu,
  withOtherThreads,
} from "./cpu-profile.js";
import { serve } from "./worker.js";

/**
 * The local stage and the raw `ws` server the bench compares it with, in a process of their own.
 * The raw server is the limit: the same frame written straight to every socket.
 */

let stage: RunningLocalStage | undefined;
let raw: WebSocketServer | undefined;
let stateDir: string | undefined;
let profiler: Profiler | undefined;
let cpuStarted: NodeJS.CpuUsage | undefined;
let threadsStarted: ThreadCpu | undefined;

serve({
  async start(args) {
    stateDir = await mkdtemp(join(tmpdir(), "bench-stage-"));
    stage = await startLocalStage({
      port: 0,
      stateDir,
      ...(typeof args.distDir === "string" ? { distDir: args.distDir } : {}),
      // The bench's overrides of what the stage's functions get (its throttle budget).
      ...(typeof args.functionEnvironment === "object" && args.functionEnvironment !== null
        ? { functionEnvironment: args.functionEnvironment as Partial<Record<EnvName, string>> }
        : {}),
    });
    raw = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await new Promise((resolve) => raw?.once("listening", resolve));
    const address = raw.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    return { outputs: stage.outputs, rawUrl: `ws://127.0.0.1:${port}` };
  },
  async broadcast(args) {
    const frame = Buffer.from(String(args.frame));
    for (const client of raw?.clients ?? []) client.send(frame, { binary: false });
    return {};
  },
  async profile(args) {
    if (args.action === "start") {
      profiler = new Profiler();
      cpuStarted = process.cpuUsage();
      threadsStarted = threadCpu();
      await profiler.start();
      return {};
    }
    const cpu = process.cpuUsage(cpuStarted);
    const threadsStopped = threadCpu();
    const profiled: CpuBreakdown | undefined = await profiler?.stop();
    // Where /proc tells threads apart, the functions' share (their worker threads) is counted too.
    const result =
      profiled !== undefined && threadsStarted !== undefined && threadsStopped !== undefined
        ? withOtherThreads(profiled, threadsStarted, threadsStopped)
        : profiled;
    profiler = undefined;
    return { breakdown: result, cpuMs: (cpu.user + cpu.system) / 1000 };
  },
  async stop() {
    for (const client of raw?.clients ?? []) client.terminate();
    await new Promise((resolve) => (raw ? raw.close(resolve) : resolve(undefined)));
    await stage?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    return {};
  },
});
