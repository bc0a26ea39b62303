import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DEPLOYED_STAGES, type DeployedStage, SYNTH_DIR } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { terraformEnvironment } from "./provider-mirror.js";
import { LOCK_FILE } from "./stage-stack.js";
import { synthesizedStack } from "./synthesis.js";
import { requireTerraform, terraform } from "./terraform.js";

const USAGE = `
Usage: npm run lock-providers [-- --synth-dir DIR] [--json]

Runs \`terraform init -backend=false\` in every synthesized stack (${DEPLOYED_STAGES.join(", ")}) so each gets
its ${LOCK_FILE}: the exact provider versions and checksums every later plan and deploy of this
build installs (\`init -lockfile=readonly\`). Run it after \`npm run synth\` in the build job and ship
the lock files in the build artifact. Removes the downloaded providers (.terraform/) afterwards so
the artifact stays small. Needs terraform and the provider registry (or a mirror holding the
pinned version).

  --synth-dir DIR  the synthesized output (default ${SYNTH_DIR})
  --json           print {"lockFiles": {stage: path}} when done
`;

runCommand(async () => {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: { "synth-dir": { type: "string" }, json: { type: "boolean" } },
  });
  if (parsed === undefined) return 0;
  await requireTerraform();
  const outdir = resolve(parsed.values["synth-dir"] ?? SYNTH_DIR);
  const scratch = join(tmpdir(), "websocket-stages-terraform");
  const { env: base, providerSource } = await terraformEnvironment(scratch);
  // One download for all stages.
  const cache = join(scratch, "plugin-cache");
  await mkdir(cache, { recursive: true });
  const env = { ...base, TF_PLUGIN_CACHE_DIR: base.TF_PLUGIN_CACHE_DIR ?? cache };
  process.stderr.write(`Providers from ${providerSource}.\n`);
  const lockFiles = {} as Record<DeployedStage, string>;
  for (const stage of DEPLOYED_STAGES) {
    const dir = synthesizedStack(stage, outdir);
    await terraform(
      ["init", "-backend=false", "-input=false"],
      { dir, env, output: "capture" },
      `${stage}: terraform init -backend=false`,
    );
    await rm(join(dir, ".terraform"), { recursive: true, force: true });
    const file = join(dir, LOCK_FILE);
    if (!existsSync(file)) throw new ExpectedError(`terraform init wrote no ${file}.`);
    lockFiles[stage] = file;
    process.stderr.write(`  ${stage}: ${file}\n`);
  }
  if (parsed.values.json === true) process.stdout.write(`${JSON.stringify({ lockFiles })}\n`);
  else process.stdout.write(`Locked the providers of ${DEPLOYED_STAGES.length} stacks.\n`);
  return 0;
});
