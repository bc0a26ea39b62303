import { DEPLOYED_STAGES } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { PIPELINE_ROLE_KINDS, type PipelineRoleKind } from "../../stacks/pipeline.js";
import { STAGE_SETTINGS } from "../../stacks/stages.js";
import { parseCommandLine, runCommand, UsageError } from "../cli.js";
import { setStepOutputs } from "../github/step-files.js";
import { locateStage, REGION_VARIABLE, stepOutputs } from "./stage-location.js";
import { deployedStageArgument } from "./stage-stack.js";

const USAGE = `
Usage: npm run stage -- <stage> [--role plan|deploy] [--optional-role] [--json] [--github-output]

Where a deployed stage (${DEPLOYED_STAGES.join(", ")}) lives, from stacks/stages.ts: its region, its account
(when set), its stack and state key. Fails, naming both values, when ${REGION_VARIABLE} is set to
another region, or when the role's account differs from the stage's account.

  --role KIND       also resolve the pipeline role of that kind: deploy from AWS_DEPLOY_ROLE_ARN,
                    plan from AWS_PLAN_ROLES (JSON, stage → ARN); needs TF_STATE_BUCKET too
  --optional-role   a missing role skips the stage (configured=false) instead of failing
  --json            print the location as JSON
  --github-output   append region, account, stack, state-key, role-arn, configured to $GITHUB_OUTPUT
`;

runCommand(async () => {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    allowPositionals: true,
    options: {
      role: { type: "string" },
      "optional-role": { type: "boolean" },
      json: { type: "boolean" },
      "github-output": { type: "boolean" },
    },
  });
  if (parsed === undefined) return 0;
  const stage = deployedStageArgument(parsed.positionals[0], USAGE);
  const role = parsed.values.role;
  if (role !== undefined && !(PIPELINE_ROLE_KINDS as readonly string[]).includes(role)) {
    throw new UsageError(
      `--role must be one of ${PIPELINE_ROLE_KINDS.join(", ")}, not "${role}".\n\n${USAGE.trim()}`,
    );
  }
  const location = locateStage(stage, STAGE_SETTINGS[stage], process.env, {
    ...(role === undefined ? {} : { role: role as PipelineRoleKind }),
    optionalRole: parsed.values["optional-role"] === true,
  });
  if (parsed.values["github-output"] === true) {
    if (!(await setStepOutputs(stepOutputs(location)))) {
      throw new ExpectedError("--github-output needs $GITHUB_OUTPUT (set by GitHub Actions).");
    }
  }
  if (location.skipped !== undefined) {
    process.stderr.write(`${stage} skipped: ${location.skipped}.\n`);
  }
  if (parsed.values.json === true) {
    process.stdout.write(`${JSON.stringify(location)}\n`);
  } else {
    const account = location.account === undefined ? "" : `, account ${location.account}`;
    const roleLine =
      location.role === undefined ? "" : `; ${location.role.kind} role ${location.role.arn}`;
    process.stdout.write(
      `${stage}: region ${location.region}${account}; stack ${location.stack}; state ${location.stateBucket ?? "(no TF_STATE_BUCKET)"}/${location.stateKey} in ${location.stateRegion}${roleLine}\n`,
    );
  }
  return 0;
});
