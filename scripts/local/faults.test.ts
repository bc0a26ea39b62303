import { describe, expect, it } from "vitest";
import { FaultInjector, FaultPlanError, parseFaultPlan } from "./faults.js";

describe("fault plans", () => {
  it("reads shares, delays and limits, and names what is wrong", () => {
    expect(parseFaultPlan("gone=0.1, throttle=0.05,slow=200,s3=1")).toEqual({
      gone: 0.1,
      throttle: 0.05,
      slow: 200,
      s3: 1,
    });
    expect(parseFaultPlan("throttle=1,throttle-limit=40")).toEqual({
      throttle: 1,
      limits: { throttle: 40 },
    });
    expect(parseFaultPlan("")).toEqual({});
    expect(() => parseFaultPlan("gone=2")).toThrow(FaultPlanError);
    expect(() => parseFaultPlan("slow=fast")).toThrow(/whole milliseconds/);
    expect(() => parseFaultPlan("slow=")).toThrow(/whole milliseconds/);
    expect(() => parseFaultPlan("gone-limit=0.5")).toThrow(/whole number of faults/);
    expect(() => parseFaultPlan("slow-limit=3")).toThrow(/Unknown fault "slow-limit"/);
    expect(() => parseFaultPlan("meteor=0.1")).toThrow(/Unknown fault "meteor"/);
  });

  it("injects nothing without a plan, and a fault when the draw falls inside its share", () => {
    const none = new FaultInjector({}, () => 0);
    expect([none.connections(), none.s3(), none.invocation()]).toEqual([
      undefined,
      false,
      undefined,
    ]);
    expect(none.injected()).toEqual({
      gone: 0,
      throttle: 0,
      error: 0,
      s3: 0,
      throws: 0,
      timeout: 0,
      slow: 0,
    });
    const all = new FaultInjector({ gone: 0.5, s3: 0.5, timeout: 0.5 }, () => 0.25);
    expect([all.connections(), all.s3(), all.invocation()]).toEqual(["gone", true, "timeout"]);
    expect(all.injected()).toMatchObject({ gone: 1, s3: 1, timeout: 1, throws: 0 });
    const missed = new FaultInjector({ gone: 0.5 }, () => 0.75);
    expect(missed.connections()).toBeUndefined();
    expect(missed.injected().gone).toBe(0);
  });

  it("spreads faults evenly: exactly ⌊n × share⌋ of n draws hit, evenly spaced", () => {
    const injector = FaultInjector.evenly({ gone: 0.25 });
    const draws = Array.from({ length: 12 }, () => injector.connections());
    expect(draws.map((fault) => (fault === "gone" ? 1 : 0))).toEqual([
      0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
    ]);
    expect(injector.injected().gone).toBe(3);
    const thirds = FaultInjector.evenly({ s3: 1 / 3 });
    expect(Array.from({ length: 300 }, () => thirds.s3()).filter(Boolean)).toHaveLength(100);
  });

  it("caps a kind at its limit: a burst of exactly that many, then none", () => {
    const injector = FaultInjector.evenly({
      throttle: 1,
      error: 1,
      limits: { throttle: 3, error: 2 },
    });
    expect(Array.from({ length: 7 }, () => injector.connections())).toEqual([
      "throttle",
      "throttle",
      "throttle",
      "error",
      "error",
      undefined,
      undefined,
    ]);
    expect(injector.injected()).toMatchObject({ throttle: 3, error: 2 });
  });

  it("starts draws and limits over when re-armed, and keeps counting what it injected", () => {
    const injector = FaultInjector.evenly({ throws: 1, limits: { throws: 1 } });
    expect([injector.invocation(), injector.invocation()]).toEqual(["throws", undefined]);
    injector.arm({ throws: 1, limits: { throws: 1 } });
    expect([injector.invocation(), injector.invocation()]).toEqual(["throws", undefined]);
    injector.arm({});
    expect(injector.invocation()).toBeUndefined();
    expect(injector.plan).toEqual({});
    expect(injector.injected().throws).toBe(2);
  });

  it("counts the @connections answers it delays", () => {
    const injector = new FaultInjector({ slow: 50 });
    expect(injector.slowMs).toBe(50);
    injector.connections();
    injector.connections();
    expect(injector.injected().slow).toBe(2);
    injector.arm({});
    injector.connections();
    expect(injector.injected().slow).toBe(2);
  });
});
