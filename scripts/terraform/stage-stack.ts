import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEPLOYED_STAGES, type DeployedStage, isDeployedStage } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { stateBackend } from "../../stacks/backend.js";
import { STAGE_SETTINGS } from "../../stacks/stages.js";
import { stageArgument, UsageError } from "../cli.js";
import { summarizeDrift } from "./drift.js";
import { overrideBackend, removeBackendOverride } from "./overrides.js";
import { type PlanSummary, summarizePlan } from "./plan-summary.js";
import { terraformEnvironment } from "./provider-mirror.js";
import { locateStage } from "./stage-location.js";
import { synthesizedStack } from "./synthesis.js";
import {
  isStalePlanRefusal,
  runTerraform,
  StalePlanError,
  type TerraformRun,
  terraform,
} from "./terraform.js";

export interface PreparedStack {
  readonly stage: DeployedStage;
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
}

/** The dependency lock file `npm run lock-providers` writes into each synthesized stack. */
export const LOCK_FILE = ".terraform.lock.hcl";

/** How long a deploy waits for a state lock held by another run before giving up. */
export const DEPLOY_LOCK_TIMEOUT = "10m";

/**
 * Gets a stage's synthesized stack ready for plan or apply against AWS, then `terraform init`.
 * The same build is synthesized once (maybe where TF_STATE_BUCKET is unset) and deployed to every
 * stage, so a state bucket configured now overrides the synthesized backend; without one, the
 * synthesized backend stands — an S3 backend is never silently swapped for a local file.
 * With the build's lock file, init installs exactly the providers it records (`-lockfile=readonly`):
 * a plan made on one runner applies with the same provider on another.
 */
export async function prepareStageStack(stage: DeployedStage): Promise<PreparedStack> {
  // Fails when a configured AWS_REGION disagrees with the stage's region in stacks/stages.ts.
  locateStage(stage, STAGE_SETTINGS[stage], process.env);
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
  const locked = existsSync(join(dir, LOCK_FILE));
  if (!locked && process.env.CI === "true") {
    throw new ExpectedError(
      `${join(dir, LOCK_FILE)} is missing: the build must run \`npm run lock-providers\` after \`npm run synth\` ` +
        "and ship the lock files in its artifact, so every stage applies with the same provider.",
    );
  }
  const { env } = await terraformEnvironment(join(tmpdir(), "websocket-stages-terraform"));
  process.stderr.write(
    `Initialising ${stage} (${backend} state, ${locked ? "providers from the build's lock file" : "no lock file yet: terraform writes one"})…\n`,
  );
  await terraform(
    ["init", "-input=false", "-reconfigure", ...(locked ? ["-lockfile=readonly"] : [])],
    { dir, env, output: "capture" },
    "terraform init",
  );
  return { stage, dir, env };
}

async function synthesizedBackendType(dir: string): Promise<string> {
  const json = JSON.parse(await readFile(join(dir, "cdk.tf.json"), "utf8")) as {
    terraform?: { backend?: Record<string, unknown> };
  };
  return Object.keys(json.terraform?.backend ?? { local: {} })[0] ?? "local";
}

/**
 * The state lock: pull-request, drift and pre-approval plans take none (they only read, so the
 * plan roles stay read-only, and a cancelled run never leaves a stale lock); deploys wait for a
 * lock another run holds instead of failing at once.
 */
export type StateLock =
  | { readonly take: false }
  | { readonly take: true; readonly timeout: string };

export function lockArguments(lock: StateLock): string[] {
  return lock.take ? [`-lock-timeout=${lock.timeout}`] : ["-lock=false"];
}

export interface PlanResult {
  readonly summary: PlanSummary;
  /** From `-detailed-exitcode`: terraform exits 2 when the plan would change anything. */
  readonly hasChanges: boolean;
  /** `terraform show -no-color PLANFILE`: the plan as a reviewer reads it. */
  readonly text: string;
}

/** Plans into `planFile` and reads it back as a summary and as text. */
export async function planStage(
  stack: PreparedStack,
  planFile: string,
  options: { readonly lock: StateLock; readonly refreshOnly?: boolean },
): Promise<PlanResult> {
  const run: TerraformRun = { dir: stack.dir, env: stack.env, output: "stream" };
  const planned = await runTerraform(
    [
      "plan",
      "-input=false",
      "-detailed-exitcode",
      ...lockArguments(options.lock),
      ...(options.refreshOnly === true ? ["-refresh-only"] : []),
      `-out=${planFile}`,
    ],
    run,
  );
  if (planned.code !== 0 && planned.code !== 2) {
    throw new ExpectedError(
      `terraform plan of ${stack.stage} failed (exit ${planned.code}); its output above says why.`,
    );
  }
  const capture: TerraformRun = { ...run, output: "capture" };
  const json = (await terraform(["show", "-json", planFile], capture, "terraform show")).stdout;
  const text = (await terraform(["show", "-no-color", planFile], capture, "terraform show")).stdout;
  const summary = options.refreshOnly === true ? summarizeDrift(json) : summarizePlan(json);
  return { summary, hasChanges: planned.code === 2, text };
}

/**
 * Applies exactly the saved plan. A plan made before another deploy changed the state is refused
 * by terraform, which then changes nothing: that becomes a StalePlanError saying what to do.
 */
export async function applySavedPlan(
  stack: PreparedStack,
  planFile: string,
  lockTimeout: string = DEPLOY_LOCK_TIMEOUT,
): Promise<void> {
  const applied = await runTerraform(
    ["apply", "-input=false", "-auto-approve", `-lock-timeout=${lockTimeout}`, planFile],
    { dir: stack.dir, env: stack.env, output: "stream" },
  );
  if (applied.code === 0) return;
  if (isStalePlanRefusal(applied.stdout + applied.stderr)) {
    throw new StalePlanError(stack.stage, planFile);
  }
  throw new ExpectedError(
    `terraform apply of ${stack.stage} failed (exit ${applied.code}); its output above says why.`,
  );
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
