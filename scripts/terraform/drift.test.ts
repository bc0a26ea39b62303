import { describe, expect, it } from "vitest";
import { formatDriftVerdict, judgeDriftPlans, summarizeDrift } from "./drift.js";
import type { SavedPlanRecord } from "./saved-plan.js";

const refreshOnlyPlan = JSON.stringify({
  resource_drift: [
    {
      address: "aws_lambda_function.message",
      change: {
        actions: ["update"],
        before: { memory_size: 256, timeout: 10 },
        after: { memory_size: 1024, timeout: 10 },
      },
    },
    { address: "aws_sns_topic.topic", change: { actions: ["delete"], before: {}, after: null } },
  ],
  resource_changes: [],
});

const record = (stage: SavedPlanRecord["stage"], json?: string): SavedPlanRecord => {
  const summary = json === undefined ? summarizeDrift("{}") : summarizeDrift(json);
  return { stage, planFile: `${stage}.tfplan`, hasChanges: json !== undefined, ...summary };
};

describe("summarizeDrift", () => {
  it("lists what changed outside Terraform, with the attributes that differ", () => {
    const summary = summarizeDrift(refreshOnlyPlan);
    expect(summary.changes).toEqual([
      { address: "aws_lambda_function.message", kind: "update", attributes: ["memory_size"] },
      { address: "aws_sns_topic.topic", kind: "delete", attributes: [] },
    ]);
    expect(summary.counts).toEqual({ create: 0, update: 1, replace: 0, delete: 1 });
  });
});

describe("judgeDriftPlans", () => {
  it("fails when any stage drifted and names its resources", () => {
    const verdict = judgeDriftPlans([record("dev"), record("prod", refreshOnlyPlan)]);
    expect(verdict.failed).toBe(true);
    expect(verdict.drifted.map((d) => d.stage)).toEqual(["prod"]);
    expect(verdict.clean).toEqual(["dev"]);
    expect(verdict.unchecked).toEqual(["staging"]);
    const text = formatDriftVerdict(verdict);
    expect(text).toContain("prod: DRIFTED");
    expect(text).toContain("aws_lambda_function.message: changed outside Terraform (memory_size)");
    expect(text).toContain("aws_sns_topic.topic: deleted outside Terraform");
    expect(text).toContain("staging: not checked");
  });

  it("passes when every checked stage is clean", () => {
    const verdict = judgeDriftPlans([record("dev"), record("staging"), record("prod")]);
    expect(verdict).toEqual({
      drifted: [],
      clean: ["dev", "staging", "prod"],
      unchecked: [],
      failed: false,
    });
  });
});
