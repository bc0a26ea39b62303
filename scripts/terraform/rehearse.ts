import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ARTIFACTS, type DeployedStage } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { type DriftVerdict, judgeDrift } from "./emulator-gaps.js";
import { motoProvider, startMoto } from "./moto.js";
import { copyStack, overrideBackend, overrideProvider } from "./overrides.js";
import { summarizePlan } from "./plan-summary.js";
import { terraformEnvironment } from "./provider-mirror.js";
import { checkOutputs, readStackOutputs } from "./stack-outputs.js";
import { deployedStageArgument } from "./stage-stack.js";
import { synthesize } from "./synthesis.js";
import { requireTerraform, runTerraform, type TerraformRun, terraform } from "./terraform.js";

const USAGE = `
Usage: npm run rehearse -- <stage> [--dist DIR] [--json]

A deploy rehearsal with no AWS account: synthesizes the stage's stack from the bundles (run
\`npm run bundle\` first), starts moto_server (an AWS API emulator) on 127.0.0.1, applies the stack
to it, checks the outputs, plans again and reports any drift, then destroys everything and stops
the emulator. Needs terraform and moto_server (\`pip install "moto[server]"\`) on PATH.

  --dist DIR   bundles folder (default ${ARTIFACTS.dir})
  --json       print {"stage", "outputs", "drift", "ms"} when done
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

async function rehearse(stage: DeployedStage, distDir: string, scratch: string) {
  const { stackDirs } = synthesize({ distDir, outdir: join(scratch, "cdktf.out"), env: {} });
  const dir = await copyStack(stackDirs[stage], join(scratch, "stack"));
  const { env, providerSource } = await terraformEnvironment(join(scratch, "cli"));
  step(`Providers from ${providerSource}.`);
  const moto = await timed("Starting moto_server", startMoto);
  const run: TerraformRun = { dir, env, output: "capture" };
  let applyStarted = false;
  try {
    step(`moto_server listens on ${moto.endpoint}.`);
    await overrideBackend(dir, { type: "local", path: "terraform.tfstate" });
    await overrideProvider(dir, motoProvider(moto.endpoint));
    await timed("terraform init", () => terraform(["init", "-input=false"], run, "terraform init"));
    applyStarted = true;
    await timed("terraform apply", () =>
      terraform(
        ["apply", "-input=false", "-auto-approve"],
        { ...run, output: "stream" },
        "terraform apply",
      ),
    );
    const outputs = await readStackOutputs(stage, run);
    const problems = checkOutputs(stage, outputs);
    step(
      problems.length === 0
        ? "Outputs: all present and well-formed."
        : `Outputs: ${problems.join("; ")}`,
    );
    const replan = await timed("Re-plan", async () => {
      await terraform(["plan", "-input=false", "-out=replan.tfplan"], run, "terraform plan");
      return summarizePlan(
        (await terraform(["show", "-json", "replan.tfplan"], run, "terraform show")).stdout,
      );
    });
    const verdicts = judgeDrift(replan.changes);
    step(describeDrift(verdicts));
    return { outputs, problems, verdicts };
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
      process.stdout.write(`${JSON.stringify({ stage, outputs: result.outputs, drift, ms })}\n`);
    }
    const unexplained = result.verdicts.filter((verdict) => verdict.gap === undefined);
    if (result.problems.length > 0 || unexplained.length > 0) {
      throw new ExpectedError(
        `Rehearsal of ${stage} failed: ${[
          ...result.problems,
          ...unexplained.map(({ change }) => `${change.address} drifts after apply`),
        ].join("; ")}.`,
      );
    }
    process.stderr.write(`Rehearsal of ${stage} passed in ${(ms / 1000).toFixed(1)} s.\n`);
    return 0;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
