import { describe, expect, it } from "vitest";
import { breakdown } from "./cpu-profile.js";

const frame = (url: string, functionName = "f") => ({ url, functionName });

describe("CPU breakdown by part of the local stage", () => {
  it("charges each sample to the innermost frame that belongs to a part, idle left out", () => {
    const nodes = [
      { id: 1, callFrame: frame("", "(root)"), children: [2, 5, 7, 8, 9] },
      { id: 2, callFrame: frame("file:///r/scripts/local/s3/listener.ts"), children: [3] },
      // Shared code and Node internals count for the listener that called them.
      { id: 3, callFrame: frame("file:///r/scripts/local/http/request-body.ts"), children: [4] },
      { id: 4, callFrame: frame("node:_http_server") },
      { id: 5, callFrame: frame("file:///r/dist/subscriber/index.mjs?instance=1"), children: [6] },
      { id: 6, callFrame: frame("node:_http_client") },
      { id: 7, callFrame: frame("", "(garbage collector)") },
      { id: 8, callFrame: frame("", "(idle)") },
      { id: 9, callFrame: frame("file:///r/scripts/local/gateway/gateway.ts") },
    ];
    const result = breakdown({
      nodes,
      samples: [4, 3, 6, 7, 8, 9, 1],
      timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
    });

    expect(result.ms).toEqual({
      "S3 stand-in": 2,
      function: 1,
      gc: 1,
      gateway: 1,
      other: 1,
    });
    expect(result.totalMs).toBe(6);
  });
});
