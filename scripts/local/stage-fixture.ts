import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleFunctions } from "../bundle.js";
import { type LocalStageOptions, type RunningLocalStage, startLocalStage } from "./stage.js";

/**
 * A local stage for a test file, on any free ports, running bundles built from the current source
 * into the fixture's own temporary folder: never stale, never racing another process over dist/.
 */
export interface StageFixture {
  /** The temporary folder: `dist/` holds the bundles, `state/` the stage's outputs and log. */
  readonly dir: string;
  readonly stateDir: string;
  readonly stage: RunningLocalStage;
  /** Stops the stage and deletes the folder. */
  remove(): Promise<void>;
}

/** Builds the bundles and starts the stage; `options` add to or change the stage's defaults. */
export async function startStageFixture(
  prefix: string,
  options: LocalStageOptions = {},
): Promise<StageFixture> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const distDir = join(dir, "dist");
    const stateDir = join(dir, "state");
    await bundleFunctions(distDir);
    const stage = await startLocalStage({ port: 0, stateDir, distDir, ...options });
    return {
      dir,
      stateDir,
      stage,
      async remove() {
        await stage.stop();
        await remove();
      },
    };
  } catch (error) {
    await remove();
    throw error;
  }
}
