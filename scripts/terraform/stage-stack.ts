import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEPLOYED_STAGES, type DeployedStage, isDeployedStage } from "../../functions/contract.js";
import { stateBackend } from "../../stacks/backend.js";
import { STAGE_SETTINGS } from "../../stacks/stages.js";
import { stageArgument, UsageError } from "../cli.js";
import { overrideBackend } from "./overrides.js";
import { type PlanSummary, summarizePlan } from "./plan-summary.js";
import { terraformEnvironment } from "./provider-mirror.js";
import { synthesizedStack } from "./synthesis.js";
import { terraform } from "./terraform.js";

export interface PreparedStack {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Gets a stage's synthesized stack ready for plan or apply against AWS: its state backend is
 * chosen now (the same build is synthesized once and deployed to every stage, possibly by a
 * machine that sets TF_STATE_BUCKET only at deploy time), then `terraform init`.
 */
export async function prepareStageStack(stage: DeployedStage): Promise<PreparedStack> {
  const dir = synthesizedStack(stage);
  const backend = stateBackend(stage, STAGE_SETTINGS[stage].region, process.env);
  if (backend.type === "local" && process.env.CI === "true") {
    process.stderr.write(
      `warning: TF_STATE_BUCKET is not set, so ${stage}'s state stays in ${dir}/${backend.path} and is lost with this CI machine.\n`,
    );
  }
  await overrideBackend(dir, backend);
  const { env } = await terraformEnvironment(join(tmpdir(), "websocket-stages-terraform"));
  process.stderr.write(`Initialising ${stage} (${backend.type} state)…\n`);
  await terraform(
    ["init", "-input=false", "-reconfigure"],
    { dir, env, output: "capture" },
    "terraform init",
  );
  return { dir, env };
}

/** Plans into `planFile` and summarizes it. */
export async function planStage(stack: PreparedStack, planFile: string): Promise<PlanSummary> {
  await terraform(
    ["plan", "-input=false", `-out=${planFile}`],
    { dir: stack.dir, env: stack.env, output: "stream" },
    "terraform plan",
  );
  const shown = await terraform(
    ["show", "-json", planFile],
    { dir: stack.dir, env: stack.env, output: "capture" },
    "terraform show",
  );
  return summarizePlan(shown.stdout);
}

export function deployedStageArgument(value: string | undefined, usage: string): DeployedStage {
  const stage = stageArgument(value, usage);
  if (!isDeployedStage(stage)) {
    throw new UsageError(
      `"${stage}" is not deployed with Terraform: use one of ${DEPLOYED_STAGES.join(", ")}.\n\n${usage.trim()}`,
    );
  }
  return stage;
}
