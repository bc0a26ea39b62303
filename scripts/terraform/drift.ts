import { DEPLOYED_STAGES, type DeployedStage } from "../../functions/contract.js";
import {
  type ChangeKind,
  changedAttributes,
  type PlannedResourceChange,
  type PlanSummary,
  type ResourceChange,
} from "./plan-summary.js";
import type { SavedPlanRecord } from "./saved-plan.js";

/**
 * Drift: what changed in AWS behind Terraform's back. The drift check plans with `-refresh-only`,
 * which compares the state with the real resources and ignores the configuration — so a stage
 * that merely lags behind main (prod before a promotion) is not reported as drifted.
 */

interface RefreshOnlyPlanJson {
  readonly resource_drift?: readonly PlannedResourceChange[];
}

function driftKind(actions: readonly string[]): ChangeKind | undefined {
  if (actions.includes("delete")) return "delete";
  if (actions.includes("update")) return "update";
  if (actions.includes("create")) return "create";
  return undefined;
}

/** A refresh-only plan (`terraform show -json`) as a PlanSummary of the drifted resources. */
export function summarizeDrift(planJson: string): PlanSummary {
  const plan = JSON.parse(planJson) as RefreshOnlyPlanJson;
  const counts: Record<ChangeKind, number> = { create: 0, update: 0, replace: 0, delete: 0 };
  const changes: ResourceChange[] = [];
  for (const resource of plan.resource_drift ?? []) {
    const kind = driftKind(resource.change.actions);
    if (kind === undefined) continue;
    counts[kind] += 1;
    const { before, after } = resource.change;
    const attributes = kind === "update" ? changedAttributes(before, after) : [];
    changes.push({ address: resource.address, kind, attributes });
  }
  return { changes, counts, unchanged: 0 };
}

export interface DriftVerdict {
  readonly drifted: ReadonlyArray<{ stage: DeployedStage; changes: readonly ResourceChange[] }>;
  readonly clean: readonly DeployedStage[];
  /** Deployed stages with no plan record (no plan role configured, or its plan job failed). */
  readonly unchecked: readonly DeployedStage[];
  /** The run fails when any stage drifted. */
  readonly failed: boolean;
}

/** Judges the drift plans of a run: any stage with changes fails it, naming its resources. */
export function judgeDriftPlans(records: readonly SavedPlanRecord[]): DriftVerdict {
  const byStage = new Map(records.map((record) => [record.stage, record]));
  const drifted: Array<{ stage: DeployedStage; changes: readonly ResourceChange[] }> = [];
  const clean: DeployedStage[] = [];
  const unchecked: DeployedStage[] = [];
  for (const stage of DEPLOYED_STAGES) {
    const record = byStage.get(stage);
    if (record === undefined) unchecked.push(stage);
    else if (record.hasChanges) drifted.push({ stage, changes: record.changes });
    else clean.push(stage);
  }
  return { drifted, clean, unchecked, failed: drifted.length > 0 };
}

export function formatDriftVerdict(verdict: DriftVerdict): string {
  const lines: string[] = [];
  for (const { stage, changes } of verdict.drifted) {
    lines.push(`${stage}: DRIFTED — ${changes.length} resource(s) differ from the state:`);
    for (const change of changes) {
      const detail = change.attributes.length > 0 ? ` (${change.attributes.join(", ")})` : "";
      const what =
        change.kind === "delete" ? "deleted outside Terraform" : "changed outside Terraform";
      lines.push(`  ${change.address}: ${what}${detail}`);
    }
    if (changes.length === 0) lines.push("  (only outputs differ)");
  }
  for (const stage of verdict.clean) lines.push(`${stage}: no drift`);
  for (const stage of verdict.unchecked) {
    lines.push(
      `${stage}: not checked (no plan: no plan role in AWS_PLAN_ROLES, or its plan failed)`,
    );
  }
  lines.push(
    verdict.failed
      ? "Drift found: bring the resources back with a deploy of the stage, or make the change in code."
      : "No drift in the checked stages.",
  );
  return lines.join("\n");
}
