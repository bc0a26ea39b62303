import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isDeployedStage } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import type { SavedPlanSummary } from "./plan-summary.js";

/**
 * What `npm run plan -- <stage> --out FILE` leaves beside the binary plan FILE, for the jobs that
 * come after it (PR comment, run summary, apply, drift check): `FILE.json` (this record) and
 * `FILE.txt` (`terraform show -no-color FILE`).
 */
export type SavedPlanRecord = SavedPlanSummary;

export const RECORD_SUFFIX = ".json";
export const TEXT_SUFFIX = ".txt";

export async function writeSavedPlanFiles(record: SavedPlanRecord, text: string): Promise<void> {
  await writeFile(`${record.planFile}${RECORD_SUFFIX}`, `${JSON.stringify(record, null, 2)}\n`);
  await writeFile(`${record.planFile}${TEXT_SUFFIX}`, text);
}

export function parseSavedPlanRecord(json: string, source: string): SavedPlanRecord {
  let value: Partial<SavedPlanRecord>;
  try {
    value = JSON.parse(json) as Partial<SavedPlanRecord>;
  } catch (error) {
    throw new ExpectedError(`${source} is not JSON (${(error as Error).message}).`);
  }
  if (
    typeof value.stage !== "string" ||
    !isDeployedStage(value.stage) ||
    typeof value.hasChanges !== "boolean" ||
    !Array.isArray(value.changes) ||
    typeof value.counts !== "object"
  ) {
    throw new ExpectedError(
      `${source} is not a plan record of \`npm run plan\` (stage, hasChanges, changes, counts).`,
    );
  }
  return value as SavedPlanRecord;
}

/** Every plan record (`*.tfplan.json`) in a folder, e.g. the plan artifacts of a run. */
export async function readSavedPlanRecords(dir: string): Promise<SavedPlanRecord[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const records = names.filter((name) => name.endsWith(`.tfplan${RECORD_SUFFIX}`)).sort();
  return Promise.all(
    records.map(async (name) =>
      parseSavedPlanRecord(await readFile(join(dir, name), "utf8"), join(dir, name)),
    ),
  );
}
