import { describe, expect, it } from "vitest";
import { renderLogEntry } from "./log-view.js";

const time = "2026-11-23T10:01:02.345Z";

describe("log view", () => {
  it("shows an invocation's function, route, connection, duration and result on one line", () => {
    const line = renderLogEntry(
      {
        type: "invocation",
        time,
        function: "message",
        requestId: "r-1",
        trigger: "broadcast",
        connectionId: "L0SM9cOFvHcCIhw=",
        durationMs: 12.5,
        result: "ok",
        statusCode: 200,
      },
      false,
    );
    expect(line).toMatch(
      /^10:01:02\.345\s+message\s+broadcast\s+L0SM9cOFvHcCIhw=\s+12\.5 ms\s+ok 200$/,
    );
  });

  it("shows a failed invocation with its error", () => {
    const line = renderLogEntry(
      {
        type: "invocation",
        time,
        function: "subscriber",
        requestId: "r",
        trigger: "sns",
        durationMs: 3,
        result: "error",
        error: "Error: boom",
      },
      false,
    );
    expect(line).toContain("error: Error: boom");
  });

  it("reduces a Powertools JSON line to level, message and the fields that matter", () => {
    const line = renderLogEntry(
      {
        type: "log",
        time,
        function: "message",
        requestId: "r",
        stream: "stdout",
        line: JSON.stringify({
          level: "INFO",
          message: "Frame delivered",
          timestamp: time,
          service: "websocket-stages",
          requestId: "abc",
          delivered: 3,
        }),
      },
      false,
    );
    expect(line).toMatch(/message\s+│ INFO Frame delivered \{"delivered":3\}$/);
  });

  it("shows plain output as it was printed", () => {
    const line = renderLogEntry(
      {
        type: "log",
        time,
        function: "connect",
        requestId: "r",
        stream: "stderr",
        line: "plain text",
      },
      false,
    );
    expect(line).toMatch(/connect\s+│ plain text$/);
  });

  it("shows a close with its code", () => {
    const line = renderLogEntry(
      { type: "gateway", time, event: "closed", connectionId: "abc=", code: 1009 },
      false,
    );
    expect(line).toMatch(/gateway\s+closed 1009\s+abc=$/);
  });
});
