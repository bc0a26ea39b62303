import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readSavedPlanRecords, type SavedPlanRecord, writeSavedPlanFiles } from "./saved-plan.js";
import { isStalePlanRefusal } from "./terraform.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "websocket-stages-plans-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("saved plan files", () => {
  it("writes FILE.json and FILE.txt beside the plan and reads the records of a folder back", async () => {
    const record: SavedPlanRecord = {
      stage: "staging",
      planFile: join(dir, "staging.tfplan"),
      hasChanges: true,
      changes: [{ address: "aws_sns_topic.topic", kind: "delete", attributes: [] }],
      counts: { create: 0, update: 0, replace: 0, delete: 1 },
      unchanged: 3,
    };
    await writeSavedPlanFiles(record, "  - aws_sns_topic.topic\n");
    expect(readFileSync(`${record.planFile}.txt`, "utf8")).toBe("  - aws_sns_topic.topic\n");
    writeFileSync(join(dir, "notes.json"), "{}");
    expect(await readSavedPlanRecords(dir)).toEqual([record]);
  });

  it("says which file is not a plan record", async () => {
    writeFileSync(join(dir, "dev.tfplan.json"), JSON.stringify({ stage: "dev" }));
    await expect(readSavedPlanRecords(dir)).rejects.toThrow(
      /dev\.tfplan\.json is not a plan record/,
    );
  });

  it("finds no records in a folder that does not exist (no plan was made)", async () => {
    expect(await readSavedPlanRecords(join(dir, "none"))).toEqual([]);
  });
});

describe("isStalePlanRefusal", () => {
  it("recognises terraform's refusal of a stale saved plan and nothing else", () => {
    const refusal =
      "\nError: Saved plan is stale\n\nThe given plan file can no longer be applied because the state was changed by\nanother operation after the plan was created.\n";
    expect(isStalePlanRefusal(refusal)).toBe(true);
    expect(isStalePlanRefusal("Error: Error acquiring the state lock")).toBe(false);
  });
});
