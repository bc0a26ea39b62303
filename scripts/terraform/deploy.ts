import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DEPLOYED_STAGES } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { recordStageOutputs } from "../../smoke/outputs.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { formatPlanSummary } from "./plan-summary.js";
import { readStackOutputs } from "./stack-outputs.js";
import { deployedStageArgument, planStage, prepareStageStack } from "./stage-stack.js";
import { type TerraformRun, terraform } from "./terraform.js";

const USAGE = `
Usage: npm run deploy -- <stage> [--plan FILE] [--json]

Applies the synthesized stack of a deployed stage (${DEPLOYED_STAGES.join(", ")}) to AWS, then records
its outputs for \`npm run outputs\`, \`npm run smoke\` and the other commands. Without --plan it plans
first and applies exactly that plan. Needs \`npm run synth\` first and AWS credentials.

  --plan FILE  apply this saved plan (from \`npm run plan\`) instead
  --json       print the stage's outputs as JSON when done (terraform's output goes to stderr)
`;

async function main(): Promise<number> {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    allowPositionals: true,
    options: { plan: { type: "string" }, json: { type: "boolean" } },
  });
  if (parsed === undefined) return 0;
  const stage = deployedStageArgument(parsed.positionals[0], USAGE);
  if (parsed.values.plan !== undefined && !existsSync(parsed.values.plan)) {
    throw new ExpectedError(
      `No saved plan at ${resolve(parsed.values.plan)}: make one with \`npm run plan -- ${stage} --out ${parsed.values.plan}\`, or deploy without --plan.`,
    );
  }
  const stack = await prepareStageStack(stage);
  let planFile: string;
  if (parsed.values.plan === undefined) {
    planFile = join(tmpdir(), `websocket-stages-${stage}-${process.pid}.tfplan`);
    const summary = await planStage(stack, planFile);
    process.stderr.write(`\nApplying to ${stage}: ${formatPlanSummary(summary)}\n`);
  } else {
    planFile = resolve(parsed.values.plan);
  }
  const run: TerraformRun = { dir: stack.dir, env: stack.env, output: "stream" };
  try {
    await terraform(["apply", "-input=false", "-auto-approve", planFile], run, "terraform apply");
  } finally {
    if (parsed.values.plan === undefined) await rm(planFile, { force: true });
  }
  const outputs = await readStackOutputs(stage, { ...run, output: "capture" });
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
