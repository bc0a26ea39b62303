import { readdirSync, readFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

/**
 * Where a process's CPU time goes, by part of the local stage: a sampling profile of the process,
 * each sample charged to the innermost frame that belongs to a known part (so Node's own http and
 * stream code counts for whoever called it).
 */

export type Part = "gateway" | "invoker" | "function" | "S3 stand-in" | "SNS stand-in" | "other";

const PARTS: readonly [RegExp, Part][] = [
  [/\/dist\/[a-z]+\/index\.mjs/, "function"],
  [/\/scripts\/local\/s3\/|fast-xml-parser/, "S3 stand-in"],
  [/\/scripts\/local\/sns\//, "SNS stand-in"],
  [/\/scripts\/local\/(lambda\/|local-log\.ts)/, "invoker"],
  [/\/scripts\/local\/(gateway\/|faults\.ts|stage\.ts)|\/node_modules\/ws\//, "gateway"],
];
// Shared code (scripts/local/http/: request bodies, signatures) counts for the listener calling it.

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly url: string; readonly functionName: string };
  readonly children?: readonly number[];
}

export interface CpuBreakdown {
  /** CPU milliseconds per part (idle excluded), and "gc" for the garbage collector. */
  readonly ms: Readonly<Record<string, number>>;
  readonly totalMs: number;
}

export function breakdown(profile: {
  nodes: readonly ProfileNode[];
  samples?: readonly number[];
  timeDeltas?: readonly number[];
}): CpuBreakdown {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const partOf = new Map<number, string | undefined>();
  const resolve = (id: number): string | undefined => {
    if (partOf.has(id)) return partOf.get(id);
    const node = byId.get(id);
    let part: string | undefined;
    if (node !== undefined) {
      const { url, functionName } = node.callFrame;
      if (functionName === "(idle)") part = "idle";
      else if (functionName === "(garbage collector)") part = "gc";
      else part = PARTS.find(([pattern]) => pattern.test(url))?.[1];
      if (part === undefined) {
        const up = parent.get(id);
        part = up === undefined ? undefined : resolve(up);
      }
    }
    partOf.set(id, part);
    return part;
  };
  const ms: Record<string, number> = {};
  let totalMs = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  samples.forEach((id, i) => {
    const part = resolve(id) ?? "other";
    if (part === "idle") return;
    const delta = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000;
    ms[part] = (ms[part] ?? 0) + delta;
    totalMs += delta;
  });
  return { ms, totalMs };
}

/** Profiles this process between start() and stop(). */
export class Profiler {
  private readonly session = new Session();

  async start(): Promise<void> {
    this.session.connect();
    await this.session.post("Profiler.enable");
    await this.session.post("Profiler.setSamplingInterval", { interval: 500 });
    await this.session.post("Profiler.start");
  }

  async stop(): Promise<CpuBreakdown> {
    const { profile } = await this.session.post("Profiler.stop");
    this.session.disconnect();
    return breakdown(profile as Parameters<typeof breakdown>[0]);
  }
}

/** CPU milliseconds this process's threads have used: its main thread's, and all the others'. */
export interface ThreadCpu {
  readonly mainMs: number;
  readonly otherThreadsMs: number;
}

/**
 * This process's CPU by thread, from Linux's /proc (undefined elsewhere). The main thread is the
 * one whose id is the process id; every other thread — the execution environments' worker
 * threads, V8's helper threads, libuv's pool — counts as "other": Linux names them all `node`.
 */
export function threadCpu(): ThreadCpu | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync("/proc/self/task");
  } catch {
    return undefined;
  }
  // Clock ticks; 100 per second on every Linux Node supports.
  const tickMs = 10;
  let mainMs = 0;
  let otherThreadsMs = 0;
  for (const task of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${task}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    // utime and stime are the 12th and 13th fields after the parenthesised command name.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ms = (Number(fields[11]) + Number(fields[12])) * tickMs;
    if (Number(task) === process.pid) mainMs += ms;
    else otherThreadsMs += ms;
  }
  return { mainMs, otherThreadsMs };
}

/**
 * The main thread's profile scaled to the CPU the main thread really used (a sampling profile
 * counts wall time between samples, preemption included, which a busy machine inflates), with
 * the CPU of every other thread charged to "function": on the local stage those are mostly the
 * execution environments running the functions, which the main thread's profile cannot see.
 */
export function withOtherThreads(
  profile: CpuBreakdown,
  before: ThreadCpu,
  after: ThreadCpu,
): CpuBreakdown {
  const mainMs = after.mainMs - before.mainMs;
  const otherMs = after.otherThreadsMs - before.otherThreadsMs;
  const scale = profile.totalMs > 0 ? mainMs / profile.totalMs : 0;
  const ms: Record<string, number> = {};
  for (const [part, value] of Object.entries(profile.ms)) ms[part] = value * scale;
  ms.function = (ms.function ?? 0) + otherMs;
  return { ms, totalMs: mainMs + otherMs };
}
