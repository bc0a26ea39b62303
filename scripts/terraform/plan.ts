import { resolve } from "node:path";
import { DEPLOYED_STAGES } from "../../functions/contract.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { formatPlanSummary } from "./plan-summary.js";
import { deployedStageArgument, planStage, prepareStageStack } from "./stage-stack.js";

const USAGE = `
Usage: npm run plan -- <stage> [--out FILE] [--json]

Plans the synthesized stack of a deployed stage (${DEPLOYED_STAGES.join(", ")}) against AWS, saves the
plan and prints a summary of what would change. Needs \`npm run synth\` first and AWS credentials.
Apply the saved plan with \`npm run deploy -- <stage> --plan FILE\`.

  --out FILE   where to save the plan (default <stage>.tfplan)
  --json       print the summary as JSON (terraform's own output goes to stderr)
`;

async function main(): Promise<number> {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    allowPositionals: true,
    options: { out: { type: "string" }, json: { type: "boolean" } },
  });
  if (parsed === undefined) return 0;
  const stage = deployedStageArgument(parsed.positionals[0], USAGE);
  const planFile = resolve(parsed.values.out ?? `${stage}.tfplan`);
  const summary = await planStage(await prepareStageStack(stage), planFile);
  if (parsed.values.json === true) {
    process.stdout.write(`${JSON.stringify({ stage, planFile, ...summary })}\n`);
  } else {
    process.stdout.write(`\nPlan for ${stage}: ${formatPlanSummary(summary)}\n`);
    process.stdout.write(
      `Saved to ${planFile}; apply it with \`npm run deploy -- ${stage} --plan ${planFile}\`.\n`,
    );
  }
  return 0;
}

runCommand(main);
