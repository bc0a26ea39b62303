import type { DeployedStage } from "../../functions/contract.js";

/** What a saved plan would do, from `terraform show -json <plan>`. */

export type ChangeKind = "create" | "update" | "replace" | "delete";

export interface ResourceChange {
  readonly address: string;
  readonly kind: ChangeKind;
  /** Top-level attributes whose planned value differs from the current one (updates only). */
  readonly attributes: readonly string[];
}

export interface PlanSummary {
  readonly changes: readonly ResourceChange[];
  readonly counts: Readonly<Record<ChangeKind, number>>;
  readonly unchanged: number;
}

/**
 * `plans/<stage>.tfplan.json`, written beside the saved plan `<stage>.tfplan` and its text
 * `<stage>.tfplan.txt` (`terraform show -no-color`): what the PR comment, the run summary and the
 * apply job read without terraform or credentials.
 */
export interface SavedPlanSummary extends PlanSummary {
  readonly stage: DeployedStage;
  readonly planFile: string;
  readonly hasChanges: boolean;
}

/** One entry of `resource_changes` or `resource_drift` in `terraform show -json`. */
export interface PlannedResourceChange {
  readonly address: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly before?: Record<string, unknown> | null;
    readonly after?: Record<string, unknown> | null;
  };
}

interface PlanJson {
  readonly resource_changes?: readonly PlannedResourceChange[];
}

function kindOf(actions: readonly string[]): ChangeKind | undefined {
  if (actions.includes("create") && actions.includes("delete")) return "replace";
  if (actions.includes("create")) return "create";
  if (actions.includes("delete")) return "delete";
  if (actions.includes("update")) return "update";
  return undefined;
}

/** Attributes whose value differs; one present on a side only counts as changed. */
export function changedAttributes(
  before: Record<string, unknown> | null | undefined,
  after: Record<string, unknown> | null | undefined,
): string[] {
  if (!before || !after) return [];
  return Object.keys({ ...before, ...after })
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .sort();
}

export function summarizePlan(planJson: string): PlanSummary {
  const plan = JSON.parse(planJson) as PlanJson;
  const counts: Record<ChangeKind, number> = { create: 0, update: 0, replace: 0, delete: 0 };
  const changes: ResourceChange[] = [];
  let unchanged = 0;
  for (const resource of plan.resource_changes ?? []) {
    const kind = kindOf(resource.change.actions);
    if (kind === undefined) {
      unchanged += 1;
      continue;
    }
    counts[kind] += 1;
    changes.push({
      address: resource.address,
      kind,
      attributes:
        kind === "update" ? changedAttributes(resource.change.before, resource.change.after) : [],
    });
  }
  return { changes, counts, unchanged };
}

const SIGN: Record<ChangeKind, string> = { create: "+", update: "~", replace: "-/+", delete: "-" };

export function formatPlanSummary(summary: PlanSummary): string {
  const { counts } = summary;
  const lines = [
    `${counts.create} to create, ${counts.update} to update, ${counts.replace} to replace, ${counts.delete} to delete, ${summary.unchanged} unchanged`,
  ];
  for (const change of summary.changes) {
    const detail = change.attributes.length > 0 ? ` (${change.attributes.join(", ")})` : "";
    lines.push(`  ${SIGN[change.kind].padEnd(3)} ${change.address}${detail}`);
  }
  return lines.join("\n");
}
