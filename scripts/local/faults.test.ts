import { describe, expect, it } from "vitest";
import { FaultInjector, FaultPlanError, parseFaultPlan } from "./faults.js";

describe("fault plans", () => {
  it("reads shares and delays, and names what is wrong", () => {
    expect(parseFaultPlan("gone=0.1, throttle=0.05,slow=200,s3=1")).toEqual({
      gone: 0.1,
      throttle: 0.05,
      slow: 200,
      s3: 1,
    });
    expect(parseFaultPlan("")).toEqual({});
    expect(() => parseFaultPlan("gone=2")).toThrow(FaultPlanError);
    expect(() => parseFaultPlan("slow=fast")).toThrow(/whole milliseconds/);
    expect(() => parseFaultPlan("meteor=0.1")).toThrow(/Unknown fault "meteor"/);
  });

  it("injects nothing without a plan, and a fault when the draw falls inside its share", () => {
    const none = new FaultInjector({}, () => 0);
    expect([none.connections(), none.s3(), none.invocation()]).toEqual([
      undefined,
      false,
      undefined,
    ]);
    const all = new FaultInjector({ gone: 0.5, s3: 0.5, timeout: 0.5 }, () => 0.25);
    expect([all.connections(), all.s3(), all.invocation()]).toEqual(["gone", true, "timeout"]);
  });
});
