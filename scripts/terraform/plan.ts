import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { DEPLOYED_STAGES } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { setStepOutputs } from "../github/step-files.js";
import { formatPlanSummary } from "./plan-summary.js";
import { type SavedPlanRecord, writeSavedPlanFiles } from "./saved-plan.js";
import {
  DEPLOY_LOCK_TIMEOUT,
  deployedStageArgument,
  planStage,
  prepareStageStack,
} from "./stage-stack.js";

const USAGE = `
Usage: npm run plan -- <stage> [--out FILE] [--no-lock] [--refresh-only] [--json] [--github-output]

Plans the synthesized stack of a deployed stage (${DEPLOYED_STAGES.join(", ")}) against AWS and saves
the plan to FILE, with FILE.json (stage, planFile, hasChanges, changes, counts, unchanged) and
FILE.txt (the plan as \`terraform show\` prints it) beside it. Needs \`npm run synth\` first and AWS
credentials. Exits 0 whether or not the plan has changes; apply it with
\`npm run deploy -- <stage> --plan FILE\`.

  --out FILE        where to save the plan (default <stage>.tfplan)
  --no-lock         take no state lock: read-only credentials suffice, and a cancelled run
                    leaves no lock behind (pull requests, pre-approval plans, drift checks);
                    without it the plan waits up to ${DEPLOY_LOCK_TIMEOUT} for a lock another run holds
  --refresh-only    compare the state with the real resources only (drift), not the configuration
  --json            print FILE.json's content (terraform's own output goes to stderr)
  --github-output   append has-changes=true|false and plan-file=FILE to $GITHUB_OUTPUT
`;

async function main(): Promise<number> {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      "no-lock": { type: "boolean" },
      "refresh-only": { type: "boolean" },
      json: { type: "boolean" },
      "github-output": { type: "boolean" },
    },
  });
  if (parsed === undefined) return 0;
  const stage = deployedStageArgument(parsed.positionals[0], USAGE);
  const githubOutput = process.env.GITHUB_OUTPUT;
  if (parsed.values["github-output"] === true && !githubOutput) {
    throw new ExpectedError("--github-output needs $GITHUB_OUTPUT (set by GitHub Actions).");
  }
  const planFile = resolve(parsed.values.out ?? `${stage}.tfplan`);
  await mkdir(dirname(planFile), { recursive: true });
  const stack = await prepareStageStack(stage);
  const result = await planStage(stack, planFile, {
    lock:
      parsed.values["no-lock"] === true
        ? { take: false }
        : { take: true, timeout: DEPLOY_LOCK_TIMEOUT },
    refreshOnly: parsed.values["refresh-only"] === true,
  });
  const record: SavedPlanRecord = {
    stage,
    planFile,
    hasChanges: result.hasChanges,
    ...result.summary,
  };
  await writeSavedPlanFiles(record, result.text);
  if (parsed.values["github-output"] === true) {
    await setStepOutputs({ "has-changes": String(result.hasChanges), "plan-file": planFile });
  }
  if (parsed.values.json === true) {
    process.stdout.write(`${JSON.stringify(record)}\n`);
  } else {
    process.stdout.write(`\nPlan for ${stage}: ${formatPlanSummary(result.summary)}\n`);
    process.stdout.write(
      result.hasChanges
        ? `Saved to ${planFile} (readable: ${planFile}.txt); apply it with \`npm run deploy -- ${stage} --plan ${planFile}\`.\n`
        : `No changes: ${stage} already matches this build.\n`,
    );
  }
  return 0;
}

runCommand(main);
