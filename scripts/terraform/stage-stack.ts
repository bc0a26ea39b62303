import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEPLOYED_STAGES, type DeployedStage, isDeployedStage } from "../../functions/contract.js";
import { stateBackend } from "../../stacks/backend.js";
import { STAGE_SETTINGS } from "../../stacks/stages.js";
import { stageArgument, UsageError } from "../cli.js";
import { overrideBackend, removeBackendOverride } from "./overrides.js";
import { type PlanSummary, summarizePlan } from "./plan-summary.js";
import { terraformEnvironment } from "./provider-mirror.js";
import { synthesizedStack } from "./synthesis.js";
import { terraform } from "./terraform.js";

export interface PreparedStack {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Gets a stage's synthesized stack ready for plan or apply against AWS, then `terraform init`.
 * The same build is synthesized once (maybe where TF_STATE_BUCKET is unset) and deployed to every
 * stage, so a state bucket configured now overrides the synthesized backend; without one, the
 * synthesized backend stands — an S3 backend is never silently swapped for a local file.
 */
export async function prepareStageStack(stage: DeployedStage): Promise<PreparedStack> {
  const dir = synthesizedStack(stage);
  const configured = stateBackend(stage, STAGE_SETTINGS[stage].region, process.env);
  if (configured.type === "s3") await overrideBackend(dir, configured);
  else await removeBackendOverride(dir);
  const backend = configured.type === "s3" ? "s3" : await synthesizedBackendType(dir);
  if (backend === "local" && process.env.CI === "true") {
    process.stderr.write(
      `warning: ${stage}'s state is a local file (TF_STATE_BUCKET is not set); it is lost with this CI machine.\n`,
    );
  }
  const { env } = await terraformEnvironment(join(tmpdir(), "websocket-stages-terraform"));
  process.stderr.write(`Initialising ${stage} (${backend} state)…\n`);
  await terraform(
    ["init", "-input=false", "-reconfigure"],
    { dir, env, output: "capture" },
    "terraform init",
  );
  return { dir, env };
}

async function synthesizedBackendType(dir: string): Promise<string> {
  const json = JSON.parse(await readFile(join(dir, "cdk.tf.json"), "utf8")) as {
    terraform?: { backend?: Record<string, unknown> };
  };
  return Object.keys(json.terraform?.backend ?? { local: {} })[0] ?? "local";
}

/**
 * Plans into `planFile` and summarizes it. Without a state lock: plans run with the read-only plan
 * role, which may not write the lock object, and the apply refuses a plan made stale meanwhile.
 */
export async function planStage(stack: PreparedStack, planFile: string): Promise<PlanSummary> {
  await terraform(
    ["plan", "-input=false", "-lock=false", `-out=${planFile}`],
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
