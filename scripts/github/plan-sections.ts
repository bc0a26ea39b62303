import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { DEPLOYED_STAGES, type DeployedStage, isDeployedStage } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { UsageError } from "../cli.js";
import type { StagePlanSection } from "../terraform/plan-markdown.js";
import type { SavedPlanSummary } from "../terraform/plan-summary.js";

/** Why a stage has no plan in this run when nobody said otherwise. */
export const NOT_PLANNED =
  "not planned in this run: a pull request from a fork gets no AWS credentials, and a stage without a plan role in AWS_PLAN_ROLES is not planned";

/**
 * The stages a report covers: every `<stage>.tfplan.json` under the plans folder (at any depth,
 * so one artifact per stage downloaded into its own sub-folder works too) with its
 * `<stage>.tfplan.txt`, and the stages named by `--skipped stage=reason`, in stage order.
 */

const SUMMARY_SUFFIX = ".tfplan.json";
const TEXT_SUFFIX = ".tfplan.txt";

/** Reads `--skipped stage=reason` values. */
export function parseSkipped(values: readonly string[], usage: string): Map<DeployedStage, string> {
  const skipped = new Map<DeployedStage, string>();
  for (const value of values) {
    const [stage = "", ...rest] = value.split("=");
    const reason = rest.join("=").trim();
    if (!isDeployedStage(stage) || reason === "") {
      throw new UsageError(
        `--skipped takes STAGE=REASON with a stage of ${DEPLOYED_STAGES.join(", ")}, not "${value}".\n\n${usage.trim()}`,
      );
    }
    skipped.set(stage, reason);
  }
  return skipped;
}

async function summaryFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return entries.filter((entry) => entry.endsWith(SUMMARY_SUFFIX)).map((entry) => join(dir, entry));
}

function isSavedPlanSummary(value: unknown): value is SavedPlanSummary {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.stage === "string" &&
    isDeployedStage(v.stage) &&
    typeof v.hasChanges === "boolean" &&
    Array.isArray(v.changes) &&
    typeof v.counts === "object" &&
    v.counts !== null &&
    typeof v.unchanged === "number"
  );
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
}

export async function readPlanSections(
  dir: string,
  skipped: ReadonlyMap<DeployedStage, string>,
): Promise<StagePlanSection[]> {
  const planned = new Map<DeployedStage, StagePlanSection>();
  for (const file of await summaryFiles(dir)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, "utf8"));
    } catch (error) {
      throw new ExpectedError(`${file} is not JSON (${(error as Error).message}).`);
    }
    if (!isSavedPlanSummary(parsed)) {
      throw new ExpectedError(
        `${file} is not a plan summary: expected {stage, planFile, hasChanges, changes, counts, unchanged} as \`npm run plan -- <stage> --out ${relative(process.cwd(), dir) || "."}/<stage>.tfplan\` writes it.`,
      );
    }
    if (planned.has(parsed.stage)) {
      throw new ExpectedError(`Two plans of ${parsed.stage} under ${dir}: keep one per stage.`);
    }
    const text = await readText(file.slice(0, -SUMMARY_SUFFIX.length) + TEXT_SUFFIX);
    planned.set(parsed.stage, { kind: "planned", summary: parsed, text });
  }
  // Every stage gets a section: a pull request from a fork (no credentials) or a stage without a
  // plan role leaves no plan file, and the comment must say so rather than fail or stay silent.
  const sections: StagePlanSection[] = DEPLOYED_STAGES.map(
    (stage) =>
      planned.get(stage) ?? { kind: "skipped", stage, reason: skipped.get(stage) ?? NOT_PLANNED },
  );
  return sections;
}
