import { describe, expect, it } from "vitest";
import { coresBusy, cpuTicks, parseCpuTicks } from "./machine-busy.js";

const stat = (cpu: string) =>
  `${cpu}\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 123 4 5\nctxt 99\nbtime 1700000000\n`;

describe("parseCpuTicks", () => {
  it("adds user, nice, system, irq and softirq as busy; idle, iowait and steal count in the total", () => {
    expect(parseCpuTicks(stat("cpu  100 10 50 800 20 5 15 30 0 0"))).toEqual({
      busy: 100 + 10 + 50 + 5 + 15,
      total: 100 + 10 + 50 + 5 + 15 + 800 + 20 + 30,
    });
  });

  it("reads old kernels' shorter lines (no steal column)", () => {
    expect(parseCpuTicks(stat("cpu  100 0 50 800"))).toEqual({ busy: 150, total: 950 });
  });

  it("refuses text without the aggregate line, or with non-numbers in it", () => {
    expect(parseCpuTicks("cpu0 1 2 3 4\n")).toBeUndefined();
    expect(parseCpuTicks(stat("cpu  100 x 50 800"))).toBeUndefined();
    expect(parseCpuTicks(stat("cpu  100 50"))).toBeUndefined();
  });

  it("reads this machine's counters where /proc/stat exists", () => {
    const ticks = cpuTicks();
    if (process.platform !== "linux") return expect(ticks).toBeUndefined();
    expect(ticks?.total).toBeGreaterThan(0);
    expect(ticks?.busy).toBeLessThanOrEqual(ticks?.total ?? 0);
  });
});

describe("coresBusy", () => {
  const at = (busy: number, total: number) => ({ busy, total });

  it("is the busy share of all spans together, times the cores", () => {
    // 150 of 200 ticks busy in the first span, 50 of 200 in the second: half, of 2 cores.
    expect(
      coresBusy(
        [
          { start: at(0, 0), end: at(150, 200) },
          { start: at(1000, 5000), end: at(1050, 5200) },
        ],
        2,
      ),
    ).toBeCloseTo(1);
  });

  it("is every core when no tick was idle, and none when every tick was", () => {
    expect(coresBusy([{ start: at(10, 10), end: at(210, 210) }], 2)).toBe(2);
    expect(coresBusy([{ start: at(10, 10), end: at(10, 210) }], 2)).toBe(0);
  });

  it("is undefined when nothing was counted", () => {
    expect(coresBusy([], 2)).toBeUndefined();
    expect(coresBusy([{ start: at(5, 9), end: at(5, 9) }], 2)).toBeUndefined();
  });
});
