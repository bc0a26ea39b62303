import { readFileSync } from "node:fs";

/**
 * How much of the machine a measurement kept busy, from the kernel's own counters (/proc/stat):
 * the bench's processes, the stage's threads and anything else on the machine together. It tells
 * whether a result was bound by the cores themselves: a fan-out that already keeps every core
 * busy cannot be made faster by spreading it over more threads (sharding), only by spending less
 * CPU per message.
 */

/** Clock ticks of all cores since boot: busy (user, nice, system, irq, softirq) and in all. */
export interface CpuTicks {
  readonly busy: number;
  readonly total: number;
}

/**
 * The aggregate `cpu` line of /proc/stat. Steal (time the hypervisor gave another guest) counts
 * in the total but not as busy: it is capacity this machine did not get, not work it did. Guest
 * time is already inside user time. Undefined where there is no such line (not Linux).
 */
export function parseCpuTicks(procStat: string): CpuTicks | undefined {
  const line = procStat.split("\n").find((candidate) => candidate.startsWith("cpu "));
  if (line === undefined) return undefined;
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 4 || fields.some((value) => !Number.isFinite(value))) return undefined;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
    fields;
  const busy = user + nice + system + irq + softirq;
  return { busy, total: busy + idle + iowait + steal };
}

/** This machine's counters now; undefined where /proc/stat cannot be read. */
export function cpuTicks(): CpuTicks | undefined {
  try {
    return parseCpuTicks(readFileSync("/proc/stat", "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Cores kept busy on average over spans of time, each given by its counters at the start and
 * the end: the spans' busy ticks over their ticks in all, times the cores. Undefined when no
 * span was counted.
 */
export function coresBusy(
  spans: readonly { readonly start: CpuTicks; readonly end: CpuTicks }[],
  cores: number,
): number | undefined {
  let busy = 0;
  let total = 0;
  for (const { start, end } of spans) {
    busy += end.busy - start.busy;
    total += end.total - start.total;
  }
  return total > 0 ? (busy / total) * cores : undefined;
}
