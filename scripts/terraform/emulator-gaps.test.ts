import { describe, expect, it } from "vitest";
import { EMULATOR_GAPS, judgeDrift } from "./emulator-gaps.js";

describe("judgeDrift", () => {
  it("explains a Lambda logging_config update as moto's gap", () => {
    const [verdict] = judgeDrift([
      {
        address: "aws_lambda_function.connect_function_1",
        kind: "update",
        attributes: ["logging_config"],
      },
    ]);
    expect(verdict?.gap).toBe(EMULATOR_GAPS[0]);
  });

  it("blames the stack for any other attribute, even alongside a known gap", () => {
    const [verdict] = judgeDrift([
      {
        address: "aws_lambda_function.connect_function_1",
        kind: "update",
        attributes: ["logging_config", "memory_size"],
      },
    ]);
    expect(verdict?.gap).toBeUndefined();
  });

  it("blames the stack for replacements and for other resource types", () => {
    const verdicts = judgeDrift([
      { address: "aws_lambda_function.f", kind: "replace", attributes: [] },
      { address: "aws_sqs_queue.q", kind: "update", attributes: ["logging_config"] },
    ]);
    expect(verdicts.map((verdict) => verdict.gap)).toEqual([undefined, undefined]);
  });
});
