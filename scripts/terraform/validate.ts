import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ARTIFACTS, DEPLOYED_STAGES, type DeployedStage } from "../../functions/contract.js";
import { AWS_PROVIDER_CONSTRAINT } from "../../stacks/websocket-stack.js";
import { parseCommandLine, runCommand } from "../cli.js";
import {
  copyStack,
  OFFLINE_PROVIDER,
  overrideBackend,
  overrideProvider,
  overrideProviderVersion,
} from "./overrides.js";
import { terraformEnvironment, validationProviderVersion } from "./provider-mirror.js";
import { synthesize, synthesizeBootstrapExample } from "./synthesis.js";
import { requireTerraform, terraform } from "./terraform.js";

const USAGE = `
Usage: npm run validate [-- --dist DIR] [--json]

Synthesizes every stage's stack from the bundles (run \`npm run bundle\` first) and the bootstrap
stack (for a placeholder account and repository), then for each:
\`terraform init -backend=false\`, \`terraform validate\`, and a \`terraform plan\` that runs offline
(dummy credentials, local state in a scratch folder). Uses a provider filesystem mirror when this
machine has one; when the mirror lacks the pinned hashicorp/aws 6.x, validation (only) uses the
newest version it holds. Needs terraform on PATH; touches no AWS account and nothing in the repository.

  --dist DIR   bundles folder (default ${ARTIFACTS.dir})
  --json       print {"stages": {stage: {ms, toCreate}}, "bootstrap": {ms, toCreate}, "ms": n}
`;

interface StageResult {
  readonly ms: number;
  /** Resources the offline plan creates (everything: it plans against empty state). */
  readonly toCreate: number;
}

/** Reads "Plan: N to add, …" from terraform's plan output. */
function resourcesToCreate(planOutput: string): number {
  const match = /Plan: (\d+) to add/.exec(planOutput);
  if (match?.[1] === undefined)
    throw new Error(`No "Plan:" line in terraform's output:\n${planOutput}`);
  return Number(match[1]);
}

function step(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function validateStack(
  stage: string,
  synthesized: string,
  scratch: string,
  env: NodeJS.ProcessEnv,
  providerVersion: string | undefined,
): Promise<StageResult> {
  const started = performance.now();
  const dir = await copyStack(synthesized, join(scratch, stage));
  if (providerVersion !== undefined) await overrideProviderVersion(dir, providerVersion);
  const run = { dir, env, output: "capture" } as const;
  const timed = async (label: string, args: string[]): Promise<string> => {
    const t = performance.now();
    const { stdout } = await terraform(args, run, `${stage}: terraform ${label}`);
    step(`  ${stage}: ${label} ok (${Math.round(performance.now() - t)} ms)`);
    return stdout;
  };
  await timed("init -backend=false", ["init", "-backend=false", "-input=false"]);
  await timed("validate", ["validate"]);
  // The offline plan needs an initialised backend: local, in the scratch copy.
  await overrideBackend(dir, { type: "local", path: "terraform.tfstate" });
  // Offline there is no account to check the bootstrap stack's allowed_account_ids against.
  await overrideProvider(dir, { ...OFFLINE_PROVIDER, allowed_account_ids: [] });
  await timed("init (local state)", ["init", "-input=false", "-reconfigure"]);
  const planned = await timed("plan (offline)", ["plan", "-input=false", "-lock=false"]);
  return { ms: Math.round(performance.now() - started), toCreate: resourcesToCreate(planned) };
}

runCommand(async () => {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: { dist: { type: "string" }, json: { type: "boolean" } },
  });
  if (parsed === undefined) return 0;
  const started = performance.now();
  const version = await requireTerraform();
  const scratch = await mkdtemp(join(tmpdir(), "websocket-stages-validate-"));
  try {
    const { stackDirs } = synthesize({
      distDir: resolve(parsed.values.dist ?? ARTIFACTS.dir),
      outdir: join(scratch, "cdktf.out"),
    });
    const { env, providerSource, mirror } = await terraformEnvironment(join(scratch, "cli"));
    step(`terraform ${version}; providers from ${providerSource}`);
    const providerVersion = validationProviderVersion(mirror, AWS_PROVIDER_CONSTRAINT);
    if (providerVersion !== undefined) {
      step(
        `The mirror holds no hashicorp/aws matching the stacks' pin "${AWS_PROVIDER_CONSTRAINT}": validating with ${providerVersion} (a validation-only override; plan and deploy keep the pin).`,
      );
    }
    const results = {} as Record<DeployedStage, StageResult>;
    for (const stage of DEPLOYED_STAGES) {
      step(`Validating ${stage}…`);
      results[stage] = await validateStack(stage, stackDirs[stage], scratch, env, providerVersion);
    }
    step("Validating the bootstrap stack…");
    const bootstrap = await validateStack(
      "bootstrap",
      synthesizeBootstrapExample(join(scratch, "bootstrap.out")),
      scratch,
      env,
      providerVersion,
    );
    const ms = Math.round(performance.now() - started);
    if (parsed.values.json === true) {
      process.stdout.write(`${JSON.stringify({ stages: results, bootstrap, ms })}\n`);
    } else {
      for (const stage of DEPLOYED_STAGES) {
        const { toCreate, ms: stageMs } = results[stage];
        process.stdout.write(
          `${stage.padEnd(8)} valid; offline plan: ${toCreate} to create (${stageMs} ms)\n`,
        );
      }
      process.stdout.write(
        `bootstrap valid; offline plan: ${bootstrap.toCreate} to create (${bootstrap.ms} ms)\n`,
      );
      process.stdout.write(`Validated ${DEPLOYED_STAGES.length + 1} stacks in ${ms} ms.\n`);
    }
    return 0;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
