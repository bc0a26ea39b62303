import { describe, expect, it } from "vitest";
import { functionLogText } from "./sources.js";

describe("functionLogText", () => {
  it("turns Lambda's JSON REPORT event into one REPORT line", () => {
    const report = JSON.stringify({
      time: "2026-11-23T10:00:00.000Z",
      type: "platform.report",
      record: {
        requestId: "r-1",
        metrics: {
          durationMs: 12.5,
          billedDurationMs: 13,
          memorySizeMB: 256,
          maxMemoryUsedMB: 90,
          initDurationMs: 210.3,
        },
        status: "success",
      },
    });
    expect(functionLogText(report)).toBe(
      "REPORT r-1 12.5 ms (billed 13 ms) memory 90/256 MB init 210.3 ms",
    );
  });

  it("names a failed invocation in its REPORT line", () => {
    const report = JSON.stringify({
      type: "platform.report",
      record: {
        requestId: "r-2",
        metrics: { durationMs: 3000, billedDurationMs: 3000 },
        status: "timeout",
      },
    });
    expect(functionLogText(report)).toBe("REPORT r-2 3000 ms (billed 3000 ms) timeout");
  });

  it("shows a START event by its request id", () => {
    const start = JSON.stringify({ type: "platform.start", record: { requestId: "r-3" } });
    expect(functionLogText(start)).toBe("START r-3");
  });

  it("keeps plain text and JSON that is not an object as they are", () => {
    expect(functionLogText("plain words  ")).toBe("plain words");
    expect(functionLogText("[1,2]")).toBe("[1,2]");
  });
});
