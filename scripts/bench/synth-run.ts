import { resolve } from "node:path";
import { ARTIFACTS } from "../../functions/contract.js";
import { synthesize } from "../terraform/synthesis.js";

/**
 * One synth, measured from inside its own process (bench/synth.ts starts it): `deep` is what
 * `npm run synth` does (the stacks import each resource from its own module); `root` first loads
 * the provider through its package root, as `import { … } from "@cdktf/provider-aws"` would.
 * Prints {ms, maxRssMb}: wall time from process start (loading included) and peak memory.
 */

const [mode, outdir] = process.argv.slice(2);
if (mode === "root") {
  // biome-ignore lint/style/noRestrictedImports: the bench measures what this rule keeps out.
  await import("@cdktf/provider-aws");
}
synthesize({ distDir: resolve(ARTIFACTS.dir), outdir: resolve(outdir ?? "cdktf.out.bench") });
process.stdout.write(
  JSON.stringify({
    ms: performance.now(),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }),
);
