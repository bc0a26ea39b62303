import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEPLOYED_STAGES } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { stateBucketName } from "../../stacks/bootstrap/bootstrap-stack.js";
import { pipelineRoleName } from "../../stacks/pipeline.js";
import { STAGE_SETTINGS } from "../../stacks/stages.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { MOTO_ACCOUNT, motoProvider, startMoto } from "../terraform/moto.js";
import { copyStack, overrideBackend, overrideProvider } from "../terraform/overrides.js";
import { overrideToMirrorProvider, terraformEnvironment } from "../terraform/provider-mirror.js";
import { EXAMPLE_BOOTSTRAP, synthesizeBootstrapExample } from "../terraform/synthesis.js";
import {
  requireTerraform,
  runTerraform,
  type TerraformRun,
  terraform,
} from "../terraform/terraform.js";

const USAGE = `
Usage: npm run rehearse:bootstrap [-- --json]

A rehearsal of \`npm run bootstrap\` with no AWS account: synthesizes the bootstrap stack (for
moto's account and a placeholder repository), applies it to moto_server on 127.0.0.1, checks its
outputs (a deploy and a plan role per stage, the state bucket), plans again expecting no changes,
then destroys it. Needs terraform and moto_server (\`pip install "moto[server]"\`) on PATH.

  --json   print {"outputs", "ms"} when done
`;

function step(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** What the outputs must be for moto's account, or the problems found. */
function outputProblems(outputs: Record<string, { value: unknown }>): string[] {
  const problems: string[] = [];
  for (const kind of ["deploy", "plan"] as const) {
    const arns = outputs[`${kind}RoleArns`]?.value as Record<string, string> | undefined;
    for (const stage of DEPLOYED_STAGES) {
      const expected = `arn:aws:iam::${MOTO_ACCOUNT}:role/${pipelineRoleName(stage, kind)}`;
      if (arns?.[stage] !== expected) {
        problems.push(`${kind}RoleArns.${stage} is ${arns?.[stage]}, not ${expected}`);
      }
    }
  }
  const bucket = stateBucketName(MOTO_ACCOUNT, STAGE_SETTINGS.dev.region);
  if (outputs.stateBucket?.value !== bucket) {
    problems.push(`stateBucket is ${String(outputs.stateBucket?.value)}, not ${bucket}`);
  }
  return problems;
}

runCommand(async () => {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: { json: { type: "boolean" } },
  });
  if (parsed === undefined) return 0;
  const started = performance.now();
  await requireTerraform();
  const scratch = await mkdtemp(join(tmpdir(), "websocket-stages-rehearse-bootstrap-"));
  const moto = await startMoto();
  let applied = false;
  try {
    const dir = await copyStack(
      synthesizeBootstrapExample(join(scratch, "cdktf.out")),
      join(scratch, "stack"),
    );
    const { env, mirror } = await terraformEnvironment(join(scratch, "cli"));
    await overrideToMirrorProvider(dir, mirror);
    const run: TerraformRun = { dir, env, output: "capture" };
    await overrideBackend(dir, { type: "local", path: "terraform.tfstate" });
    // The stack refuses any account but its own: let the provider ask moto's STS which it is.
    await overrideProvider(dir, {
      ...motoProvider(moto.endpoint),
      skip_requesting_account_id: false,
    });
    step(`Bootstrap of ${EXAMPLE_BOOTSTRAP.repository} in moto's account ${MOTO_ACCOUNT}:`);
    await terraform(["init", "-input=false"], run, "terraform init");
    applied = true;
    await terraform(["apply", "-input=false", "-auto-approve"], run, "terraform apply");
    step("  applied");
    const outputs = JSON.parse(
      (await terraform(["output", "-json"], run, "terraform output")).stdout,
    ) as Record<string, { value: unknown }>;
    const problems = outputProblems(outputs);
    const replan = await runTerraform(["plan", "-input=false", "-detailed-exitcode"], run);
    if (replan.code === 1) throw new ExpectedError(`Re-plan failed:\n${replan.stderr}`);
    if (replan.code === 2)
      problems.push(`a re-plan after apply still has changes:\n${replan.stdout}`);
    step(
      problems.length === 0
        ? "  outputs as expected; re-plan: no changes"
        : `  ${problems.join("\n  ")}`,
    );
    if (parsed.values.json === true) {
      process.stdout.write(
        `${JSON.stringify({ outputs, ms: Math.round(performance.now() - started) })}\n`,
      );
    }
    if (problems.length > 0)
      throw new ExpectedError(`Bootstrap rehearsal failed: ${problems.join("; ")}`);
    return 0;
  } finally {
    let destroyFailure: string | undefined;
    if (applied) {
      const { env } = await terraformEnvironment(join(scratch, "cli"));
      const destroyed = await runTerraform(["destroy", "-input=false", "-auto-approve"], {
        dir: join(scratch, "stack"),
        env,
        output: "capture",
      });
      if (destroyed.code === 0) step("  destroyed");
      else destroyFailure = destroyed.stderr.trim();
    }
    await moto.stop();
    await rm(scratch, { recursive: true, force: true });
    step(`Bootstrap rehearsal done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
    if (destroyFailure !== undefined) {
      // biome-ignore lint/correctness/noUnsafeFinally: a failed destroy fails the rehearsal.
      throw new ExpectedError(`terraform destroy failed:\n${destroyFailure}`);
    }
  }
});
