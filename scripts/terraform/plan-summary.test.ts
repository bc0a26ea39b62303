import { describe, expect, it } from "vitest";
import { formatPlanSummary, summarizePlan } from "./plan-summary.js";

const plan = JSON.stringify({
  resource_changes: [
    { address: "aws_s3_bucket.a", change: { actions: ["no-op"], before: {}, after: {} } },
    { address: "aws_sns_topic.t", change: { actions: ["create"], before: null, after: {} } },
    {
      address: "aws_lambda_function.f",
      change: {
        actions: ["update"],
        before: { memory_size: 256, timeout: 10, runtime: "nodejs22.x" },
        after: { memory_size: 512, timeout: 10, runtime: "nodejs22.x" },
      },
    },
    { address: "aws_sqs_queue.q", change: { actions: ["delete", "create"] } },
    { address: "aws_iam_role.r", change: { actions: ["delete"], before: {}, after: null } },
  ],
});

describe("summarizePlan", () => {
  it("counts each kind of change and names the attributes an update changes", () => {
    const summary = summarizePlan(plan);
    expect(summary.counts).toEqual({ create: 1, update: 1, replace: 1, delete: 1 });
    expect(summary.unchanged).toBe(1);
    expect(summary.changes).toContainEqual({
      address: "aws_lambda_function.f",
      kind: "update",
      attributes: ["memory_size"],
    });
  });

  it("reads as one count line and one line per changed resource", () => {
    expect(formatPlanSummary(summarizePlan(plan)).split("\n")).toEqual([
      "1 to create, 1 to update, 1 to replace, 1 to delete, 1 unchanged",
      "  +   aws_sns_topic.t",
      "  ~   aws_lambda_function.f (memory_size)",
      "  -/+ aws_sqs_queue.q",
      "  -   aws_iam_role.r",
    ]);
  });

  it("counts an attribute an update removes or adds as changed", () => {
    const summary = summarizePlan(
      JSON.stringify({
        resource_changes: [
          {
            address: "aws_lambda_function.f",
            change: {
              actions: ["update"],
              before: { layers: ["arn:layer"], timeout: 10 },
              after: { timeout: 10, kms_key_arn: "arn:key" },
            },
          },
        ],
      }),
    );
    expect(summary.changes[0]?.attributes).toEqual(["kms_key_arn", "layers"]);
  });

  it("treats a plan without resource changes as no change", () => {
    expect(summarizePlan("{}").changes).toEqual([]);
  });
});
