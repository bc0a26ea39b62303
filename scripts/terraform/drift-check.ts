import { resolve } from "node:path";
import { parseCommandLine, runCommand } from "../cli.js";
import { formatDriftVerdict, judgeDriftPlans } from "./drift.js";
import { readSavedPlanRecords } from "./saved-plan.js";

const USAGE = `
Usage: npm run drift -- --plans-dir DIR [--json]

Judges the refresh-only plans (\`npm run plan -- <stage> --out DIR/<stage>.tfplan --no-lock
--refresh-only\`) in DIR: exits 1 when any stage's real resources differ from its Terraform state,
naming each drifted resource; stages without a plan are listed as not checked.

  --plans-dir DIR  folder holding the <stage>.tfplan.json records
  --json           print {"drifted": [{stage, changes}], "clean", "unchecked", "failed"}
`;

runCommand(async () => {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: { "plans-dir": { type: "string" }, json: { type: "boolean" } },
  });
  if (parsed === undefined) return 0;
  const dir = resolve(parsed.values["plans-dir"] ?? "plans");
  const verdict = judgeDriftPlans(await readSavedPlanRecords(dir));
  process.stdout.write(
    parsed.values.json === true
      ? `${JSON.stringify(verdict)}\n`
      : `${formatDriftVerdict(verdict)}\n`,
  );
  return verdict.failed ? 1 : 0;
});
