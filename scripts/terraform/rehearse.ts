import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ARTIFACTS, type DeployedStage } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { AWS_PROVIDER_CONSTRAINT } from "../../stacks/websocket-stack.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { type DriftVerdict, judgeDrift } from "./emulator-gaps.js";
import { motoProvider, startMoto } from "./moto.js";
import {
  copyStack,
  overrideBackend,
  overrideProvider,
  overrideProviderVersion,
} from "./overrides.js";
import { formatPlanSummary } from "./plan-summary.js";
import { terraformEnvironment, validationProviderVersion } from "./provider-mirror.js";
import { writeSavedPlanFiles } from "./saved-plan.js";
import { checkOutputs, readStackOutputs } from "./stack-outputs.js";
import {
  applySavedPlan,
  deployedStageArgument,
  type PreparedStack,
  planStage,
} from "./stage-stack.js";
import { synthesize } from "./synthesis.js";
import {
  requireTerraform,
  runTerraform,
  StalePlanError,
  type TerraformRun,
  terraform,
} from "./terraform.js";

const USAGE = `
Usage: npm run rehearse -- <stage> [--dist DIR] [--json]

A deploy rehearsal with no AWS account, the way the pipeline deploys: synthesizes the stage's stack
from the bundles (run \`npm run bundle\` first), starts moto_server (an AWS API emulator) on
127.0.0.1, makes a saved plan (and a second one from the same state), applies the first saved plan,
checks the outputs, plans again and reports any drift, then applies the second plan — which the
first made stale — and checks that it is refused and changed nothing; then destroys everything and
stops the emulator. Needs terraform and moto_server (\`pip install "moto[server]"\`) on PATH.

  --dist DIR   bundles folder (default ${ARTIFACTS.dir})
  --json       print {"stage", "outputs", "plan", "drift", "stalePlan", "ms"} when done
`;

function step(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function timed<T>(label: string, action: () => Promise<T>): Promise<T> {
  step(`${label}…`);
  const started = performance.now();
  const result = await action();
  step(`${label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

function describeDrift(verdicts: readonly DriftVerdict[]): string {
  if (verdicts.length === 0) return "Re-plan: no changes (no drift).";
  const lines = [`Re-plan: ${verdicts.length} change(s) after apply:`];
  for (const { change, gap } of verdicts) {
    const attributes = change.attributes.length > 0 ? ` (${change.attributes.join(", ")})` : "";
    lines.push(
      `  ${change.kind} ${change.address}${attributes}: ${gap === undefined ? "DRIFT CAUSED BY THE STACK" : `emulator gap — ${gap.explanation}`}`,
    );
  }
  return lines.join("\n");
}

/** The state's serial: any write to the state bumps it. */
async function stateSerial(dir: string): Promise<number> {
  const state = JSON.parse(await readFile(join(dir, "terraform.tfstate"), "utf8")) as {
    serial?: number;
  };
  return state.serial ?? -1;
}

async function rehearse(stage: DeployedStage, distDir: string, scratch: string) {
  const { stackDirs } = synthesize({ distDir, outdir: join(scratch, "cdktf.out"), env: {} });
  const dir = await copyStack(stackDirs[stage], join(scratch, "stack"));
  const { env, providerSource, mirror } = await terraformEnvironment(join(scratch, "cli"));
  step(`Providers from ${providerSource}.`);
  const providerVersion = validationProviderVersion(mirror, AWS_PROVIDER_CONSTRAINT);
  if (providerVersion !== undefined) {
    await overrideProviderVersion(dir, providerVersion);
    step(
      `Rehearsing with hashicorp/aws ${providerVersion} from the mirror instead of the pin "${AWS_PROVIDER_CONSTRAINT}" (a rehearsal-only override).`,
    );
  }
  const moto = await timed("Starting moto_server", startMoto);
  const stack: PreparedStack = { stage, dir, env };
  const run: TerraformRun = { dir, env, output: "capture" };
  const lock = { take: true, timeout: "30s" } as const;
  let applyStarted = false;
  try {
    step(`moto_server listens on ${moto.endpoint}.`);
    await overrideBackend(dir, { type: "local", path: "terraform.tfstate" });
    await overrideProvider(dir, motoProvider(moto.endpoint));
    await timed("terraform init", () => terraform(["init", "-input=false"], run, "terraform init"));
    const planFile = join(dir, `${stage}.tfplan`);
    const plan = await timed("Plan (saved)", () => planStage(stack, planFile, { lock }));
    await writeSavedPlanFiles(
      { stage, planFile, hasChanges: plan.hasChanges, ...plan.summary },
      plan.text,
    );
    step(`Plan: ${formatPlanSummary(plan.summary)}`);
    if (!plan.hasChanges)
      throw new ExpectedError("The first plan of an empty stage has no changes.");
    // Made from the same state: applying the first plan makes this one stale.
    const laterPlanFile = join(dir, `${stage}-second.tfplan`);
    await timed("Second plan from the same state", () => planStage(stack, laterPlanFile, { lock }));
    applyStarted = true;
    await timed("Apply of the saved plan", () => applySavedPlan(stack, planFile, lock.timeout));
    const outputs = await readStackOutputs(stage, run);
    const problems = checkOutputs(stage, outputs);
    step(
      problems.length === 0
        ? "Outputs: all present and well-formed."
        : `Outputs: ${problems.join("; ")}`,
    );
    const replan = await timed("Re-plan", () =>
      planStage(stack, join(dir, "replan.tfplan"), { lock }),
    );
    const verdicts = judgeDrift(replan.summary.changes);
    step(describeDrift(verdicts));
    const stalePlan = await timed("Apply of the stale second plan", async () => {
      const before = await stateSerial(dir);
      try {
        await applySavedPlan(stack, laterPlanFile, lock.timeout);
      } catch (error) {
        if (!(error instanceof StalePlanError)) throw error;
        const after = await stateSerial(dir);
        step(`Refused as it should be: ${error.message}`);
        return { refused: true, message: error.message, stateUnchanged: after === before };
      }
      return { refused: false, message: "applied", stateUnchanged: false };
    });
    if (!stalePlan.stateUnchanged) step("The stale plan CHANGED the state.");
    return { outputs, problems, plan: plan.summary.counts, verdicts, stalePlan };
  } finally {
    if (applyStarted) {
      const destroyed = await timed("terraform destroy", () =>
        runTerraform(["destroy", "-input=false", "-auto-approve"], run),
      );
      if (destroyed.code !== 0) step(`terraform destroy failed:\n${destroyed.stderr.trim()}`);
    }
    await moto.stop();
    step("moto_server stopped.");
  }
}

runCommand(async () => {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    allowPositionals: true,
    options: { dist: { type: "string" }, json: { type: "boolean" } },
  });
  if (parsed === undefined) return 0;
  const stage = deployedStageArgument(parsed.positionals[0], USAGE);
  const started = performance.now();
  await requireTerraform();
  const scratch = await mkdtemp(join(tmpdir(), "websocket-stages-rehearse-"));
  try {
    const result = await rehearse(stage, resolve(parsed.values.dist ?? ARTIFACTS.dir), scratch);
    const ms = Math.round(performance.now() - started);
    const drift = result.verdicts.map(({ change, gap }) => ({
      ...change,
      emulatorGap: gap?.explanation ?? null,
    }));
    if (parsed.values.json === true) {
      process.stdout.write(
        `${JSON.stringify({ stage, outputs: result.outputs, plan: result.plan, drift, stalePlan: result.stalePlan, ms })}\n`,
      );
    }
    const unexplained = result.verdicts.filter((verdict) => verdict.gap === undefined);
    const staleProblems = [
      ...(result.stalePlan.refused ? [] : ["a stale saved plan was applied instead of refused"]),
      ...(result.stalePlan.refused && !result.stalePlan.stateUnchanged
        ? ["the refused stale plan changed the state"]
        : []),
    ];
    if (result.problems.length > 0 || unexplained.length > 0 || staleProblems.length > 0) {
      throw new ExpectedError(
        `Rehearsal of ${stage} failed: ${[
          ...result.problems,
          ...unexplained.map(({ change }) => `${change.address} drifts after apply`),
          ...staleProblems,
        ].join("; ")}.`,
      );
    }
    process.stderr.write(`Rehearsal of ${stage} passed in ${(ms / 1000).toFixed(1)} s.\n`);
    return 0;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
