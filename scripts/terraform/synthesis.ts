import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  ARTIFACTS,
  DEPLOYED_STAGES,
  type DeployedStage,
  SYNTH_DIR,
  stackName,
} from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { stagesApp } from "../../stacks/app.js";
import { accountsOfStages } from "../../stacks/bootstrap/accounts.js";
import { bootstrapApp } from "../../stacks/bootstrap/app.js";
import { bootstrapStackName } from "../../stacks/bootstrap/bootstrap-stack.js";
import { BundleNotFoundError } from "../../stacks/bundle.js";

export interface Synthesis {
  readonly outdir: string;
  readonly stackDirs: Readonly<Record<DeployedStage, string>>;
}

export function stackDir(outdir: string, stage: DeployedStage): string {
  return join(outdir, "stacks", stackName(stage));
}

/** Synthesizes every stage's stack from the bundles in `distDir` into `outdir`. */
export function synthesize(options: {
  distDir?: string;
  outdir?: string;
  env?: NodeJS.ProcessEnv;
}): Synthesis {
  const outdir = options.outdir ?? resolve(SYNTH_DIR);
  try {
    const { app } = stagesApp({
      distDir: options.distDir ?? resolve(ARTIFACTS.dir),
      outdir,
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    app.synth();
  } catch (error) {
    if (error instanceof BundleNotFoundError) throw new ExpectedError(error.message);
    throw error;
  }
  const stackDirs = Object.fromEntries(
    DEPLOYED_STAGES.map((stage) => [stage, stackDir(outdir, stage)]),
  ) as Record<DeployedStage, string>;
  return { outdir, stackDirs };
}

/** The synthesized stack of a stage, or a message saying to synthesize first. */
export function synthesizedStack(stage: DeployedStage, outdir = resolve(SYNTH_DIR)): string {
  const dir = stackDir(outdir, stage);
  if (!existsSync(join(dir, "cdk.tf.json"))) {
    throw new ExpectedError(
      `${dir} has no synthesized stack. Run \`npm run bundle\` and \`npm run synth\` first.`,
    );
  }
  return dir;
}

/** The placeholder identity the bootstrap stack is validated and rehearsed with. */
export const EXAMPLE_BOOTSTRAP = {
  account: "123456789012",
  repository: "octocat/websocket-stages",
};

/**
 * Synthesizes the bootstrap stack of the account holding dev, for a placeholder account (moto's)
 * and repository; returns its folder.
 */
export function synthesizeBootstrapExample(outdir: string): string {
  const target = accountsOfStages(EXAMPLE_BOOTSTRAP.account).find(
    (entry) => entry.account === EXAMPLE_BOOTSTRAP.account,
  );
  if (target === undefined) throw new Error("No stage lives in the default account.");
  bootstrapApp({ outdir, repository: EXAMPLE_BOOTSTRAP.repository, target }).app.synth();
  return join(outdir, "stacks", bootstrapStackName(EXAMPLE_BOOTSTRAP.account));
}
