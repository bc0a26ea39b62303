import { relative, resolve } from "node:path";
import { ARTIFACTS, DEPLOYED_STAGES, SYNTH_DIR } from "../../functions/contract.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { synthesize } from "./synthesis.js";

const USAGE = `
Usage: npm run synth [-- --dist DIR] [--out DIR] [--json]

Synthesizes one Terraform stack per deployed stage (${DEPLOYED_STAGES.join(", ")}) from the Lambda
bundles into ${SYNTH_DIR}/stacks/<stack>. Needs \`npm run bundle\` first. With TF_STATE_BUCKET set, the
stacks keep their state in that S3 bucket; otherwise in a local file next to each stack.

  --dist DIR   bundles folder (default ${ARTIFACTS.dir})
  --out DIR    output folder (default ${SYNTH_DIR})
  --json       print {"stacks": {stage: folder}, "ms": n} instead of text
`;

runCommand(async () => {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: { dist: { type: "string" }, out: { type: "string" }, json: { type: "boolean" } },
  });
  if (parsed === undefined) return 0;
  const started = performance.now();
  const { stackDirs } = synthesize({
    distDir: resolve(parsed.values.dist ?? ARTIFACTS.dir),
    outdir: resolve(parsed.values.out ?? SYNTH_DIR),
  });
  const ms = Math.round(performance.now() - started);
  if (parsed.values.json === true) {
    process.stdout.write(`${JSON.stringify({ stacks: stackDirs, ms })}\n`);
  } else {
    for (const stage of DEPLOYED_STAGES) {
      process.stdout.write(`${stage.padEnd(8)} ${relative(process.cwd(), stackDirs[stage])}\n`);
    }
    process.stdout.write(`Synthesized ${DEPLOYED_STAGES.length} stacks in ${ms} ms.\n`);
  }
  return 0;
});
