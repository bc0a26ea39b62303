import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DEPLOYED_STAGES } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { recordStageOutputs } from "../../smoke/outputs.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { formatPlanSummary } from "./plan-summary.js";
import { parseSavedPlanRecord, RECORD_SUFFIX } from "./saved-plan.js";
import { readStackOutputs } from "./stack-outputs.js";
import {
  applySavedPlan,
  DEPLOY_LOCK_TIMEOUT,
  deployedStageArgument,
  planStage,
  prepareStageStack,
} from "./stage-stack.js";

const USAGE = `
Usage: npm run deploy -- <stage> [--plan FILE] [--lock-timeout DURATION] [--json]

Applies the synthesized stack of a deployed stage (${DEPLOYED_STAGES.join(", ")}) to AWS, then records
its outputs for \`npm run outputs\`, \`npm run smoke\` and the other commands. Without --plan it plans
first and applies exactly that plan. Needs \`npm run synth\` first and AWS credentials.
A saved plan made before the stage's state changed (another deploy ran since) is refused and
nothing changes: make and review a fresh plan.

  --plan FILE               apply this saved plan (from \`npm run plan\`) instead
  --lock-timeout DURATION   how long to wait for a state lock another run holds (default ${DEPLOY_LOCK_TIMEOUT})
  --json                    print the stage's outputs as JSON when done (terraform's output goes to stderr)
`;

/** The plan was made for another stage: applying it here would be a disaster, so refuse. */
async function checkPlanRecord(planFile: string, stage: string): Promise<void> {
  const recordFile = `${planFile}${RECORD_SUFFIX}`;
  if (!existsSync(recordFile)) return;
  const record = parseSavedPlanRecord(await readFile(recordFile, "utf8"), recordFile);
  if (record.stage !== stage) {
    throw new ExpectedError(
      `${planFile} is a plan of ${record.stage} (says ${recordFile}), not of ${stage}: deploy it with \`npm run deploy -- ${record.stage} --plan ${planFile}\`.`,
    );
  }
  process.stderr.write(`Applying the reviewed plan of ${stage}: ${formatPlanSummary(record)}\n`);
}

async function main(): Promise<number> {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    allowPositionals: true,
    options: {
      plan: { type: "string" },
      "lock-timeout": { type: "string" },
      json: { type: "boolean" },
    },
  });
  if (parsed === undefined) return 0;
  const stage = deployedStageArgument(parsed.positionals[0], USAGE);
  const lockTimeout = parsed.values["lock-timeout"] ?? DEPLOY_LOCK_TIMEOUT;
  if (parsed.values.plan !== undefined && !existsSync(parsed.values.plan)) {
    throw new ExpectedError(
      `No saved plan at ${resolve(parsed.values.plan)}: make one with \`npm run plan -- ${stage} --out ${parsed.values.plan}\`, or deploy without --plan.`,
    );
  }
  if (parsed.values.plan !== undefined) await checkPlanRecord(resolve(parsed.values.plan), stage);
  const stack = await prepareStageStack(stage);
  let planFile: string;
  if (parsed.values.plan === undefined) {
    planFile = join(tmpdir(), `websocket-stages-${stage}-${process.pid}.tfplan`);
    const { summary } = await planStage(stack, planFile, {
      lock: { take: true, timeout: lockTimeout },
    });
    process.stderr.write(`\nApplying to ${stage}: ${formatPlanSummary(summary)}\n`);
  } else {
    planFile = resolve(parsed.values.plan);
  }
  try {
    await applySavedPlan(stack, planFile, lockTimeout);
  } finally {
    if (parsed.values.plan === undefined) await rm(planFile, { force: true });
  }
  const outputs = await readStackOutputs(stage, {
    dir: stack.dir,
    env: stack.env,
    output: "capture",
  });
  const file = await recordStageOutputs(outputs);
  if (parsed.values.json === true) {
    process.stdout.write(`${JSON.stringify(outputs)}\n`);
  } else {
    process.stdout.write(
      `\nDeployed ${stage}: ${outputs.websocketUrl}\nOutputs recorded in ${file}.\n`,
    );
  }
  return 0;
}

runCommand(main);
